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
mod tests;
