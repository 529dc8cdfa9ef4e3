//! File watching: `watch:` of a service and `watch_config`, on one inotify
//! descriptor in the loop (no timer and no system call while nothing
//! changes). The watches are added on the disk thread: adding one looks the
//! path up, and a path on a mount that stops answering must not stop PID 1.
//! Until the new set is made, the one before stays in force.
//!
//! warden watches the *directory* of each path and matches the names of
//! what changes in it: a file that does not exist yet is seen when it is
//! created, and one replaced by a rename (as editors save, and as
//! Kubernetes swaps a ConfigMap's `..data` link) keeps being seen. A change
//! arms the owner's debounce timer; when it fires, the service is
//! restarted, reloaded or signalled once for everything that changed
//! meanwhile, and the event line names the files.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::command::Command;
use super::{Supervisor, Timer, registry};
use crate::config::{Config, Service, WatchAction};
use crate::logger::warning;
use crate::reactor::{Interest, deadline_after};
use crate::sys::Reason;

/// Whom a watched path belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Service(String),
    Config,
}

struct Entry {
    dir: PathBuf,
    /// A file name or a glob of one; None: anything in the directory.
    pattern: Option<String>,
    owner: Owner,
}

#[derive(Default)]
pub(super) struct FileWatches {
    inotify: Option<OwnedFd>,
    dirs: HashMap<i32, PathBuf>,
    entries: Vec<Entry>,
    /// Owners whose debounce runs, with the names that changed.
    pending: HashMap<Owner, Vec<String>>,
    /// Debounce of each owner.
    debounce: HashMap<Owner, Duration>,
    /// The errand making the next set of watches, if one is under way, and
    /// the inotify descriptor it fills (the thread adds the watches to its
    /// own copy).
    making: Option<(u64, OwnedFd)>,
}

/// What the config asks to watch, made into watches on the disk thread.
pub(super) struct Plan {
    paths: Vec<(PathBuf, Owner)>,
    debounce: HashMap<Owner, Duration>,
}

/// A set of watches made on the disk thread, with what could not be watched.
pub(super) struct Made {
    dirs: HashMap<i32, PathBuf>,
    entries: Vec<Entry>,
    debounce: HashMap<Owner, Duration>,
    warnings: Vec<String>,
}

impl Plan {
    /// The watches `config` asks for: no file-system call.
    pub(super) fn new(config: &Config, services: &[&Service], config_path: Option<&Path>) -> Plan {
        let mut plan = Plan { paths: Vec::new(), debounce: HashMap::new() };
        for service in services {
            let Some(watch) = &service.watch else { continue };
            let owner = Owner::Service(service.name.clone());
            plan.debounce.insert(owner.clone(), watch.debounce);
            for path in &watch.paths {
                plan.paths.push((path.clone(), owner.clone()));
            }
        }
        if config.watch_config
            && let Some(path) = config_path
        {
            plan.debounce.insert(Owner::Config, crate::config::DEFAULT_DEBOUNCE);
            plan.paths.push((path.to_path_buf(), Owner::Config));
        }
        plan
    }

    /// Adds the watches to `inotify` (on the disk thread, to its copy of
    /// the loop's descriptor: every path is looked up).
    pub(super) fn make(self, inotify: std::io::Result<OwnedFd>) -> Made {
        let mut made =
            Made { dirs: HashMap::new(), entries: Vec::new(), debounce: self.debounce, warnings: Vec::new() };
        let inotify = match inotify {
            Ok(fd) => fd,
            Err(e) => {
                made.warnings
                    .push(format!("cannot watch files: the disk thread got no inotify: {}", Reason(&e)));
                return made;
            }
        };
        for (path, owner) in self.paths {
            let (dir, pattern) = if path.is_dir() {
                (path, None)
            } else {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                // `-c warden.yaml`: the file's directory is the current one.
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                (dir.to_path_buf(), name)
            };
            if !made.dirs.values().any(|d| *d == dir) {
                match crate::sys::fs::watch_directory(inotify.as_fd(), &dir) {
                    Ok(wd) => {
                        made.dirs.insert(wd, dir.clone());
                    }
                    Err(e) => {
                        made.warnings.push(format!("cannot watch {}: {}", dir.display(), Reason(&e)));
                        continue;
                    }
                }
            }
            made.entries.push(Entry { dir, pattern, owner });
        }
        made
    }
}

impl FileWatches {
    /// Whether `ticket` is the errand making the next set of watches.
    pub(super) fn is_making(&self, ticket: u64) -> bool {
        self.making.as_ref().is_some_and(|(making, _)| *making == ticket)
    }

