//! Resource limits against the real binary on this machine's cgroups (v1
//! here: memory, cpu, cpuacct and pids hierarchies writable as root), as PID
//! 1 of a fresh PID namespace and as a subreaper: a memory hog OOM-killed
//! and reported, a burner held to its CPUs, a fork bomb capped, a
//! daemonizing service's whole tree stopped, accounting in status and
//! /metrics, limits changed by a reload in place, the watched fallback with
//! `cgroups: off`, and no cgroup left behind. cgroup v2 is exercised in a
//! virtual machine (scripts/vm-test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

const SECOND: Duration = Duration::from_secs(1);

in_both_modes!(
    a_memory_hog_is_oom_killed_and_reported,
    a_burner_is_held_to_its_cpus,
    a_fork_bomb_is_capped,
    a_daemonizing_service_is_stopped_whole,
    a_watched_memory_limit_stops_the_service,
    a_reload_changes_limits_in_place,
    a_cgroup_removed_under_warden_is_made_again,
    limited_idle_services_make_no_system_calls,
);

/// Whether this machine has the writable v1 hierarchies these tests use; a
/// machine without them says so loudly instead of passing in silence.
fn v1_writable() -> bool {
    let ok = ["memory", "cpu", "cpuacct", "pids"].iter().all(|c| own_dir(c).is_some_and(|d| is_writable(&d)));
    assert!(
        ok || std::env::var_os("WARDEN_NO_CGROUP_V1").is_some(),
        "this machine has no writable cgroup v1 hierarchies (memory, cpu, cpuacct, pids): \
         set WARDEN_NO_CGROUP_V1=1 to skip the host's limit tests (scripts/vm-test covers cgroup v2)"
    );
    ok
}

fn is_writable(dir: &Path) -> bool {
    let probe = dir.join(format!("warden-probe-{}", std::process::id()));
    let made = std::fs::create_dir(&probe).is_ok();
    let _ = std::fs::remove_dir(&probe);
    made
}

/// This test's (and so warden's) cgroup in the v1 hierarchy of `controller`.
fn own_dir(controller: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
        names.split(',').any(|n| n == controller).then(|| path.to_string())
    })?;
    let dir = PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}"));
    dir.is_dir().then_some(dir)
}

/// The cgroup warden made for service `name` in `controller`'s hierarchy:
/// the one whose processes descend from this test's warden.
fn service_dir(warden: &Running, controller: &str, name: &str) -> Option<PathBuf> {
    let ours = descendants(warden.child.id() as i32);
    let base = own_dir(controller)?;
    for entry in std::fs::read_dir(base).ok()?.flatten() {
        let dir = entry.path().join(format!("{name}.service"));
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        if procs.lines().filter_map(|p| p.parse::<i32>().ok()).any(|p| ours.contains(&p)) {
            return Some(dir);
        }
    }
    None
}

fn start(mode: Mode, yaml: &str) -> Setup {
    start_with_socket(mode, &format!("control: $SOCK\n{yaml}"))
}

fn client(socket: &str, args: &[&str]) -> Output {
    Command::new(warden()).args(args).env("WARDEN_CONTROL", socket).stdin(Stdio::null()).output().unwrap()
}

fn status_json(socket: &str, name: &str) -> String {
    String::from_utf8_lossy(&client(socket, &["status", name, "--json"]).stdout).into_owned()
}

