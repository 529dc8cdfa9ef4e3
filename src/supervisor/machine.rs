//! The life of one service, as a pure state machine: inputs in, outputs out.
//! No system call, no clock (`now` is an argument), no randomness (`random` is).
//! The runtime performs the outputs and feeds their results back as inputs.
//!
//! | state \ input | Start | Spawned | SpawnFailed | Exited | Readiness | Unhealthy | Timer: backoff | Timer: stop | Timer: cooldown | Stop | Kill |
//! |---|---|---|---|---|---|---|---|---|---|---|---|
//! | waiting   | → starting, Spawn | – | – | – | – | – | – | – | – | → stopped | – |
//! | scheduled | → starting, Spawn | – | – | – | – | – | – | – | – | → stopped | – |
//! | starting  | – | → running | → decide | – | – | – | – | – | – | remembered | – |
//! | running   | periodic: skip, counted | – | – | → decide | true: → ready | → unhealthy, Signal, Timer | – | – | – | → stopping, Signal, Timer | KillGroup |
//! | ready     | – | – | – | → decide | false: → running | → unhealthy, Signal, Timer | – | – | – | → stopping, Signal, Timer | KillGroup |
//! | unhealthy | – | – | – | → decide (a failure) | – | – | – | KillGroup | – | → stopping, `then` | KillGroup |
//! | stopping  | – | – | – | → by `then` | – | – | – | KillGroup | – | `then` updated | KillGroup |
//! | backoff   | – | – | – | – | – | – | → starting, Spawn | – | – | → stopped | – |
//! | exited    | – | – | – | – | – | – | – | – | – | → stopped | – |
//! | failed    | – | – | – | – | – | – | – | – | → starting, Spawn | → stopped | – |
//! | stopped   | → starting, Spawn | – | – | – | – | – | – | – | – | – | – |
//!
//! A service with no readiness check (probe, sd_notify, notification fd) is
//! ready as soon as it runs and never enters `ready`; one with a check enters
//! `ready` when the runtime says so, and leaves it when readiness is lost.
//! `unhealthy` is a stop the service did not ask for (liveness, startup or
//! watchdog failure): its exit then goes through the restart policy as a
//! failure, counted and backed off like a crash.
//!
//! "decide" applies the restart policy: a periodic job goes back to `scheduled`;
//! otherwise success without restart → `exited`; a restart within the budget →
//! `backoff` (a run shorter than `min_uptime` counts as a failed start and grows
//! the delay; a longer one resets it); no restart, or the budget spent →
//! `failed` (with a cooldown timer when one is set). Timers carry the
//! generation in which they were set, and a timer from an older generation is
//! ignored, so a state never reacts to a timer that belonged to another.

use std::time::{Duration, Instant};

use super::policy::{self, RestartWindow};
pub use super::reason::describe;
use super::reason::{End, Next, Reason};
use crate::config::{Kind, Service};
use crate::sys::reap::ExitStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started yet: waiting for its dependencies (or for warden to start it).
    Waiting,
    /// A periodic job between two runs.
    Scheduled,
    /// The program is being spawned.
    Starting,
    Running {
        pid: i32,
        since: Instant,
    },
    /// Running, and its readiness check passes.
    Ready {
        pid: i32,
        since: Instant,
    },
    /// Being stopped because a check failed (`cause`: liveness, startup, watchdog).
    Unhealthy {
        pid: i32,
        since: Instant,
        cause: &'static str,
    },
    Stopping {
        pid: i32,
        then: AfterStop,
    },
    Backoff,
    /// Ended for good by policy (success, or `restart: never`).
    Exited,
    /// Ended for good by failure: restart budget spent or no restart wanted.
    Failed,
    /// Stopped by warden (shutdown) or by hand; stays so until started.
    Stopped,
}

