//! Control and observability against the real binary, as PID 1 of a fresh
//! PID namespace and as a subreaper: every client verb over the control
//! socket, the peer check, malformed and oversized requests on both sockets,
//! the HTTP endpoints under 200 concurrent clients, /metrics through
//! Prometheus' own parser, and /readyz turning 503 at the first stop signal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SECOND: Duration = Duration::from_secs(1);

in_both_modes!(
    every_verb_end_to_end,
    bad_requests_are_refused_while_supervision_goes_on,
    http_endpoints_serve_200_concurrent_clients,
    metrics_parse_and_move_after_crashes,
    readyz_turns_503_at_the_first_stop_signal,
    logs_of_a_service_whose_output_is_discarded_is_a_refusal,
    a_stop_that_ends_in_sigkill_says_so,
    start_of_a_periodic_job_waits_for_its_run,
    event_lines_and_status_say_what_is_going_on,
    a_wait_ends_at_its_timeout,
    a_moved_control_socket_is_still_found,
    signal_and_reload_by_name,
    a_disabled_service_waits_for_a_start_by_hand,
    logs_of_every_service_merged_in_time_order,
    replicas_scale_and_answer_to_their_services_name,
    replicas_changed_in_the_file_leave_the_copies_that_stay,
    a_probe_of_readyz_reads_nothing_from_proc,
    a_warden_that_stops_leaves_a_later_wardens_socket,
);

/// Starts warden on `yaml` (with `$SOCK` its control socket).
fn start(mode: Mode, yaml: &str) -> Setup {
    start_with_socket(mode, yaml)
}

/// Starts warden with the control socket and HTTP on a free port; `yaml`
/// is the rest of the config.
fn start_http(mode: Mode, yaml: &str) -> (Setup, u16) {
    let port = free_port();
    let setup = start(mode, &format!("control: $SOCK\nhttp: 127.0.0.1:{port}\n{yaml}"));
    // The HTTP listener is bound just after the control socket: under load a
    // client can come in between.
    assert!(
        wait_until(5 * SECOND, || TcpStream::connect(("127.0.0.1", port)).is_ok()),
        "no HTTP listener: {}",
        setup.warden.stderr()
    );
    (setup, port)
}

fn client(socket: &str, args: &[&str]) -> Output {
    Command::new(warden())
        .args(args)
        .env("WARDEN_CONTROL", socket)
        .env_remove("WARDEN_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The raw answer of the control socket to `request`.
fn raw(socket: &str, request: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(10 * SECOND)).unwrap();
    let _ = stream.write_all(request);
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// (status, body) of a GET.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(10 * SECOND)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    read_response(&mut stream)
}

fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// What `warden logs ... -f` (`follow`) prints while `then` runs, until
/// `until` is in it (at most 5 s).
fn follow_while(socket: &str, follow: &[&str], then: &[&str], until: &str) -> String {
    let mut child = Command::new(warden())
        .args(follow)
        .env("WARDEN_CONTROL", socket)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    hold(Duration::from_millis(200));
    assert!(client(socket, then).status.success(), "{then:?}");
    let mut seen = String::new();
    let mut out = child.stdout.take().unwrap();
    let mut buffer = [0u8; 256];
    let deadline = Instant::now() + 5 * SECOND;
    while !seen.contains(until) && Instant::now() < deadline {
        match out.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buffer[..n])),
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    seen
}

fn pid_in_status(socket: &str, name: &str) -> Option<i32> {
    let out = stdout(&client(socket, &["status", name, "--json"]));
    let start = out.find("\"pid\":")? + 6;
    out[start..].split([',', '}']).next()?.parse().ok()
}

