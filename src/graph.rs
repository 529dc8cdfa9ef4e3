//! `warden graph`: the services' dependency graph as Graphviz DOT or as a
//! Mermaid flowchart. Pure: a config in, text out.
//!
//! Arrows run in start order, from a dependency to the service that waits
//! for it, labelled with what it waits for (`started`, `ready`,
//! `completed`). Oneshots and periodic jobs are marked by their shape and a
//! second label line; optional services are drawn dashed.

use crate::config::{Condition, Config, Kind, Service};

fn condition(c: Condition) -> &'static str {
    match c {
        Condition::Started => "started",
        Condition::Ready => "ready",
        Condition::Completed => "completed",
    }
}

/// The kind of a service as a label's second line ("" for a longrun).
fn kind(service: &Service) -> &'static str {
    match service.kind {
        Kind::Longrun => "",
        Kind::Oneshot => "oneshot",
        Kind::Periodic(_) => "periodic",
    }
}

/// Graphviz DOT.
pub fn dot(config: &Config) -> String {
    let mut out = String::from("digraph warden {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n");
    for service in &config.services {
        let (shape, kind) = match kind(service) {
            "" => ("box", String::new()),
            k => (if k == "oneshot" { "oval" } else { "hexagon" }, format!("\\n({k})")),
        };
        let style = if service.optional { ", style=dashed" } else { "" };
        out.push_str(&format!("  \"{0}\" [label=\"{0}{kind}\", shape={shape}{style}];\n", service.name));
    }
    for service in &config.services {
        for dependency in &service.depends_on {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\" [label=\"{}\"];\n",
                dependency.name,
                service.name,
                condition(dependency.condition)
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart (`flowchart LR`); nodes are `s0`, `s1`... since
/// Mermaid ids cannot hold every character a service name may.
pub fn mermaid(config: &Config) -> String {
    let id = |name: &str| config.services.iter().position(|s| s.name == name).map(|i| format!("s{i}"));
    let mut out = String::from("flowchart LR\n");
    for (i, service) in config.services.iter().enumerate() {
        let node = match kind(service) {
            "" => format!("s{i}[\"{}\"]", service.name),
            "oneshot" => format!("s{i}([\"{}<br/>(oneshot)\"])", service.name),
            _ => format!("s{i}{{{{\"{}<br/>(periodic)\"}}}}", service.name),
        };
        out.push_str(&format!("  {node}\n"));
    }
    for service in &config.services {
        for dependency in &service.depends_on {
            if let (Some(from), Some(to)) = (id(&dependency.name), id(&service.name)) {
                out.push_str(&format!("  {from} -->|{}| {to}\n", condition(dependency.condition)));
            }
        }
    }
    for (i, service) in config.services.iter().enumerate() {
        if service.optional {
            out.push_str(&format!("  style s{i} stroke-dasharray: 5 5\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
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
}