/// The number after `"key":` in a JSON text.
fn number(json: &str, key: &str) -> Option<f64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[at..];
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Stops warden; with the name of a service that runs, checks that warden
/// removed the cgroups it made (its `warden-ID` directory in each hierarchy).
fn finish(mut s: Setup, running: Option<&str>) {
    let made: Vec<PathBuf> = running
        .map(|name| {
            ["memory", "cpu", "cpuacct", "pids"]
                .iter()
                .filter_map(|c| service_dir(&s.warden, c, name)?.parent().map(Path::to_path_buf))
                .collect()
        })
        .unwrap_or_default();
    assert!(running.is_none() || !made.is_empty(), "no cgroup of {running:?} found");
    s.warden.signal(libc::SIGTERM);
    assert_eq!(s.warden.wait(20 * SECOND), 0, "{}", s.warden.stderr());
    for dir in made {
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
    drop(s.dir);
}

const HOG: &str =
    r#"["sh", "-c", "echo hog start; x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo hog survived"]"#;

fn a_memory_hog_is_oom_killed_and_reported(mode: Mode) {
    if !v1_writable() {
        return;
    }
    let s = start(
        mode,
        &format!(
            "crash_reports: $DIR/crashes\nservices:\n  hog:\n    command: {HOG}\n    limits: {{memory: 32M}}\n    \
             backoff: {{initial: 30s}}\n"
        ),
    );
    s.warden.expect_stderr(20 * SECOND, "hog: running -> backoff: out of memory (limit 32M)");
    let json = status_json(&s.socket, "hog");
    assert!(json.contains("\"oom_kills\":1"), "{json}");
    assert!(
        json.contains("\"limits\":{\"memory\":{\"value\":33554432,\"enforced\":\"cgroup v1\"}}"),
        "{json}"
    );
    // The cgroup's high-water mark: the hog reached its cap.
    assert!(number(&json, "memory_peak_bytes").unwrap() >= 30.0 * 1048576.0, "{json}");
    let reports: Vec<_> = std::fs::read_dir(s.dir.0.join("crashes")).unwrap().flatten().collect();
    let report = std::fs::read_to_string(reports[0].path()).unwrap();
    assert!(report.contains("\"reason\":\"out of memory (limit 32M)\""), "{report}");
    assert!(report.contains("\"limits\":[\"memory 32M (cgroup v1)\"]"), "{report}");
    assert!(report.contains("\"usage\":{\"cpu_seconds\":"), "{report}");
    // warden itself lives on and answers.
    assert!(client(&s.socket, &["status"]).status.success());
    finish(s, None);
}

fn a_burner_is_held_to_its_cpus(mode: Mode) {
    if !v1_writable() {
        return;
    }
    let s = start(
        mode,
        "services:\n  burner:\n    command: [\"sh\", \"-c\", \"while :; do :; done\"]\n    limits: {cpus: 0.5}\n",
    );
    s.warden.expect_stderr(5 * SECOND, "burner: starting -> running");
    let dir = service_dir(&s.warden, "cpu", "burner").expect("the burner's cpu cgroup");
    assert_eq!(std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).unwrap().trim(), "50000");
    let used = || number(&status_json(&s.socket, "burner"), "cpu_seconds").unwrap();
    let (u0, t0) = (used(), std::time::Instant::now());
    hold(3 * SECOND);
    let rate = (used() - u0) / t0.elapsed().as_secs_f64();
    // Unlimited, it would take a whole CPU; the cap holds it at half (a
    // busy machine may give it less, never more).
    assert!((0.25..=0.6).contains(&rate), "the burner used {rate:.3} CPU");
    finish(s, Some("burner"));
}

fn a_fork_bomb_is_capped(mode: Mode) {
    if !v1_writable() {
        return;
    }
    // Sleepers until the kernel refuses (the subshell dies of it), then one more.
    let mut s = start(
        mode,
        "services:\n  bomb:\n    command: [\"sh\", \"-c\", \"( while :; do sleep 600 & done ) 2>/dev/null; echo refused; exec sleep 601\"]\n    \
         limits: {pids: 12}\n",
    );
    s.warden.expect_line(10 * SECOND, |l| l.contains("bomb | refused"));
    let dir = service_dir(&s.warden, "pids", "bomb").expect("the bomb's pids cgroup");
    let current: u32 = std::fs::read_to_string(dir.join("pids.current")).unwrap().trim().parse().unwrap();
    assert!((2..=12).contains(&current), "{current} processes");
    let events = std::fs::read_to_string(dir.join("pids.events")).unwrap_or_default();
    assert!(!events.contains("max 0"), "no fork was refused: {events}");
    let json = status_json(&s.socket, "bomb");
    assert_eq!(number(&json, "processes"), Some(f64::from(current)), "{json}");
    finish(s, Some("bomb"));
}

