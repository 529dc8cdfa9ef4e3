use super::*;

fn at(y: i64, mo: u32, d: u32, h: u64, mi: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(days_from_civil(y, mo, d) as u64 * 86_400 + h * 3600 + mi * 60)
}

fn next(line: &str, from: SystemTime) -> Option<SystemTime> {
    Cron::parse(line).ok()?.next_after(from)
}

#[test]
fn dates_round_trip() {
    for days in [-1, 0, 59, 60, 10_957, 11_016, 20_780, 100_000] {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
}

#[test]
fn finds_the_next_time() {
    let t = at(2026, 11, 23, 18, 7); // a Monday
    assert_eq!(next("*/10 * * * *", t), Some(at(2026, 11, 23, 18, 10)));
    assert_eq!(next("0 * * * *", t), Some(at(2026, 11, 23, 19, 0)));
    assert_eq!(next("30 2 * * *", t), Some(at(2026, 11, 24, 2, 30)));
    assert_eq!(next("0 0 1 * *", t), Some(at(2026, 12, 1, 0, 0)));
    assert_eq!(next("0 9 * * sat,sun", t), Some(at(2026, 11, 28, 9, 0)));
    assert_eq!(next("0 9 * * 7", t), Some(at(2026, 11, 29, 9, 0)));
    assert_eq!(next("0 0 29 feb *", t), Some(at(2028, 2, 29, 0, 0)));
    assert_eq!(next("15 10-12/2 * jan-mar mon", t), Some(at(2027, 1, 4, 10, 15)));
    // Both day fields restricted: either one matches.
    assert_eq!(next("0 0 1 * fri", t), Some(at(2026, 11, 27, 0, 0)));
    // Strictly after: a time that matches now fires next time.
    assert_eq!(next("7 18 * * *", t), Some(at(2026, 11, 24, 18, 7)));
    assert_eq!(Cron::parse("0 0 30 2 *").map(|c| c.next_after(t)), Ok(None));
}

#[test]
fn rejects_bad_lines() {
    assert!(Cron::parse("* * * *").unwrap_err().contains("has 4 fields"));
    assert!(Cron::parse("60 * * * *").unwrap_err().contains("minute: \"60\" is not from 0 to 59"));
    assert!(Cron::parse("* * * * */0").unwrap_err().contains("bad step"));
    assert!(Cron::parse("5-1 * * * *").unwrap_err().contains("backwards"));
    assert!(Cron::parse("* * * smarch *").is_err());
}

#[test]
fn a_line_reads_back_as_the_same_schedule() {
    for (line, again) in [
        ("*/15 9-17 * * 1-5", "0,15,30,45 9-17 * * 1-5"),
        ("0 0 * * *", "0 0 * * *"),
        ("5 4 1,15 jan,jul *", "5 4 1,15 1,7 *"),
        ("0 12 * * 0,7", "0 12 * * 0"),
        ("30 2 * * sun", "30 2 * * 0"),
    ] {
        let cron = Cron::parse(line).unwrap();
        assert_eq!(cron.line(), again, "{line}");
        assert_eq!(Cron::parse(&cron.line()).unwrap(), cron, "{line}");
    }
}
