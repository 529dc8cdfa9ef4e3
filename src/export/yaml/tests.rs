use super::*;

#[test]
fn writes_block_yaml_that_reads_back() {
    let mut container = Map::new();
    container.comment("warden: a note");
    container.put("name", Yaml::str("web"));
    container.put("command", Yaml::Flow(vec!["sh".into(), "-c".into(), "echo \"hi\"\nexit 0".into()]));
    let doc = Map::new()
        .field("apiVersion", Yaml::str("v1"))
        .field("spec", Map::new().field("containers", Yaml::List(vec![container.done()])).done())
        .field("empty", Yaml::List(Vec::new()))
        .field("port", Yaml::str("8080"))
        .field("on", Yaml::str("yes"))
        .done();
    assert_eq!(
        document(&doc),
        "apiVersion: v1\nspec:\n  containers:\n    # warden: a note\n    - name: web\n      \
             command: [\"sh\", \"-c\", \"echo \\\"hi\\\"\\nexit 0\"]\nempty: []\nport: \"8080\"\n\"on\": \"yes\"\n"
    );
}
