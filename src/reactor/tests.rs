use super::*;

#[test]
fn timeouts_round_up() {
    let now = Instant::now();
    assert_eq!(milliseconds_until(now, now), 0);
    assert_eq!(milliseconds_until(now + Duration::from_micros(1), now), 1);
    assert_eq!(milliseconds_until(now + Duration::from_millis(5), now), 5);
    assert_eq!(milliseconds_until(now, now + Duration::from_secs(1)), 0);
}

#[test]
fn timers_fire_in_order_and_cancel() {
    let mut reactor = Reactor::new().unwrap();
    let now = Instant::now();
    reactor.add_timer(now + Duration::from_millis(2), "second");
    let cancelled = reactor.add_timer(now + Duration::from_millis(1), "cancelled");
    reactor.add_timer(now, "first");
    assert_eq!(reactor.cancel_timer(cancelled), Some("cancelled"));
    let mut events = Vec::new();
    while events.len() < 2 {
        reactor.turn(&mut events).unwrap();
    }
    let names: Vec<_> = events
        .iter()
        .map(|e| match e {
            Event::Timer(t, _) => *t,
            Event::Io(_) => "io",
        })
        .collect();
    assert_eq!(names, ["first", "second"]);
}
