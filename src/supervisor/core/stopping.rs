//! The shutdown's decisions: when it begins, what each phase of the table
//! in `crate::shutdown` asks for, and what is stopped at once.

use std::time::{Duration, Instant};

use super::super::machine::{AfterStop, Input, State};
use super::{Action, Core, Timer};
use crate::init::{AFTER_KILL, KILL_AGAIN};
use crate::shutdown::{self, Phase};

impl Core {
    /// Begins the shutdown sequence; `code` is warden's exit code if it is the
    /// first to be decided.
    pub(super) fn shutdown(&mut self, now: Instant, code: Option<i32>, reason: &str) {
        if self.phase != Phase::Running {
            return;
        }
        if self.exit_code.is_none() {
            self.exit_code = code;
        }
        self.advance(now, shutdown::Event::Begin { drain: !self.drain.is_zero() }, reason);
    }

    /// Feeds the shutdown table (`shutdown`) and turns what it says into
    /// actions. `what` is the reason of a beginning, or the signal's name for
    /// a second stop signal.
    pub(super) fn advance(&mut self, now: Instant, event: shutdown::Event, what: &str) {
        use shutdown::Action as Step;
        let (phase, steps) = shutdown::next(self.phase, event, self.no_children);
        self.phase = phase;
        for step in steps {
            match step {
                Step::Announce => self.announce_shutdown(now, what),
                Step::ArmDrain => {
                    self.out.push(Action::SetTimer { after: self.drain, timer: Timer::DrainOver })
                }
                Step::Sweep => {
                    self.note("stopping remaining processes".into());
                    self.out.push(Action::SignalAll(&[libc::SIGTERM, libc::SIGCONT]));
                }
                Step::ReportSecondSignal => {
                    self.note(format!("second stop signal ({what}): killing everything now"))
                }
                Step::ReportGraceOver => self.note(shutdown::grace_over_message(self.grace)),
                Step::KillEverything => self.kill_everything(now),
                Step::KillAgain => {
                    self.out.push(Action::SignalAll(&[libc::SIGKILL]));
                    self.out.push(Action::SetTimer { after: KILL_AGAIN, timer: Timer::KillAgain });
                }
                Step::GiveUp => {
                    self.out.push(Action::GiveUp);
                    self.gave_up = true;
                }
            }
        }
    }

    /// The beginning of a shutdown: said, the grace deadline armed, and what
    /// is not running stopped at once.
    pub(super) fn announce_shutdown(&mut self, now: Instant, reason: &str) {
        self.note(format!(
            "shutting down: {reason} (grace {}, drain {})",
            crate::duration::format(self.grace),
            crate::duration::format(self.drain)
        ));
        self.out.push(Action::ShutdownBegun { reason: reason.to_string() });
        self.grace_deadline = Some(now + self.grace);
        self.out.push(Action::SetTimer { after: self.grace, timer: Timer::GraceOver });
        // Nothing starts any more: what is not running now is stopped at once.
        for (index, unit) in self.units.iter().enumerate() {
            if !unit.machine.is_live()
                && !matches!(unit.machine.state, State::Stopped | State::Exited | State::Failed)
            {
                self.inputs
                    .push_back((index, Input::Stop { then: AfterStop::Stay, timeout: Duration::ZERO }));
            }
        }
    }

    /// SIGKILL for everything (the shutdown table says so once).
    pub(super) fn kill_everything(&mut self, now: Instant) {
        for index in 0..self.units.len() {
            self.inputs.push_back((index, Input::Kill));
        }
        self.feed_inputs(now);
        self.out.push(Action::SignalAll(&[libc::SIGKILL]));
        self.out.push(Action::CancelGraceTimer);
        self.out.push(Action::SetTimer { after: KILL_AGAIN, timer: Timer::KillAgain });
        self.out.push(Action::SetTimer { after: AFTER_KILL, timer: Timer::GiveUp });
        self.out.push(Action::Reap);
    }
}
