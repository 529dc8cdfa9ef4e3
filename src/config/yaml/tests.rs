use super::*;

#[test]
fn builds_a_positioned_tree() {
    let node = parse("a: 1\nb:\n  - x\n  - \"y\"\nc: ~\n").unwrap();
    let Value::Map(entries) = node.value else { panic!() };
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1].0.at, Position { line: 2, column: 1 });
    let Value::List(items) = &entries[1].1.value else { panic!() };
    assert_eq!(items[1].value, Value::Scalar { text: "y".into(), quoted: true });
    assert_eq!(items[1].at, Position { line: 4, column: 5 });
    assert_eq!(entries[2].1.value, Value::Null);
}

#[test]
fn rejects_duplicates_and_bombs() {
    let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
    assert_eq!(e.message, "duplicate key \"a\" (first at line 1)");
    assert_eq!(e.at.line, 3);
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        let prev = format!("*a{}", i - 1);
        bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
    }
    assert!(parse(&bomb).unwrap_err().message.starts_with("too many nodes"));
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(parse(&deep).unwrap_err().message, "too deeply nested");
    assert!(parse("a: [1, 2").is_err());
}

#[test]
fn aliases_expand() {
    let node = parse("x: &v hello\ny: *v\n").unwrap();
    let Value::Map(entries) = node.value else { panic!() };
    assert_eq!(entries[1].1.value.as_text(), Some("hello"));
}

/// `<<` merges mappings in (YAML 1.1, as Compose files use it): the
/// mapping's own keys win wherever they are, and of several merged
/// mappings the first that has a key gives it.
#[test]
fn merge_keys_merge_mappings() {
    let text = "d: &d { a: 1, b: 2 }\ne: &e { b: 3, c: 4 }\n\
                one: { <<: *d, b: 9 }\ntwo:\n  <<: [*d, *e]\n  z: 0\nquoted: { \"<<\": *d }\n";
    let Value::Map(entries) = parse(text).unwrap().value else { panic!() };
    let pairs = |index: usize| -> Vec<(String, String)> {
        let Value::Map(map) = &entries[index].1.value else { panic!() };
        map.iter()
            .map(|(k, v)| {
                (k.value.as_text().unwrap().to_string(), v.value.as_text().unwrap_or("map").to_string())
            })
            .collect()
    };
    let owned =
        |list: &[(&str, &str)]| list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    assert_eq!(pairs(2), owned(&[("a", "1"), ("b", "9")]));
    assert_eq!(pairs(3), owned(&[("a", "1"), ("b", "2"), ("c", "4"), ("z", "0")]));
    assert_eq!(pairs(4), owned(&[("<<", "map")]));
    // A merged key keeps the position it was written at.
    let Value::Map(one) = &entries[2].1.value else { panic!() };
    assert_eq!(one[0].0.at, Position { line: 1, column: 9 });
    let e = parse("a: { <<: 5 }\n").unwrap_err();
    assert_eq!(
        (e.at.line, e.message.as_str()),
        (1, "a merge key (<<) takes a mapping or a list of mappings, like *defaults")
    );
    let e = parse("d: &d [1]\na: { <<: [*d] }\n").unwrap_err();
    assert_eq!(e.message, "a merge key (<<) merges mappings, not a list");
}

#[test]
fn a_tab_in_the_indentation_says_to_use_spaces() {
    let e = parse("services:\n\ta:\n").unwrap_err();
    assert_eq!(e.at, Position { line: 2, column: 2 });
    assert!(e.message.ends_with(": indent with spaces; YAML takes no tabs there"), "{}", e.message);
}
