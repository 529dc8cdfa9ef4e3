//! What a reload changes, decided without touching anything: the services of
//! the new config against the ones running, by name. Pure; the supervisor
//! builds the new units and applies the difference.

use crate::config::{Instance, Service};

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
        let Some(running) = current.iter().find(|c| c.name == service.name) else {
            result.added.push(index);
            continue;
        };
        let running = recounted(running, service);
        if running == *service {
            result.unchanged.push(index);
        } else if (Service { resources: service.resources, ..running }) == *service {
            result.unchanged.push(index);
            result.retuned.push(index);
        } else {
            result.changed.push(index);
        }
    }
    result.removed =
        current.iter().filter(|c| !new.iter().any(|s| s.name == c.name)).map(|c| c.name.clone()).collect();
    result
}

/// `running` as if read with `new`'s number of copies: a copy that stays
/// when `replicas:` changes in the file runs on, as with `warden scale`,
/// instead of every copy restarting at once for its `WARDEN_REPLICAS`. A
/// copy that uses `${WARDEN_REPLICAS}` in a setting differs there, and
/// restarts.
fn recounted(running: &Service, new: &Service) -> Service {
    let mut service = running.clone();
    if let (Some(old), Some(fresh)) = (&running.instance, &new.instance)
        && old.count != fresh.count
    {
        service.instance = Some(Instance { count: fresh.count, ..old.clone() });
        let count = fresh.count.to_string();
        for (key, value) in &mut service.env {
            if key == "WARDEN_REPLICAS" && *value == old.count.to_string() {
                value.clone_from(&count);
            }
        }
    }
    service
}

/// The new services to build units for (added or changed), in config order.
pub fn to_build(diff: &Diff) -> Vec<usize> {
    let mut indices: Vec<usize> = diff.added.iter().chain(&diff.changed).copied().collect();
    indices.sort_unstable();
    indices
}

#[cfg(test)]
mod tests;
