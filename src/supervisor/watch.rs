//! The watchdog half of the supervisor: probes, sd_notify and notification-fd
//! readiness, WATCHDOG pings and warden's own sd_notify, all inside the one
//! loop. Probing runs only while a service is up (running or ready): it begins
//! when the program has started and ends when it stops, backs off or is found
//! unhealthy, so nothing is ever probed during backoff or stopping.
//!
//! Each probe runs at most once at a time, `period` after its previous start
//! (or as soon as that run ends, if it took longer); socket checks are
//! non-blocking and exec checks are ordinary children of the one reaper, killed
//! at their timeout. A probe that hangs therefore never delays another one.
//! Verdicts become machine inputs: `Unhealthy` for a liveness, startup or
//! watchdog failure (which restarts through the restart policy), `Readiness`
//! when the service's readiness changes.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::core::{Event, UnitId};
use super::machine::Input;
use super::registry::{Child, Token};
use super::{Phase, SERVICE_PLACEMENT, Supervisor, Timer};
use crate::config::{Check, Kind, ProbeKind, Service};
use crate::health::socket::{self, SocketCheck, Step};
use crate::health::{Change, Outcome, Tracker};
use crate::logger::{debug, warning};
use crate::notify::{Notice, NotifySocket};
use crate::reactor::{Interest, TimerId, deadline_after};
use crate::sys::reap::ExitStatus;
use crate::sys::spawn::{Pending, Program, Setup, start};
use crate::sys::{Reason, process};

/// The reactor token of the file-check thread's eventfd (after the signalfd 0,
/// the output sinks 1 and 2, the control and HTTP listeners 3 and 4; the
/// registry has them all).
pub const FILE_CHECKS: u64 = 5;

/// One unit's checks and what they found.
#[derive(Default)]
pub struct Watch {
    /// Bumped whenever probing stops: timers of an older round act on nothing.
    round: u64,
    active: bool,
    /// One per configured probe, boxed: most services have none, and a
    /// slot is the biggest part of a unit.
    slots: [Option<Box<Slot>>; 3],
    startup_passed: bool,
    /// READY=1 (or a newline on the notification fd) since the last start.
    pub notified: bool,
    /// The last STATUS= the service sent.
    pub status: Option<String>,
    last_ping: Option<Instant>,
    /// The silence (since `last_ping`) already given more time because
    /// warden itself was not running when it was to be judged.
    watchdog_allowed: Option<Instant>,
    watchdog_timer: Option<TimerId>,
    pub notify: Option<(NotifySocket, u64)>,
    pipe: Option<(std::fs::File, u64)>,
    /// Log probes whose line was just seen: run once the batch is written.
    pub lines_seen: Vec<ProbeKind>,
}

#[derive(Default)]
pub struct Slot {
    pub tracker: Tracker,
    attempt: Option<Attempt>,
    /// When the current (or last) run began.
    started: Option<Instant>,
    /// The next run's timer while idle, the timeout while running.
    timer: Option<TimerId>,
    /// The current run's timeout was put off once, warden having been
    /// frozen when it fell due.
    put_off: bool,
    /// An exec probe's program, prepared like the service's own.
    exec: Option<Program>,
    /// A log probe's text.
    log: Option<Vec<u8>>,
    /// A log probe's line has been seen since the program's last start.
    pub log_seen: bool,
}

impl Watch {
    /// Whether a log probe still waits for its line this run.
    pub fn waits_for_a_line(&self) -> bool {
        self.slots.iter().flatten().any(|s| s.log.is_some() && !s.log_seen)
    }

    /// Looks for the waited-for lines in `bytes` (whole lines, or one line);
    /// the probes whose line it holds go to `lines_seen`.
    pub fn look_for_lines(&mut self, bytes: &[u8]) {
        for kind in ProbeKind::ALL {
            let Some(slot) = self.slot_mut(kind) else { continue };
            let Some(text) = &slot.log else { continue };
            if !slot.log_seen && contains(bytes, text) {
                slot.log_seen = true;
                self.lines_seen.push(kind);
            }
        }
    }