fn every_verb_end_to_end(mode: Mode) {
    let mut s = start(
        mode,
        "control: $SOCK\nservices:\n  web:\n    command: [sh, -c, \"while true; do echo tick; sleep 0.05; done\"]\n  \
         db:\n    command: [sleep, \"1000\"]\n    readiness: { file: $DIR/ready, period: 100ms }\n  \
         job:\n    type: oneshot\n    command: [\"true\"]\n",
    );
    let socket = s.socket.clone();
    s.warden.expect_stderr(5 * SECOND, "web: starting -> running");

    // status: a table, and JSON with the contract's fields.
    let table = client(&socket, &["status"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(text.contains("web") && text.contains("running") && text.contains("db"), "{text}");
    let json = stdout(&client(&socket, &["status", "--json"]));
    for field in [
        "\"name\":\"web\"",
        "\"state\":",
        "\"pid\":",
        "\"restarts\":",
        "\"ready\":",
        "\"uptime_s\":",
        "\"last_exit\":",
    ] {
        assert!(json.contains(field), "{field} missing in {json}");
    }

    // check: db is not ready until its file exists; warden itself is live.
    let not_ready = client(&socket, &["check", "--ready"]);
    assert_eq!(not_ready.status.code(), Some(1), "{}", stdout(&not_ready));
    assert!(stdout(&not_ready).contains("[-]db failed"), "{}", stdout(&not_ready));
    assert_eq!(client(&socket, &["check", "--live"]).status.code(), Some(0));
    assert_eq!(client(&socket, &["check", "web"]).status.code(), Some(0));
    std::fs::write(s.dir.0.join("ready"), "").unwrap();
    assert!(wait_until(5 * SECOND, || client(&socket, &["check"]).status.success()));
    assert_eq!(client(&socket, &["check", "--ready", "db"]).status.code(), Some(0));

    // logs: the last lines, and -f follows new ones.
    let logs = client(&socket, &["logs", "web", "-n", "2"]);
    assert_eq!(stdout(&logs).lines().count(), 2, "{}", stdout(&logs));
    assert!(stdout(&logs).lines().all(|l| l == "tick"), "{}", stdout(&logs));
    let mut follow = Command::new(warden())
        .args(["logs", "web", "-n", "0", "-f"])
        .env("WARDEN_CONTROL", &socket)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    let n = follow.stdout.as_mut().unwrap().read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("tick"), "{:?}", &first[..n]);
    follow.kill().unwrap();
    follow.wait().unwrap();

    // stop: the answer comes when it is down; it stays down, and warden up.
    let before = pid_in_status(&socket, "web").expect("web runs");
    let stop = client(&socket, &["stop", "web"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert_eq!(stdout(&stop).trim(), "web: stopped");
    // It stays down: nothing restarts it within this span.
    hold(Duration::from_millis(300));
    assert!(stdout(&client(&socket, &["status", "web"])).contains("stopped"));
    assert!(s.warden.child.try_wait().unwrap().is_none(), "warden left after a stop by hand");

    // start and restart: answered once running (ready), with a new pid.
    let started = client(&socket, &["start", "web"]);
    assert!(started.status.success(), "{}", stderr(&started));
    assert!(stdout(&started).starts_with("web: running (pid "), "{}", stdout(&started));
    let after = pid_in_status(&socket, "web").unwrap();
    assert_ne!(before, after);
    let db_before = pid_in_status(&socket, "db").unwrap();
    let restarted = client(&socket, &["restart", "db"]);
    assert!(
        stdout(&restarted).starts_with("db: ready (pid "),
        "{} {}",
        stdout(&restarted),
        stderr(&restarted)
    );
    assert_ne!(pid_in_status(&socket, "db").unwrap(), db_before);

    // Errors: an unknown name, a bad config on reload (nothing changes).
    let unknown = client(&socket, &["stop", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no service named \"nope\""), "{}", stderr(&unknown));
    let good = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, good.replace("  job:", "  job:\n    restart: sometimes")).unwrap();
    let bad = client(&socket, &["reload"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).contains("restart"), "{}", stdout(&bad));
    assert_eq!(pid_in_status(&socket, "web"), Some(after), "a bad reload changed nothing");
    // Said in warden's own output too, not only to the client (issue 20).
    s.warden.expect_stderr(5 * SECOND, "warden: reload failed, nothing was changed");

    // reload: the difference applied and reported.
    std::fs::write(&s.config, format!("{good}  extra:\n    command: [sleep, \"1000\"]\n")).unwrap();
    let reload = client(&socket, &["reload"]);
    assert!(reload.status.success(), "{}", stderr(&reload));
    assert!(stdout(&reload).contains("added extra"), "{}", stdout(&reload));
    assert!(wait_until(5 * SECOND, || pid_in_status(&socket, "extra").is_some()));
    assert_eq!(pid_in_status(&socket, "web"), Some(after), "unchanged services keep running");
}

fn bad_requests_are_refused_while_supervision_goes_on(mode: Mode) {
    let (s, port) = start_http(
        mode,
        "services:\n  crasher:\n    command: [sh, -c, \"sleep 0.2; exit 1\"]\n    \
             restart: always\n    min_uptime: 0s\n    backoff: { initial: 10ms, max: 10ms }\n",
    );
    let socket = s.socket.clone();
    // A peer that sends nothing holds a connection until its deadline only.
    let _silent = UnixStream::connect(&socket).unwrap();
    let mut slow_http = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow_http.write_all(b"GET /livez HTTP/1.1\r\n").unwrap();

    for (request, want) in [
        (&b"garbage\n"[..], "error not a warden/1 request"),
        (b"warden/9 status\n", "error protocol warden/9 is not spoken here"),
        (b"warden/1 frobnicate\n", "error unknown verb \"frobnicate\""),
        (b"warden/1 stop\n", "error stop: name at least one service"),
        (b"warden/1 logs -n5 a b\n", "error logs: one service, or none for all"),
        (b"warden/1 status ../etc\n", "error \"../etc\" is not a service name"),
        (b"warden/1 status \xff\n", "error the request is not UTF-8"),
        (b"warden/1 status --frob\n", "error status: unknown option \"--frob\""),
        (b"\n", "error not a warden/1 request"),
        (b"WARDEN/1 status\n", "error not a warden/1 request"),
        (b"warden/1\n", "error the request names no verb"),
        (b"warden/1  status\n", "error the request names no verb"),
        (b"warden/1 start\n", "error start: name at least one service"),
        (b"warden/1 restart --now web\n", "error restart: unknown option \"--now\""),
        (b"warden/1 signal crasher\n", "error signal: name one service and one signal"),
        (b"warden/1 check a b\n", "error check: one service at most"),
        (b"warden/1 logs --since=x\n", "error logs: --since:"),
        (b"warden/1 logs crasher -nX\n", "error logs: unknown option \"-nX\""),
        (b"warden/1 status web\0\n", "error \"web\\0\" is not a service name"),
        (b"warden/1 status \x1b[2J\n", "error \"\\u{1b}[2J\" is not a service name"),
        (b"warden/1 start ghost\n", "error no service named \"ghost\" (services: crasher)"),
        (b"warden/1 logs ghost\n", "error no service named \"ghost\""),
    ] {
        let answer = raw(&socket, request);
        assert!(answer.starts_with(want), "{:?}: {answer:?}", String::from_utf8_lossy(request));
    }
    let oversized = raw(&socket, &vec![b'x'; 6000]);
    assert!(oversized.starts_with("error request longer than 4096 bytes"), "{oversized:?}");

    for (request, status) in [
        ("POST /livez HTTP/1.1\r\n\r\n", 405),
        ("GET /livez SPDY/3\r\n\r\n", 400),
        ("GET /livez HTTP/2.0\r\n\r\n", 505),
        ("GET livez HTTP/1.1\r\n\r\n", 400),
        ("GET /nowhere HTTP/1.1\r\n\r\n", 404),
    ] {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(10 * SECOND)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        assert_eq!(read_response(&mut stream).0, status, "{request:?}");
    }
    let mut huge = TcpStream::connect(("127.0.0.1", port)).unwrap();
    huge.set_read_timeout(Some(10 * SECOND)).unwrap();
    let _ = huge.write_all(format!("GET /livez HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(10_000)).as_bytes());
    let mut answer = Vec::new();
    let _ = huge.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(40)])
    );

    // The slow client gets 408 at its deadline; meanwhile supervision went on.
    slow_http.set_read_timeout(Some(10 * SECOND)).unwrap();
    let begin = Instant::now();
    assert_eq!(read_response(&mut slow_http).0, 408);
    assert!(begin.elapsed() < 6 * SECOND);
    let json = stdout(&client(&socket, &["status", "crasher", "--json"]));
    let restarts: u32 =
        json.split("\"restarts\":").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(restarts >= 5, "supervision stalled: {json}");
    assert_eq!(get(port, "/livez").0, 200);
}

fn http_endpoints_serve_200_concurrent_clients(mode: Mode) {
    let (s, port) = start_http(
        mode,
        "services:\n  web:\n    command: [sleep, \"1000\"]\n  \
             side:\n    command: [sh, -c, \"exit 1\"]\n    restart: never\n    optional: true\n",
    );
    assert!(wait_until(5 * SECOND, || get(port, "/readyz").0 == 200));
    let (status, body) = get(port, "/readyz?verbose");
    assert_eq!(status, 200);
    assert!(body.contains("[+]web ok") && body.contains("readyz check passed"), "{body}");
    assert_eq!(get(port, "/livez").0, 200);
    assert_eq!(get(port, "/healthz").0, 200);
    assert_eq!(get(port, "/startupz").0, 200);
    assert_eq!(get(port, "/livez/web").0, 200);
    assert_eq!(get(port, "/readyz/web").0, 200);
    // `side` fails on its own, maybe only after web is ready: wait for it.
    assert!(wait_until(5 * SECOND, || get(port, "/livez/side").0 == 503), "a failed service is not live");
    assert_eq!(get(port, "/readyz/nope").0, 404);
    let (status, json) = get(port, "/status");
    assert_eq!(status, 200);
    assert!(json.contains("\"services\":[") && json.contains("\"name\":\"side\""), "{json}");

    // 200 clients connected at once, all sending before any is answered.
    let mut streams: Vec<TcpStream> =
        (0..200).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    for (i, stream) in streams.iter_mut().enumerate() {
        let path = ["/livez", "/readyz", "/metrics", "/status"][i % 4];
        stream.set_read_timeout(Some(20 * SECOND)).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    }
    for stream in &mut streams {
        assert_eq!(read_response(stream).0, 200);
    }
    drop(s);
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{line_start} not in metrics"))
}

fn metrics_parse_and_move_after_crashes(mode: Mode) {
    let (s, port) = start_http(
        mode,
        "services:\n  web:\n    command: [sleep, \"1000\"]\n    \
             restart: always\n    backoff: { initial: 10ms, max: 10ms }\n    \
             readiness: { file: $DIR, period: 100ms }\n",
    );
    assert!(wait_until(5 * SECOND, || get(port, "/readyz").0 == 200));
    let (_, before) = get(port, "/metrics");
    // Prometheus' own parser must accept every line.
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n\
             names = [f.name for f in p(sys.stdin.read())]\nprint(len(names))\n",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(before.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(parsed.status.success(), "prometheus parser: {}", stderr(&parsed));
    assert!(stdout(&parsed).trim().parse::<u32>().unwrap() >= 15, "{}", stdout(&parsed));
    for name in [
        "warden_service_up{service=\"web\"} 1",
        "warden_service_ready{service=\"web\"} 1",
        "warden_service_restarts_total{service=\"web\"} 0",
        "warden_service_exits_total{service=\"web\",reason=\"signal\"} 0",
        "warden_log_lines_dropped_total{service=\"web\"} 0",
        "warden_orphans_reaped_total ",
        "process_open_fds ",
        "process_resident_memory_bytes ",
    ] {
        assert!(before.contains(name), "{name} missing:\n{before}");
    }
    assert!(
        metric(&before, "warden_probe_results_total{service=\"web\",probe=\"readiness\",result=\"success\"}")
            >= 1.0
    );
    assert!(metric(&before, "warden_service_start_timestamp_seconds{service=\"web\"}") > 1.7e9);

    // Two crashes by SIGKILL: counters move.
    for round in 1..=2 {
        let pid = pid_in_status(&s.socket, "web").unwrap();
        send(pid_outside(&s.warden, pid), libc::SIGKILL);
        assert!(
            wait_until(5 * SECOND, || {
                let (_, text) = get(port, "/metrics");
                metric(&text, "warden_service_restarts_total{service=\"web\"}") == f64::from(round)
                    && metric(&text, "warden_service_up{service=\"web\"}") == 1.0
            }),
            "restart {round} not counted"
        );
    }
    let (_, after) = get(port, "/metrics");
    assert_eq!(metric(&after, "warden_service_exits_total{service=\"web\",reason=\"signal\"}"), 2.0);
    assert_eq!(metric(&after, "warden_service_last_exit_code{service=\"web\"}"), 137.0);
}

/// A pid from `status` is in warden's namespace; find it outside (PID 1 mode).
fn pid_outside(warden: &Running, inner: i32) -> i32 {
    if warden.mode == Mode::Subreaper {
        return inner;
    }
    for pid in descendants(warden.warden_pid) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap_or_default();
        if nspid.split_whitespace().last() == Some(&inner.to_string()) {
            return pid;
        }
    }
    panic!("pid {inner} not found under warden");
}

