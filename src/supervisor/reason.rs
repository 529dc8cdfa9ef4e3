//! Why a unit's state changed, and what follows a crash: typed values that
//! the machine produces, made into text only where they are printed (event
//! lines, status, crash reports, control answers).

use std::fmt;
use std::time::Duration;

use crate::duration::format as duration;
use crate::sys::reap::ExitStatus;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// It exited, or a signal killed it.
    Status(ExitStatus),
    /// It never ran: what the start said (`cannot run: ...`).
    NotStarted(String),
    /// A check stopped it (`cause`: liveness, startup, watchdog), then it ended so.
    Unhealthy { cause: &'static str, status: ExitStatus },
    /// The kernel's OOM killer ended it; `limit`: the memory cap that was reached, where known.
    OutOfMemory { limit: Option<u64> },
}

/// Why a state changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Its program runs.
    Started,
    /// Started because its gate opened, or by hand.
    Start,
    /// A periodic job's run is due.
    ScheduledRun,
    BackoffOver,
    CooldownOver,
    /// Started again after a stop; `killed_after`: it took SIGKILL at the end
    /// of this stop timeout.
    Restart {
        killed_after: Option<Duration>,
    },
    /// Told to stop with this signal.
    Sending(i32),
    Stopped {
        killed_after: Option<Duration>,
    },
    /// A reload restarts it: back to waiting for its dependencies.
    Reloaded {
        killed_after: Option<Duration>,
    },
    /// A run ended; what follows is the policy's (backoff, scheduled, exited).
    Ended(End),
    /// A oneshot ran to success.
    Completed(End),
    /// A failure, and `restart: never`.
    RestartNever(End),
    /// A failure, and `limit` restarts within `window` are spent.
    BudgetSpent {
        end: End,
        limit: u32,
        window: Duration,
    },
    /// What a probe, a notification or the watchdog said.
    Told(String),
}

/// What follows a crash, for its report and hook.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    RestartIn(Duration),
    ScheduledRun,
    Failed,
}

/// "exited with code 3", "killed by SIGKILL (core dumped)".
pub fn describe(status: ExitStatus) -> String {
    match status {
        ExitStatus::Exited(code) => format!("exited with code {code}"),
        ExitStatus::Signaled { signal, core_dumped } => format!(
            "killed by {}{}",
            crate::sys::signals::name(signal),
            if core_dumped { " (core dumped)" } else { "" }
        ),
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Status(status) => f.write_str(&describe(*status)),
            End::NotStarted(why) => f.write_str(why),
            End::Unhealthy { cause, status } => write!(f, "{cause}: {}", describe(*status)),
            End::OutOfMemory { limit: Some(limit) } => {
                write!(f, "out of memory (limit {})", crate::cgroups::size_text(*limit))
            }
            End::OutOfMemory { limit: None } => f.write_str("out of memory"),
        }
    }
}

/// "did not stop within 2s; sent SIGKILL"
fn killed(after: Duration) -> String {
    format!("did not stop within {}; sent SIGKILL", duration(after))
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Started => f.write_str("started"),
            Reason::Start => f.write_str("start"),
            Reason::ScheduledRun => f.write_str("scheduled run"),
            Reason::BackoffOver => f.write_str("backoff over"),
            Reason::CooldownOver => f.write_str("cooldown over"),
            Reason::Restart { killed_after: None } => f.write_str("restart"),
            Reason::Restart { killed_after: Some(after) } => write!(f, "restart ({})", killed(*after)),
            Reason::Sending(signal) => write!(f, "sending {}", crate::sys::signals::name(*signal)),
            Reason::Stopped { killed_after: None } => f.write_str("stopped"),
            Reason::Stopped { killed_after: Some(after) } => f.write_str(&killed(*after)),
            Reason::Reloaded { killed_after: None } => f.write_str("reloaded: waiting for its dependencies"),
            Reason::Reloaded { killed_after: Some(after) } => {
                write!(f, "reloaded ({}): waiting for its dependencies", killed(*after))
            }
            Reason::Ended(end) => write!(f, "{end}"),
            Reason::Completed(end) => write!(f, "{end}: completed"),
            Reason::RestartNever(end) => write!(f, "{end}; restart: never"),
            Reason::BudgetSpent { end, limit, window } => {
                let plural = if *limit == 1 { "" } else { "s" };
                write!(f, "{end}; {limit} restart{plural} within {} used up", duration(*window))
            }
            Reason::Told(text) => f.write_str(text),
        }
    }
}

impl fmt::Display for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Next::RestartIn(after) => write!(f, "restart in {}", duration(*after)),
            Next::ScheduledRun => f.write_str("next scheduled run"),
            Next::Failed => f.write_str("failed"),
        }
    }
}

#[cfg(test)]
#[path = "reason/tests.rs"]
mod tests;
