//! The watchdog, run as real PID 1 of a fresh PID namespace and as a subreaper:
//! liveness, startup and readiness probes (HTTP, TCP, exec, file), readiness
//! gates, sd_notify READY/WATCHDOG, notification fds, warden's own READY=1
//! to an outer service manager, and the patience that prevents restart storms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks)]

mod common;

use std::time::{Duration, Instant};

use common::*;

const SECOND: Duration = Duration::from_secs(1);

in_both_modes!(
    liveness_restarts_a_hung_service_after_its_threshold,
    slow_starter_survives_its_startup_window,
    readiness_flapping_never_restarts,
    hanging_exec_probe_is_killed_at_its_timeout,
    dependents_and_main_program_wait_for_readiness,
    notify_ready_and_notification_fd_gate_dependents,
    missing_watchdog_pings_restart,
    outer_ready_is_sent_exactly_once,
    seed_scenario_gives_up_without_a_storm,
    churning_checks_leak_no_descriptors,
    reloading_stopping_and_watchdog_trigger_notices,
    a_file_probe_on_a_hung_mount_holds_up_nothing,
    http_probes_close_without_resetting_the_connection,
    readiness_and_startup_from_a_log_line,
    a_frozen_container_restarts_nothing_once_thawed,
);

fn start(mode: Mode, config: &str) -> Running {
    Launch::new(mode, &["-c", config]).start()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Waits for `text` on stderr; returns when it was seen.
fn seen_at(warden: &Running, timeout: Duration, text: &str) -> Instant {
    warden.expect_stderr(timeout, text);
    Instant::now()
}

fn liveness_restarts_a_hung_service_after_its_threshold(mode: Mode) {
    let dir = Dir::new();
    let port = free_port();
    let config = dir.config(&format!(
        "services:\n  web:\n    command: [\"$KIT\", http-serve, \"{port}\", \"$DIR\"]\n    \
         min_uptime: 100ms\n    backoff: {{ initial: 100ms, max: 1s }}\n    \
         liveness: {{ http: \"http://127.0.0.1:{port}/health\", period: 200ms, timeout: 100ms, failure_threshold: 3 }}\n"
    ));
    let warden = start(mode, &config);
    warden.expect_stderr(5 * SECOND, "web: starting -> running");
    // Healthy for a while: no restart however long it runs.
    hold(Duration::from_millis(800));
    assert!(!warden.stderr().contains("unhealthy"), "{}", warden.stderr());
    std::fs::write(dir.0.join("hang"), "").unwrap();
    let hung = Instant::now();
    let caught = seen_at(
        &warden,
        5 * SECOND,
        "web: running -> unhealthy: liveness probe failed 3 times in a row: timed out after 100ms",
    );
    std::fs::remove_file(dir.0.join("hang")).unwrap();
    // Three probes, 200ms apart, each given 100ms: about 0.5s, and never sooner.
    let took = caught - hung;
    assert!(took >= Duration::from_millis(400), "restarted too early: {took:?}");
    assert!(took <= Duration::from_millis(1500), "restarted too late: {took:?}");
    warden.expect_stderr(5 * SECOND, "web: unhealthy -> backoff: liveness: killed by SIGTERM");
    warden.expect_stderr(5 * SECOND, "web: backoff -> starting: backoff over");
    assert!(wait_until(5 * SECOND, || count(&warden.stderr(), "starting -> running") == 2));
    warden.signal(libc::SIGTERM);
}

fn slow_starter_survives_its_startup_window(mode: Mode) {
    let dir = Dir::new();
    let port = free_port();
    let closed = free_port();
    let config = dir.config(&format!(
        "services:\n  slow:\n    command: \"sleep 1; exec $KIT http-serve {port} $DIR\"\n    \
         startup: {{ http: {port}, period: 100ms, failure_threshold: 20 }}\n    \
         liveness: {{ http: {port}, period: 100ms, failure_threshold: 1 }}\n  \
         never:\n    command: [sleep, \"100\"]\n    restart: never\n    \
         startup: {{ tcp: {closed}, period: 100ms, failure_threshold: 3 }}\n"
    ));
    let warden = start(mode, &config);
    let started = seen_at(&warden, 5 * SECOND, "slow: starting -> running");
    let ready = seen_at(&warden, 5 * SECOND, "slow: running -> ready: startup probe passed");
    assert!(ready - started >= Duration::from_millis(900), "ready after {:?}", ready - started);
    // A liveness probe that would kill on the first failure never ran before the startup passed.
    hold(Duration::from_millis(500));
    assert!(!warden.stderr().contains("slow: running -> unhealthy"), "{}", warden.stderr());
    // A starter that never answers is stopped once its window is spent.
    warden.expect_stderr(
        5 * SECOND,
        "never: running -> unhealthy: startup probe failed 3 times in a row: cannot connect",
    );
    warden
        .expect_stderr(5 * SECOND, "never: unhealthy -> failed: startup: killed by SIGTERM; restart: never");
    warden.signal(libc::SIGTERM);
}

fn readiness_flapping_never_restarts(mode: Mode) {
    let dir = Dir::new();
    let port = free_port();
    let config = dir.config(&format!(
        "services:\n  web:\n    command: [\"$KIT\", http-serve, \"{port}\", \"$DIR\"]\n    \
         readiness: {{ http: \"http://localhost:{port}/ready\", period: 50ms, failure_threshold: 1 }}\n"
    ));
    let warden = start(mode, &config);
    for round in 1..=3 {
        warden.expect_stderr(5 * SECOND, "web: running -> ready: readiness probe passed");
        wait_until(5 * SECOND, || count(&warden.stderr(), "web: running -> ready") == round);
        std::fs::write(dir.0.join("fail"), "").unwrap();
        assert!(
            wait_until(5 * SECOND, || count(&warden.stderr(), "web: ready -> running") == round),
            "{}",
            warden.stderr()
        );
        std::fs::remove_file(dir.0.join("fail")).unwrap();
    }
    wait_until(5 * SECOND, || count(&warden.stderr(), "web: running -> ready") == 4);
    let err = warden.stderr();
    assert!(
        err.contains("web: ready -> running: readiness probe failed 1 times in a row: HTTP status 503"),
        "{err}"
    );
    assert!(!err.contains("unhealthy") && !err.contains("backoff"), "{err}");
    assert_eq!(count(&err, "starting -> running"), 1, "{err}");
    warden.signal(libc::SIGTERM);
}

fn hanging_exec_probe_is_killed_at_its_timeout(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  stuck:\n    command: [sleep, \"100\"]\n    restart: never\n    \
         liveness: { exec: [sleep, \"1000\"], period: 300ms, timeout: 200ms, failure_threshold: 3 }\n  \
         other:\n    command: [sleep, \"100\"]\n    \
         readiness: { file: \"$DIR/other-ready\", period: 50ms }\n",
    );
    let warden = start(mode, &config);
    warden.expect_stderr(5 * SECOND, "stuck: starting -> running");
    // While stuck's probe hangs, other's probes go on at their own pace.
    std::fs::write(dir.0.join("other-ready"), "").unwrap();
    let written = Instant::now();
    let ready = seen_at(&warden, 2 * SECOND, "other: running -> ready: readiness probe passed");
    assert!(ready - written < Duration::from_millis(500), "{:?}", ready - written);
    // At most one probe process at a time: each is killed at its timeout.
    let mut most = 0;
    let deadline = Instant::now() + SECOND;
    while Instant::now() < deadline && !warden.stderr().contains("stuck: running -> unhealthy") {
        let probes = descendants(warden.warden_pid)
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default()
                    == "sleep\x001000\x00"
            })
            .count();
        most = most.max(probes);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(most <= 1, "{most} probes ran at once");
    assert!(most == 1, "never saw the probe running: the check above proved nothing");
    warden.expect_stderr(
        5 * SECOND,
        "stuck: running -> unhealthy: liveness probe failed 3 times in a row: timed out after 200ms",
    );
    warden.expect_stderr(5 * SECOND, "stuck: unhealthy -> failed");
    assert!(!warden.stderr().contains("other: ready -> "), "{}", warden.stderr());
    warden.signal(libc::SIGTERM);
}

