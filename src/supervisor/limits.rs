//! The runtime's half of resource limits: each service's cgroup made and
//! its limits written, a program's end held until what it left behind is
//! gone (its cgroup empty, or without one its process group), OOM kills
//! told apart from other SIGKILLs, watched memory where no cgroup can be
//! written, and the figures for status.
//!
//! The core decides nothing new here: an exit reaches it once the tree is
//! gone, an OOM kill as `Event::Exited { out_of_memory }`, a watched limit
//! exceeded as `Input::Unhealthy` (stopped, then restarted by policy).

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::core::{Event, OomKill};
use super::machine::{Input, State};
use super::registry::{self, Child};
use super::{Slot, Supervisor, Timer};
use crate::cgroups::{self, Cgroups, Enforcement, Group, Offer, OwnMemory, Usage, procfs};
use crate::config::{Config, Service};
use crate::logger::warning;
use crate::reactor::{Interest, deadline_after};
use crate::sys::reap::ExitStatus;
use crate::sys::{Reason, process};

/// How often what outlived its program is looked at once it was sent
/// SIGKILL, and for how long before its program's end is reported anyway.
/// (Before the SIGKILL, the reaps of its processes say when it is gone.)
const DRAIN_CHECK: Duration = Duration::from_millis(100);
const DRAIN_GIVE_UP: Duration = Duration::from_secs(10);

/// What the runtime keeps for limits.
pub(super) struct Limits {
    offer: Offer,
    /// The cgroups warden made; None where it could not (or need not).
    cgroups: Option<Cgroups>,
    /// The container's memory cgroup, read to tell its OOM kills.
    own_memory: Option<OwnMemory>,
    /// One cgroup per service name, shared by the units of that name.
    groups: HashMap<String, Rc<Group>>,
    period: Duration,
    /// The watched-memory timer is set.
    watching: bool,
    /// Programs that ended while processes of theirs still ran.
    draining: Vec<Draining>,
    /// When the drain timer that is set fires.
    drain_timer: Option<Instant>,
    /// inotify on the services' `memory.events` (cgroup v2), and whose each watch is.
    oom_events: Option<OwnedFd>,
    oom_watches: HashMap<i32, String>,
}

struct Draining {
    index: usize,
    /// The program's pid: the process group it led.
    pid: i32,
    status: ExitStatus,
    out_of_memory: Option<OomKill>,
    /// When what is left gets SIGKILL: the service's `stop_timeout` after
    /// its program's end.
    kill_at: Instant,
    killed: bool,
}

/// What a slot keeps of its limits.
#[derive(Default)]
pub(super) struct SlotLimits {
    pub group: Option<Rc<Group>>,
    /// How each of its limits is enforced.
    pub enforcement: Vec<(&'static str, Enforcement)>,
    /// The highest its watched tree was seen at.
    pub peak: u64,
    /// Said that its cgroup could not be used (once, until it can again).
    pub warned: bool,
}

impl SlotLimits {
    fn watched_memory(&self) -> bool {
        self.enforcement.iter().any(|(key, how)| *key == "memory" && *how == Enforcement::Watched)
    }
}

impl Limits {
    /// Finds what the machine offers and makes warden's cgroups if a
    /// service needs them; says once per service what cannot be enforced.
    pub(super) fn set_up(config: &Config) -> Limits {
        let mut offer = Offer::of_this_machine(config.cgroups);
        let needed = config.services.iter().any(|s| offer.wants_group(&s.resources));
        let cgroups = if needed {
            match Cgroups::set_up(offer.clone()) {
                Ok(cgroups) => Some(cgroups),
                Err(why) => {
                    warning!("cannot give services cgroups: {why}");
                    offer = offer.without_cgroups(&why);
                    None
                }
            }
        } else {
            None
        };
        let own_memory = if cgroups.is_none() { offer.own_memory() } else { None };
        // OOM kills of any process of a service are told as they happen,
        // where the kernel announces them (v2's memory.events).
        let oom_events = match &cgroups {
            Some(c) if c.offer.version == Some(cgroups::Version::V2) && c.offer.memory => {
                crate::sys::fs::inotify()
                    .map_err(|e| warning!("cannot watch services' OOM kills: {}", Reason(&e)))
                    .ok()
            }
            _ => None,
        };
        Limits {
            offer,
            cgroups,
            own_memory,
            groups: HashMap::new(),
            period: config.limits_period,
            watching: false,
            draining: Vec::new(),
            drain_timer: None,
            oom_events,
            oom_watches: HashMap::new(),
        }
    }

