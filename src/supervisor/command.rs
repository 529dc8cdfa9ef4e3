//! Commands by hand (`warden start`, `stop`, `restart`) as inputs of a
//! service's machine, and when a command is satisfied. Pure, like the
//! machine: the control server only turns requests into `Input::Command` and
//! asks `Machine::answer` after each batch of events; it keeps no table of
//! its own.
//!
//! | state \ command | start | restart | stop |
//! |---|---|---|---|
//! | waiting   | refused: still waiting for its dependencies | → starting | → stopped, held |
//! | scheduled | a run now (→ starting) | a run now | → stopped, held |
//! | starting  | – | – | stop once spawned, held |
//! | running, ready | – | → stopping, then starting | → stopping, held |
//! | unhealthy, stopping | refused: being stopped | refused: being stopped | `then` becomes stay, held |
//! | backoff, exited, failed | → starting (failed: fresh budget) | → starting (failed: fresh budget) | → stopped, held |
//! | stopped   | → starting | → starting | – , held |
//!
//! A start or restart that is accepted releases the hold; a refused one
//! changes nothing.
//!
//! Satisfied: `stop` when no process of the service is left; `start` and
//! `restart` when the service is up and ready (running, without a readiness
//! check), a oneshot has completed, or a periodic job has finished a run that
//! began after the command. Any other end (failed, exited, stopped) is a
//! failed command, with the reason of the service's last change.

use std::fmt;
use std::time::Instant;

use super::machine::{AfterStop, Input, Machine, Output, State};
use crate::config::{Kind, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Start,
    Restart,
    Stop,
}

/// Why a command was not carried out; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    BeingStopped,
    WaitingForDependencies,
    /// warden's shutdown has begun: nothing starts or stops by hand any more.
    ShuttingDown,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::BeingStopped => "is being stopped; try again when it is down",
            Refusal::WaitingForDependencies => "still waiting for its dependencies",
            Refusal::ShuttingDown => "warden is shutting down",
        })
    }
}

/// A command the machine took: what to perform, and from when it counts.
#[derive(Debug)]
pub struct Accepted {
    pub outputs: Vec<Output>,
    pub since: Instant,
}

/// Where a service stands against a command given at `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// On its way: ask again after the next events.
    Pending,
    /// Got there: the state it is in (`running (pid 7)`, `completed`...).
    Done(String),
    /// Ended somewhere else: its state and why.
    Failed(String),
}

impl Machine {
    /// The machine's part of a command: the input it becomes, or a refusal.
    /// None: nothing to do (already up, or on its way up).
    pub(super) fn admit(&self, service: &Service, command: Command) -> Result<Option<Input>, Refusal> {
        let timeout = service.stop_timeout;
        let restart = command == Command::Restart;
        match (command, self.state) {
            (Command::Stop, _) => Ok(Some(Input::Stop { then: AfterStop::Stay, timeout })),
            (_, State::Stopping { .. } | State::Unhealthy { .. }) => Err(Refusal::BeingStopped),
            (Command::Start, State::Waiting) => Err(Refusal::WaitingForDependencies),
            (_, State::Stopped | State::Waiting) => Ok(Some(Input::Start)),
            (Command::Start, State::Starting | State::Running { .. } | State::Ready { .. }) => Ok(None),
            (_, State::Starting) => Ok(None),
            // Restart of what runs; start or restart of what waits for a
            // backoff, a schedule or a cooldown, or ended (a failed service
            // gets a fresh restart budget).
            _ if restart || !self.is_live() => Ok(Some(Input::Stop { then: AfterStop::Restart, timeout })),
            _ => Ok(None),
        }
    }

    /// A command by hand: held after a stop, released by an accepted start.
    /// `since` in the result is what `answer` takes: from when a run counts
    /// (a periodic job's run already going counts).
    pub(super) fn command(
        &mut self,
        service: &Service,
        command: Command,
        now: Instant,
        random: f64,
    ) -> Result<Accepted, Refusal> {
        let input = self.admit(service, command)?;
        self.held = command == Command::Stop;
        let since = match (input.is_some(), self.state.since()) {
            (false, Some(running_since)) => running_since,
            _ => now,
        };
        let outputs = match input {
            Some(input) => self.handle(service, input, now, random),
            None => Vec::new(),
        };
        Ok(Accepted { outputs, since })
    }

    /// Whether `command`, given at `since`, is satisfied; `reason` is the
    /// reason of the service's last change, for a failed one.
    pub fn answer(&self, service: &Service, command: Command, since: Instant, reason: &str) -> Answer {
        let state = self.state;
        let pid = state.pid().map(|p| format!(" (pid {p})")).unwrap_or_default();
        let periodic = matches!(service.kind, Kind::Periodic(_));
        if command == Command::Stop {
            return if self.is_live() { Answer::Pending } else { Answer::Done(state.name().into()) };
        }
        let ran_since = self.last_start.is_some_and(|start| start >= since);
        match state {
            State::Starting => Answer::Pending,
            // A periodic job's run counts once it is over.
            _ if periodic && self.is_live() => Answer::Pending,
            State::Scheduled if periodic && self.starts > 0 && ran_since => {
                Answer::Done("ran, next run scheduled".into())
            }
            _ if self.is_up() && self.ready => Answer::Done(format!("{}{pid}", state.name())),
            _ if state.pid().is_some() => Answer::Pending,
            State::Exited if self.completed => Answer::Done("completed".into()),
            State::Waiting | State::Scheduled => Answer::Pending,
            _ => Answer::Failed(format!("{}: {reason}", state.name())),
        }
    }
}

#[cfg(test)]
#[path = "command/tests.rs"]
mod tests;
