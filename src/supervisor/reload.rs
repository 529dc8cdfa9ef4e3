//! What a reload changes, decided without touching anything: the services of
//! the new config against the ones running, by name. Pure; the supervisor
//! builds the new units and applies the difference.

use crate::config::Service;

/// The difference between the services running and a new config's.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Indices into the new services: not running under that name before.
    pub added: Vec<usize>,
    /// Indices into the new services: running, with other settings.
    pub changed: Vec<usize>,
    /// Indices into the new services: running with exactly these settings,
    /// or with only other cgroup limits (those are also in `retuned`).
    pub unchanged: Vec<usize>,
    /// Indices into the new services whose cgroup limits alone changed:
    /// written in place, the service keeps running.
    pub retuned: Vec<usize>,
    /// Names of the running services the new config no longer has, in the
    /// order they run.
    pub removed: Vec<String>,
}

/// `current`: the services running now (not retired, not the main program).
pub fn diff(current: &[&Service], new: &[Service]) -> Diff {
    let mut result = Diff::default();
    for (index, service) in new.iter().enumerate() {
        match current.iter().find(|c| c.name == service.name) {
            None => result.added.push(index),
            Some(running) if *running == service => result.unchanged.push(index),
            Some(running) if Service { resources: service.resources, ..(*running).clone() } == *service => {
                result.unchanged.push(index);
                result.retuned.push(index);
            }
            Some(_) => result.changed.push(index),
        }
    }
    result.removed =
        current.iter().filter(|c| !new.iter().any(|s| s.name == c.name)).map(|c| c.name.clone()).collect();
    result
}

/// The new services to build units for (added or changed), in config order.
pub fn to_build(diff: &Diff) -> Vec<usize> {
    let mut indices: Vec<usize> = diff.added.iter().chain(&diff.changed).copied().collect();
    indices.sort_unstable();
    indices
}

#[cfg(test)]
mod tests;