/// What follows once a stopping service has exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStop {
    /// Stay stopped (shutdown, or stopped by hand).
    Stay,
    /// Start again at once (restart by hand).
    Restart,
    /// Back to waiting for its dependencies, as at boot (a reload's restart):
    /// what it had reached (started, ready, completed) counts no more, so
    /// its dependents wait for the new run.
    Wait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    Backoff,
    StopTimeout,
    Cooldown,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Dependencies met, a schedule tick, or a start by hand.
    Start,
    Spawned {
        pid: i32,
    },
    /// The program could not be started; `code` is 126 or 127, `why` says why.
    SpawnFailed {
        code: i32,
        why: String,
    },
    Exited {
        status: ExitStatus,
    },
    /// The kernel's OOM killer ended its program (`limit`: the cap reached,
    /// where known): an exit, and always a failure.
    OutOfMemory {
        status: ExitStatus,
        limit: Option<u64>,
    },
    Timer {
        kind: TimerKind,
        generation: u64,
    },
    /// Stop, then do `then`; `timeout` is the time left for it before SIGKILL.
    Stop {
        then: AfterStop,
        timeout: Duration,
    },
    /// The grace period is over: SIGKILL the process group now.
    Kill,
    /// The service's readiness changed (probe, READY=1, notification fd).
    Readiness {
        ready: bool,
        reason: String,
    },
    /// A check says the service hangs: stop it, then restart by policy.
    Unhealthy {
        cause: &'static str,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Spawn,
    /// Send a signal to the service's process group.
    Signal(i32),
    KillGroup,
    SetTimer {
        kind: TimerKind,
        after: Duration,
        generation: u64,
    },
    /// One state change, for the event line.
    Transition(Transition),
    /// Failed for good (for `critical`, and for a main program that never started).
    FailedForGood {
        code: i32,
    },
    /// A run ended unexpectedly (for crash reports and the on_crash hook).
    Crash(Crash),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    pub pid: Option<i32>,
    pub status: ExitStatus,
    pub uptime: Duration,
    pub restarts: u32,
    pub reason: Reason,
    /// What follows: a restart after a delay, the next scheduled run, or nothing.
    pub next: Next,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub pid: Option<i32>,
    pub reason: Reason,
    /// The exit that caused it, if any.
    pub status: Option<ExitStatus>,
    pub uptime: Option<Duration>,
    pub restarts: u32,
    pub next_delay: Option<Duration>,
}

/// How a run ended: its status and length, and, when it failed whatever its
/// exit code (it could not start, or a check stopped it), why.
struct Ended {
    status: ExitStatus,
    uptime: Duration,
    /// Set when it failed whatever its exit code.
    failure: Option<End>,
}

/// One service's state and counters.
#[derive(Debug, Clone)]
pub struct Machine {
    pub state: State,
    /// Starts after the first one, whatever caused them.
    pub restarts: u32,
    /// Consecutive runs shorter than min_uptime: the backoff exponent.
    attempt: u32,
    window: RestartWindow,
    pub last_exit: Option<ExitStatus>,
    /// Gates for dependents: has it ever started, been ready, completed?
    pub started_once: bool,
    pub ready_once: bool,
    /// Ready now: running and, if it has a readiness check, passing it.
    pub ready: bool,
    /// This run has a readiness check (it is not ready merely by running).
    gated: bool,
    pub completed: bool,
    /// Periodic runs skipped because the previous one was still going.
    pub skipped_runs: u64,
    pub starts: u64,
    generation: u64,
    /// A stop asked for while the program was being spawned.
    pending_stop: Option<(AfterStop, Duration)>,
    /// The time the current stop gave the program, and whether it ran out
    /// (then the program got SIGKILL, and the stop's end says so).
    stop_timeout: Duration,
    stop_killed: bool,
    /// Stops that ended in SIGKILL because the program outlived its stop timeout.
    pub stop_kills: u64,
    /// When its current or last run started (its exec confirmed).
    pub last_start: Option<Instant>,
    /// The signal to stop it with instead of its service's `stop_signal`
    /// (the main program: the stop signal warden received).
    pub stop_signal: Option<i32>,
    /// Stopped by hand: stays down (and keeps warden up) until started by
    /// hand; schedules and reloads do not start it (`command`).
    pub held: bool,
}

