use super::*;

fn config() -> Config {
    let yaml = "services:\n  db:\n    command: [postgres]\n  migrate:\n    type: oneshot\n    command: [migrate]\n    \
                    depends_on: {db: ready}\n  web:\n    command: [web]\n    depends_on: {migrate: completed, db: ready}\n  \
                    backup:\n    schedule: \"@daily\"\n    command: [backup]\n    optional: true\n    depends_on: [db]\n";
    crate::config::parse(yaml, "test.yaml", &|_| None, std::path::Path::new("/")).unwrap()
}

#[test]
fn dot_draws_start_order_with_conditions_and_kinds() {
    assert_eq!(
        dot(&config()),
        "digraph warden {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n\
             \x20 \"db\" [label=\"db\", shape=box];\n\
             \x20 \"migrate\" [label=\"migrate\\n(oneshot)\", shape=oval];\n\
             \x20 \"web\" [label=\"web\", shape=box];\n\
             \x20 \"backup\" [label=\"backup\\n(periodic)\", shape=hexagon, style=dashed];\n\
             \x20 \"db\" -> \"migrate\" [label=\"ready\"];\n\
             \x20 \"migrate\" -> \"web\" [label=\"completed\"];\n\
             \x20 \"db\" -> \"web\" [label=\"ready\"];\n\
             \x20 \"db\" -> \"backup\" [label=\"started\"];\n}\n"
    );
}

#[test]
fn mermaid_names_nodes_by_position() {
    assert_eq!(
        mermaid(&config()),
        "flowchart LR\n  s0[\"db\"]\n  s1([\"migrate<br/>(oneshot)\"])\n  s2[\"web\"]\n  s3{{\"backup<br/>(periodic)\"}}\n  \
             s0 -->|ready| s1\n  s1 -->|completed| s2\n  s0 -->|ready| s2\n  s0 -->|started| s3\n  \
             style s3 stroke-dasharray: 5 5\n"
    );
}

#[test]
fn a_replicated_service_is_one_node_with_its_copies_counted() {
    let yaml = "services:\n  web:\n    command: [web]\n    replicas: 3\n  proxy:\n    command: [proxy]\n    \
                    depends_on: {web: {condition: ready, instances: any}}\n  one:\n    command: [one]\n    depends_on: [web-1]\n";
    let config = crate::config::parse(yaml, "test.yaml", &|_| None, std::path::Path::new("/")).unwrap();
    let text = dot(&config);
    assert!(text.contains("  \"web\" [label=\"web\\n(3 copies)\", shape=box];\n"), "{text}");
    assert!(text.contains("  \"web\" -> \"proxy\" [label=\"ready, any copy\"];\n"), "{text}");
    assert!(text.contains("  \"web\" -> \"one\" [label=\"started\"];\n"), "{text}");
    assert!(!text.contains("web-0"), "{text}");
    let chart = mermaid(&config);
    assert!(
        chart.contains("  s0[\"web<br/>(3 copies)\"]\n") && chart.contains("  s0 -->|ready, any copy| s1\n"),
        "{chart}"
    );
}
