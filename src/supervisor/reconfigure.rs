//! The runtime's half of a reload: the file read again, the new slots
//! built before anything changes, and put where the core placed their units
//! (`core::Core::reload` decides the rest).

use std::rc::Rc;
use std::time::Instant;

use crate::config::{Config, Kind, MAX_REPLICAS, Service, parse_scaled};

use super::core::Placed;
use super::spawning::{base_environment, new_slot};
use super::{Scaling, Supervisor, release_start_up_code, reload};
use crate::shutdown::Phase;

impl Supervisor {
    /// SIGHUP, `warden reload`, a watched config: re-reads the config and
    /// applies the difference: added services start, removed ones stop,
    /// changed ones restart with their new settings, unchanged ones keep
    /// running untouched (same pid). An invalid file, or one whose programs
    /// cannot be prepared, changes nothing. The file (and what it names:
    /// env files, users) is read and parsed on the disk thread, so a config
    /// on a mount that stops answering holds up only the reload; `answer_to`
    /// is the control connection told the outcome. Asked again while a read
    /// is under way, the file is read once more after it.
    pub(super) fn reload(&mut self, answer_to: Option<u64>) {
        if self.core.phase != Phase::Running {
            return self.said_reload(Err("not reloading: warden is shutting down".into()), answer_to);
        }
        let Some(path) = self.config_path.clone() else {
            return self.said_reload(Err("not reloading: warden runs no config file".into()), answer_to);
        };
        if self.reloading.ticket.is_some() {
            self.reloading.again.get_or_insert_with(Vec::new).extend(answer_to);
            return;
        }
        let ticket = self.take_token();
        let read: crate::disk::Errand = Box::new(move || {
            let environment = |name: &str| std::env::var(name).ok();
            let loaded = crate::config::load(&path, &environment, std::path::Path::new("/"));
            Box::new(loaded.map(|config| (config, path)).map_err(|e| e.to_string()))
        });
        self.reloading.ticket = Some(ticket);
        self.reloading.answer_to.extend(answer_to);
        match self.disk.run(ticket, read) {
            Ok(()) => self.watch_disk(),
            // No thread: read here, as a last resort.
            Err(Some(read)) => self.on_config_read(ticket, read()),
            Err(None) => {
                self.reloading.ticket = None;
                let answer_to = std::mem::take(&mut self.reloading.answer_to);
                let why =
                    "not reloading: the disk thread has too much waiting (a mount that does not answer?)";
                for token in answer_to {
                    self.said_reload(Err(why.into()), Some(token));
                }
            }
        }
    }

    /// The disk thread has read the config for the reload under way: applied.
    pub(super) fn on_config_read(&mut self, ticket: u64, read: Box<dyn std::any::Any + Send>) {
        if self.reloading.ticket != Some(ticket) {
            return;
        }
        self.reloading.ticket = None;
        let answer_to = std::mem::take(&mut self.reloading.answer_to);
        // The parser ran again: its code need not stay resident until the next reload.
        release_start_up_code();
        let read = read
            .downcast::<Result<(Config, std::path::PathBuf), String>>()
            .map_or_else(|_| Err("the config was not read".to_string()), |read| *read);
        let outcome = if self.core.phase != Phase::Running {
            Err("not reloading: warden is shutting down".to_string())
        } else {
            read.and_then(|(config, path)| self.apply(config, &format!("reloaded {}", path.display())))
        };
        match (&outcome, answer_to.is_empty()) {
            (Err(_), true) => self.said_reload(outcome, None),
            _ => {
                for token in answer_to {
                    self.said_reload(outcome.clone(), Some(token));
                }
            }
        }
        if let Some(again) = self.reloading.again.take() {
            if again.is_empty() {
                self.reload(None);
            }
            for token in again {
                self.reload(Some(token));
            }
        }
    }