fn a_daemonizing_service_is_stopped_whole(mode: Mode) {
    if !v1_writable() {
        return;
    }
    // A sleeper in a session of its own, its parent gone: out of the
    // service's process group, still in its cgroup.
    let s = start(
        mode,
        "services:\n  daemon:\n    command: [\"sh\", \"-c\", \"setsid sh -c 'sleep 987 & exit 0'; exec sleep 988\"]\n    \
         limits: {memory: 64M}\n",
    );
    s.warden.expect_stderr(5 * SECOND, "daemon: starting -> running");
    let sleeper = || {
        descendants(s.warden.child.id() as i32)
            .into_iter()
            .find(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\0987\0"))
    };
    assert!(wait_until(5 * SECOND, || sleeper().is_some()), "the sleeper never started");
    let out = client(&s.socket, &["stop", "daemon"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sleeper(), None, "the setsid sleeper outlived the stop");
    finish(s, None);
}

fn a_watched_memory_limit_stops_the_service(mode: Mode) {
    let s = start(
        mode,
        &format!(
            "cgroups: off\nlimits_period: 200ms\nservices:\n  hog:\n    command: {HOG}\n    limits: {{memory: 32M, pids: 50}}\n    \
             backoff: {{initial: 30s}}\n"
        ),
    );
    s.warden.expect_stderr(20 * SECOND, "hog: running -> unhealthy: memory limit: ");
    s.warden.expect_stderr(10 * SECOND, "hog: unhealthy -> backoff: memory limit: killed by SIGTERM");
    let events = s.warden.stderr();
    assert!(events.contains(" resident, limit 32M (pid "), "{events}");
    let stderr = s.warden.stderr();
    assert!(
        stderr.contains("hog: pids 50 cannot be enforced; memory 32M is watched by warden every 200ms"),
        "{stderr}"
    );
    let table = String::from_utf8_lossy(&client(&s.socket, &["status"]).stdout).into_owned();
    assert!(table.contains("limits of hog: memory 32M (watched), pids 50 (not enforced)"), "{table}");
    finish(s, None);
}

fn a_reload_changes_limits_in_place(mode: Mode) {
    if !v1_writable() {
        return;
    }
    let port = free_port();
    let yaml = format!(
        "http: 127.0.0.1:{port}\nservices:\n  steady:\n    command: [sleep, \"1000\"]\n    limits: {{memory: 64M, cpus: 1}}\n"
    );
    let s = start(mode, &yaml);
    s.warden.expect_stderr(5 * SECOND, "steady: starting -> running");
    let dir = service_dir(&s.warden, "memory", "steady").expect("steady's memory cgroup");
    let pid = number(&status_json(&s.socket, "steady"), "pid");
    std::fs::write(&s.config, format!("control: {}\n{}", s.socket, yaml.replace("64M", "80M"))).unwrap();
    let said = client(&s.socket, &["reload"]);
    let said = String::from_utf8_lossy(&said.stdout).into_owned() + &String::from_utf8_lossy(&said.stderr);
    assert!(said.contains("limits changed in place: steady"), "{said}");
    assert_eq!(std::fs::read_to_string(dir.join("memory.limit_in_bytes")).unwrap().trim(), "83886080");
    assert_eq!(number(&status_json(&s.socket, "steady"), "pid"), pid, "it restarted");
    // The figures and the limits in /metrics.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut metrics = String::new();
    stream.read_to_string(&mut metrics).unwrap();
    for line in [
        "warden_service_memory_limit_bytes{service=\"steady\",enforced=\"cgroup v1\"} 83886080",
        "warden_service_cpu_limit{service=\"steady\",enforced=\"cgroup v1\"} 1.000",
        "warden_service_processes{service=\"steady\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing:\n{metrics}");
    }
    assert!(
        metrics.lines().any(|l| l.starts_with("warden_service_memory_bytes{service=\"steady\"} ")),
        "{metrics}"
    );
    finish(s, Some("steady"));
}

fn a_cgroup_removed_under_warden_is_made_again(mode: Mode) {
    if !v1_writable() {
        return;
    }
    let s = start(mode, "services:\n  steady:\n    command: [sleep, \"1000\"]\n    limits: {memory: 64M}\n");
    s.warden.expect_stderr(5 * SECOND, "steady: starting -> running");
    let dir = service_dir(&s.warden, "memory", "steady").expect("steady's memory cgroup");
    assert!(client(&s.socket, &["stop", "steady"]).status.success());
    std::fs::remove_dir(&dir).expect("an empty cgroup can be removed");
    let out = client(&s.socket, &["start", "steady"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(service_dir(&s.warden, "memory", "steady").as_ref(), Some(&dir), "it runs outside its cgroup");
    assert_eq!(std::fs::read_to_string(dir.join("memory.limit_in_bytes")).unwrap().trim(), "67108864");
    assert!(!s.warden.stderr().contains("cannot open its cgroup"), "{}", s.warden.stderr());
    finish(s, Some("steady"));
}

/// The kernel enforces cgroup limits: an idle warden over limited services
/// makes no system call (a watched limit would read /proc every period).
fn limited_idle_services_make_no_system_calls(mode: Mode) {
    if !v1_writable() {
        return;
    }
    let mut yaml = String::from("services:\n");
    for i in 0..10 {
        yaml.push_str(&format!(
            "  s{i}:\n    command: [sleep, \"100\"]\n    limits: {{memory: 256M, cpus: 1, pids: 50}}\n"
        ));
    }
    let s = start(mode, &yaml);
    for i in 0..10 {
        s.warden.expect_stderr(5 * SECOND, &format!("s{i}: starting -> running"));
    }
    let (calls, report) = system_calls_of(s.warden.warden_pid, 2);
    assert!(calls <= 1, "idle warden with 10 limited services made {calls} system calls:\n{report}");
    finish(s, Some("s0"));
}

#[test]
fn validate_says_how_each_limit_is_enforced_here() {
    let dir = Dir::new();
    let config = dir.config("services:\n  web:\n    command: [x]\n    limits: {memory: 500M, memory_high: 400M, cpus: 1, pids: 256}\n");
    let out = Command::new(warden()).args(["validate", "-c", &config]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let how = if v1_writable() { "cgroup v1" } else { "watched" };
    assert!(
        text.contains(&format!("limits of web: memory 500M ({how}), memory_high 400M (not enforced)")),
        "{text}"
    );
    let off = dir
        .config("cgroups: off\nservices:\n  web:\n    command: [x]\n    limits: {memory: 500M, cpus: 1}\n");
    let out = Command::new(warden()).args(["validate", "-c", &off]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("limits of web: memory 500M (watched), cpus 1 (not enforced)"), "{text}");
    assert!(text.contains("no cgroup can be written here (cgroups: off)"), "{text}");
}
