//! The processes warden answers for beyond its own children, and how to signal
//! them all at shutdown.
//!
//! As PID 1 that is the whole PID namespace (`kill(-1)`, which the kernel applies
//! atomically with respect to fork). As a subreaper it is only warden's own
//! descendants, found in `/proc`: `kill(-1)` there would hit the host, or the other
//! containers of a shared PID namespace.

use crate::logger::warning;
use crate::sys::process;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// warden is PID 1: everything in the namespace is its business.
    Namespace,
    /// warden is a subreaper: only its descendants.
    Descendants,
}

impl Scope {
    pub fn of_this_process() -> Scope {
        if process::pid() == 1 { Scope::Namespace } else { Scope::Descendants }
    }

    /// Sends each of `signals`, in order, to every process in scope but warden.
    pub fn signal_all(self, signals: &[i32]) {
        let result = match self {
            Scope::Namespace => signals.iter().try_for_each(|&signal| process::send(-1, signal)),
            Scope::Descendants => process::descendants(process::pid()).and_then(|pids| {
                pids.iter()
                    .try_for_each(|&pid| signals.iter().try_for_each(|&signal| process::send(pid, signal)))
            }),
        };
        if let Err(e) = result {
            warning!("unable to signal remaining processes: {}", crate::sys::Reason(&e));
        }
    }
}

/// What is still there when processes outlive SIGKILL, for the line that
/// says so: `12 (sh, D), 13 (cat, D)`, at most ten named. In state D a
/// process waits in the kernel where no signal reaches it, as on a mount that
/// stopped answering.
pub fn survivors() -> String {
    const NAMED: usize = 10;
    let pids = process::descendants(process::pid()).unwrap_or_default();
    let mut named: Vec<String> = pids
        .iter()
        .take(NAMED)
        .map(|&pid| match process::name_and_state(pid) {
            Some((name, state)) => format!("{pid} ({name}, {state})"),
            None => pid.to_string(),
        })
        .collect();
    if pids.len() > NAMED {
        named.push(format!("and {} more", pids.len() - NAMED));
    }
    if named.is_empty() { "none any more".into() } else { named.join(", ") }
}