fn dependents_and_main_program_wait_for_readiness(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  db:\n    command: [sleep, \"100\"]\n    \
         readiness: { file: \"$DIR/db-ready\", period: 50ms }\n  \
         web:\n    command: [sleep, \"100\"]\n    depends_on: { db: ready }\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config, "--", "echo", "main ran"]).start();
    warden.expect_stderr(5 * SECOND, "db: starting -> running");
    // Nothing that waits for db's readiness starts meanwhile.
    hold(Duration::from_millis(500));
    let err = warden.stderr();
    assert!(!err.contains("web: waiting -> starting") && !err.contains("(main): waiting"), "{err}");
    std::fs::write(dir.0.join("db-ready"), "").unwrap();
    warden.expect("main ran");
    assert_eq!(warden.wait(10 * SECOND), 0);
    let err = warden.stderr();
    let ready = err.find("db: running -> ready: readiness probe passed").unwrap();
    let web = err.find("web: waiting -> starting").unwrap();
    let main = err.find("(main): waiting -> starting").unwrap();
    assert!(ready < web && ready < main, "{err}");
}

fn notify_ready_and_notification_fd_gate_dependents(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  db:\n    command: [\"$KIT\", notify, \"sleep:300\", \"send:STATUS=warming up\", \
         \"sleep:200\", \"send:READY=1;STATUS=accepting\"]\n    notify: true\n  \
         cache:\n    command: \"sleep 0.3; echo >&5; exec sleep 100\"\n    notify_fd: 5\n  \
         web:\n    command: [sleep, \"100\"]\n    depends_on: { db: ready, cache: ready }\n",
    );
    let mut warden = start(mode, &config);
    let socket = warden.expect_line(5 * SECOND, |l| l.starts_with("db | NOTIFY_SOCKET="));
    assert!(socket.starts_with("db | NOTIFY_SOCKET=@warden/"), "{socket}");
    warden.expect_stderr(5 * SECOND, "cache: running -> ready: ready (notification fd)");
    // web also waits for db, which is not ready yet: it does not start meanwhile.
    hold(Duration::from_millis(100));
    assert!(!warden.stderr().contains("web: waiting -> starting"), "{}", warden.stderr());
    warden.expect_stderr(5 * SECOND, "db: running -> ready: READY=1");
    warden.expect_stderr(5 * SECOND, "web: waiting -> starting");
    let err = warden.stderr();
    assert!(err.find("db: running -> ready").unwrap() < err.find("web: waiting -> starting").unwrap());
    warden.signal(libc::SIGTERM);
}

fn missing_watchdog_pings_restart(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  app:\n    command: [\"$KIT\", notify, \"send:READY=1\", \"ping:100:8\"]\n    \
         notify: true\n    watchdog: 400ms\n    restart: never\n",
    );
    let mut warden = start(mode, &config);
    warden.expect("app | WATCHDOG_USEC=400000");
    let started = seen_at(&warden, 5 * SECOND, "app: running -> ready: READY=1");
    // Pings for 0.8s keep it alive; then silence for 0.4s means hung.
    let hung = seen_at(&warden, 5 * SECOND, "app: ready -> unhealthy: watchdog: no WATCHDOG=1 for 400ms");
    let took = hung - started;
    assert!(took >= Duration::from_millis(1000), "restarted while pinging: {took:?}");
    assert!(took <= Duration::from_millis(2500), "{took:?}");
    // It exits 0 on SIGTERM, but a watchdog stop is a failure: restart: never gives up.
    warden
        .expect_stderr(5 * SECOND, "app: unhealthy -> failed: watchdog: exited with code 0; restart: never");
    assert_eq!(warden.wait(10 * SECOND), 1, "nothing left to run, one service failed");
}

fn outer_ready_is_sent_exactly_once(mode: Mode) {
    use std::os::unix::net::UnixDatagram;
    let dir = Dir::new();
    let socket_path = dir.0.join("manager.sock");
    let manager = UnixDatagram::bind(&socket_path).unwrap();
    manager.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let port = free_port();
    let config = dir.config(&format!(
        "services:\n  web:\n    command: [\"$KIT\", http-serve, \"{port}\", \"$DIR\"]\n    \
         readiness: {{ http: {port}, period: 50ms, failure_threshold: 1 }}\n  \
         env:\n    command: [\"$KIT\", env]\n    type: oneshot\n"
    ));
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.env("NOTIFY_SOCKET", &socket_path).env("WATCHDOG_USEC", "200000");
    let mut warden = launch.start();
    let mut messages = Vec::new();
    let receive = |messages: &mut Vec<String>| {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = manager.recv(&mut buffer) {
            messages.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    };
    warden.expect_stderr(5 * SECOND, "web: running -> ready");
    // Readiness lost and regained: no second READY=1.
    std::fs::write(dir.0.join("fail"), "").unwrap();
    warden.expect_stderr(5 * SECOND, "web: ready -> running");
    std::fs::remove_file(dir.0.join("fail")).unwrap();
    assert!(wait_until(5 * SECOND, || count(&warden.stderr(), "web: running -> ready") == 2));
    // Long enough for a few of warden's own WATCHDOG=1 pings.
    hold(Duration::from_millis(500));
    receive(&mut messages);
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
    receive(&mut messages);
    let ready: Vec<&String> = messages.iter().filter(|m| m.contains("READY=1")).collect();
    assert_eq!(ready.len(), 1, "{messages:?}");
    assert!(ready[0].starts_with("READY=1\nSTATUS=2 services ready"), "{messages:?}");
    // STOPPING=1 comes last, but for the pings that go on while the shutdown
    // lasts (the service manager's watchdog holds until warden exits).
    let stopping = messages.iter().position(|m| m.starts_with("STOPPING=1\n")).expect("STOPPING=1 sent");
    assert!(messages[stopping + 1..].iter().all(|m| m == "WATCHDOG=1"), "{messages:?}");
    // WATCHDOG_USEC=200ms: warden pinged about every 100ms while it ran.
    assert!(count(&messages.join("\n"), "WATCHDOG=1") >= 3, "{messages:?}");
    // The services never saw warden's own socket.
    let env: Vec<String> = warden
        .rest_of_stdout()
        .iter()
        .filter_map(|l| l.strip_prefix("env | "))
        .map(|l| String::from_utf8_lossy(&unhex(l)).into_owned())
        .collect();
    assert!(env.iter().any(|v| v.starts_with("PATH=")), "{env:?}");
    assert!(!env.iter().any(|v| v.starts_with("NOTIFY_SOCKET=") || v.starts_with("WATCHDOG_")), "{env:?}");
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2).filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()).collect()
}