    pub fn slot(&self, kind: ProbeKind) -> Option<&Slot> {
        self.slots.get(kind.index())?.as_deref()
    }

    fn slot_mut(&mut self, kind: ProbeKind) -> Option<&mut Slot> {
        self.slots.get_mut(kind.index())?.as_deref_mut()
    }

    /// The exec programs, taken out (to move them to another unit's watch).
    pub fn take_programs(&mut self) -> [Option<Program>; 3] {
        ProbeKind::ALL.map(|kind| self.slot_mut(kind).and_then(|slot| slot.exec.take()))
    }

    /// Gives each probe of `service` its slot and exec program. Slots of
    /// probes a reload removed stay (never scheduled again), so that nothing
    /// in flight loses its owner.
    pub fn set_probes(&mut self, service: &Service, mut programs: [Option<Program>; 3]) {
        for kind in ProbeKind::ALL {
            let program = programs.get_mut(kind.index()).and_then(Option::take);
            let Some(place) = self.slots.get_mut(kind.index()) else { continue };
            let log = match service.probe(kind).map(|p| &p.check) {
                Some(Check::Log(text)) => Some(text.as_bytes().to_vec()),
                _ => None,
            };
            match place {
                Some(slot) => {
                    slot.exec = program;
                    slot.log = log;
                }
                None if service.probe(kind).is_some() => {
                    *place = Some(Box::new(Slot { exec: program, log, ..Slot::default() }));
                }
                None => {}
            }
        }
    }
}

enum Attempt {
    Socket {
        check: SocketCheck,
        token: u64,
    },
    Exec {
        pending: Pending,
    },
    /// A file check on the helper thread (`health::paths`), by ticket.
    File {
        ticket: u64,
    },
}

impl Supervisor {
    /// Starts or stops probing when a unit comes up or goes down.
    pub(super) fn watch_follow(&mut self, index: usize) {
        let Some(unit) = self.slots.get(index) else { return };
        let up = self.core.units.get(index).is_some_and(|u| u.machine.is_up());
        if up && !unit.watch.active && self.core.phase == Phase::Running {
            self.watch_begin(index);
        } else if !up && unit.watch.active {
            self.watch_end(index);
        }
    }

    fn watch_begin(&mut self, index: usize) {
        let now = Instant::now();
        let Some(unit) = self.slots.get_mut(index) else { return };
        let watch = &mut unit.watch;
        watch.active = true;
        watch.round += 1;
        watch.startup_passed = unit.service.startup.is_none();
        for kind in ProbeKind::ALL {
            if let Some(slot) = watch.slot_mut(kind) {
                slot.tracker.reset(kind == ProbeKind::Liveness);
                slot.started = None;
            }
        }
        let first = if unit.service.startup.is_some() {
            vec![ProbeKind::Startup]
        } else {
            vec![ProbeKind::Liveness, ProbeKind::Readiness]
        };
        if let Some(limit) = unit.service.watchdog {
            watch.last_ping = Some(now);
            let (id, round) = (unit.id, watch.round);
            let timer = self.init.reactor.add_timer(
                deadline_after(limit),
                Timer::Watchdog { unit: UnitId { index, serial: id }, round },
            );
            if let Some(u) = self.slots.get_mut(index) {
                u.watch.watchdog_timer = Some(timer);
            }
        }
        for kind in first {
            self.schedule_first(index, kind, now);
        }
        let notified = self.slots.get(index).is_some_and(|u| u.watch.notified);
        // READY=1 may have come before warden learnt that the exec succeeded.
        self.update_readiness(index, if notified { "READY=1" } else { "started" });
    }

    /// Arms a probe's first run: `initial_delay` after the program started.
    fn schedule_first(&mut self, index: usize, kind: ProbeKind, now: Instant) {
        let Some(unit) = self.slots.get(index) else { return };
        let Some(probe) = unit.service.probe(kind) else { return };
        let since = self.core.units.get(index).and_then(|u| u.machine.state.since()).unwrap_or(now);
        let after = (since + probe.initial_delay).saturating_duration_since(now);
        self.arm_probe(index, kind, after);
    }