    /// How a reload went: a failure is said in warden's output (the summary
    /// of one that worked already is), and to the connection that asked.
    fn said_reload(&mut self, outcome: Result<String, String>, answer_to: Option<u64>) {
        if let Err(why) = &outcome {
            let sep = if why.contains('\n') { ":\n" } else { ": " };
            self.note(&format!("reload failed, nothing was changed{sep}{why}"));
        }
        let Some(token) = answer_to else { return };
        let answer = match outcome {
            Ok(summary) => format!("{}{summary}\n", crate::control::header(Ok(()))),
            Err(why) => {
                format!("{}{why}\n", crate::control::header(Err("reload failed, nothing was changed")))
            }
        };
        self.answer(token, answer.into_bytes());
    }

    /// `warden scale NAME N`: N copies of a replicated service for this run.
    /// The copies that run stay as they are; those from N on stop, and new
    /// ones are read from the text warden was started (or last reloaded)
    /// with, so an edit of the file not reloaded yet does not slip in. The
    /// text is read on the disk thread (it names env files, users and
    /// watched directories, each looked up); `token` is told the outcome
    /// once the copies are placed.
    pub(super) fn scale(&mut self, token: u64, name: &str, count: u32) {
        if let Err(why) = self.scalable(name, count) {
            return self.said_scale(Err(why), token);
        }
        let text = self.config.text.clone();
        let file = self.config_path.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
        let scale = [(name.to_string(), count)];
        let read: crate::disk::Errand = Box::new(move || {
            let environment = |name: &str| std::env::var(name).ok();
            let read = parse_scaled(&text, &file, &environment, std::path::Path::new("/"), &scale);
            Box::new(read.map_err(|e| format!("cannot read the new copies:\n{e}")))
        });
        let ticket = self.take_token();
        let asked =
            Scaling { answer_to: token, name: name.to_string(), count, text: self.config.text.clone() };
        match self.disk.run(ticket, read) {
            Ok(()) => {
                self.scaling.insert(ticket, asked);
                self.watch_disk();
            }
            // No thread: read here, as a last resort.
            Err(Some(read)) => {
                self.scaling.insert(ticket, asked);
                self.on_scale_read(ticket, read());
            }
            Err(None) => self.said_scale(
                Err("the disk thread has too much waiting (a mount that does not answer?)".into()),
                token,
            ),
        }
    }

    /// Whether `name` can run `count` copies now (why not, if not).
    fn scalable(&self, name: &str, count: u32) -> Result<(), String> {
        if self.core.phase != Phase::Running {
            return Err("not scaling: warden is shutting down".into());
        }
        let running = self.running_services();
        if !running.iter().any(|s| copies_of(s, name)) {
            return Err(match running.iter().find(|s| s.name == name) {
                Some(s) if s.kind != Kind::Longrun => {
                    let kind = if s.kind == Kind::Oneshot { "oneshot" } else { "periodic job" };
                    format!("{name} is a {kind}: only a longrun service runs copies")
                }
                Some(_) => {
                    format!("{name} runs one copy (no replicas: in the file): add replicas: 1 to scale it")
                }
                None => {
                    // Copies of one service stand together: index 0 names each once.
                    let groups: Vec<String> = running
                        .iter()
                        .filter_map(|s| s.instance.as_ref().filter(|i| i.index == 0))
                        .map(|i| i.group.clone())
                        .collect();
                    format!("no replicated service named \"{name}\" (replicated: {})", list(&groups))
                }
            });
        }
        if !(1..=MAX_REPLICAS).contains(&count) {
            return Err(format!(
                "\"{count}\" is not a count from 1 to {MAX_REPLICAS} (warden stop {name} stops every copy)"
            ));
        }
        Ok(())
    }

    /// The services that run (or wait), as the config has them.
    fn running_services(&self) -> Vec<Service> {
        self.core.units.iter().filter(|u| !u.retired && !u.is_main).map(|u| (*u.service).clone()).collect()
    }

