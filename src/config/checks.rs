//! Checks that need the whole config: dependencies that exist and can be
//! met, cycles, one claimant of the inherited descriptors.

use super::*;

/// Checks that need every service: unknown dependencies, cycles, contradictions.
pub(super) fn validate(config: &Config, root: &Node, problems: &mut Vec<Diagnostic>) {
    let position_of = |service: &str, key: Option<&str>| position_of(root, service, key);
    let mut names: Vec<&str> = config.services.iter().map(Service::source_name).collect();
    names.dedup();
    for service in &config.services {
        let source = service.source_name();
        let path = format!("services.{source}");
        for dependency in &service.depends_on {
            let at = position_of(source, Some("depends_on"));
            let dep_path = format!("{path}.depends_on");
            let Some(target) = config.services.iter().find(|s| s.answers_to(&dependency.name)) else {
                let others: Vec<&str> = names.iter().copied().filter(|n| *n != source).collect();
                let hint = suggest(&dependency.name, &others)
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                problems.push(Diagnostic {
                    at,
                    path: dep_path,
                    message: format!("no service \"{}\"{hint}", dependency.name),
                });
                continue;
            };
            if dependency.any && target.instance.is_none() {
                problems.push(Diagnostic {
                    at,
                    path: format!("{dep_path}.{}.instances", dependency.name),
                    message: format!(
                        "\"{}\" runs one copy (no replicas:), so instances: any means nothing there",
                        dependency.name
                    ),
                });
            }
            if service.answers_to(&dependency.name) || target.source_name() == source {
                problems.push(Diagnostic {
                    at,
                    path: dep_path,
                    message: "a service cannot depend on itself".into(),
                });
            } else if !target.enabled && !target.optional {
                problems.push(Diagnostic {
                    at,
                    path: dep_path,
                    message: format!(
                        "\"{}\" is disabled (enabled: false), so it would never start: enable it, or mark it \
                         optional: true to start without it",
                        dependency.name
                    ),
                });
            } else if dependency.condition == Condition::Completed && target.kind != Kind::Oneshot {
                problems.push(Diagnostic {
                    at,
                    path: dep_path,
                    message: format!(
                        "\"{}\" is not a oneshot, so it never completes: use started or ready",
                        dependency.name
                    ),
                });
            }
        }
        if let Some(instance) = &service.instance
            && let Some(other) =
                config.services.iter().find(|s| s.name == service.name && !std::ptr::eq(*s, service))
        {
            let message = match &other.instance {
                Some(theirs) => format!(
                    "{} is a copy of both {} and {}: rename one of them",
                    service.name, instance.group, theirs.group
                ),
                None => format!(
                    "{} is the name of a copy of {} (replicas: {}) and of a service of its own: rename one",
                    service.name, instance.group, instance.count
                ),
            };
            problems.push(Diagnostic {
                at: position_of(source, Some("replicas")),
                path: format!("{path}.replicas"),
                message,
            });
        }
        if matches!(service.kind, Kind::Periodic(_)) && service.critical {
            problems.push(Diagnostic {
                at: position_of(source, Some("critical")),
                path: format!("{path}.critical"),
                message: "a periodic job cannot be critical".into(),
            });
        }
    }
    // Two writers of one log file would rotate it under each other.
    for (index, service) in config.services.iter().enumerate() {
        let Logs::File(file) = &service.logs else { continue };
        let earlier = config
            .services
            .iter()
            .take(index)
            .find(|s| matches!(&s.logs, Logs::File(f) if f.path == file.path));
        if let Some(other) = earlier {
            let source = service.source_name();
            let message = if other.source_name() == source {
                format!(
                    "every copy would write {}: put ${{WARDEN_INSTANCE}} in the path",
                    file.path.display()
                )
            } else {
                format!(
                    "{} is also {}'s log file: give each service its own",
                    file.path.display(),
                    other.source_name()
                )
            };
            problems.push(Diagnostic {
                at: position_of(source, Some("logs")),
                path: format!("services.{source}.logs"),
                message,
            });
        }
    }
    let claimants: Vec<&Service> = config.services.iter().filter(|s| s.inherit_fds).collect();
    if let [first, others @ ..] = claimants.as_slice() {
        for other in others {
            problems.push(Diagnostic {
                at: position_of(other.source_name(), Some("inherit_fds")),
                path: format!("services.{}.inherit_fds", other.source_name()),
                message: format!(
                    "\"{}\" already takes the inherited descriptors: only one service may (or the main program, by default)",
                    first.name
                ),
            });
        }
    }
    if let Some(cycle) = find_cycle(config) {
        // Pointed at the first service's entry that leads around the cycle.
        let (first, next) =
            (cycle.first().map_or("", String::as_str), cycle.get(1).map_or("", String::as_str));
        problems.push(Diagnostic {
            at: entry_position(root, first, next).or_else(|| position_of(first, Some("depends_on"))),
            path: format!("services.{first}.depends_on"),
            message: format!("dependency cycle: {}", cycle.join(" -> ")),
        });
    }
}

