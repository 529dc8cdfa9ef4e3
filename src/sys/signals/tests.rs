use super::*;

#[test]
fn names_round_trip() {
    for signal in 1..=MAX_SIGNAL {
        let (min, _) = realtime_range();
        if signal > 31 && signal < min {
            continue; // reserved by the C library, no name
        }
        assert_eq!(parse(&name(signal)), Some(signal), "{}", name(signal));
    }
}

#[test]
fn accepts_the_usual_spellings() {
    assert_eq!(parse("TERM"), Some(libc::SIGTERM));
    assert_eq!(parse("SIGTERM"), Some(libc::SIGTERM));
    assert_eq!(parse("sigterm"), Some(libc::SIGTERM));
    assert_eq!(parse("15"), Some(15));
    assert_eq!(parse("RTMIN+3"), Some(libc::SIGRTMIN() + 3));
    assert_eq!(parse("SIGRTMAX-1"), Some(libc::SIGRTMAX() - 1));
    assert_eq!(parse("0"), None);
    assert_eq!(parse("65"), None);
    assert_eq!(parse("TERMS"), None);
    assert_eq!(parse("RTMIN+99"), None);
    assert_eq!(parse(""), None);
}