    /// The cgroup and enforcement of `service`'s slot, its limits written;
    /// what cannot be enforced is said (once per service, when `tell`).
    pub(super) fn attach(&mut self, service: &Service, tell: bool) -> SlotLimits {
        let mut enforcement = self.offer.enforcement(&service.resources);
        let mut group = None;
        if let Some(cgroups) = &self.cgroups
            && self.offer.wants_group(&service.resources)
        {
            group = match self.groups.get(&service.name) {
                Some(group) => Some(group.clone()),
                None => match cgroups.group(&service.name) {
                    Ok(group) => {
                        if let (Some(inotify), Some(events)) = (&self.oom_events, group.memory_events()) {
                            match crate::sys::fs::watch_modify(inotify.as_fd(), &events) {
                                Ok(wd) => {
                                    self.oom_watches.insert(wd, service.name.clone());
                                }
                                Err(e) => warning!(
                                    "{}: cannot watch {}: {}",
                                    service.name,
                                    events.display(),
                                    Reason(&e)
                                ),
                            }
                        }
                        let group = Rc::new(group);
                        self.groups.insert(service.name.clone(), group.clone());
                        Some(group)
                    }
                    Err(e) => {
                        warning!("{}: cannot make its cgroup: {}", service.name, Reason(&e));
                        let why = format!("its cgroup could not be made: {}", Reason(&e));
                        enforcement = self.offer.without_cgroups(&why).enforcement(&service.resources);
                        None
                    }
                },
            };
        }
        if let Some(group) = &group {
            for problem in group.apply(&service.resources) {
                warning!("{}: cannot set a limit: {problem}", service.name);
            }
        }
        if tell {
            self.tell(service, &enforcement);
        }
        SlotLimits { group, enforcement, peak: 0, warned: false }
    }

