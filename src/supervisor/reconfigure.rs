//! The runtime's half of a reload: the file read again, the new slots
//! built before anything changes, and put where the core placed their units
//! (`core::Core::reload` decides the rest).

use std::rc::Rc;
use std::time::Instant;

use super::core::Placed;
use super::spawning::{base_environment, new_slot};
use super::{Supervisor, release_start_up_code, reload};
use crate::shutdown::Phase;

impl Supervisor {
    /// SIGHUP: re-reads the config and applies the difference: added services
    /// start, removed ones stop, changed ones restart with their new settings,
    /// unchanged ones keep running untouched (same pid). An invalid file, or one
    /// whose programs cannot be prepared, changes nothing.
    pub(super) fn reload(&mut self) -> Result<String, String> {
        if self.core.phase != Phase::Running {
            return Err("not reloading: warden is shutting down".into());
        }
        let Some(path) = self.config_path.clone() else {
            return Err("not reloading: warden runs no config file".into());
        };
        let environment = |name: &str| std::env::var(name).ok();
        let loaded = crate::config::load(&path, &environment, std::path::Path::new("/"));
        // The parser ran again: its code need not stay resident until the next reload.
        release_start_up_code();
        let config = match loaded {
            Ok(config) => config,
            Err(e) => return Err(e.to_string()),
        };
        let base = base_environment()?;
        if self.main_holds_fds
            && let Some(claimant) = config.services.iter().find(|s| s.inherit_fds)
        {
            return Err(format!(
                "services.{}.inherit_fds: the main program holds the inherited descriptors for this run; \
                 restart warden to give them to a service",
                claimant.name
            ));
        }
        // New slots for what is added or changed, all built before anything
        // changes: one that cannot be built leaves everything as it was.
        let mut difference = self.core.difference(&config.services);
        // Limits that move a service into or out of a cgroup need a restart.
        let (limits, core) = (&self.limits, &self.core);
        let (keep, restart): (Vec<usize>, Vec<usize>) = difference.retuned.iter().partition(|&&index| {
            let new = config.services.get(index);
            let old = new.and_then(|n| {
                core.units.iter().find(|u| !u.retired && !u.is_main && u.service.name == n.name)
            });
            matches!((old, new), (Some(old), Some(new)) if limits.can_retune(&old.service, new))
        });
        difference.unchanged.retain(|index| !restart.contains(index));
        difference.changed.extend(restart);
        difference.changed.sort_unstable();
        difference.retuned = keep;
        let to_build = reload::to_build(&difference);
        let first_id = self.core.reserve_ids(to_build.len());
        let mut built = Vec::new();
        for (n, index) in to_build.into_iter().enumerate() {
            let Some(service) = config.services.get(index) else { continue };
            let name = service.name.clone();
            match new_slot(first_id + n as u64, Rc::new(service.clone()), &base, self.seed, &self.inherited) {
                Ok(slot) => built.push(slot),
                Err(why) => return Err(format!("service {name}: {why}")),
            }
        }
        for slot in &mut built {
            slot.limits = self.limits.attach(&slot.service, true);
        }
        let units = built.iter().map(|s| (s.service.clone(), s.id)).collect();
        let reloaded = self.core.reload(Instant::now(), &config.services, &difference, units);
        self.core.grace = config.grace;
        self.core.drain = config.drain;
        let mut removed = Vec::new();
        for index in reloaded.removed {
            // Its notification socket goes now; the slot may wait long for reuse.
            if let Some(slot) = self.slots.get_mut(index) {
                if let Some((_, token)) = slot.watch.notify.take() {
                    self.registry.remove_token(token);
                }
                removed.push(slot.service.name.clone());
            }
        }
        let mut retuned = Vec::new();
        for &new_index in &difference.retuned {
            let Some(service) = config.services.get(new_index) else { continue };
            let running = self
                .core
                .units
                .iter()
                .position(|u| !u.retired && !u.is_main && u.service.name == service.name);
            let (Some(index), Some(slot)) = (running, running.and_then(|i| self.slots.get_mut(i))) else {
                continue;
            };
            let service = Rc::new(service.clone());
            self.limits.retune(slot, &service);
            slot.service = service.clone();
            self.core.replace_service(index, service);
            retuned.push(slot.service.name.clone());
        }
        let (mut added, mut changed) = (Vec::new(), Vec::new());
        for (mut new, (index, placed)) in built.into_iter().zip(reloaded.placed) {
            let name = new.service.name.clone();
            if let Some(token) = self.slots.get(index).and_then(|s| s.watch.notify.as_ref()).map(|(_, t)| *t)
            {
                self.registry.remove_token(token);
            }
            match (placed, self.slots.get_mut(index)) {
                // Same unit, new settings: it restarts (the core says when).
                (Placed::Kept, Some(slot)) => {
                    slot.watch.set_probes(&new.service, new.watch.take_programs());
                    slot.service = new.service;
                    slot.program = new.program;
                    slot.setup = new.setup;
                    slot.watch.notify = new.watch.notify;
                }
                (_, Some(slot)) => *slot = new,
                (_, None) => self.slots.push(new),
            }
            if placed == Placed::Added {
                added.push(name)
            } else {
                changed.push(name)
            }
            self.watch_notify_socket(index);
        }
        // The sockets stay as they are until the next start; a client that
        // reads a moved control path from the edited file finds this warden
        // at its abstract socket.
        let mut later = Vec::new();
        if config.control != self.config.control {
            later.push("control");
            self.open_fallback_listener();
        }
        if config.http != self.config.http {
            later.push("http");
        }
        self.config.grace = config.grace;
        self.config.drain = config.drain;
        self.config.watch_config = config.watch_config;
        self.config.log_format = config.log_format;
        self.config.log_timestamps = config.log_timestamps;
        crate::logger::set_timestamps(config.log_timestamps);
        self.format = config.log_format;
        let list = |names: &[String]| if names.is_empty() { "none".to_string() } else { names.join(", ") };
        let mut summary = format!(
            "reloaded {}: added {}; removed {}; changed {}; {} unchanged",
            path.display(),
            list(&added),
            list(&removed),
            list(&changed),
            reloaded.unchanged
        );
        if !retuned.is_empty() {
            summary.push_str(&format!(" (limits changed in place: {})", retuned.join(", ")));
        }
        if !later.is_empty() {
            let which = later.join(" and ");
            summary.push_str(&format!(
                "; {which} apply at the next start (listening at {} until then)",
                self.listening_at()
            ));
        }
        self.note(&summary);
        let actions = self.core.take_actions();
        self.perform(actions);
        self.drain_pending();
        // The watched files follow the new config.
        self.watch_files();
        Ok(summary)
    }

    /// SIGHUP: reload, and say how it went in the event stream.
    pub(super) fn reload_on_signal(&mut self) {
        if let Err(why) = self.reload() {
            let sep = if why.contains('\n') { ":\n" } else { ": " };
            self.note(&format!("reload failed, nothing was changed{sep}{why}"));
        }
    }
}