/// The seeds' storm, shrunk 100×: liveness failing after 3 × 100ms, min uptime
/// 100ms, backoff 10ms → 600ms ×2, at most 10 restarts within 6s, then failed.
fn seed_scenario_gives_up_without_a_storm(mode: Mode) {
    let dir = Dir::new();
    let closed = free_port();
    let config = dir.config(&format!(
        "services:\n  web:\n    command: [sleep, \"100\"]\n    restart: always\n    \
         max_restarts: 10\n    restart_window: 6s\n    min_uptime: 100ms\n    \
         backoff: {{ initial: 10ms, max: 600ms, multiplier: 2, jitter: 0% }}\n    \
         liveness: {{ tcp: {closed}, period: 100ms, failure_threshold: 3 }}\n"
    ));
    let mut warden = start(mode, &config);
    warden.expect_stderr(
        20 * SECOND,
        "web: unhealthy -> failed: liveness: killed by SIGTERM; 10 restarts within 6s used up",
    );
    let err = warden.stderr();
    assert_eq!(count(&err, "web: running -> unhealthy: liveness probe failed 3 times in a row"), 11, "{err}");
    assert_eq!(count(&err, "web: unhealthy -> backoff"), 10, "{err}");
    assert_eq!(count(&err, "starting -> running"), 11, "{err}");
    assert_eq!(warden.wait(10 * SECOND), 1);
}