    /// Says which limits the kernel will not enforce, and the fix.
    fn tell(&self, service: &Service, enforcement: &[(&'static str, Enforcement)]) {
        let texts = cgroups::limits_text(&service.resources, None);
        let named = |want: Enforcement| -> Vec<String> {
            enforcement
                .iter()
                .zip(&texts)
                .filter(|((_, how), _)| *how == want)
                .map(|(_, text)| text.clone())
                .collect()
        };
        let (unenforced, watched) = (named(Enforcement::NotEnforced), named(Enforcement::Watched));
        if unenforced.is_empty() && watched.is_empty() {
            return;
        }
        let why = if self.offer.why_not.is_empty() {
            "this machine's cgroups lack the controller".to_string()
        } else {
            self.offer.why_not.clone()
        };
        let mut parts = Vec::new();
        if !unenforced.is_empty() {
            parts.push(format!("{} cannot be enforced", unenforced.join(", ")));
        }
        if !watched.is_empty() {
            parts.push(format!(
                "{} is watched by warden every {} instead of enforced by the kernel",
                watched.join(", "),
                crate::duration::format(self.period)
            ));
        }
        let fix = if self.offer.why_not == cgroups::OFF { "" } else { cgroups::HOW_TO_DELEGATE };
        let sep = if fix.is_empty() { "" } else { "; " };
        warning!("{}: {} ({why}){sep}{fix}", service.name, parts.join("; "));
    }

    /// Writes changed limits of a running service in place.
    pub(super) fn retune(&self, slot: &mut Slot, service: &Service) {
        slot.limits.enforcement = self.offer.enforcement(&service.resources);
        if let Some(group) = &slot.limits.group {
            for problem in group.apply(&service.resources) {
                warning!("{}: cannot change a limit: {problem}", service.name);
            }
        }
    }

    /// Whether a reload's new limits can be written where the service runs
    /// (else it restarts, to get or lose a cgroup).
    pub(super) fn can_retune(&self, old: &Service, new: &Service) -> bool {
        self.offer.wants_group(&old.resources) == self.offer.wants_group(&new.resources)
    }

    /// At exit: the cgroups warden made, once empty.
    pub(super) fn remove(&self) {
        for group in self.groups.values() {
            group.remove();
        }
        if let Some(cgroups) = &self.cgroups {
            cgroups.remove();
        }
    }
}

impl Supervisor {
    /// Puts the watch of services' OOM kills into the loop.
    pub(super) fn watch_oom_events(&mut self) {
        let Some(inotify) = &self.limits.oom_events else { return };
        if let Err(e) = self.init.reactor.register(inotify.as_raw_fd(), registry::OOM_EVENTS, Interest::Read)
        {
            warning!("cannot watch services' OOM kills: {}", Reason(&e));
        }
    }

    /// The kernel changed some `memory.events`: an OOM kill in a service is
    /// said at once, whichever of its processes it ended (its program's own
    /// end also says `out of memory` when it was the one).
    pub(super) fn on_oom_events(&mut self) {
        let Some(inotify) = &self.limits.oom_events else { return };
        for wd in crate::sys::fs::read_watches(inotify.as_fd()) {
            let Some(name) = self.limits.oom_watches.get(&wd) else { continue };
            let Some(group) = self.limits.groups.get(name) else { continue };
            let kills = group.oom_kills_noted();
            if kills == 0 {
                continue;
            }
            let limit = self
                .slots
                .iter()
                .rev()
                .find(|s| s.service.name == *name)
                .and_then(|s| s.service.resources.memory)
                .map_or(String::new(), |l| format!(" (limit {})", cgroups::size_text(l)));
            let what = if kills == 1 { "a process".to_string() } else { format!("{kills} processes") };
            self.note(&format!("{name}: out of memory{limit}: the kernel ended {what} of it"));
        }
    }

    /// Opens the unit's `cgroup.procs` for its child to join; the files are
    /// held until the child has started.
    pub(super) fn before_spawn_cgroup(&mut self, index: usize) -> Vec<OwnedFd> {
        let Some(slot) = self.slots.get_mut(index) else { return Vec::new() };
        slot.setup.cgroup_procs.clear();
        let Some(group) = &slot.limits.group else { return Vec::new() };
        let mut opened = group.open_procs();
        if matches!(&opened, Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
            // Removed under warden: made again, with its limits.
            opened = group.restore(&slot.service.resources).and_then(|problems| {
                for problem in problems {
                    warning!("{}: cannot set a limit: {problem}", slot.service.name);
                }
                group.open_procs()
            });
        }
        match opened {
            Ok(files) => {
                slot.setup.cgroup_procs = files.iter().map(AsRawFd::as_raw_fd).collect();
                slot.limits.warned = false;
                files
            }
            Err(e) => {
                if !std::mem::replace(&mut slot.limits.warned, true) {
                    warning!(
                        "{}: cannot open its cgroup; it starts outside it, its limits not enforced: {}",
                        slot.service.name,
                        Reason(&e)
                    );
                }
                Vec::new()
            }
        }
    }

    /// A unit's program (`pid`) ended: an OOM kill is told apart, and what
    /// it left behind (the rest of its cgroup, or without one of the process
    /// group it led) gets the service's stop signal, unless a stop sent it
    /// already, and SIGKILL after its `stop_timeout`; the core hears of the
    /// end once they are gone. (The main program's leftovers are the
    /// shutdown's, which its end begins.)
    pub(super) fn program_ended(&mut self, index: usize, pid: i32, status: ExitStatus) {
        let Some(slot) = self.slots.get(index) else { return };
        let killed = matches!(status, ExitStatus::Signaled { signal: libc::SIGKILL, .. });
        let out_of_memory = match (&slot.limits.group, &self.limits.own_memory) {
            (Some(group), _) => (group.oom_killed_since() && killed)
                .then_some(OomKill { limit: slot.service.resources.memory }),
            (None, Some(own)) => (own.killed_since() && killed).then_some(OomKill { limit: own.limit }),
            (None, None) => None,
        };
        let unit = self.core.units.get(index);
        let is_main = unit.is_none_or(|u| u.is_main);
        if (slot.limits.group.is_some() || !is_main) && self.has_leftovers(index, pid) {
            let signalled = unit
                .is_some_and(|u| matches!(u.machine.state, State::Stopping { .. } | State::Unhealthy { .. }));
            if !signalled {
                self.note(&format!(
                    "{}: its program ended, leaving processes in its {}: sending them {}, SIGKILL after {}",
                    slot.service.name,
                    if slot.limits.group.is_some() { "cgroup" } else { "process group" },
                    crate::sys::signals::name(slot.service.stop_signal),
                    crate::duration::format(slot.service.stop_timeout)
                ));
                self.signal_leftovers(index, pid, slot.service.stop_signal);
                self.signal_leftovers(index, pid, libc::SIGCONT);
            }
            let kill_at = deadline_after(slot.service.stop_timeout);
            self.limits.draining.push(Draining { index, pid, status, out_of_memory, kill_at, killed: false });
            self.arm_drain_check();
            return;
        }
        self.pending.push_back(Event::Exited { index, status, out_of_memory });
    }

    /// Whether processes of the unit's cgroup, or without one of the
    /// process group its program `pid` led, are left.
    fn has_leftovers(&self, index: usize, pid: i32) -> bool {
        match self.slots.get(index).and_then(|s| s.limits.group.as_ref()) {
            Some(group) => !group.processes().is_empty(),
            // The group's number cannot be reused while it has a member.
            None => process::group_exists(pid),
        }
    }

    fn signal_leftovers(&self, index: usize, pid: i32, signal: i32) {
        match self.slots.get(index).and_then(|s| s.limits.group.as_ref()) {
            Some(group) if signal == libc::SIGKILL => group.kill(),
            Some(group) => group.signal(signal),
            None => {
                let _ = process::send(-pid, signal);
            }
        }
    }

    /// After children were reaped (or on the drain timer): what is left past
    /// its time gets SIGKILL, and the ends held for what is now gone reach
    /// the core.
    pub(super) fn settle_draining(&mut self, timer: bool) {
        if timer {
            self.limits.drain_timer = None;
        }
        if self.limits.draining.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut held = std::mem::take(&mut self.limits.draining);
        held.retain_mut(|d| {
            let left = self.has_leftovers(d.index, d.pid);
            let gave_up = d.killed && now >= d.kill_at + DRAIN_GIVE_UP;
            if left && !gave_up {
                if now >= d.kill_at {
                    if !d.killed
                        && let Some(slot) = self.slots.get(d.index)
                    {
                        self.note(&format!(
                            "{}: what its program left behind outlived its stop_timeout ({}): SIGKILL",
                            slot.service.name,
                            crate::duration::format(slot.service.stop_timeout)
                        ));
                    }
                    self.signal_leftovers(d.index, d.pid, libc::SIGKILL);
                    d.killed = true;
                }
                return true;
            }
            if left && let Some(slot) = self.slots.get(d.index) {
                warning!(
                    "{}: processes it left behind outlived SIGKILL for {}: its end is reported without them",
                    slot.service.name,
                    crate::duration::format(DRAIN_GIVE_UP)
                );
            }
            self.pending.push_back(Event::Exited {
                index: d.index,
                status: d.status,
                out_of_memory: d.out_of_memory,
            });
            false
        });
        self.limits.draining = held;
        self.arm_drain_check();
    }

    /// The drain timer, set for the next SIGKILL due, or while something
    /// killed is still there, for the next look.
    fn arm_drain_check(&mut self) {
        let next = self
            .limits
            .draining
            .iter()
            .map(|d| if d.killed { deadline_after(DRAIN_CHECK) } else { d.kill_at })
            .min();
        let Some(next) = next else { return };
        if self.limits.drain_timer.is_none_or(|set| next < set) {
            self.limits.drain_timer = Some(next);
            self.init.reactor.add_timer(next, Timer::DrainCheck);
        }
    }

    /// Whether the unit's program has ended and its tree is being ended:
    /// its pid is reaped, so nothing may be sent to it.
    pub(super) fn is_draining(&self, index: usize) -> bool {
        self.limits.draining.iter().any(|d| d.index == index)
    }

    /// A signal for a service's process group also reaches the processes of
    /// its cgroup that left the group (`setsid`, double fork).
    pub(super) fn signal_tree(&self, pid: i32, signal: i32) {
        if let Some(Child::Program(index)) = self.registry.owner_of_child(pid.abs())
            && let Some(group) = self.slots.get(index).and_then(|s| s.limits.group.as_ref())
        {
            if signal == libc::SIGKILL {
                group.kill();
            } else {
                group.signal(signal);
            }
        }
    }

    /// A program started: a watched memory limit needs the timer.
    pub(super) fn watch_limits(&mut self, index: usize) {
        let watched = self.slots.get(index).is_some_and(|s| s.limits.watched_memory());
        if watched && !self.limits.watching {
            self.limits.watching = true;
            self.init.reactor.add_timer(deadline_after(self.limits.period), Timer::Limits);
        }
    }

    /// Every `limits_period` while a watched service runs: each one's tree
    /// is measured, and one above its limit is stopped as a failure.
    pub(super) fn on_limits_timer(&mut self) {
        self.limits.watching = false;
        let running: Vec<(usize, i32)> = self
            .core
            .units
            .iter()
            .enumerate()
            .filter(|(i, _)| self.slots.get(*i).is_some_and(|s| s.limits.watched_memory()))
            .filter_map(|(i, u)| u.machine.state.pid().filter(|_| !u.retired).map(|pid| (i, pid)))
            .collect();
        if running.is_empty() {
            return;
        }
        let all = procfs::snapshot();
        for (index, pid) in running {
            let used = procfs::usage(&procfs::tree(pid, &all)).memory;
            let Some(slot) = self.slots.get_mut(index) else { continue };
            slot.limits.peak = slot.limits.peak.max(used);
            let Some(limit) = slot.service.resources.memory else { continue };
            let up = self.core.units.get(index).is_some_and(|u| u.machine.is_up());
            if used > limit && up {
                let reason = format!(
                    "memory limit: {} resident, limit {}",
                    crate::control::report::bytes_text(used),
                    cgroups::size_text(limit)
                );
                self.pending.push_back(Event::Health {
                    index,
                    input: Input::Unhealthy { cause: "memory limit", reason },
                });
            }
        }
        self.limits.watching = true;
        self.init.reactor.add_timer(deadline_after(self.limits.period), Timer::Limits);
    }

    /// What each unit uses now (None for a unit with nothing running and no
    /// cgroup). The /proc walk is made once, only if a unit needs it.
    pub(super) fn usages(&self) -> Vec<Option<Usage>> {
        let mut all: Option<Vec<procfs::Process>> = None;
        let mut out = Vec::with_capacity(self.slots.len());
        for (index, (unit, slot)) in self.core.units.iter().zip(&self.slots).enumerate() {
            let usage = match (&slot.limits.group, unit.machine.state.pid()) {
                (Some(group), _) => Some(group.usage()),
                (None, Some(pid)) if !self.is_draining(index) => {
                    let all = all.get_or_insert_with(procfs::snapshot);
                    let mut usage = procfs::usage(&procfs::tree(pid, all));
                    usage.memory_peak = (slot.limits.peak > 0).then_some(slot.limits.peak.max(usage.memory));
                    Some(usage)
                }
                _ => None,
            };
            out.push(usage);
        }
        out
    }
}
