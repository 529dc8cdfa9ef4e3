//! The shutdown as a state × event table: pure, no system call, no clock.
//! Services mode feeds it every event below (the supervisor's core performs
//! the actions; which service stops when, in reverse dependency order, is
//! the core's, since it needs the units). One-program mode uses its tail:
//! grace over, SIGKILL walked again while anything is left, giving up after
//! `AFTER_KILL` (it forwards stop signals to its program instead of
//! stopping anything itself, so it sends no `Begin` or `StopSignal`).
//!
//! ```text
//!             begin               drain over        services down      no children
//! running ──────────► draining ─────────────► stopping ──────────► sweeping ─────► exit
//!    │ begin, no drain            ▲                                    │
//!    └────────────────────────────┘                                    │
//! any phase but killed: grace over, or a stop signal after the first ──► killed ─► exit
//!                                                  (no children, or give up)
//! ```

/// Where the shutdown is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    /// Readiness is false; waiting out `drain` before stopping anything.
    Draining,
    /// Stopping services in reverse dependency order.
    Stopping,
    /// Services are down; remaining processes got SIGTERM.
    Sweeping,
    /// Everything got SIGKILL; waiting for the kernel.
    Killed,
}

/// What can happen to the shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A reason to stop: a stop signal, a critical failure, the main
    /// program's end, nothing left to run. `drain` is whether one is set.
    Begin {
        drain: bool,
    },
    /// TERM, INT or QUIT (the first one also sends `Begin`).
    StopSignal,
    DrainOver,
    /// No service is live and no on_crash hook runs any more.
    ServicesDown,
    GraceOver,
    /// The timer to walk the processes again after the SIGKILL.
    KillAgain,
    /// Processes survived SIGKILL for `AFTER_KILL`.
    GiveUp,
}

/// What the supervisor does for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Say so (event line, outer STOPPING=1), stop probing, arm the grace
    /// deadline, stop at once what is not running.
    Announce,
    ArmDrain,
    /// SIGTERM (and SIGCONT) to every remaining process.
    Sweep,
    /// "second stop signal: killing everything now".
    ReportSecondSignal,
    /// "grace period of … is over: killing what is left".
    ReportGraceOver,
    /// Every unit told to die, SIGKILL to every process, the grace timer
    /// cancelled, the kill-again and give-up timers armed.
    KillEverything,
    /// SIGKILL to every process again, the timer armed again.
    KillAgain,
    /// "processes survived SIGKILL"; then exit.
    GiveUp,
}

/// The next phase and what to do, for `event` in `phase`. `no_children`
/// says whether warden has any child left (a sweep or a second kill walk
/// is only worth it with some).
pub fn next(phase: Phase, event: Event, no_children: bool) -> (Phase, Vec<Action>) {
    use Action::*;
    use Phase::*;
    match (phase, event) {
        (Running, Event::Begin { drain: true }) => (Draining, vec![Announce, ArmDrain]),
        (Running, Event::Begin { drain: false }) => (Stopping, vec![Announce]),
        (_, Event::Begin { .. }) => (phase, Vec::new()),
        // The first stop signal begins the shutdown (sent as Begin too).
        (Running, Event::StopSignal) => (phase, Vec::new()),
        // Already killed: said again, nothing more to do.
        (Killed, Event::StopSignal) => (Killed, vec![ReportSecondSignal]),
        (_, Event::StopSignal) => (Killed, vec![ReportSecondSignal, KillEverything]),
        (Draining, Event::DrainOver) => (Stopping, Vec::new()),
        (_, Event::DrainOver) => (phase, Vec::new()),
        (Stopping, Event::ServicesDown) if no_children => (Sweeping, Vec::new()),
        (Stopping, Event::ServicesDown) => (Sweeping, vec![Sweep]),
        (_, Event::ServicesDown) => (phase, Vec::new()),
        (Killed, Event::GraceOver) => (Killed, Vec::new()),
        (_, Event::GraceOver) => (Killed, vec![ReportGraceOver, KillEverything]),
        (Killed, Event::KillAgain) if !no_children => (Killed, vec![KillAgain]),
        (_, Event::KillAgain) => (phase, Vec::new()),
        (_, Event::GiveUp) => (phase, vec![GiveUp]),
    }
}

/// What warden says when the grace runs out.
pub fn grace_over_message(grace: std::time::Duration) -> String {
    format!("grace period of {} is over: killing what is left", crate::duration::format(grace))
}

/// What warden says when processes outlive SIGKILL.
pub fn give_up_message() -> String {
    format!("processes survived SIGKILL for {}s; exiting anyway", crate::init::AFTER_KILL.as_secs())
}

/// Whether warden may exit now: everything is stopped (or killed) and no
/// process of its own is left.
pub fn may_exit(phase: Phase, no_children: bool) -> bool {
    matches!(phase, Phase::Sweeping | Phase::Killed) && no_children
}

#[cfg(test)]
mod tests;