/// Services that restart fast, each run with a notification pipe, probe
/// sockets or exec probes killed at their timeout: once they have all failed
/// for good, warden holds no pipe and only the one notification socket.
fn churning_checks_leak_no_descriptors(mode: Mode) {
    let dir = Dir::new();
    let closed = free_port();
    let common = "    restart: always\n    max_restarts: 15\n    restart_window: 1m\n    min_uptime: 0s\n    \
                  backoff: { initial: 10ms, max: 10ms, jitter: 0% }\n";
    let config = dir.config(&format!(
        "services:\n  keeper:\n    command: [sleep, \"100\"]\n    logs: inherit\n  piped:\n    command: \"echo >&3; sleep 0.02; exit 1\"\n    notify_fd: 3\n{common}  \
         notified:\n    command: [\"$KIT\", notify, \"send:READY=1\"]\n    notify: true\n{common}    \
         liveness: {{ tcp: {closed}, period: 20ms, failure_threshold: 1 }}\n  \
         probed:\n    command: [sleep, \"100\"]\n{common}    \
         readiness: {{ exec: [sleep, \"1\"], period: 20ms, timeout: 20ms }}\n    \
         liveness: {{ http: {closed}, period: 30ms, failure_threshold: 2 }}\n"
    ));
    let warden = start(mode, &config);
    let all_failed = || {
        let err = warden.stderr();
        ["piped", "notified", "probed"].iter().all(|name| {
            err.lines().any(|l| l.starts_with(&format!("warden: {name}: ")) && l.contains(" -> failed: "))
        })
    };
    assert!(wait_until(30 * SECOND, all_failed), "{}", warden.stderr());
    // The last checks' sockets and pipes close within this span.
    hold(Duration::from_millis(300));
    // What the test itself holds open (and so warden may have inherited) is not warden's.
    let targets = |pid: &str| -> Vec<(i32, String)> {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| {
                let e = e.ok()?;
                let fd = e.file_name().to_str()?.parse().ok()?;
                Some((fd, std::fs::read_link(e.path()).ok()?.display().to_string()))
            })
            .collect()
    };
    let inherited: Vec<String> = targets("self").into_iter().map(|(_, t)| t).collect();
    let mut pipes = 0;
    let mut sockets = 0;
    for (fd, target) in targets(&warden.warden_pid.to_string()) {
        if inherited.contains(&target) {
            continue;
        }
        if fd > 2 && target.starts_with("pipe:") {
            pipes += 1;
        }
        if fd > 2 && target.starts_with("socket:") {
            sockets += 1;
        }
    }
    assert_eq!((pipes, sockets), (0, 1), "{}", warden.stderr());
}