impl State {
    /// One of each state (a process has pid 7 and started at `t`), for the
    /// tests that go through them all.
    #[cfg(test)]
    pub fn every(t: Instant) -> [State; 11] {
        [
            State::Waiting,
            State::Scheduled,
            State::Starting,
            State::Running { pid: 7, since: t },
            State::Ready { pid: 7, since: t },
            State::Unhealthy { pid: 7, since: t, cause: "liveness" },
            State::Stopping { pid: 7, then: AfterStop::Stay },
            State::Backoff,
            State::Exited,
            State::Failed,
            State::Stopped,
        ]
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Scheduled => "scheduled",
            State::Starting => "starting",
            State::Running { .. } => "running",
            State::Ready { .. } => "ready",
            State::Unhealthy { .. } => "unhealthy",
            State::Stopping { .. } => "stopping",
            State::Backoff => "backoff",
            State::Exited => "exited",
            State::Failed => "failed",
            State::Stopped => "stopped",
        }
    }

    /// When the program now running started.
    pub fn since(self) -> Option<Instant> {
        match self {
            State::Running { since, .. } | State::Ready { since, .. } | State::Unhealthy { since, .. } => {
                Some(since)
            }
            _ => None,
        }
    }

    pub fn pid(self) -> Option<i32> {
        match self {
            State::Running { pid, .. }
            | State::Ready { pid, .. }
            | State::Unhealthy { pid, .. }
            | State::Stopping { pid, .. } => Some(pid),
            _ => None,
        }
    }
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            state: State::Waiting,
            restarts: 0,
            attempt: 0,
            window: RestartWindow::default(),
            last_exit: None,
            started_once: false,
            ready_once: false,
            ready: false,
            gated: false,
            completed: false,
            skipped_runs: 0,
            starts: 0,
            generation: 0,
            pending_stop: None,
            stop_timeout: Duration::ZERO,
            stop_killed: false,
            stop_kills: 0,
            last_start: None,
            stop_signal: None,
            held: false,
        }
    }
}

impl Machine {
    /// Whether a process of this service may be alive.
    pub fn is_live(&self) -> bool {
        self.state == State::Starting || self.state.pid().is_some()
    }