    /// Whether `ticket` is a scale's read.
    pub(super) fn is_scaling(&self, ticket: u64) -> bool {
        self.scaling.contains_key(&ticket)
    }

    /// The disk thread has read the copies a scale asked for: placed among
    /// what runs now (which may have changed since), unless a reload
    /// replaced the text they were read from.
    pub(super) fn on_scale_read(&mut self, ticket: u64, read: Box<dyn std::any::Any + Send>) {
        let Some(Scaling { answer_to, name, count, text }) = self.scaling.remove(&ticket) else { return };
        // The parser ran again: its code need not stay resident until the next reload.
        release_start_up_code();
        let outcome = match read.downcast::<Result<Config, String>>() {
            Ok(read) => (*read).and_then(|read| self.place_copies(&name, count, &text, read)),
            Err(_) => Err("the disk thread answered something else".into()),
        };
        self.said_scale(outcome, answer_to);
    }

    /// Puts the copies `read` has in place of those of `name` that run.
    fn place_copies(&mut self, name: &str, count: u32, text: &str, read: Config) -> Result<String, String> {
        if self.config.text != text {
            return Err("the config was reloaded meanwhile: scale again".into());
        }
        self.scalable(name, count)?;
        let running = self.running_services();
        let have = running.iter().filter(|s| copies_of(s, name)).count() as u32;
        let mut added = read
            .services
            .into_iter()
            .filter(|s| copies_of(s, name) && s.instance.as_ref().is_some_and(|i| i.index >= have));
        let mut services = Vec::new();
        let mut left = have;
        for service in running {
            if copies_of(&service, name) {
                left -= 1;
                if service.instance.as_ref().is_some_and(|i| i.index < count) {
                    services.push(service);
                }
                if left == 0 {
                    services.extend(added.by_ref());
                }
            } else {
                services.push(service);
            }
        }
        let config = Config { services, ..self.config.clone() };
        self.apply(config, &format!("scaled {name} from {have} to {count}"))
    }

    fn said_scale(&mut self, outcome: Result<String, String>, token: u64) {
        let answer = match outcome {
            Ok(summary) => format!("{}{summary}\n", crate::control::header(Ok(()))),
            Err(why) => {
                let (first, rest) = why.split_once('\n').unwrap_or((&why, ""));
                format!("{}{rest}", crate::control::header(Err(&format!("not scaled: {first}"))))
            }
        };
        self.answer(token, answer.into_bytes());
    }

    /// Applies a new config (read again, or scaled): builds what is added or
    /// changed, then has the core place it; says what changed, `done` first.
    fn apply(&mut self, config: Config, done: &str) -> Result<String, String> {
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
            match new_slot(
                first_id + n as u64,
                Rc::new(service.clone()),
                &base,
                self.seed,
                &self.inherited,
                &mut self.disk,
            ) {
                Ok(slot) => built.push(slot),
                Err(why) => return Err(format!("service {name}: {why}")),
            }
        }
        for slot in &mut built {
            slot.limits = self.limits.attach(&slot.service, true);
        }
        self.watch_disk();
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
        self.config.text = config.text;
        // Unchanged in the file, but restarting around what they depend on.
        let dependents: Vec<String> = reloaded
            .dependents
            .iter()
            .filter_map(|&i| self.slots.get(i))
            .map(|s| s.service.name.clone())
            .collect();
        let dependents = if dependents.is_empty() {
            String::new()
        } else {
            format!("; dependents restarted: {}", dependents.join(", "))
        };
        let mut summary = format!(
            "{done}: added {}; removed {}; changed {}{dependents}; {} unchanged",
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
        self.reload(None);
    }
}

/// Names as a list for a summary line.
fn list(names: &[String]) -> String {
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

/// Whether `service` is a copy of the replicated service `name`.
fn copies_of(service: &Service, name: &str) -> bool {
    service.instance.as_ref().is_some_and(|i| i.group == name)
}
