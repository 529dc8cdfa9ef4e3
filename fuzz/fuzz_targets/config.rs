//! A config file, as `warden -c` and `warden reload` read it: parse and
//! validate must return a config or errors, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = |name: &str| match name {
        "PORT" => Some("8080".to_string()),
        _ => None,
    };
    // A root with no /etc/passwd: users resolve to errors, without file I/O.
    if let Err(error) = warden::config::parse(text, "fuzz.yaml", &env, Path::new("/nonexistent")) {
        let _ = error.to_string();
    }
});
