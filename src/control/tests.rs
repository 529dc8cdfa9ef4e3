use super::*;

#[test]
fn every_request_survives_encoding() {
    let names = vec!["web".to_string(), "db.1".to_string()];
    for request in [
        Request::Status { json: true, color: false, wide: false, names: names.clone() },
        Request::Status { json: false, color: true, wide: true, names: vec![] },
        Request::Start(Targets { names: names.clone(), timeout: None }),
        Request::Stop(Targets { names: names.clone(), timeout: Some(std::time::Duration::from_secs(30)) }),
        Request::Restart(Targets {
            names: names.clone(),
            timeout: Some(std::time::Duration::from_millis(90_500)),
        }),
        Request::Logs { name: Some("web".into()), lines: 7, follow: true, since: None },
        Request::Logs { name: Some("web".into()), lines: 0, follow: false, since: None },
        Request::Logs {
            name: None,
            lines: 200,
            follow: true,
            since: Some(std::time::Duration::from_secs(600)),
        },
        Request::Reload { names: vec![] },
        Request::Reload { names: names.clone() },
        Request::Signal { name: "web".into(), signal: libc::SIGUSR1, main_pid: false },
        Request::Signal { name: "db.1".into(), signal: 34 + 3, main_pid: true },
        Request::Check { ready: true, name: None },
        Request::Check { ready: false, name: Some("web".into()) },
    ] {
        let line = request.encode();
        assert!(line.ends_with('\n') && line.len() < MAX_REQUEST);
        assert_eq!(Request::parse(line.trim_end().as_bytes()), Ok(request));
    }
}

#[test]
fn bad_requests_say_what_is_wrong() {
    for (line, want) in [
        ("", "not a warden/1 request"),
        ("warden/2 status", "protocol warden/2 is not spoken here (this warden speaks warden/1)"),
        ("warden/1", "the request names no verb"),
        ("warden/1 start", "start: name at least one service"),
        ("warden/1 logs a b", "logs: one service, or none for all"),
        (
            "warden/1 logs --since=soon",
            "logs: --since: \"soon\" is not a duration; write e.g. \"500ms\", \"10s\", \"2m\" or \"1h\"",
        ),
        ("warden/1 logs -nx a", "logs: unknown option \"-nx\""),
        ("warden/1 signal web", "signal: name one service and one signal"),
        ("warden/1 signal web 0", "signal: \"0\" is not a signal number"),
        ("warden/1 signal web USR1", "signal: \"USR1\" is not a signal number"),
        ("warden/1 signal --all web 1", "signal: unknown option \"--all\""),
        ("warden/1 check a b", "check: one service at most"),
        ("warden/1 status a/b", "\"a/b\" is not a service name"),
    ] {
        assert_eq!(Request::parse(line.as_bytes()), Err(want.to_string()), "{line:?}");
    }
    assert_eq!(
        Request::parse(b"warden/1 logs -n999 web"),
        Ok(Request::Logs { name: Some("web".into()), lines: MAX_LOG_LINES, follow: false, since: None })
    );
}

#[test]
fn an_error_header_is_one_line() {
    assert_eq!(header(Ok(())), "ok\n");
    assert_eq!(header(Err("a\nb")), "error a b\n");
}

#[test]
fn http_requests_are_parsed_or_refused() {
    use http::{Parse, Request as Get, parse};
    assert_eq!(
        parse(b"GET /readyz?verbose HTTP/1.1\r\nHost: x\r\n\r\n"),
        Parse::Done(Get { head: false, path: "/readyz", verbose: true })
    );
    assert_eq!(
        parse(b"HEAD /livez HTTP/1.0\r\n\r\n"),
        Parse::Done(Get { head: true, path: "/livez", verbose: false })
    );
    assert_eq!(parse(b"GET /livez HTTP/1.1\r\nHost"), Parse::Incomplete);
    assert_eq!(parse(b"PUT / HTTP/1.1\r\n\r\n"), Parse::Refuse(405));
    assert_eq!(parse(b"GET / HTTP/3\r\n\r\n"), Parse::Refuse(505));
    assert_eq!(parse(b"GET /  HTTP/1.1\r\n\r\n"), Parse::Refuse(400));
    assert_eq!(parse(&[b'a'; http::MAX_REQUEST]), Parse::Refuse(431));
    let answer = http::response(503, http::TEXT, "no\n", false);
    assert!(answer.starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"));
    assert!(
        answer.ends_with(b"Content-Length: 3\r\nCache-Control: no-store\r\nConnection: close\r\n\r\nno\n")
    );
}

proptest::proptest! {
    #[test]
    fn parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let _ = Request::parse(&bytes);
        let _ = http::parse(&bytes);
    }
}
