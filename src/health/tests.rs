use std::time::Duration;

use super::*;
use crate::config::Check;

fn probe(success_threshold: u32, failure_threshold: u32) -> Probe {
    Probe {
        check: Check::File("/x".into()),
        initial_delay: Duration::ZERO,
        period: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        success_threshold,
        failure_threshold,
    }
}

fn fail() -> Outcome {
    Err("refused".into())
}

#[test]
fn liveness_fails_only_at_the_threshold_and_once() {
    let p = probe(1, 3);
    let mut t = Tracker::default();
    t.reset(true);
    assert_eq!(t.record(&p, fail()), Change::None);
    assert_eq!(t.record(&p, fail()), Change::None);
    assert_eq!(t.record(&p, fail()), Change::Failed);
    assert_eq!(t.record(&p, fail()), Change::None, "reported once per streak");
    assert_eq!(t.last_error.as_deref(), Some("refused"));
    assert_eq!((t.failures, t.consecutive_failures), (4, 4));
}

#[test]
fn a_success_breaks_the_failure_streak() {
    let p = probe(1, 3);
    let mut t = Tracker::default();
    t.reset(true);
    for _ in 0..10 {
        assert_eq!(t.record(&p, fail()), Change::None);
        assert_eq!(t.record(&p, fail()), Change::None);
        assert_eq!(t.record(&p, Ok(())), Change::None);
    }
    assert!(t.passing);
}

#[test]
fn readiness_needs_its_success_threshold() {
    let p = probe(2, 1);
    let mut t = Tracker::default();
    t.reset(false);
    assert_eq!(t.record(&p, Ok(())), Change::None);
    assert_eq!(t.record(&p, Ok(())), Change::Passed);
    assert_eq!(t.record(&p, Ok(())), Change::None);
    assert_eq!(t.record(&p, fail()), Change::Failed);
    assert!(!t.passing);
    assert_eq!(t.record(&p, Ok(())), Change::None);
    assert_eq!(t.record(&p, Ok(())), Change::Passed);
}