/// RELOADING=1 takes readiness away until the next READY=1; STOPPING=1 is
/// noted; WATCHDOG=trigger restarts the service through its policy.
fn reloading_stopping_and_watchdog_trigger_notices(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  app:\n    command: [\"$KIT\", notify, \"send:READY=1\", \"sleep:200\", \"send:RELOADING=1\", \
         \"sleep:200\", \"send:READY=1\", \"sleep:200\", \"send:STOPPING=1\", \"sleep:100\", \"send:WATCHDOG=trigger\"]\n    \
         notify: true\n    restart: never\n",
    );
    let mut warden = start(mode, &config);
    warden.expect_stderr(5 * SECOND, "app: running -> ready: READY=1");
    warden.expect_stderr(5 * SECOND, "app: ready -> running: RELOADING=1");
    warden.expect_stderr(5 * SECOND, "app: running -> ready: READY=1");
    warden.expect_stderr(5 * SECOND, "warden: app: says it is stopping (STOPPING=1)");
    warden.expect_stderr(
        5 * SECOND,
        "app: ready -> unhealthy: watchdog: the service asked for it (WATCHDOG=trigger)",
    );
    warden
        .expect_stderr(5 * SECOND, "app: unhealthy -> failed: watchdog: exited with code 0; restart: never");
    assert_eq!(warden.wait(10 * SECOND), 1);
}