    fn arm_probe(&mut self, index: usize, kind: ProbeKind, after: Duration) {
        let Some(unit) = self.slots.get(index) else { return };
        let (id, round) = (unit.id, unit.watch.round);
        let timer = self.init.reactor.add_timer(
            deadline_after(after),
            Timer::Probe { unit: UnitId { index, serial: id }, kind, round },
        );
        if let Some(slot) = self.slots.get_mut(index).and_then(|u| u.watch.slot_mut(kind)) {
            slot.timer = Some(timer);
        }
    }

    /// Stops every check of a unit: in-flight runs are abandoned (sockets
    /// closed, exec probes killed) and pending timers cancelled.
    pub(super) fn watch_end(&mut self, index: usize) {
        let Some(unit) = self.slots.get_mut(index) else { return };
        unit.watch.active = false;
        unit.watch.round += 1;
        let mut timers: Vec<TimerId> = unit.watch.watchdog_timer.take().into_iter().collect();
        let mut attempts = Vec::new();
        for slot in unit.watch.slots.iter_mut().flatten() {
            timers.extend(slot.timer.take());
            attempts.extend(slot.attempt.take());
        }
        for timer in timers {
            self.init.reactor.cancel_timer(timer);
        }
        for attempt in attempts {
            self.abandon(attempt);
        }
    }

    fn abandon(&mut self, attempt: Attempt) {
        match attempt {
            // Closing the socket also takes it out of epoll.
            Attempt::Socket { token, .. } => {
                self.registry.remove_token(token);
            }
            // Reaped later like any child; its result is ignored then.
            Attempt::Exec { pending } => {
                process::kill_group_and_leader(pending.pid);
            }
            // Its answer, if it ever comes, finds no probe waiting for it.
            Attempt::File { ticket } => {
                self.file_checks.remove(&ticket);
            }
        }
    }

    /// A probe is due: run it.
    pub(super) fn run_probe(&mut self, index: usize, kind: ProbeKind) {
        let now = Instant::now();
        let Some(unit) = self.slots.get_mut(index) else { return };
        let Some(probe) = unit.service.probe(kind).cloned() else { return };
        let Some(slot) = unit.watch.slot_mut(kind) else { return };
        if slot.attempt.is_some() {
            return; // never overlaps itself
        }
        slot.started = Some(now);
        slot.timer = None;
        slot.put_off = false;
        let log_seen = slot.log_seen;
        let outcome = match &probe.check {
            Check::File(path) => self.start_file_check(index, kind, path.clone()),
            Check::Tcp(address) => self.start_socket(index, kind, *address, None),
            Check::Http { address, host, path } => {
                self.start_socket(index, kind, *address, Some(socket::request(host, path)))
            }
            Check::Exec(_) => self.start_exec(index, kind),
            Check::Log(text) => Some(match log_seen {
                true => Ok(()),
                false => Err(format!("no line with \"{text}\" since the start")),
            }),
        };
        match outcome {
            Some(outcome) => self.finish_probe(index, kind, outcome),
            None => {
                let Some(unit) = self.slots.get(index) else { return };
                let (id, round) = (unit.id, unit.watch.round);
                let deadline = deadline_after(probe.timeout);
                let timer = self.init.reactor.add_timer(
                    deadline,
                    Timer::ProbeTimeout { unit: UnitId { index, serial: id }, kind, round },
                );
                if let Some(slot) = self.slots.get_mut(index).and_then(|u| u.watch.slot_mut(kind)) {
                    slot.timer = Some(timer);
                }
            }
        }
    }

    /// Starts a TCP or HTTP check; Some(outcome) if it ended at once.
    fn start_socket(
        &mut self,
        index: usize,
        kind: ProbeKind,
        address: std::net::SocketAddr,
        request: Option<Vec<u8>>,
    ) -> Option<Outcome> {
        let (check, step) = match SocketCheck::start(address, request) {
            Ok(started) => started,
            Err(why) => return Some(Err(why)),
        };
        let Step::Wait(interest) = step else {
            let Step::Done(outcome) = step else { return None };
            return Some(outcome);
        };
        let id = self.slots.get(index)?.id;
        let token = self.take_token();
        if let Err(e) = self.init.reactor.register(check.fd(), token, interest) {
            return Some(Err(format!("cannot watch the socket: {}", Reason(&e))));
        }
        self.registry.add_token(token, Token::Probe { unit: UnitId { index, serial: id }, kind });
        let slot = self.slots.get_mut(index)?.watch.slot_mut(kind)?;
        slot.attempt = Some(Attempt::Socket { check, token });
        None
    }

