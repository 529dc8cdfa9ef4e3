//! Health checks: how each probe's results add up (thresholds, pure), and the
//! non-blocking socket checks (`socket`). Scheduling and exec probes live in the
//! supervisor's loop, since exec probes are children of the one reaper.
//!
//! A probe's verdict changes only after `success_threshold` successes or
//! `failure_threshold` failures *in a row*, so one slow answer never restarts
//! anything: the patience is built in, not configured away.

pub mod paths;
pub mod socket;

use crate::config::Probe;

/// The result of one run: Ok, or what went wrong ("connection refused").
pub type Outcome = Result<(), String>;

/// What one result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// `success_threshold` successes in a row after not passing.
    Passed,
    /// The `failure_threshold`-th failure in a row (reported once per streak).
    Failed,
}

/// One probe's counters, kept for status and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracker {
    pub passing: bool,
    pub consecutive_successes: u32,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// Whether the last run succeeded (None before the first).
    pub last_ok: Option<bool>,
    pub successes: u64,
    pub failures: u64,
}

impl Tracker {
    /// Starts a new streak (a new run of the service); a liveness probe starts
    /// passing, the others must earn it (Kubernetes' defaults).
    pub fn reset(&mut self, passing: bool) {
        self.passing = passing;
        self.consecutive_successes = 0;
        self.consecutive_failures = 0;
        self.last_ok = None;
    }

    pub fn record(&mut self, probe: &Probe, outcome: Outcome) -> Change {
        match outcome {
            Ok(()) => {
                self.successes += 1;
                self.last_ok = Some(true);
                self.consecutive_failures = 0;
                self.consecutive_successes = self.consecutive_successes.saturating_add(1);
                if !self.passing && self.consecutive_successes >= probe.success_threshold {
                    self.passing = true;
                    return Change::Passed;
                }
            }
            Err(why) => {
                self.failures += 1;
                self.last_ok = Some(false);
                self.last_error = Some(why);
                self.consecutive_successes = 0;
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if self.consecutive_failures == probe.failure_threshold {
                    self.passing = false;
                    return Change::Failed;
                }
            }
        }
        Change::None
    }
}

#[cfg(test)]
mod tests;