/// Where `service`'s `depends_on` names `dependency` (a list item or a map key).
pub(super) fn entry_position(root: &Node, service: &str, dependency: &str) -> Option<Position> {
    let depends_on = field(field(field(root, "services")?, service)?, "depends_on")?;
    match &depends_on.value {
        Value::List(items) => items.iter().find(|i| i.value.as_text() == Some(dependency)).map(|i| i.at),
        Value::Map(entries) => {
            entries.iter().find(|(k, _)| k.value.as_text() == Some(dependency)).map(|(k, _)| k.at)
        }
        _ => None,
    }
}

/// A dependency cycle, as the names along it (first repeated at the end).
pub(super) fn find_cycle(config: &Config) -> Option<Vec<String>> {
    pub(super) fn visit<'a>(
        name: &'a str,
        config: &'a Config,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| *n == name) {
            let mut cycle: Vec<String> =
                path.get(start..).unwrap_or_default().iter().map(|s| s.to_string()).collect();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if done.contains(&name) {
            return None;
        }
        path.push(name);
        // One copy of a replicated service stands for all: they depend alike.
        let service = config.services.iter().find(|s| s.answers_to(name))?;
        for dependency in &service.depends_on {
            if !service.answers_to(&dependency.name)
                && let Some(cycle) = visit(&dependency.name, config, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(name);
        None
    }
    let mut done = Vec::new();
    config.services.iter().find_map(|s| visit(s.source_name(), config, &mut Vec::new(), &mut done))
}

/// Advice that does not make the config invalid: a service whose
/// `stop_timeout` cannot fit in what is left of the grace when its turn to
/// stop comes (after `drain` and after every service that depends on it,
/// each of which may take its own `stop_timeout`). It would be SIGKILLed
/// early; the recipes in docs/recipes.md say why that hurts a database.
pub(super) fn advice(config: &Config, root: &Node) -> Vec<Diagnostic> {
    // When each service's stop begins, at the latest: drain, then the
    // longest chain of dependents' stops. Bounded by the number of services
    // per pass (the graph has no cycle once the config is valid).
    let count = config.services.len();
    let mut begins: Vec<Duration> = vec![config.drain; count];
    for _ in 0..count {
        let mut changed = false;
        for (index, service) in config.services.iter().enumerate() {
            let latest = config
                .services
                .iter()
                .zip(&begins)
                .filter(|(dependent, _)| dependent.depends_on_service(service))
                .map(|(dependent, begin)| *begin + dependent.stop_timeout)
                .max()
                .unwrap_or(config.drain)
                .max(config.drain);
            if let Some(slot) = begins.get_mut(index)
                && *slot != latest
            {
                *slot = latest;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let format = crate::duration::format;
    config
        .services
        .iter()
        .zip(begins)
        .filter(|(service, begin)| *begin + service.stop_timeout > config.grace)
        .map(|(service, begin)| {
            let left = config.grace.saturating_sub(begin);
            let need = begin + service.stop_timeout;
            let after = if begin > config.drain { " after the services that depend on it" } else { "" };
            Diagnostic {
                at: position_of(root, service.source_name(), Some("stop_timeout")),
                path: format!("services.{}.stop_timeout", service.source_name()),
                message: format!(
                    "{} cannot fit: it is stopped{after} at most {} into the grace of {}, so only {} of it is left \
                     before SIGKILL; raise grace to {} (and docker stop -t, or terminationGracePeriodSeconds, above it)",
                    format(service.stop_timeout),
                    format(begin),
                    format(config.grace),
                    format(left),
                    format(need)
                ),
            }
        })
        .fold(Vec::new(), |mut advice, diagnostic| {
            // Copies of a replicated service get the same advice: said once.
            if !advice.contains(&diagnostic) {
                advice.push(diagnostic);
            }
            advice
        })
}

/// The key node and the value node of `key` in mapping `node`.
fn entry<'a>(node: &'a Node, key: &str) -> Option<(&'a Node, &'a Node)> {
    let Value::Map(entries) = &node.value else { return None };
    entries.iter().find(|(k, _)| k.value.as_text() == Some(key)).map(|(k, v)| (k, v))
}

/// The value of `key` in mapping `node`.
fn field<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    entry(node, key).map(|(_, value)| value)
}

/// Where `key` of `service` is (its name, without a key or when the key is
/// not there), or nothing when the service is not in the file.
fn position_of(root: &Node, service: &str, key: Option<&str>) -> Option<Position> {
    let (service_key, service_node) = entry(field(root, "services")?, service)?;
    let at = key.and_then(|key| entry(service_node, key)).map(|(k, _)| k.at);
    Some(at.unwrap_or(service_key.at))
}