    /// Starts a file check on the helper thread (a `stat` on the loop could
    /// hang PID 1 on a dead mount); Some(outcome) if it could not be asked.
    fn start_file_check(
        &mut self,
        index: usize,
        kind: ProbeKind,
        path: std::path::PathBuf,
    ) -> Option<Outcome> {
        let id = self.slots.get(index)?.id;
        let ticket = self.take_token();
        let first = self.paths.fd().is_none();
        if let Err(outcome) = self.paths.ask(ticket, path) {
            return Some(outcome);
        }
        if first
            && let Some(fd) = self.paths.fd()
            && let Err(e) = self.init.reactor.register(fd, FILE_CHECKS, Interest::Read)
        {
            warning!("cannot watch the file-check thread: {}", Reason(&e));
        }
        self.file_checks.insert(ticket, (UnitId { index, serial: id }, kind));
        let slot = self.slots.get_mut(index)?.watch.slot_mut(kind)?;
        slot.attempt = Some(Attempt::File { ticket });
        None
    }

    /// The file-check thread has answers.
    pub(super) fn on_file_checks(&mut self) {
        for (ticket, outcome) in self.paths.results() {
            let Some((UnitId { index, serial: id }, kind)) = self.file_checks.remove(&ticket) else {
                continue;
            };
            let current = self
                .slots
                .get(index)
                .filter(|u| u.id == id)
                .and_then(|u| u.watch.slot(kind))
                .is_some_and(|s| matches!(s.attempt, Some(Attempt::File { ticket: t }) if t == ticket));
            if current {
                self.end_attempt(index, kind);
                self.finish_probe(index, kind, outcome);
            }
        }
    }

    /// Starts an exec check as a child of its own session; Some(outcome) if it
    /// could not be started.
    fn start_exec(&mut self, index: usize, kind: ProbeKind) -> Option<Outcome> {
        let unit = self.slots.get(index)?;
        let program = unit.watch.slot(kind)?.exec.as_ref()?;
        // Output is discarded; the exit code is the answer.
        // The service's user, limits and directory; none of its descriptors.
        let setup = Setup {
            null_output: true,
            pass_fd: None,
            output: None,
            inherited_fds: Default::default(),
            listen_pid: false,
            ..unit.setup.clone()
        };
        match start(program, SERVICE_PLACEMENT, &setup) {
            Ok(pending) => {
                let unit = UnitId { index, serial: unit.id };
                self.registry.add_child(pending.pid, Child::Probe { unit, kind });
                let slot = self.slots.get_mut(index)?.watch.slot_mut(kind)?;
                slot.attempt = Some(Attempt::Exec { pending });
                None
            }
            Err(e) => Some(Err(format!("cannot run: {e}"))),
        }
    }

    /// A probe's socket is ready.
    pub(super) fn on_probe_io(&mut self, UnitId { index, serial: id }: UnitId, kind: ProbeKind, token: u64) {
        let Some(slot) =
            self.slots.get_mut(index).filter(|u| u.id == id).and_then(|u| u.watch.slot_mut(kind))
        else {
            self.registry.remove_token(token);
            return;
        };
        let Some(Attempt::Socket { check, token: current }) = &mut slot.attempt else { return };
        if *current != token {
            return;
        }
        match check.advance() {
            Step::Wait(interest) => {
                if let Err(e) = self.init.reactor.reregister(check.fd(), token, interest) {
                    let outcome = Err(format!("cannot watch the socket: {}", Reason(&e)));
                    self.end_attempt(index, kind);
                    self.finish_probe(index, kind, outcome);
                }
            }
            Step::Done(outcome) => {
                self.end_attempt(index, kind);
                self.finish_probe(index, kind, outcome);
            }
        }
    }

