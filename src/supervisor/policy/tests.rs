use super::*;
use crate::config::DEFAULT_BACKOFF;

#[test]
fn delays_grow_then_cap() {
    let b = Backoff { jitter: 0.0, ..DEFAULT_BACKOFF };
    let secs: Vec<u64> = (0..9).map(|a| delay(&b, a, 0.5).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(delay(&b, u32::MAX, 0.5), Duration::from_secs(60));
}

#[test]
fn jitter_stays_within_bounds() {
    let b = DEFAULT_BACKOFF; // 10 %
    assert_eq!(delay(&b, 1, 0.0), Duration::from_millis(1800));
    assert_eq!(delay(&b, 1, 0.5), Duration::from_secs(2));
    assert!(delay(&b, 1, 0.999_999) <= Duration::from_millis(2200));
    assert_eq!(delay(&b, 20, 0.999), Duration::from_secs(60), "jitter never exceeds max");
}

#[test]
fn window_forgets_old_restarts() {
    let mut w = RestartWindow::default();
    let t0 = Instant::now();
    let window = Duration::from_secs(10);
    for i in 0..3 {
        assert!(w.allows(Some(3), window, t0 + Duration::from_secs(i)));
        w.record(t0 + Duration::from_secs(i), Some(3));
    }
    assert!(!w.allows(Some(3), window, t0 + Duration::from_secs(5)));
    assert!(w.allows(Some(3), window, t0 + Duration::from_secs(10)));
    assert!(w.allows(None, window, t0));
}