fn readyz_turns_503_at_the_first_stop_signal(mode: Mode) {
    let (mut s, port) = start_http(mode, "drain: 2s\nservices:\n  web:\n    command: [sleep, \"1000\"]\n");
    assert!(wait_until(5 * SECOND, || get(port, "/readyz").0 == 200));
    s.warden.signal(libc::SIGTERM);
    assert!(wait_until(SECOND, || get(port, "/readyz").0 == 503), "readyz stayed 200");
    // Draining: services still run, warden's loop still answers.
    assert_eq!(get(port, "/livez").0, 200);
    assert!(get(port, "/readyz?verbose").1.contains("[-]shutdown failed"));
    assert_eq!(s.warden.wait(10 * SECOND), 0);
    assert!(!std::path::Path::new(&s.socket).exists(), "the control socket outlived warden");
}

#[test]
fn non_root_peers_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let s = start(Mode::Subreaper, "control: $SOCK\nservices:\n  web:\n    command: [sleep, \"1000\"]\n");
    let mode = std::fs::metadata(&s.socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the control socket is private");
    // Open the file to everyone: the peer check must still say no.
    std::fs::set_permissions(&s.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let refused = Command::new(warden())
        .args(["stop", "web"])
        .env("WARDEN_CONTROL", &s.socket)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("permission denied: uid 65534"), "{}", stderr(&refused));
    assert!(stdout(&client(&s.socket, &["status", "web"])).contains("running"), "web was touched");
}

