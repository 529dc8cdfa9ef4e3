use super::*;

#[test]
fn parses_the_grammar() {
    assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse("9s"), Ok(Duration::from_secs(9)));
    assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse("0"), Ok(Duration::ZERO));
    assert_eq!(parse(" 10s "), Ok(Duration::from_secs(10)));
}

#[test]
fn rejects_with_a_suggestion() {
    assert_eq!(parse("9").unwrap_err(), "\"9\" has no unit; write \"9s\" (units: ms, s, m, h)");
    assert!(parse("9d").unwrap_err().contains("unknown unit \"d\""));
    assert!(parse("s").is_err());
    assert!(parse("1.5s").is_err());
    assert!(parse("-1s").is_err());
    assert!(parse("").is_err());
    assert!(parse("99999999999999999999h").is_err());
}

#[test]
fn format_round_trips() {
    for ms in [0u64, 1, 999, 1000, 1500, 60_000, 90_000, 3_600_000, 3_723_004] {
        let d = Duration::from_millis(ms);
        assert_eq!(parse(&format(d)), Ok(d), "{}", format(d));
    }
}
