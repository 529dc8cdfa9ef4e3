use super::*;

#[test]
fn lines_carry_every_field() {
    let t = Transition {
        from: super::super::machine::State::Running { pid: 12, since: std::time::Instant::now() },
        to: super::super::machine::State::Backoff,
        pid: Some(12),
        reason: super::super::reason::Reason::Ended(super::super::reason::End::Status(ExitStatus::Exited(1))),
        status: Some(ExitStatus::Exited(1)),
        uptime: Some(Duration::from_millis(200)),
        restarts: 3,
        next_delay: Some(Duration::from_secs(4)),
    };
    assert_eq!(
        text("web", &t),
        "warden: web: running -> backoff: exited with code 1 (pid 12, uptime 0.2s, restarts 3, next in 4s)"
    );
    let j = json("we\"b", &t);
    assert!(j.contains("\"service\":\"we\\\"b\",\"pid\":12,\"from\":\"running\",\"to\":\"backoff\""), "{j}");
    assert!(
        j.contains(
            "\"exit_code\":1,\"signal\":null,\"uptime_s\":0.200,\"restarts\":3,\"next_delay_s\":4.000}"
        ),
        "{j}"
    );
}

#[test]
fn durations_read_alike_whatever_their_milliseconds() {
    let cases = [
        (0, "0s"),
        (3, "0s"),
        (60, "0.1s"),
        (200, "0.2s"),
        (1_000, "1s"),
        (1_040, "1s"),
        (1_500, "1.5s"),
        (59_400, "59.4s"),
        (300_000, "5m00s"),
        (7_500_000, "2h05m"),
    ];
    for (ms, text) in cases {
        assert_eq!(seconds(Duration::from_millis(ms)), text, "{ms} ms");
    }
}
