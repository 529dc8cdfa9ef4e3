use super::glob;

#[test]
fn globs_match_one_name() {
    assert!(glob("*.conf", "app.conf"));
    assert!(glob("*.conf", ".conf"));
    assert!(!glob("*.conf", "app.conf.swp"));
    assert!(glob("app-?.yaml", "app-1.yaml"));
    assert!(!glob("app-?.yaml", "app-10.yaml"));
    assert!(glob("*", "anything"));
    assert!(glob("a*b*c", "aXXbYYc"));
    assert!(!glob("a*b*c", "aXXbYY"));
    assert!(glob("config.yaml", "config.yaml"));
    assert!(!glob("config.yaml", "config.yml"));
}
