//! Dependency gates and "nothing left to run", as pure functions over what
//! is known of each service: no system call, no unit, no clock. The
//! supervisor asks them after every batch of events.

use super::machine::State;
use crate::config::{Condition, Dependency};

/// What a gate needs to know about one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts<'a> {
    pub name: &'a str,
    /// A replicated service's name, for one of its copies.
    pub group: Option<&'a str>,
    pub state: State,
    pub started_once: bool,
    pub ready_once: bool,
    pub completed: bool,
    /// Failed for good unless it has a cooldown and is not critical.
    pub comes_back: bool,
    /// Stopped by hand: it waits to be started by hand.
    pub held: bool,
    /// A reload is about to restart it: what it reached counts no more.
    pub restarting: bool,
    /// `enabled: false`, not started by hand: its dependents (it is
    /// optional, or the config was refused) do not wait for it.
    pub disabled: bool,
}

impl Facts<'_> {
    fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.group == Some(name)
    }

    /// It will never change state again by itself.
    fn settled(&self) -> bool {
        if self.restarting {
            return false;
        }
        match self.state {
            State::Exited | State::Stopped => true,
            State::Failed => !self.comes_back,
            _ => false,
        }
    }
}

/// Whether a service waiting on `dependencies` may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Open,
    Closed,
    /// Can never open: why.
    Never(String),
}

/// The gate of `dependencies`, given the facts of every service (a
/// dependency on a service that does not exist is a config error, and
/// counts as met here). A dependency on a replicated service is on all its
/// copies, or with `any` on one of them.
pub fn gate(dependencies: &[Dependency], services: &[Facts]) -> Gate {
    let mut gate = Gate::Open;
    for dependency in dependencies {
        let mut targets =
            services.iter().filter(|s| s.answers_to(&dependency.name) && !s.disabled).peekable();
        if targets.peek().is_none() {
            continue;
        }
        let met = |target: &Facts| {
            !target.restarting
                && match dependency.condition {
                    Condition::Started => target.started_once,
                    Condition::Ready => target.ready_once,
                    Condition::Completed => target.completed,
                }
        };
        // The copy that decides: the first one not met (all), or one met
        // and else the first that can still be (any).
        let mut pending = None;
        let mut lost = None;
        let mut any_met = false;
        for target in targets {
            if met(target) {
                any_met = true;
            } else if target.settled() {
                lost = lost.or(Some(target));
            } else {
                pending = pending.or(Some(target));
            }
        }
        let blocked = if dependency.any { !any_met } else { lost.is_some() || pending.is_some() };
        if !blocked {
            continue;
        }
        let never = if dependency.any { pending.is_none() } else { lost.is_some() };
        match (never, lost) {
            (true, Some(target)) => {
                return Gate::Never(format!(
                    "{} is {} and never became {}",
                    target.name,
                    target.state.name(),
                    condition_name(dependency.condition)
                ));
            }
            _ => gate = Gate::Closed,
        }
    }
    gate
}

/// The dependencies not met yet, as "db (ready)", in the order declared.
pub fn unmet(dependencies: &[Dependency], services: &[Facts]) -> Vec<String> {
    dependencies
        .iter()
        .filter(|dependency| !gate(std::slice::from_ref(dependency), services).is_open())
        .map(|dependency| format!("{} ({})", dependency.name, condition_name(dependency.condition)))
        .collect()
}

impl Gate {
    fn is_open(&self) -> bool {
        *self == Gate::Open
    }
}

/// No service runs or can run again: everything ended, and whatever still
/// waits waits for something that will never happen. `gate_of(i)` is the
/// gate of service `i`.
pub fn nothing_left(services: &[Facts], gate_of: impl Fn(usize) -> Gate) -> bool {
    !services.iter().any(|s| s.held)
        && services.iter().enumerate().all(|(index, s)| {
            s.settled() || (s.state == State::Waiting && matches!(gate_of(index), Gate::Never(_)))
        })
}

pub fn condition_name(condition: Condition) -> &'static str {
    match condition {
        Condition::Started => "started",
        Condition::Ready => "ready",
        Condition::Completed => "completed",
    }
}

#[cfg(test)]
mod tests;