    /// The timeout of a running probe: it counts as a failure.
    pub(super) fn on_probe_timeout(&mut self, index: usize, kind: ProbeKind, late: Duration) {
        let Some(unit) = self.slots.get(index) else { return };
        let timeout = unit.service.probe(kind).map_or(Duration::ZERO, |p| p.timeout);
        let (id, round) = (unit.id, unit.watch.round);
        // warden was frozen past the deadline, and so most likely was what
        // it probes: the probe gets back the time it lost, once.
        if let Some(more) = time_lost(late, timeout)
            && let Some(slot) = self.slots.get_mut(index).and_then(|u| u.watch.slot_mut(kind))
            && slot.attempt.is_some()
            && !slot.put_off
        {
            slot.put_off = true;
            let unit = UnitId { index, serial: id };
            slot.timer = Some(
                self.init.reactor.add_timer(deadline_after(more), Timer::ProbeTimeout { unit, kind, round }),
            );
            debug!(
                "a probe's timeout fell due {late:?} ago, while warden was not running: put off by {more:?}"
            );
            return;
        }
        if let Some(slot) = self.slots.get_mut(index).and_then(|u| u.watch.slot_mut(kind)) {
            slot.timer = None;
        }
        if let Some(attempt) = self.end_attempt(index, kind) {
            // An HTTP check that has its verdict and was only reading the rest
            // of the answer gives that verdict.
            let verdict = match &attempt {
                Attempt::Socket { check, .. } => check.verdict(),
                _ => None,
            };
            self.abandon(attempt);
            let outcome = verdict
                .unwrap_or_else(|| Err(format!("timed out after {}", crate::duration::format(timeout))));
            self.finish_probe(index, kind, outcome);
        }
    }

    /// An exec probe of `unit` ended.
    pub(super) fn on_probe_exit(&mut self, pid: i32, unit: UnitId, kind: ProbeKind, status: ExitStatus) {
        let UnitId { index, serial: id } = unit;
        let current = self
            .slots
            .get(index)
            .filter(|u| u.id == id)
            .and_then(|u| u.watch.slot(kind))
            .is_some_and(|s| matches!(&s.attempt, Some(Attempt::Exec { pending }) if pending.pid == pid));
        if !current {
            return; // abandoned (timed out, or the service went down)
        }
        let Some(Attempt::Exec { pending }) = self.end_attempt(index, kind) else { return };
        let outcome = match pending.outcome() {
            Some(Err(e)) => Err(format!("cannot run: {e}")),
            _ if status == ExitStatus::Exited(0) => Ok(()),
            _ => Err(super::machine::describe(status)),
        };
        if let Some(timer) =
            self.slots.get_mut(index).and_then(|u| u.watch.slot_mut(kind)).and_then(|s| s.timer.take())
        {
            self.init.reactor.cancel_timer(timer);
        }
        self.finish_probe(index, kind, outcome);
    }

    /// Takes the running attempt out of its slot (closing a socket's watch).
    fn end_attempt(&mut self, index: usize, kind: ProbeKind) -> Option<Attempt> {
        let slot = self.slots.get_mut(index)?.watch.slot_mut(kind)?;
        let attempt = slot.attempt.take()?;
        if let Some(timer) = slot.timer.take() {
            self.init.reactor.cancel_timer(timer);
        }
        if let Attempt::Socket { token, .. } = &attempt {
            self.registry.remove_token(*token);
        }
        Some(attempt)
    }