/// A file probe's `stat` that hangs (a dead network mount; here strace,
/// attached to the thread that runs file checks, holds each of its stats for
/// 3 s) holds up nothing: another service keeps being restarted meanwhile,
/// and the probe fails at its timeout. With the stat on the loop, warden
/// froze for the whole hold.
fn a_file_probe_on_a_hung_mount_holds_up_nothing(mode: Mode) {
    let dir = Dir::new();
    let path = format!("{}/alive", dir.0.display());
    std::fs::write(&path, "").unwrap();
    let config = dir.config(&format!(
        "services:\n  tick:\n    command: [/bin/sh, -c, \"echo tick\"]\n    restart: always\n    \
         min_uptime: 0s\n    backoff: {{ initial: 20ms, max: 20ms, jitter: 0% }}\n  \
         probed:\n    command: [sleep, \"100\"]\n    \
         liveness: {{ file: \"{path}\", period: 200ms, timeout: 500ms, failure_threshold: 1 }}\n"
    ));
    let warden = start(mode, &config);
    let pid = warden.warden_pid;
    // The thread file probes run on (started at the first one).
    let mut thread = 0;
    let found = wait_until(5 * SECOND, || {
        thread = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|t| t.file_name().to_str()?.parse::<i32>().ok())
            .find(|t| {
                std::fs::read_to_string(format!("/proc/{pid}/task/{t}/comm"))
                    .is_ok_and(|c| c.trim() == "file-checks")
            })
            .unwrap_or(0);
        thread != 0
    });
    assert!(found, "no file-checks thread: {}", warden.stderr());
    // strace 6.1's -P does not see statx paths: the thread is all it traces.
    let mut strace = std::process::Command::new("strace")
        .args(["-qq", "-o", "/dev/null", "-e", "trace=statx,newfstatat,stat"])
        .args(["-e", "inject=statx,newfstatat,stat:delay_enter=3000000", "-p", &thread.to_string()])
        .spawn()
        .expect("strace is installed");
    let traced = wait_until(5 * SECOND, || {
        std::fs::read_to_string(format!("/proc/{pid}/task/{thread}/status"))
            .is_ok_and(|s| s.lines().any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0"))
    });
    assert!(traced, "strace did not attach");
    let failed =
        "probed: running -> unhealthy: liveness probe failed 1 times in a row: timed out after 500ms";
    warden.expect_stderr(10 * SECOND, failed);
    let before = count(&warden.stderr(), "tick: starting -> running");
    // The stat is held for over two more seconds: tick restarts meanwhile.
    hold(2 * SECOND);
    let during = count(&warden.stderr(), "tick: starting -> running") - before;
    let _ = strace.kill();
    let _ = strace.wait();
    assert!(
        during >= 10,
        "only {during} restarts of tick while a file probe's stat was held:\n{}",
        warden.stderr()
    );
    warden.signal(libc::SIGTERM);
    let mut warden = warden;
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// An HTTP probe reads the whole answer and lets the server close: the
/// server sees a clean end, never a reset (the probe used to close with the
/// body unread, and Python's http.server logged ConnectionResetError).
fn http_probes_close_without_resetting_the_connection(mode: Mode) {
    let dir = Dir::new();
    let port = free_port();
    let script = format!("{}/tests/support/reset_watch.py", env!("CARGO_MANIFEST_DIR"));
    let config = dir.config(&format!(
        "services:\n  srv:\n    command: [python3, \"{script}\", \"{port}\"]\n    \
         readiness: {{ http: \"http://127.0.0.1:{port}/\", period: 100ms, timeout: 2s }}\n"
    ));
    let mut warden = start(mode, &config);
    warden.expect_line(10 * SECOND, |l| l == "srv | listening");
    warden.expect_stderr(10 * SECOND, "srv: running -> ready: readiness probe passed");
    let mut verdicts = Vec::new();
    while verdicts.len() < 8 {
        let line = warden.expect_line(10 * SECOND, |l| l.starts_with("srv | ") && l != "srv | listening");
        verdicts.push(line);
    }
    assert!(verdicts.iter().all(|v| v == "srv | CLEAN"), "{verdicts:?}");
    assert!(!warden.stderr().contains("srv: ready -> running"), "{}", warden.stderr());
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// `log:` probes: readiness from a line of the service's own output (at
/// once, not at the next period), and a startup probe that never sees its
/// line fails by its threshold.
fn readiness_and_startup_from_a_log_line(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  db:\n    command: \"echo booting; sleep 0.3; echo 'LOG:  database system is ready to accept connections'; sleep 100\"\n    \
         readiness: { log: \"ready to accept connections\", period: 30s }\n  app:\n    command: [sleep, \"100\"]\n    \
         depends_on: { db: ready }\n  mute:\n    command: \"echo something else; sleep 100\"\n    \
         startup: { log: \"never said\", period: 100ms, failure_threshold: 3 }\n    restart: never\n",
    );
    let started = std::time::Instant::now();
    let mut warden = start(mode, &config);
    warden.expect_stderr(5 * SECOND, "db: running -> ready: readiness probe passed");
    warden.expect_stderr(5 * SECOND, "app: starting -> running");
    assert!(
        started.elapsed() < 5 * SECOND,
        "readiness waited for the probe's period: {:?}",
        started.elapsed()
    );
    warden.expect_stderr(
        5 * SECOND,
        "mute: running -> unhealthy: startup probe failed 3 times in a row: no line with \"never said\" since the start",
    );
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// A container paused (`docker pause`, a frozen cgroup) for longer than a
/// service's watchdog and a probe's timeout: warden, frozen with its
/// services, finds those deadlines past when it thaws, but the services had
/// no more time than warden to answer; nothing is restarted. A service that
/// really hangs afterwards is still caught by its watchdog.
fn a_frozen_container_restarts_nothing_once_thawed(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  app:\n    command: [\"$KIT\", notify, \"send:READY=1\", \"ping:100:600\"]\n    \
         notify: true\n    watchdog: 500ms\n  \
         probed:\n    command: [sleep, \"60\"]\n    \
         liveness: { exec: [sleep, \"0.3\"], period: 100ms, timeout: 1s, failure_threshold: 1 }\n",
    );
    let freezer = Freezer::new();
    let warden = start(mode, &config);
    warden.expect_stderr(5 * SECOND, "app: running -> ready: READY=1");
    hold(Duration::from_millis(500));
    freezer.take(warden.warden_pid);
    freezer.freeze(true);
    hold(2 * SECOND);
    freezer.freeze(false);
    hold(Duration::from_millis(1500));
    let said = warden.stderr();
    assert_eq!(count(&said, "unhealthy"), 0, "{said}");
    assert_eq!(count(&said, "backoff"), 0, "{said}");
    // A real hang after the pause is still one.
    let app = descendants(warden.warden_pid)
        .into_iter()
        .find(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.contains("ping:"))
        })
        .unwrap();
    send(app, libc::SIGSTOP);
    warden.expect_stderr(5 * SECOND, "app: ready -> unhealthy: watchdog: no WATCHDOG=1 for 500ms");
    send(app, libc::SIGCONT);
    warden.signal(libc::SIGTERM);
    let mut warden = warden;
    warden.wait(10 * SECOND);
}
