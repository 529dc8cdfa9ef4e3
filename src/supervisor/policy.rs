//! Restart arithmetic, pure: whether an ended run is restarted, after how long,
//! and when the restart budget is spent.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::{Backoff, Kind, RestartPolicy, Service};
use crate::sys::reap::ExitStatus;

/// Whether `status` counts as success for `service`.
pub fn succeeded(service: &Service, status: ExitStatus) -> bool {
    matches!(status, ExitStatus::Exited(code) if service.success_codes.contains(&code))
}

/// Whether the policy asks for another run after an exit.
pub fn wants_restart(service: &Service, success: bool) -> bool {
    if service.kind == Kind::Oneshot && success {
        return false; // a completed oneshot is done, whatever the policy
    }
    match service.restart {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => !success,
        RestartPolicy::Never => false,
    }
}

/// The delay before restart number `attempt` (0 for the first after a good run):
/// `initial × multiplier^attempt`, randomised by ± jitter, never above `max`.
/// `random` is uniform in [0, 1).
pub fn delay(backoff: &Backoff, attempt: u32, random: f64) -> Duration {
    let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
    let base = backoff.initial.as_secs_f64() * backoff.multiplier.powi(exponent);
    let jittered = base * (1.0 + backoff.jitter * (2.0 * random.clamp(0.0, 1.0) - 1.0));
    let capped = jittered.min(backoff.max.as_secs_f64()).max(0.0);
    Duration::try_from_secs_f64(capped).unwrap_or(backoff.max)
}

/// The restarts made within the sliding window, bounded by the budget.
#[derive(Debug, Clone, Default)]
pub struct RestartWindow {
    recent: VecDeque<Instant>,
}

impl RestartWindow {
    /// Whether one more restart fits in `max` restarts per `window` at `now`.
    pub fn allows(&mut self, max: Option<u32>, window: Duration, now: Instant) -> bool {
        while self.recent.front().is_some_and(|t| now.saturating_duration_since(*t) >= window) {
            self.recent.pop_front();
        }
        match max {
            None => true,
            Some(max) => self.recent.len() < max as usize,
        }
    }

    pub fn record(&mut self, now: Instant, max: Option<u32>) {
        self.recent.push_back(now);
        // Only the last `max` matter; unlimited keeps none beyond the check.
        let keep = max.map_or(0, |m| m as usize);
        while self.recent.len() > keep {
            self.recent.pop_front();
        }
    }

    pub fn clear(&mut self) {
        self.recent.clear();
    }
}

#[cfg(test)]
mod tests;