    /// Records a result, acts on the verdict, and arms the next run.
    fn finish_probe(&mut self, index: usize, kind: ProbeKind, outcome: Outcome) {
        let now = Instant::now();
        let Some(unit) = self.slots.get_mut(index) else { return };
        let Some(probe) = unit.service.probe(kind).cloned() else { return };
        let Some(slot) = unit.watch.slot_mut(kind) else { return };
        let error = outcome.as_ref().err().cloned().unwrap_or_default();
        let change = slot.tracker.record(&probe, outcome);
        let next = slot.started.map_or(probe.period, |s| (s + probe.period).saturating_duration_since(now));
        let failures = slot.tracker.consecutive_failures;
        let failed = format!("{} probe failed {failures} times in a row: {error}", kind.name());
        match (kind, change) {
            (ProbeKind::Startup, Change::Passed) => {
                unit.watch.startup_passed = true;
                for later in [ProbeKind::Liveness, ProbeKind::Readiness] {
                    self.schedule_first(index, later, now);
                }
                self.update_readiness(index, "startup probe passed");
                return; // the startup probe has done its job for this run
            }
            (ProbeKind::Startup | ProbeKind::Liveness, Change::Failed) => {
                let cause = kind.name();
                self.pending
                    .push_back(Event::Health { index, input: Input::Unhealthy { cause, reason: failed } });
                return; // the service goes down; probing ends with it
            }
            (ProbeKind::Readiness, Change::Passed) => self.update_readiness(index, "readiness probe passed"),
            (ProbeKind::Readiness, Change::Failed) => self.update_readiness(index, &failed),
            _ => {}
        }
        self.arm_probe(index, kind, next);
    }

    /// A log probe's line came: the probe runs now if it is due to run at
    /// all (else its first scheduled run finds the line seen).
    pub(super) fn on_log_line(&mut self, index: usize, kind: ProbeKind) {
        let Some(unit) = self.slots.get_mut(index) else { return };
        if !unit.watch.active {
            return;
        }
        let Some(slot) = unit.watch.slot_mut(kind) else { return };
        if slot.attempt.is_some() {
            return;
        }
        let Some(timer) = slot.timer.take() else { return };
        self.init.reactor.cancel_timer(timer);
        self.run_probe(index, kind);
    }

    /// Tells the machine when the service's readiness has changed: ready when
    /// up, past its startup probe, passing its readiness probe and notified
    /// (each only if it has one).
    fn update_readiness(&mut self, index: usize, reason: &str) {
        let Some(unit) = self.slots.get(index) else { return };
        let Some(machine) = self.core.units.get(index).map(|u| &u.machine) else { return };
        let service = &unit.service;
        if !machine.is_up() || !service.has_readiness_check() || service.kind != Kind::Longrun {
            return;
        }
        let watch = &unit.watch;
        let readiness_ok = service.readiness.is_none()
            || watch.slot(ProbeKind::Readiness).is_some_and(|s| s.tracker.passing);
        let notified = !(service.notify || service.notify_fd.is_some()) || watch.notified;
        let ready = watch.active && watch.startup_passed && readiness_ok && notified;
        if ready != machine.ready {
            self.pending.push_back(Event::Health {
                index,
                input: Input::Readiness { ready, reason: reason.to_string() },
            });
        }
    }

    /// Before a unit's program is forked: forget what an earlier run notified,
    /// and make the notification pipe if it has `notify_fd`. Returns the write
    /// end, to be closed once the child has its copy.
    pub(super) fn before_spawn(&mut self, index: usize) -> Option<OwnedFd> {
        let unit = self.slots.get_mut(index)?;
        unit.watch.notified = false;
        for slot in unit.watch.slots.iter_mut().flatten() {
            slot.log_seen = false;
        }
        unit.watch.status = None;
        if let Some((socket, _)) = &unit.watch.notify {
            socket.discard();
        }
        if let Some((_, token)) = unit.watch.pipe.take() {
            self.registry.remove_token(token);
        }
        let unit = self.slots.get_mut(index)?;
        unit.setup.pass_fd = None;
        let target = unit.service.notify_fd?;
        let (read, write) = match crate::sys::fds::pipe() {
            Ok(pair) => pair,
            Err(e) => {
                warning!("{}: cannot make the notification pipe: {}", unit.service.name, Reason(&e));
                return None;
            }
        };
        let (name, id) = (unit.service.name.clone(), unit.id);
        let token = self.take_token();
        if let Err(e) = self.init.reactor.register(read.as_raw_fd(), token, Interest::Read) {
            warning!("{name}: cannot watch the notification pipe: {}", Reason(&e));
            return None;
        }
        self.registry.add_token(token, Token::Pipe(UnitId { index, serial: id }));
        let unit = self.slots.get_mut(index)?;
        unit.setup.pass_fd = Some((write.as_raw_fd(), target));
        unit.watch.pipe = Some((std::fs::File::from(read), token));
        Some(write)
    }

