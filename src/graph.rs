//! `warden graph`: the services' dependency graph as Graphviz DOT or as a
//! Mermaid flowchart. Pure: a config in, text out.
//!
//! Arrows run in start order, from a dependency to the service that waits
//! for it, labelled with what it waits for (`started`, `ready`,
//! `completed`). Oneshots and periodic jobs are marked by their shape and a
//! second label line; optional services are drawn dashed. A replicated
//! service is one node, its copies counted on the second line.

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

/// The services as the file names them: a replicated service once (its
/// first copy stands for all), with its number of copies.
fn nodes(config: &Config) -> Vec<(&Service, Option<u32>)> {
    config
        .services
        .iter()
        .filter(|s| s.instance.as_ref().is_none_or(|i| i.index == 0))
        .map(|s| (s, s.instance.as_ref().map(|i| i.count)))
        .collect()
}

/// The node a dependency's name means (a copy's name means its service's).
fn node_of<'a>(config: &'a Config, name: &str) -> Option<&'a str> {
    config.services.iter().find(|s| s.answers_to(name)).map(Service::source_name)
}

/// Graphviz DOT.
pub fn dot(config: &Config) -> String {
    let mut out = String::from("digraph warden {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n");
    for (service, copies) in nodes(config) {
        let (shape, mut kind) = match kind(service) {
            "" => ("box", String::new()),
            k => (if k == "oneshot" { "oval" } else { "hexagon" }, format!("\\n({k})")),
        };
        if let Some(copies) = copies {
            kind.push_str(&format!("\\n({copies} copies)"));
        }
        let style = if service.optional { ", style=dashed" } else { "" };
        let name = service.source_name();
        out.push_str(&format!("  \"{name}\" [label=\"{name}{kind}\", shape={shape}{style}];\n"));
    }
    for (service, _) in nodes(config) {
        for dependency in &service.depends_on {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\" [label=\"{}{}\"];\n",
                node_of(config, &dependency.name).unwrap_or(&dependency.name),
                service.source_name(),
                condition(dependency.condition),
                if dependency.any { ", any copy" } else { "" }
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart (`flowchart LR`); nodes are `s0`, `s1`... since
/// Mermaid ids cannot hold every character a service name may.
pub fn mermaid(config: &Config) -> String {
    let nodes = nodes(config);
    let id = |name: &str| {
        let node = node_of(config, name)?;
        nodes.iter().position(|(s, _)| s.source_name() == node).map(|i| format!("s{i}"))
    };
    let mut out = String::from("flowchart LR\n");
    for (i, (service, copies)) in nodes.iter().enumerate() {
        let name = match copies {
            Some(copies) => format!("{}<br/>({copies} copies)", service.source_name()),
            None => service.source_name().to_string(),
        };
        let node = match kind(service) {
            "" => format!("s{i}[\"{name}\"]"),
            "oneshot" => format!("s{i}([\"{name}<br/>(oneshot)\"])"),
            _ => format!("s{i}{{{{\"{name}<br/>(periodic)\"}}}}"),
        };
        out.push_str(&format!("  {node}\n"));
    }
    for (service, _) in &nodes {
        for dependency in &service.depends_on {
            if let (Some(from), Some(to)) = (id(&dependency.name), id(service.source_name())) {
                let any = if dependency.any { ", any copy" } else { "" };
                out.push_str(&format!("  {from} -->|{}{any}| {to}\n", condition(dependency.condition)));
            }
        }
    }
    for (i, (service, _)) in nodes.iter().enumerate() {
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
            chart.contains("  s0[\"web<br/>(3 copies)\"]\n")
                && chart.contains("  s0 -->|ready, any copy| s1\n"),
            "{chart}"
        );
    }
}
