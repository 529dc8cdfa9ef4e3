use super::*;

#[test]
fn every_key_the_reader_knows_is_in_the_schema() {
    for key in keys::SERVICE {
        assert!(service_key(key.name).is_some(), "service key `{}` is not in the schema", key.name);
    }
    for name in GLOBAL_KEYS {
        assert!(global_key(name).is_some(), "global key `{name}` is not in the schema");
    }
    for name in PROBE_KEYS {
        assert!(probe_key(name).is_some(), "probe key `{name}` is not in the schema");
    }
}

#[test]
fn the_schema_is_json_naming_every_key() {
    let text = schema();
    // (Its JSON is checked by a parser in tests/cli.rs.)
    for key in keys::SERVICE {
        assert!(text.contains(&format!("\"{}\": {{\"description\"", key.name)), "{}", key.name);
    }
}