    /// The notification pipe has data or was closed.
    pub(super) fn on_pipe(&mut self, UnitId { index, serial: id }: UnitId, token: u64) {
        let Some(unit) = self.slots.get_mut(index).filter(|u| u.id == id) else {
            self.registry.remove_token(token);
            return;
        };
        let Some((pipe, current)) = &unit.watch.pipe else { return };
        if *current != token {
            return;
        }
        let mut buffer = [0u8; 64];
        let (newline, done) = match std::io::Read::read(&mut &*pipe, &mut buffer) {
            Ok(0) => (false, true),
            Ok(n) => (buffer.get(..n).unwrap_or_default().contains(&b'\n'), false),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => (false, false),
            Err(_) => (false, true),
        };
        if newline || done {
            // One newline is all it says; EOF means it never will.
            unit.watch.pipe = None;
            self.registry.remove_token(token);
        }
        if newline {
            unit.watch.notified = true;
            self.update_readiness(index, "ready (notification fd)");
        }
    }

    /// Datagrams on a service's notification socket.
    pub(super) fn on_notify(&mut self, UnitId { index, serial: id }: UnitId) {
        let Some(unit) = self.slots.get_mut(index).filter(|u| u.id == id) else { return };
        let Some((socket, _)) = &unit.watch.notify else { return };
        let notices = socket.receive();
        // Only the run in progress may speak; a late word of a stopped one is dropped.
        let Some(machine) = self.core.units.get(index).map(|u| &u.machine) else { return };
        let up = machine.is_up();
        if !(up || machine.state == super::machine::State::Starting) {
            return;
        }
        let name = unit.service.name.clone();
        for notice in notices {
            let Some(unit) = self.slots.get_mut(index) else { return };
            match notice {
                Notice::Ready => {
                    unit.watch.notified = true;
                    self.update_readiness(index, "READY=1");
                }
                Notice::Reloading => {
                    unit.watch.notified = false;
                    self.update_readiness(index, "RELOADING=1");
                }
                Notice::Status(text) => unit.watch.status = Some(text),
                Notice::Stopping => self.note(&format!("{name}: says it is stopping (STOPPING=1)")),
                Notice::Watchdog => unit.watch.last_ping = Some(Instant::now()),
                Notice::WatchdogTrigger if up => {
                    let reason = "watchdog: the service asked for it (WATCHDOG=trigger)".to_string();
                    self.pending.push_back(Event::Health {
                        index,
                        input: Input::Unhealthy { cause: "watchdog", reason },
                    });
                }
                Notice::WatchdogTrigger => {}
            }
        }
    }

    /// The watchdog deadline of a unit: restart it unless it pinged meanwhile.
    pub(super) fn on_watchdog(&mut self, index: usize, late: Duration) {
        let now = Instant::now();
        let Some(unit) = self.slots.get_mut(index) else { return };
        unit.watch.watchdog_timer = None;
        let (Some(limit), Some(last)) = (unit.service.watchdog, unit.watch.last_ping) else { return };
        let mut deadline = last + limit;
        // warden was frozen (a paused container, a frozen cgroup) when the
        // silence was to be judged, and so most likely was the service: it
        // gets back the time lost, once per silence.
        if deadline <= now
            && let Some(more) = time_lost(late, limit)
            && unit.watch.watchdog_allowed != Some(last)
        {
            unit.watch.watchdog_allowed = Some(last);
            deadline = now + more;
            debug!(
                "{}: its watchdog fell due {late:?} ago, while warden was not running: put off by {more:?}",
                unit.service.name
            );
        }
        if deadline > now {
            let (id, round) = (unit.id, unit.watch.round);
            let timer = self
                .init
                .reactor
                .add_timer(deadline, Timer::Watchdog { unit: UnitId { index, serial: id }, round });
            if let Some(u) = self.slots.get_mut(index) {
                u.watch.watchdog_timer = Some(timer);
            }
            return;
        }
        let reason = format!("watchdog: no WATCHDOG=1 for {}", crate::duration::format(limit));
        self.pending
            .push_back(Event::Health { index, input: Input::Unhealthy { cause: "watchdog", reason } });
    }