    /// The owners a batch of events concerns, with the names that changed.
    fn matches(&self) -> Vec<(Owner, String)> {
        let Some(inotify) = &self.inotify else { return Vec::new() };
        let mut found = Vec::new();
        for event in crate::sys::fs::read_events(inotify.as_fd()) {
            let Some(dir) = self.dirs.get(&event.wd) else { continue };
            let name = String::from_utf8_lossy(&event.name).into_owned();
            // Kubernetes updates a mounted ConfigMap by swapping `..data`:
            // every file of the directory changed.
            let swap = name.starts_with("..");
            for entry in self.entries.iter().filter(|e| e.dir == *dir) {
                let hit = match &entry.pattern {
                    None => !name.is_empty(),
                    Some(pattern) => swap || glob(pattern, &name),
                };
                // A swap is told as the watched file it changed, not as `..data`.
                let shown = match &entry.pattern {
                    Some(pattern) if swap && !glob(pattern, &name) => pattern,
                    _ => &name,
                };
                if hit && !found.iter().any(|(o, n): &(Owner, String)| *o == entry.owner && n == shown) {
                    found.push((entry.owner.clone(), shown.clone()));
                }
            }
        }
        found
    }
}

/// `*` and `?` over one file name.
pub fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

impl Supervisor {
    /// Watches what the config asks for (again, after a reload). The watches
    /// are added on the disk thread; `on_watches_made` puts them in force.
    pub(super) fn watch_files(&mut self) {
        let services: Vec<&Service> =
            self.core.units.iter().filter(|u| !u.retired && !u.is_main).map(|u| u.service.as_ref()).collect();
        let plan = Plan::new(&self.config, &services, self.config_path.as_deref());
        if plan.paths.is_empty() {
            // Nothing to watch: no descriptor at all (closing one takes it out of epoll).
            self.files = FileWatches::default();
            return;
        }
        let inotify = match crate::sys::fs::inotify() {
            Ok(fd) => fd,
            Err(e) => return warning!("cannot watch files: {}", Reason(&e)),
        };
        let ticket = self.take_token();
        let made = self.disk.run_with(ticket, inotify.as_fd(), move |copy| Box::new(plan.make(copy)));
        self.files.making = Some((ticket, inotify));
        match made {
            Ok(()) => self.watch_disk(),
            // No thread: made here, as a last resort.
            Err(Some(errand)) => self.on_watches_made(errand()),
            Err(None) => {
                self.files.making = None;
                warning!(
                    "cannot watch files: the disk thread has too much waiting (a mount that does not answer?)"
                );
            }
        }
    }

    /// The disk thread made the set of watches asked for last: it replaces
    /// the set in force (whose descriptor closes here, which takes it out of
    /// epoll). A set asked for before it comes back with a ticket no longer
    /// `making`, and is dropped.
    pub(super) fn on_watches_made(&mut self, made: Box<dyn std::any::Any + Send>) {
        let Some((_, inotify)) = self.files.making.take() else { return };
        let Ok(made) = made.downcast::<Made>() else { return };
        let Made { dirs, entries, debounce, warnings } = *made;
        for why in warnings {
            warning!("{why}");
        }
        // Debounces already running keep the names they collected.
        let pending = std::mem::take(&mut self.files.pending);
        self.files = FileWatches { inotify: Some(inotify), dirs, entries, pending, debounce, making: None };
        if let Some(inotify) = &self.files.inotify
            && let Err(e) =
                self.init.reactor.register(inotify.as_raw_fd(), registry::FILE_WATCH, Interest::Read)
        {
            warning!("cannot watch files: {}", Reason(&e));
        }
    }

    /// Something changed in a watched directory.
    pub(super) fn on_file_events(&mut self) {
        for (owner, name) in self.files.matches() {
            let fresh = !self.files.pending.contains_key(&owner);
            let names = self.files.pending.entry(owner.clone()).or_default();
            if !names.contains(&name) && names.len() < 8 {
                names.push(name);
            }
            if fresh {
                let after =
                    self.files.debounce.get(&owner).copied().unwrap_or(crate::config::DEFAULT_DEBOUNCE);
                self.init.reactor.add_timer(deadline_after(after), Timer::FilesChanged(owner));
            }
        }
    }

    /// A debounce is over: the owner's action, once for all that changed.
    pub(super) fn on_files_changed(&mut self, owner: Owner) {
        let names = self.files.pending.remove(&owner).unwrap_or_default().join(", ");
        match owner {
            Owner::Config => {
                self.note(&format!("{names} changed: reloading the config"));
                self.reload_on_signal();
            }
            Owner::Service(name) => {
                let Some(index) = self.core.unit_named(&name) else { return };
                let Some(watch) = self.slots.get(index).and_then(|s| s.service.watch.clone()) else { return };
                let running = self.core.units.get(index).is_some_and(|u| u.machine.is_up());
                if !running {
                    return;
                }
                let reload_signal = self.slots.get(index).and_then(|s| s.service.reload_signal);
                let signal = match watch.action {
                    WatchAction::Signal(signal) => Some(signal),
                    WatchAction::Reload => reload_signal,
                    WatchAction::Restart => None,
                };
                match signal {
                    Some(signal) => {
                        self.note(&format!(
                            "{name}: {names} changed: sending {}",
                            crate::sys::signals::name(signal)
                        ));
                        if let Err(why) = self.signal_service(&name, signal, false, false) {
                            warning!("{why}");
                        }
                    }
                    None => {
                        self.note(&format!("{name}: {names} changed: restarting"));
                        if self.core.command(std::time::Instant::now(), index, Command::Restart).is_ok() {
                            let actions = self.core.take_actions();
                            self.perform(actions);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