    /// Running or ready: its program runs and nobody is stopping it.
    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Running { .. } | State::Ready { .. })
    }

    pub fn handle(&mut self, service: &Service, input: Input, now: Instant, random: f64) -> Vec<Output> {
        let mut out = Vec::new();
        if let Input::Stop { then: AfterStop::Wait, .. } = input {
            self.forget_progress();
        }
        match (self.state, input) {
            // Held by hand: neither a schedule nor a gate starts it.
            (State::Stopped, Input::Start) if self.held => {}
            (State::Scheduled, Input::Start) => self.start_counted(&mut out, Reason::ScheduledRun, false),
            (State::Waiting | State::Stopped, Input::Start) => self.start(&mut out, Reason::Start),
            (State::Running { .. } | State::Ready { .. } | State::Unhealthy { .. }, Input::Start)
                if matches!(service.kind, Kind::Periodic(_)) =>
            {
                self.skipped_runs += 1;
            }
            (State::Starting, Input::Spawned { pid }) => {
                self.started_once = true;
                self.last_start = Some(now);
                // Without a readiness check a running service is ready.
                self.gated = service.kind != Kind::Longrun || service.has_readiness_check();
                self.enter(&mut out, State::Running { pid, since: now }, Reason::Started);
                if let Some((then, timeout)) = self.pending_stop.take() {
                    self.stop(&mut out, service, then, timeout);
                }
            }
            (State::Starting, Input::SpawnFailed { code, why }) => {
                self.pending_stop = None;
                let failure = Some(End::NotStarted(why));
                let ended = Ended { status: ExitStatus::Exited(code), uptime: Duration::ZERO, failure };
                self.decide(&mut out, service, ended, now, random);
            }
            (State::Running { since, .. } | State::Ready { since, .. }, Input::Exited { status }) => {
                let uptime = now.saturating_duration_since(since);
                self.decide(&mut out, service, Ended { status, uptime, failure: None }, now, random);
            }
            (
                State::Running { since, .. } | State::Ready { since, .. } | State::Unhealthy { since, .. },
                Input::OutOfMemory { status, limit },
            ) => {
                let uptime = now.saturating_duration_since(since);
                let failure = Some(End::OutOfMemory { limit });
                self.decide(&mut out, service, Ended { status, uptime, failure }, now, random);
            }
            // Being stopped, its end is the stop's, however it came.
            (State::Stopping { .. }, Input::OutOfMemory { status, .. }) => {
                return self.handle(service, Input::Exited { status }, now, random);
            }
            (State::Unhealthy { since, cause, .. }, Input::Exited { status }) => {
                let uptime = now.saturating_duration_since(since);
                let failure = Some(End::Unhealthy { cause, status });
                self.decide(&mut out, service, Ended { status, uptime, failure }, now, random);
            }
            (State::Running { pid, since }, Input::Readiness { ready: true, reason }) => {
                self.enter(&mut out, State::Ready { pid, since }, Reason::Told(reason));
            }
            (State::Ready { pid, since }, Input::Readiness { ready: false, reason }) => {
                self.enter(&mut out, State::Running { pid, since }, Reason::Told(reason));
            }
            (
                State::Running { pid, since } | State::Ready { pid, since },
                Input::Unhealthy { cause, reason },
            ) => {
                self.generation += 1;
                self.enter(&mut out, State::Unhealthy { pid, since, cause }, Reason::Told(reason));
                out.push(Output::Signal(self.stop_signal.unwrap_or(service.stop_signal)));
                out.push(Output::SetTimer {
                    kind: TimerKind::StopTimeout,
                    after: service.stop_timeout,
                    generation: self.generation,
                });
            }
            (State::Unhealthy { pid, .. }, Input::Stop { then, .. }) => {
                // Already signalled, its stop timer running: only what follows changes.
                self.state = State::Stopping { pid, then };
                self.ready = false;
            }
            (State::Stopping { then, .. }, Input::Exited { status }) => {
                self.last_exit = Some(status);
                self.generation += 1;
                // A stop that had to end in SIGKILL says so, whatever follows.
                let killed_after = std::mem::take(&mut self.stop_killed).then_some(self.stop_timeout);
                match then {
                    AfterStop::Stay => {
                        let reason = Reason::Stopped { killed_after };
                        self.enter_with(&mut out, State::Stopped, reason, Some(status), None)
                    }
                    AfterStop::Restart => self.start(&mut out, Reason::Restart { killed_after }),
                    AfterStop::Wait => {
                        let reason = Reason::Reloaded { killed_after };
                        self.enter_with(&mut out, State::Waiting, reason, Some(status), None)
                    }
                }
            }
            (State::Backoff, Input::Timer { kind: TimerKind::Backoff, generation })
            | (State::Failed, Input::Timer { kind: TimerKind::Cooldown, generation })
                if generation == self.generation =>
            {
                if self.state == State::Failed {
                    self.window.clear();
                    self.attempt = 0;
                }
                self.start(
                    &mut out,
                    if self.state == State::Failed { Reason::CooldownOver } else { Reason::BackoffOver },
                );
            }
            (
                State::Stopping { .. } | State::Unhealthy { .. },
                Input::Timer { kind: TimerKind::StopTimeout, generation },
            ) if generation == self.generation => {
                if matches!(self.state, State::Stopping { .. }) && !self.stop_killed {
                    self.stop_killed = true;
                    self.stop_kills += 1;
                }
                out.push(Output::KillGroup);
            }
            (
                State::Running { .. }
                | State::Ready { .. }
                | State::Unhealthy { .. }
                | State::Stopping { .. },
                Input::Kill,
            ) => out.push(Output::KillGroup),
            (State::Running { .. } | State::Ready { .. }, Input::Stop { then, timeout }) => {
                self.stop(&mut out, service, then, timeout)
            }
            (State::Stopping { pid, .. }, Input::Stop { then, .. }) => {
                self.state = State::Stopping { pid, then }
            }
            (State::Starting, Input::Stop { then, timeout }) => self.pending_stop = Some((then, timeout)),
            (
                State::Waiting | State::Scheduled | State::Backoff | State::Exited | State::Failed,
                Input::Stop { then, .. },
            ) => {
                if self.state == State::Failed && then == AfterStop::Restart {
                    // Started again by hand: a fresh restart budget.
                    self.window.clear();
                    self.attempt = 0;
                }
                self.generation += 1;
                match then {
                    AfterStop::Stay => {
                        self.enter(&mut out, State::Stopped, Reason::Stopped { killed_after: None })
                    }
                    AfterStop::Restart => self.start(&mut out, Reason::Restart { killed_after: None }),
                    AfterStop::Wait => {
                        self.enter(&mut out, State::Waiting, Reason::Reloaded { killed_after: None })
                    }
                }
            }
            // Everything else cannot happen or needs nothing: a stale timer, a
            // start while running, an exit of a process that is not ours.
            _ => {}
        }
        out
    }

    /// A new run is coming: dependents must wait for it to start (or be
    /// ready, or complete) again.
    fn forget_progress(&mut self) {
        self.started_once = false;
        self.ready_once = false;
        self.completed = false;
    }

    fn start(&mut self, out: &mut Vec<Output>, reason: Reason) {
        self.start_counted(out, reason, true);
    }

    /// A periodic job's scheduled runs are runs, not restarts.
    fn start_counted(&mut self, out: &mut Vec<Output>, reason: Reason, restart: bool) {
        self.generation += 1;
        if restart && self.starts > 0 {
            self.restarts = self.restarts.saturating_add(1);
        }
        self.starts += 1;
        self.enter(out, State::Starting, reason);
        out.push(Output::Spawn);
    }

    fn stop(&mut self, out: &mut Vec<Output>, service: &Service, then: AfterStop, timeout: Duration) {
        let (State::Running { pid, .. } | State::Ready { pid, .. }) = self.state else { return };
        self.generation += 1;
        self.stop_timeout = timeout;
        self.stop_killed = false;
        let signal = self.stop_signal.unwrap_or(service.stop_signal);
        self.enter(out, State::Stopping { pid, then }, Reason::Sending(signal));
        out.push(Output::Signal(signal));
        out.push(Output::SetTimer {
            kind: TimerKind::StopTimeout,
            after: timeout,
            generation: self.generation,
        });
    }

    /// Applies the restart policy to a run that has ended; a failure is also
    /// reported as a `Crash`.
    fn decide(&mut self, out: &mut Vec<Output>, service: &Service, ended: Ended, now: Instant, random: f64) {
        let pid = self.state.pid();
        let (status, uptime) = (ended.status, ended.uptime);
        let success = ended.failure.is_none() && policy::succeeded(service, status);
        let first = out.len();
        self.settle(out, service, ended, success, now, random);
        if success {
            return;
        }
        let produced = out.get(first..).unwrap_or_default();
        let reason = produced
            .iter()
            .find_map(|o| match o {
                Output::Transition(t) => Some(t.reason.clone()),
                _ => None,
            })
            .unwrap_or(Reason::Ended(End::Status(status)));
        let delay = produced.iter().find_map(|o| match o {
            Output::SetTimer { kind: TimerKind::Backoff, after, .. } => Some(*after),
            _ => None,
        });
        let next = match (self.state, delay) {
            (State::Backoff, Some(after)) => Next::RestartIn(after),
            (State::Scheduled, _) => Next::ScheduledRun,
            _ => Next::Failed,
        };
        out.push(Output::Crash(Crash { pid, status, uptime, restarts: self.restarts, reason, next }));
    }

    fn settle(
        &mut self,
        out: &mut Vec<Output>,
        service: &Service,
        ended: Ended,
        success: bool,
        now: Instant,
        random: f64,
    ) {
        let Ended { status, uptime, failure } = ended;
        self.last_exit = Some(status);
        self.generation += 1;
        self.ready = false;
        let what = failure.unwrap_or(End::Status(status));
        if let Kind::Periodic(_) = service.kind {
            self.enter_with(out, State::Scheduled, Reason::Ended(what), Some(status), Some(uptime));
            return;
        }
        if service.kind == Kind::Oneshot && success {
            self.completed = true;
            self.ready_once = true;
            self.enter_with(out, State::Exited, Reason::Completed(what), Some(status), Some(uptime));
            return;
        }
        if !policy::wants_restart(service, success) {
            if success {
                self.enter_with(out, State::Exited, Reason::Ended(what), Some(status), Some(uptime));
            } else {
                self.fail(out, service, Reason::RestartNever(what), status, uptime);
            }
            return;
        }
        if !self.window.allows(service.max_restarts, service.restart_window, now) {
            let limit = service.max_restarts.unwrap_or(0);
            let reason = Reason::BudgetSpent { end: what, limit, window: service.restart_window };
            self.fail(out, service, reason, status, uptime);
            return;
        }
        // A short run is a failed start: back off further. A long one resets.
        if uptime < service.min_uptime {
            self.attempt = self.attempt.saturating_add(1);
        } else {
            self.attempt = 0;
        }
        let delay = policy::delay(&service.backoff, self.attempt.saturating_sub(1), random);
        self.window.record(now, service.max_restarts);
        let (from, pid) = (self.state, self.state.pid());
        self.state = State::Backoff;
        out.push(Output::Transition(Transition {
            from,
            to: State::Backoff,
            // The run that ended, as on every other end-of-run line.
            pid,
            reason: Reason::Ended(what),
            status: Some(status),
            uptime: Some(uptime),
            restarts: self.restarts,
            next_delay: Some(delay),
        }));
        out.push(Output::SetTimer { kind: TimerKind::Backoff, after: delay, generation: self.generation });
    }

    fn fail(
        &mut self,
        out: &mut Vec<Output>,
        service: &Service,
        reason: Reason,
        status: ExitStatus,
        uptime: Duration,
    ) {
        let cooldown = service.cooldown.filter(|_| !service.critical);
        self.enter_with(out, State::Failed, reason, Some(status), Some(uptime));
        if let Some(Output::Transition(t)) = out.last_mut() {
            t.next_delay = cooldown;
        }
        out.push(Output::FailedForGood { code: status.code() });
        if let Some(after) = cooldown {
            out.push(Output::SetTimer { kind: TimerKind::Cooldown, after, generation: self.generation });
        }
    }

    fn enter(&mut self, out: &mut Vec<Output>, to: State, reason: Reason) {
        self.enter_with(out, to, reason, None, None);
    }

    fn enter_with(
        &mut self,
        out: &mut Vec<Output>,
        to: State,
        reason: Reason,
        status: Option<ExitStatus>,
        uptime: Option<Duration>,
    ) {
        let from = self.state;
        self.state = to;
        self.ready = match to {
            State::Ready { .. } => true,
            State::Running { .. } => !self.gated,
            _ => false,
        };
        self.ready_once |= self.ready;
        out.push(Output::Transition(Transition {
            from,
            to,
            pid: to.pid().or(from.pid()),
            reason,
            status,
            uptime,
            restarts: self.restarts,
            next_delay: None,
        }));
    }
}

#[cfg(test)]
#[path = "machine/tests.rs"]
mod tests;