#[test]
fn a_socket_that_cannot_be_made_is_one_warning() {
    let dir = Dir::new();
    let config =
        dir.config("control: /nonexistent/dir/w.sock\nservices:\n  web:\n    command: [sleep, \"1000\"]\n");
    let mut launch = Launch::new(Mode::Subreaper, &["-c", &config]);
    launch.command.env_remove("WARDEN_CONTROL");
    let warden = launch.start();
    warden.expect_stderr(5 * SECOND, "web: starting -> running");
    warden.expect_stderr(5 * SECOND, "no control socket at /nonexistent/dir/w.sock");
    let answer = client("/nonexistent/dir/w.sock", &["status"]);
    assert_eq!(answer.status.code(), Some(1));
    assert!(stderr(&answer).contains("no warden answers on /nonexistent/dir/w.sock"), "{}", stderr(&answer));
}

/// `logs: null` (unquoted, as users write it) discards the output: nothing
/// of it reaches warden's stdout, and `warden logs` says why it has nothing
/// and exits 1, with or without -f (it used to read `null` as the default,
/// capture everything, and answer with nothing).
fn logs_of_a_service_whose_output_is_discarded_is_a_refusal(mode: Mode) {
    let mut s = start(
        mode,
        "control: $SOCK\nservices:\n  quiet:\n    command: \"echo secret-line; exec sleep 100\"\n    logs: null\n  \
         loud:\n    command: \"echo loud-line; exec sleep 100\"\n",
    );
    s.warden.expect_line(5 * SECOND, |l| l == "loud | loud-line");
    for args in [&["logs", "quiet"][..], &["logs", "-f", "quiet"][..]] {
        let out = client(&s.socket, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        assert!(stderr(&out).contains("quiet's output is not captured (logs: null)"), "{}", stderr(&out));
    }
    s.warden.signal(libc::SIGTERM);
    assert_eq!(s.warden.wait(10 * SECOND), 0);
    s.warden.rest_of_stdout();
    assert!(!s.warden.seen.iter().any(|l| l.contains("secret-line")), "{:?}", s.warden.seen);
}

/// A service that outlives its stop timeout is SIGKILLed, and every place
/// says so: the event line (text), `warden status --json` (`stop_kills`,
/// `last_exit`) and `warden_service_stop_kills_total`. It used to read
/// `stopping -> stopped: stopped`.
fn a_stop_that_ends_in_sigkill_says_so(mode: Mode) {
    let kit = testkit();
    let (s, port) = start_http(
        mode,
        &format!("services:\n  stubborn:\n    command: [\"{kit}\", ignore-term]\n    stop_timeout: 1s\n"),
    );
    assert!(wait_until(5 * SECOND, || pid_in_status(&s.socket, "stubborn").is_some()));
    let stop = client(&s.socket, &["stop", "stubborn"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    s.warden.expect_stderr(5 * SECOND, "stubborn: stopping -> stopped: did not stop within 1s; sent SIGKILL");
    let json = stdout(&client(&s.socket, &["status", "--json", "stubborn"]));
    assert!(json.contains("\"stop_kills\":1") && json.contains("\"signal\":\"SIGKILL\""), "{json}");
    let (_, metrics) = get(port, "/metrics");
    assert_eq!(metric(&metrics, "warden_service_stop_kills_total{service=\"stubborn\"}"), 1.0);
}

/// `warden start JOB` answers once the run it started is over, as documented
/// ("run, for a periodic job"); it used to answer `running` at once. A start
/// while a run goes waits for that run; a stopped job is not run by its
/// schedule until started again.
fn start_of_a_periodic_job_waits_for_its_run(mode: Mode) {
    let s = start(mode, "control: $SOCK\nservices:\n  job:\n    command: sleep 1.5\n    schedule: 1h\n");
    let began = Instant::now();
    let run = client(&s.socket, &["start", "job"]);
    let took = began.elapsed();
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    assert_eq!(stdout(&run), "job: ran, next run scheduled\n");
    assert!(took >= Duration::from_millis(1400), "answered after {took:?}, before the run was over");
    s.warden.expect_stderr(5 * SECOND, "job: running -> scheduled");

    let stop = client(&s.socket, &["stop", "job"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert_eq!(stdout(&stop), "job: stopped\n");
    let restart = client(&s.socket, &["restart", "job"]);
    assert_eq!(stdout(&restart), "job: ran, next run scheduled\n", "{}", stderr(&restart));
}

/// What users looked for and did not find (issue 20): the pid on a `running
/// -> backoff` line; status saying what a waiting service waits for, its
/// reason in the human table, and the uptime of a service being stopped;
/// warden's own lines stamped with `log_timestamps: true`.
fn event_lines_and_status_say_what_is_going_on(mode: Mode) {
    let kit = testkit();
    let s = start(
        mode,
        &format!(
            "control: $SOCK\nlog_timestamps: true\nservices:\n  crash:\n    command: exit 3\n    backoff: {{ initial: 30s, max: 30s }}\n  \
             db:\n    command: [sleep, \"100\"]\n    notify: true\n  web:\n    command: [sleep, \"100\"]\n    depends_on: {{ db: ready }}\n  \
             stubborn:\n    command: [\"{kit}\", ignore-term]\n    stop_timeout: 30s\n"
        ),
    );
    let stderr = || s.warden.stderr();
    assert!(wait_until(5 * SECOND, || stderr().contains("crash: running -> backoff")), "{}", stderr());
    let backoff = stderr().lines().find(|l| l.contains("crash: running -> backoff")).unwrap().to_string();
    assert!(backoff.contains("(pid "), "{backoff}");
    // Stamped like services' lines: RFC 3339 UTC, then the line.
    let stamp = backoff.split(' ').next().unwrap();
    assert!(stamp.len() >= 20 && stamp.ends_with('Z') && stamp.contains('T'), "{backoff}");
    assert!(backoff.contains(" warden: crash: running -> backoff"), "{backoff}");

    let table = stdout(&client(&s.socket, &["status"]));
    assert!(table.lines().next().unwrap().ends_with("REASON"), "{table}");
    let web = table.lines().find(|l| l.starts_with("web ")).unwrap();
    assert!(web.contains("waiting") && web.ends_with(" for db (ready)"), "{table}");
    if mode == Mode::Pid1 {
        // Small pids: every line within 80 columns.
        assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
    }
    let json = stdout(&client(&s.socket, &["status", "--json", "web"]));
    assert!(json.contains("\"reason\":\"waiting for db (ready)\""), "{json}");
    // -w reaches warden through the command line and the protocol: a reason
    // too long for 80 columns comes whole.
    let long = "a".repeat(40);
    std::fs::write(
        &s.config,
        std::fs::read_to_string(&s.config).unwrap().replace("db:", &format!("{long}:")),
    )
    .unwrap();
    let reload = client(&s.socket, &["reload"]);
    assert!(reload.status.success(), "{}", stdout(&reload));
    let cut = stdout(&client(&s.socket, &["status", "web"]));
    let whole = stdout(&client(&s.socket, &["status", "-w", "web"]));
    assert!(cut.lines().nth(1).unwrap().ends_with('…'), "{cut}");
    assert!(whole.lines().nth(1).unwrap().ends_with(&format!("for {long} (ready)")), "{whole}");

    assert!(wait_until(5 * SECOND, || pid_in_status(&s.socket, "stubborn").is_some()));
    let socket = s.socket.clone();
    let stopping = std::thread::spawn(move || client(&socket, &["stop", "stubborn"]));
    assert!(
        wait_until(5 * SECOND, || stdout(&client(&s.socket, &["status", "stubborn"])).contains("stopping"))
    );
    let row = stdout(&client(&s.socket, &["status", "stubborn"]));
    let row = row.lines().nth(1).unwrap().to_string();
    let uptime = row.split_whitespace().nth(4).unwrap();
    assert_ne!(uptime, "-", "{row}");
    drop(stopping);
}

/// `start`, `stop` and `restart` wait for the outcome for `--timeout` (5
/// minutes when not given), then answer with what is still on the way and
/// exit 1 (issue 20: the wait was always 5 minutes, silently).
fn a_wait_ends_at_its_timeout(mode: Mode) {
    let s =
        start(mode, "control: $SOCK\nservices:\n  never:\n    command: [sleep, \"100\"]\n    notify: true\n");
    assert!(wait_until(5 * SECOND, || pid_in_status(&s.socket, "never").is_some()));
    let began = Instant::now();
    let out = client(&s.socket, &["restart", "--timeout", "1s", "never"]);
    let took = began.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("never: still on the way after 1s; not waiting any longer"),
        "{}",
        stdout(&out)
    );
    assert!(took >= SECOND && took < 5 * SECOND, "answered after {took:?}");
    let bad = client(&s.socket, &["start", "--timeout", "0s", "never"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("start --timeout: \"0s\" is not from 1s to 1h"), "{}", stderr(&bad));
}

/// A reload that changes `control:` (or `http:`) says that it applies at the
/// next start and where warden listens until then; a client reading the
/// edited file (whose path nothing listens on) still finds the running
/// warden, at its abstract socket (issue 20: the reload said "changed none",
/// and clients of the edited file found nobody). The client runs in warden's
/// PID namespace, as one in the same container does.
fn a_moved_control_socket_is_still_found(mode: Mode) {
    // The path comes from the file only (WARDEN_CONTROL would win over it).
    let dir = Dir::new();
    let socket = format!("{}/warden.sock", dir.0.display());
    let config =
        dir.config(&format!("control: {socket}\nservices:\n  web:\n    command: [sleep, \"100\"]\n"));
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.env_remove("WARDEN_CONTROL");
    let running = launch.start();
    let s = Setup { dir, socket, config, warden: running };
    assert!(wait_until(5 * SECOND, || pid_in_status(&s.socket, "web").is_some()), "{}", s.warden.stderr());
    let moved = format!("{}/moved.sock", s.dir.0.display());
    std::fs::write(
        &s.config,
        format!("control: {moved}\nservices:\n  web:\n    command: [sleep, \"100\"]\n"),
    )
    .unwrap();
    let reload = client(&s.socket, &["reload"]);
    let said = stdout(&reload);
    assert!(
        said.contains(&format!("; control apply at the next start (listening at {} until then)", s.socket)),
        "{said}"
    );
    assert!(!std::path::Path::new(&moved).exists());
    // A client that reads the edited file, inside warden's PID namespace.
    let out = Command::new("nsenter")
        .args(["--target", &s.warden.warden_pid.to_string(), "--pid", "--"])
        .arg(warden())
        .args(["status", "-c", &s.config])
        .env_remove("WARDEN_CONTROL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("web"), "{}", stdout(&out));
}

/// `warden signal` reaches a running service's processes (or its program
/// only) and names the pids; `warden reload NAME` sends a service its
/// `reload_signal` and restarts one without; refusals disturb nothing.
fn signal_and_reload_by_name(mode: Mode) {
    let mut s = start(
        mode,
        "control: $SOCK\nservices:\n  web:\n    command: [\"$KIT\", signals, --tag, web]\n    reload_signal: HUP\n  \
         worker:\n    command: \"sleep 100 & sleep 101\"\n  once:\n    type: oneshot\n    command: [\"true\"]\n",
    );
    s.warden.expect("web | web ready");
    s.warden.expect_stderr(5 * SECOND, "worker: starting -> running");
    let out = client(&s.socket, &["signal", "web", "USR1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("web: sent SIGUSR1 to pid "), "{}", stdout(&out));
    s.warden.expect("web | web SIGUSR1");
    s.warden.expect_stderr(5 * SECOND, "web: sent SIGUSR1 by hand");
    // The whole group (the shell and its two sleeps), or the program only.
    let group = stdout(&client(&s.socket, &["signal", "worker", "CONT"]));
    assert!(
        group.starts_with("worker: sent SIGCONT to pids ") && group.split_whitespace().count() >= 7,
        "{group}"
    );
    let main = stdout(&client(&s.socket, &["signal", "--main-pid", "worker", "18"]));
    assert!(
        main.starts_with("worker: sent SIGCONT to pid ") && main.split_whitespace().count() == 6,
        "{main}"
    );
    // reload NAME: the signal, not a restart.
    let out = client(&s.socket, &["reload", "web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("web: sent SIGHUP to pid"), "{}", stdout(&out));
    s.warden.expect("web | web SIGHUP");
    // Without a reload_signal: a restart, answered once it is back.
    let out = client(&s.socket, &["reload", "worker"]);
    assert!(out.status.success(), "{}", stderr(&out));
    s.warden.expect_stderr(5 * SECOND, "worker: stopping -> starting: restart");
    // Refusals: a service that is not running, an unknown one, a bad signal.
    s.warden.expect_stderr(5 * SECOND, "once: running -> exited");
    let out = client(&s.socket, &["signal", "once", "USR1"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("once is not running (exited): there is nothing to signal"),
        "{}",
        stderr(&out)
    );
    let out = client(&s.socket, &["signal", "nosuch", "USR1"]);
    assert!(stderr(&out).contains("no service named \"nosuch\""), "{}", stderr(&out));
    let out = client(&s.socket, &["signal", "web", "NOPE"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown signal \"NOPE\""), "{}", stderr(&out));
    let table = stdout(&client(&s.socket, &["status", "web"]));
    assert!(table.contains("running") && !s.warden.stderr().contains("web: running ->"), "{table}");
    s.warden.signal(libc::SIGTERM);
    assert_eq!(s.warden.wait(10 * SECOND), 0);
}

#[test]
fn graph_prints_the_dependencies_of_a_config() {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  db:\n    command: [x]\n  web:\n    command: [y]\n    depends_on: {db: ready}\n",
    );
    let out = Command::new(warden()).args(["graph", "-c", &config]).output().unwrap();
    assert!(out.status.success());
    let dot = stdout(&out);
    assert!(
        dot.starts_with("digraph warden {") && dot.contains("\"db\" -> \"web\" [label=\"ready\"];"),
        "{dot}"
    );
    let out = Command::new(warden()).args(["graph", "--mermaid", "-c", &config]).output().unwrap();
    assert!(stdout(&out).contains("s0 -->|ready| s1"), "{}", stdout(&out));
    let bad = dir.config("services:\n  web:\n    command: [y]\n    depends_on: [nosuch]\n");
    let out = Command::new(warden()).args(["graph", "-c", &bad]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no service \"nosuch\""), "{}", stderr(&out));
}

/// `enabled: false` (through `${VAR:-false}`): not started, shown as
/// disabled, not waited for; `warden start` starts it for this run; a reload
/// that disables a running service stops it.
fn a_disabled_service_waits_for_a_start_by_hand(mode: Mode) {
    let yaml = "control: $SOCK\nservices:\n  cron:\n    command: [sleep, \"100\"]\n    enabled: ${WARDEN_TEST_WITH_CRON:-false}\n    \
                optional: true\n  web:\n    command: [sleep, \"101\"]\n    depends_on: {cron: ready}\n";
    let mut s = start(mode, yaml);
    s.warden.expect_stderr(5 * SECOND, "web: starting -> running");
    let table = stdout(&client(&s.socket, &["status"]));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("cron") && l.contains("disabled") && l.contains("enabled: false")),
        "{table}"
    );
    assert!(!s.warden.stderr().contains("cron: waiting -> starting"), "{}", s.warden.stderr());
    // Not waited for by /readyz either: warden is ready.
    assert!(client(&s.socket, &["check", "--ready"]).status.success());
    let out = client(&s.socket, &["start", "cron"]);
    assert!(out.status.success(), "{}", stderr(&out));
    s.warden.expect_stderr(5 * SECOND, "cron: stopped -> starting: start");
    let table = stdout(&client(&s.socket, &["status", "cron"]));
    assert!(table.contains("running"), "{table}");
    // A reload that disables web stops it, and it stays stopped.
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        config.replace(
            "    depends_on: {cron: ready}\n",
            "    depends_on: {cron: ready}\n    enabled: false\n    optional: true\n",
        ),
    )
    .unwrap();
    let out = client(&s.socket, &["reload"]);
    assert!(out.status.success(), "{}", stderr(&out));
    s.warden.expect_stderr(5 * SECOND, "web: stopping -> stopped");
    let table = stdout(&client(&s.socket, &["status", "web"]));
    assert!(table.contains("disabled"), "{table}");
    s.warden.signal(libc::SIGTERM);
    assert_eq!(s.warden.wait(10 * SECOND), 0);
}

/// `warden logs` without a name: every service's kept lines merged in the
/// order they were read, labelled; `-n` and `--since` bound them; `-f`
/// follows every service.
fn logs_of_every_service_merged_in_time_order(mode: Mode) {
    let mut s = start(
        mode,
        "control: $SOCK\nservices:\n  a:\n    command: \"echo a1; sleep 0.3; echo a2; sleep 100\"\n  \
         b:\n    command: \"sleep 0.15; echo b1; sleep 0.3; echo b2; sleep 100\"\n",
    );
    s.warden.expect_all(5 * SECOND, &["a | a1", "b | b1", "a | a2", "b | b2"]);
    let all = stdout(&client(&s.socket, &["logs"]));
    assert_eq!(all, "a | a1\nb | b1\na | a2\nb | b2\n");
    assert_eq!(stdout(&client(&s.socket, &["logs", "-n", "2"])), "a | a2\nb | b2\n");
    assert_eq!(stdout(&client(&s.socket, &["logs", "--since", "1h"])), all);
    assert_eq!(stdout(&client(&s.socket, &["logs", "a", "--since", "1h"])), "a1\na2\n");
    // Follows from now: a restart of b says b1 again, labelled.
    let seen = follow_while(&s.socket, &["logs", "-n", "0", "-f"], &["restart", "b"], "b | b1\n");
    assert!(seen.starts_with("b | b1\n"), "{seen:?}");
    let out = client(&s.socket, &["logs", "a", "b"]);
    assert_eq!(out.status.code(), Some(2));
    s.warden.signal(libc::SIGTERM);
    assert_eq!(s.warden.wait(10 * SECOND), 0);
}

/// `replicas: 2`: copies with their own WARDEN_INSTANCE; a dependent waits
/// for every copy (or with `instances: any` for one); the file's name acts
/// on every copy; `warden scale` adds and removes copies without touching
/// the rest, and a reload goes back to the file's count.
fn replicas_scale_and_answer_to_their_services_name(mode: Mode) {
    let yaml = "control: $SOCK\nservices:\n  web:\n    command: \"echo copy ${WARDEN_INSTANCE} of $WARDEN_REPLICAS; exec sleep 100\"\n    \
                replicas: 2\n    readiness: { file: \"$DIR/ready-${WARDEN_INSTANCE}\", period: 100ms }\n  \
                proxy:\n    command: [sleep, \"101\"]\n    depends_on: { web: ready }\n  \
                first:\n    command: [sleep, \"102\"]\n    depends_on: { web: { condition: ready, instances: any } }\n  \
                init:\n    type: oneshot\n    command: [\"true\"]\n";
    let mut s = start(mode, yaml);
    s.warden.expect_all(5 * SECOND, &["web-0 | copy 0 of 2", "web-1 | copy 1 of 2"]);
    let waiting = stdout(&client(&s.socket, &["status", "proxy"]));
    assert!(waiting.contains("waiting") && waiting.contains("for web (ready)"), "{waiting}");
    std::fs::write(s.dir.0.join("ready-1"), "").unwrap();
    s.warden.expect_stderr(5 * SECOND, "first: waiting -> starting");
    assert!(!s.warden.stderr().contains("proxy: waiting -> starting"), "{}", s.warden.stderr());
    std::fs::write(s.dir.0.join("ready-0"), "").unwrap();
    s.warden.expect_stderr(5 * SECOND, "proxy: waiting -> starting");
    let table = stdout(&client(&s.socket, &["status"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].starts_with("web ") && lines[1].contains("2/2 ready"), "{table}");
    assert!(lines[2].starts_with("  web-0  ● ready") && lines[3].starts_with("  web-1  ● ready"), "{table}");
    let json = stdout(&client(&s.socket, &["status", "web", "--json"]));
    assert_eq!(json.matches("\"group\":\"web\"").count(), 2, "{json}");
    assert!(client(&s.socket, &["check", "--ready", "web"]).status.success());
    // Scale up: one copy more, with its own number; nothing else moves.
    let out = client(&s.socket, &["scale", "web", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "scaled web from 2 to 3: added web-2; removed none; changed none; 5 unchanged\n"
    );
    s.warden.expect("web-2 | copy 2 of 3");
    assert!(!client(&s.socket, &["check", "--ready", "web"]).status.success());
    // Scale down: the highest copies stop.
    let out = client(&s.socket, &["scale", "web", "1"]);
    assert_eq!(
        stdout(&out),
        "scaled web from 3 to 1: added none; removed web-1, web-2; changed none; 4 unchanged\n"
    );
    s.warden.expect_stderr(5 * SECOND, "web-2: stopping -> stopped");
    assert!(!s.warden.stderr().contains("proxy: running ->"), "{}", s.warden.stderr());
    // The file's name: every copy; a copy's name: that one.
    assert_eq!(stdout(&client(&s.socket, &["logs", "web"])), "web-0 | copy 0 of 2\n");
    // Following the file's name: every copy's new lines, labelled.
    let seen = follow_while(
        &s.socket,
        &["logs", "-n", "0", "-f", "web"],
        &["restart", "web-0"],
        "web-0 | copy 0 of 2\n",
    );
    assert_eq!(seen, "web-0 | copy 0 of 2\n");
    let signalled = stdout(&client(&s.socket, &["signal", "web", "CONT"]));
    assert!(signalled.starts_with("web-0: sent SIGCONT to pid"), "{signalled}");
    let out = client(&s.socket, &["stop", "web"]);
    assert_eq!(stdout(&out), "web-0: stopped\n");
    assert!(client(&s.socket, &["start", "web-0"]).status.success());
    // Refusals change nothing.
    for (args, why) in [
        (
            &["scale", "proxy", "2"][..],
            "not scaled: proxy runs one copy (no replicas: in the file): add replicas: 1 to scale it",
        ),
        (&["scale", "init", "2"][..], "not scaled: init is a oneshot: only a longrun service runs copies"),
        (
            &["scale", "nosuch", "2"][..],
            "not scaled: no replicated service named \"nosuch\" (replicated: web)",
        ),
        (&["scale", "web", "0"][..], "scale: \"0\" is not a count from 1 to 100"),
        (&["scale", "web", "101"][..], "scale: \"101\" is not a count from 1 to 100"),
    ] {
        let out = client(&s.socket, args);
        assert!(!out.status.success() && stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
    }
    // A reload goes back to the file's count.
    let out = client(&s.socket, &["reload"]);
    assert!(
        stdout(&out).contains("added web-1; removed none; changed none; 4 unchanged"),
        "{}",
        stdout(&out)
    );
    s.warden.expect("web-1 | copy 1 of 2");
    s.warden.signal(libc::SIGTERM);
    assert_eq!(s.warden.wait(10 * SECOND), 0);
}

/// `replicas:` edited in the file and reloaded: copies start or stop, and
/// the copies that stay run on (as with `warden scale`), though they were
/// read with another `WARDEN_REPLICAS`; a copy whose command reads the count
/// restarts. Every copy restarting at once would take the service down.
fn replicas_changed_in_the_file_leave_the_copies_that_stay(mode: Mode) {
    let yaml = "control: $SOCK\nservices:\n  web:\n    command: [sleep, \"100${WARDEN_INSTANCE}\"]\n    replicas: 2\n  \
                shard:\n    command: \"echo shard ${WARDEN_INSTANCE} of ${WARDEN_REPLICAS}; exec sleep 100\"\n    replicas: 1\n";
    let mut s = start(mode, yaml);
    s.warden.expect_stderr(5 * SECOND, "web-1: starting -> running");
    s.warden.expect("shard-0 | shard 0 of 1");
    let pids = |s: &Setup, names: [&str; 3]| {
        let json = stdout(&client(&s.socket, &["status", "--json"]));
        names.map(|name| {
            let at = json.find(&format!("\"name\":\"{name}\"")).unwrap_or_else(|| panic!("{name}: {json}"));
            let rest = &json[at..];
            let pid = &rest[rest.find("\"pid\":").unwrap() + 6..];
            pid[..pid.find(',').unwrap()].to_string()
        })
    };
    let before = pids(&s, ["web-0", "web-1", "shard-0"]);
    let good = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        good.replace("replicas: 2", "replicas: 3").replace("replicas: 1", "replicas: 2"),
    )
    .unwrap();
    let out = client(&s.socket, &["reload"]);
    assert_eq!(
        stdout(&out),
        format!("reloaded {}: added web-2, shard-1; removed none; changed shard-0; 2 unchanged\n", s.config)
    );
    s.warden.expect_stderr(5 * SECOND, "web-2: starting -> running");
    s.warden.expect_all(5 * SECOND, &["shard-0 | shard 0 of 2", "shard-1 | shard 1 of 2"]);
    let after = pids(&s, ["web-0", "web-1", "shard-0"]);
    assert_eq!(after[..2], before[..2], "web-0 and web-1 run on");
    assert_ne!(after[2], before[2], "shard-0 reads the count: it restarted");
    std::fs::write(&s.config, good.replace("replicas: 2", "replicas: 1")).unwrap();
    let out = client(&s.socket, &["reload"]);
    assert!(
        stdout(&out).contains("added none; removed web-1, web-2, shard-1; changed shard-0; 1 unchanged"),
        "{}",
        stdout(&out)
    );
    s.warden.expect_stderr(5 * SECOND, "web-2: stopping -> stopped");
    assert_eq!(pids(&s, ["web-0", "web-0", "shard-0"])[0], before[0], "web-0 runs on");
    s.warden.signal(libc::SIGTERM);
    assert_eq!(s.warden.wait(10 * SECOND), 0);
}

/// A readiness or liveness probe (Kubernetes asks every few seconds) is
/// answered from what warden knows: no walk of /proc for what services use,
/// which only /metrics and /status print.
fn a_probe_of_readyz_reads_nothing_from_proc(mode: Mode) {
    let (s, port) = start_http(
        mode,
        "services:\n  web:\n    command: [sleep, \"1000\"]\n  db:\n    command: [sleep, \"1001\"]\n",
    );
    assert!(wait_until(5 * SECOND, || get(port, "/readyz").0 == 200), "{}", s.warden.stderr());
    let pid = s.warden.warden_pid;
    let before = read_calls(pid);
    for path in ["/readyz", "/readyz?verbose", "/livez", "/readyz/web", "/startupz"] {
        for _ in 0..4 {
            assert_eq!(get(port, path).0, 200, "{path}");
        }
    }
    let probes = read_calls(pid) - before;
    // Before, each of these 20 answers read /proc/self/stat, /proc/stat,
    // /proc/self/limits and every process's stat: hundreds of reads.
    assert!(probes < 20, "20 probes made warden read {probes} times");
    // The count does see them where they belong.
    let before = read_calls(pid);
    let (code, body) = get(port, "/metrics");
    assert_eq!(code, 200);
    assert!(body.contains("warden_service_memory_bytes{service=\"web\"}"), "{body}");
    assert!(read_calls(pid) - before >= 3, "/metrics read nothing from /proc");
}

/// A warden removes its control socket when it stops, but not a socket a
/// later warden bound at the same path after the first one's file was
/// removed (a shared /run, a socket path cleaned by hand): that warden would
/// be left unreachable.
fn a_warden_that_stops_leaves_a_later_wardens_socket(mode: Mode) {
    let yaml = "control: $SOCK\nservices:\n  a:\n    command: [sleep, \"1000\"]\n";
    let mut first = start(mode, yaml);
    std::fs::remove_file(&first.socket).unwrap();
    let mut launch = Launch::new(mode, &["-c", &first.config]);
    launch.command.env("WARDEN_CONTROL", &first.socket);
    let mut second = launch.start();
    assert!(
        wait_until(5 * SECOND, || client(&first.socket, &["check"]).status.success()),
        "the second warden never answered: {}",
        second.stderr()
    );
    first.warden.signal(libc::SIGTERM);
    assert_eq!(first.warden.wait(10 * SECOND), 0);
    let out = client(&first.socket, &["status", "a"]);
    assert!(out.status.success(), "the second warden lost its socket: {}", stderr(&out));
    second.signal(libc::SIGTERM);
    assert_eq!(second.wait(10 * SECOND), 0);
    assert!(!std::path::Path::new(&first.socket).exists(), "the second warden left its socket");
}