    /// Whether a timer of `round` still concerns this unit's probing.
    pub(super) fn current_round(&self, unit: UnitId, round: u64) -> bool {
        self.slots
            .get(unit.index)
            .is_some_and(|u| u.id == unit.serial && u.watch.active && u.watch.round == round)
    }

    /// Once everything required is ready: READY=1 to the service manager
    /// (if warden has one), and the code pages of the start wave given back
    /// (the idle loop runs none of them; what runs later faults back in from
    /// the page cache).
    pub(super) fn notify_outer_ready(&mut self) {
        let outer_waits = self.outer.as_ref().is_some_and(|o| !o.ready_sent());
        if self.core.phase != Phase::Running || (!outer_waits && self.start_wave_released) {
            return;
        }
        let mut count = 0;
        for unit in self.core.units.iter().filter(|u| !u.retired) {
            let ready = match unit.service.kind {
                _ if unit.is_main => unit.machine.is_up(),
                Kind::Periodic(_) => continue,
                _ if unit.service.optional => continue,
                Kind::Oneshot => unit.machine.completed,
                Kind::Longrun => unit.machine.ready,
            };
            if !ready {
                return;
            }
            count += 1;
        }
        if !self.start_wave_released {
            self.start_wave_released = true;
            super::release_start_up_code();
        }
        if let Some(outer) = self.outer.as_mut().filter(|_| outer_waits) {
            outer.ready(&format!("{count} services ready"));
            self.note("told the service manager READY=1");
        }
    }

    /// A token whose owner goes in the registry's table (or a file-check
    /// ticket: unique the same way).
    pub(super) fn take_token(&mut self) -> u64 {
        self.registry.take(super::registry::Kind::Table)
    }
}

/// Exec probes of `service`, built against the same environment as its program.
pub fn prepare_probes(
    service: &Service,
    base: &crate::sys::spawn::Environment,
    overrides: &[(std::ffi::OsString, std::ffi::OsString)],
) -> Result<[Option<Program>; 3], String> {
    let mut programs = [None, None, None];
    for kind in ProbeKind::ALL {
        if let Some(Check::Exec(argv)) = service.probe(kind).map(|p| &p.check) {
            let program =
                Program::new(argv, base, overrides).map_err(|e| format!("{} probe: {e}", kind.name()))?;
            if let Some(slot) = programs.get_mut(kind.index()) {
                *slot = Some(program);
            }
        }
    }
    Ok(programs)
}

/// Whether `text` occurs in `bytes`: candidates found by their first byte
/// with `memchr`, then compared. (memchr's `memmem` would add tens of KiB to
/// the binary for the one search a log probe makes until its line comes.)
fn contains(bytes: &[u8], text: &[u8]) -> bool {
    let Some((&first, _)) = text.split_first() else { return true };
    memchr::memchr_iter(first, bytes).any(|at| bytes.get(at..).is_some_and(|rest| rest.starts_with(text)))
}

/// Past this, a timer that fired late says warden was not running, rather
/// than the scheduler's ordinary delay.
const WOKE_LATE: Duration = Duration::from_millis(250);

/// The time a check that fell due while warden was frozen gets back: what
/// it lost, at most its whole `limit`; None when the timer was on time.
fn time_lost(late: Duration, limit: Duration) -> Option<Duration> {
    (late > WOKE_LATE).then(|| late.min(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_timer_well_past_its_deadline_gives_time_back() {
        let ms = Duration::from_millis;
        assert_eq!(time_lost(ms(3), ms(500)), None, "the scheduler's own delay");
        assert_eq!(time_lost(ms(250), ms(500)), None);
        assert_eq!(time_lost(ms(300), ms(500)), Some(ms(300)), "what was lost");
        assert_eq!(time_lost(ms(5000), ms(500)), Some(ms(500)), "at most the limit");
    }
}
