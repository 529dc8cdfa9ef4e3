//! Harness for running the real warden binary the way users do: as PID 1 of a
//! fresh PID namespace (`unshare --pid --fork --mount-proc`) or as a subreaper.
//! Every wait has a deadline; nothing sleeps a fixed time to "let things settle".
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PID 1 of a new PID namespace.
    Pid1,
    /// An ordinary process: warden makes itself a subreaper.
    Subreaper,
}

/// Generates `mod NAME { fn pid1(); fn subreaper(); }` calling `NAME(Mode)`.
#[macro_export]
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn pid1() { super::$name($crate::common::Mode::Pid1) }
            #[test]
            fn subreaper() { super::$name($crate::common::Mode::Subreaper) }
        }
    )*};
}

pub fn warden() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_warden"))
}

/// The test helper program, built by cargo next to the binary as an example.
pub fn testkit() -> String {
    let path = warden().parent().unwrap().join("examples/testkit");
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test` or `cargo nextest`",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// The one fixed wait tests make: a hold over a known span, to show that
/// something does *not* happen within it (no restart, no start before a
/// gate opens). Everything else waits for a condition (`wait_until`).
pub fn hold(span: Duration) {
    std::thread::sleep(span);
}

pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How to start warden.
pub struct Launch {
    pub mode: Mode,
    pub command: Command,
}

impl Launch {
    pub fn new<S: AsRef<OsStr>>(mode: Mode, args: &[S]) -> Launch {
        Launch::under(mode, &[], args)
    }

    /// warden started by `wrapper` (a program that execs its arguments, such
    /// as `setpriv ...`), which runs where warden would.
    pub fn under<S: AsRef<OsStr>>(mode: Mode, wrapper: &[&str], args: &[S]) -> Launch {
        let mut command = match (mode, wrapper.split_first()) {
            (Mode::Pid1, _) => {
                let mut c = Command::new("unshare");
                c.args(["--pid", "--fork", "--mount-proc", "--kill-child"]).args(wrapper).arg(warden());
                c
            }
            (Mode::Subreaper, Some((program, rest))) => {
                let mut c = Command::new(program);
                c.args(rest).arg(warden());
                c
            }
            (Mode::Subreaper, None) => Command::new(warden()),
        };
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // Tests run side by side: none may take the default control socket.
        command.env("WARDEN_CONTROL", "off");
        Launch { mode, command }
    }

    pub fn start(mut self) -> Running {
        let mut child = self.command.spawn().expect("start warden");
        let (lines_tx, lines) = channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if lines_tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_done = Arc::new(AtomicBool::new(false));
        if let Some(mut err) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            let done = Arc::clone(&stderr_done);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
                done.store(true, Ordering::Release);
            });
        } else {
            stderr_done.store(true, Ordering::Release);
        }
        let mut running =
            Running { mode: self.mode, child, lines, seen: Vec::new(), stderr, stderr_done, warden_pid: 0 };
        running.warden_pid = running.find_warden_pid();
        running
    }
}

pub struct Running {
    pub mode: Mode,
    pub child: Child,
    lines: Receiver<String>,
    /// Every stdout line received so far.
    pub seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    /// The stderr reader has seen EOF: everything warden wrote is in `stderr`.
    stderr_done: Arc<AtomicBool>,
    /// warden's pid as seen from the test (outside the namespace).
    pub warden_pid: i32,
}

pub fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A loopback port nobody listens on right now.
/// The read system calls a process has made (`/proc/PID/io`).
pub fn read_calls(pid: i32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines().find_map(|l| l.strip_prefix("syscr: ")).unwrap().trim().parse().unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Every process below `root`: children, grandchildren and so on.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        for child in children_of(pid) {
            found.push(child);
            queue.push(child);
        }
    }
    found
}

/// The one-letter state of a process (R, S, Z...), or None when it is gone.
pub fn state_of(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

pub fn send(pid: i32, signal: i32) {
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid}, {signal})");
}

impl Running {
    /// warden's pid, or 0 if it has already come and gone.
    fn find_warden_pid(&mut self) -> i32 {
        let outer = self.child.id() as i32;
        match self.mode {
            Mode::Subreaper => outer,
            Mode::Pid1 => {
                let mut pid = 0;
                let found = wait_until(Duration::from_secs(5), || {
                    pid = children_of(outer).first().copied().unwrap_or(0);
                    pid != 0 || self.child.try_wait().unwrap().is_some()
                });
                assert!(found, "unshare never started warden");
                pid
            }
        }
    }

    /// Sends `signal` to warden.
    pub fn signal(&self, signal: i32) {
        assert!(self.warden_pid > 0, "warden has already exited");
        send(self.warden_pid, signal);
    }

    /// Waits for a stdout line satisfying `want`; returns it.
    pub fn expect_line(&mut self, timeout: Duration, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no matching line within {timeout:?}; stdout so far: {:?}; stderr: {}",
                    self.seen,
                    self.stderr()
                ),
            }
        }
    }

    /// Waits for all of `lines`, in any order (output of concurrent processes).
    pub fn expect_all(&mut self, timeout: Duration, lines: &[&str]) {
        let mut missing: Vec<&str> = lines.to_vec();
        while !missing.is_empty() {
            let line = self.expect_line(timeout, |l| missing.contains(&l));
            missing.retain(|m| *m != line);
        }
    }

    pub fn expect(&mut self, exact: &str) {
        self.expect_line(Duration::from_secs(10), |l| l == exact);
    }

    /// Collects the rest of stdout until EOF (after warden has exited).
    pub fn rest_of_stdout(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line.clone());
            rest.push(line);
        }
        rest
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn expect_stderr(&self, timeout: Duration, text: &str) {
        assert!(
            wait_until(timeout, || self.stderr().contains(text)),
            "stderr never contained {text:?}: {}",
            self.stderr()
        );
    }

    /// Waits for warden to exit; returns its exit code.
    pub fn wait(&mut self, timeout: Duration) -> i32 {
        let mut status = None;
        let exited = wait_until(timeout, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        assert!(exited, "warden did not exit within {timeout:?}; stderr: {}", self.stderr());
        // The exit can be seen before the reader thread has read what warden
        // wrote last: wait for its EOF (bounded: a leftover process of a
        // subreaper run may still hold the pipe).
        wait_until(Duration::from_secs(5), || self.stderr_done.load(Ordering::Acquire));
        let status = status.unwrap();
        status
            .code()
            .unwrap_or_else(|| panic!("warden died of a signal: {status:?}; stderr: {}", self.stderr()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            if self.warden_pid > 0 {
                // A clean stop first: as a subreaper, a SIGKILLed warden would
                // leave its services running on the machine.
                unsafe { libc::kill(self.warden_pid, libc::SIGTERM) };
                let stopped =
                    wait_until(Duration::from_secs(10), || self.child.try_wait().ok().flatten().is_some());
                if !stopped {
                    unsafe { libc::kill(self.warden_pid, libc::SIGKILL) };
                }
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs warden to completion with the given args; returns (code, stdout, stderr).
pub fn run_to_end<S: AsRef<OsStr>>(mode: Mode, args: &[S]) -> (i32, String, String) {
    let mut running = Launch::new(mode, args).start();
    let code = running.wait(Duration::from_secs(20));
    let out = running.rest_of_stdout().join("\n");
    (code, out, running.stderr())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A scratch directory for one test, removed at the end; `config` writes
/// warden.yaml there with $DIR and $KIT (the testkit path) filled in.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new() -> Dir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("warden-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    pub fn config(&self, yaml: &str) -> String {
        let path = self.0.join("warden.yaml");
        std::fs::write(
            &path,
            yaml.replace("$DIR", &self.0.display().to_string()).replace("$KIT", &testkit()),
        )
        .unwrap();
        path.display().to_string()
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap_or_default()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// System calls `pid` makes over `seconds` under `strace -c` (0 when strace
/// saw none: it prints no table then), with strace's report.
pub fn system_calls_of(pid: i32, seconds: u32) -> (u64, String) {
    let output = Command::new("timeout")
        .args(["-s", "INT", &seconds.to_string(), "strace", "-c", "-p", &pid.to_string()])
        .output()
        .expect("strace is installed");
    let report = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!report.contains("Operation not permitted"), "strace could not attach: {report}");
    let calls = report
        .lines()
        .find(|l| l.trim_end().ends_with("total"))
        .and_then(|l| l.split_whitespace().nth(2).and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    (calls, report)
}

/// A warden started with a control socket of its own, and where it is.
pub struct Setup {
    pub dir: Dir,
    pub socket: String,
    pub config: String,
    pub warden: Running,
}

/// Starts warden on `yaml` (its `$SOCK` becomes the control socket's path),
/// once the socket is there.
pub fn start_with_socket(mode: Mode, yaml: &str) -> Setup {
    let dir = Dir::new();
    let socket = format!("{}/warden.sock", dir.0.display());
    let config = dir.config(&yaml.replace("$SOCK", &socket));
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.env("WARDEN_CONTROL", &socket);
    let warden = launch.start();
    assert!(
        wait_until(Duration::from_secs(5), || std::path::Path::new(&socket).exists()),
        "no control socket: {}",
        warden.stderr()
    );
    Setup { dir, socket, config, warden }
}

/// A FUSE mount (bindfs) of a directory of `dir`; stopping its daemon makes
/// every call on it wait, as on a network mount that stops answering.
pub struct Mount {
    pub daemon: Child,
    pub point: std::path::PathBuf,
}

impl Mount {
    pub fn new(dir: &Dir) -> Mount {
        let (source, point) = (dir.0.join("source"), dir.0.join("mnt"));
        std::fs::create_dir(&source).unwrap();
        std::fs::create_dir(&point).unwrap();
        let daemon = Command::new("bindfs")
            .arg("-f")
            .arg(&source)
            .arg(&point)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bindfs is installed (scripts/install-deps)");
        let mount = Mount { daemon, point };
        let listed = mount.point.display().to_string();
        assert!(
            wait_until(Duration::from_secs(10), || std::fs::read_to_string("/proc/self/mounts")
                .unwrap()
                .lines()
                .any(|l| l.split(' ').nth(1) == Some(listed.as_str()))),
            "bindfs did not mount"
        );
        mount
    }

    /// Stops the daemon, and waits until every thread of it has stopped
    /// (SIGSTOP takes effect as each thread next runs: until then it may
    /// still answer).
    pub fn stop_answering(&self) {
        let pid = self.daemon.id();
        send(pid as i32, libc::SIGSTOP);
        let stopped = || {
            std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|tasks| {
                tasks.flatten().all(|task| {
                    let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                    stat.rsplit_once(") ")
                        .is_some_and(|(_, rest)| rest.starts_with('T') || rest.starts_with('t'))
                })
            })
        };
        assert!(wait_until(Duration::from_secs(5), stopped), "bindfs did not stop");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Killing the daemon ends the calls still waiting on it (ENOTCONN).
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = Command::new("umount").arg("-l").arg(&self.point).status();
    }
}

/// `warden status --json` through the control socket at `socket`.
pub fn status_json(socket: &str) -> String {
    let output = Command::new(warden())
        .args(["status", "--json"])
        .env("WARDEN_CONTROL", socket)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "status failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The `"restarts":N` of service `name` in a status answer.
pub fn restarts_of(status: &str, name: &str) -> u64 {
    let at = status.find(&format!("\"name\":\"{name}\"")).unwrap_or_else(|| panic!("{status}"));
    let rest = &status[at..];
    let field = rest.find("\"restarts\":").unwrap() + "\"restarts\":".len();
    rest[field..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// A cgroup of the freezer (v1 `freezer`, else v2 `cgroup.freeze`) that the
/// test moves a process tree into: warden's whole tree, as `docker pause`
/// does a container's, or one process.
pub struct Freezer {
    pub dir: std::path::PathBuf,
    /// The v1 freezer, whose frozen tasks outlive SIGKILL until thawed.
    pub v1: bool,
}

impl Freezer {
    pub fn new() -> Freezer {
        let name =
            format!("warden-test-freeze-{}-{}", std::process::id(), Dir::new().0.display().to_string().len());
        let v1 = std::path::Path::new("/sys/fs/cgroup/freezer").is_dir();
        let dir = if v1 {
            std::path::Path::new("/sys/fs/cgroup/freezer").join(&name)
        } else {
            std::path::Path::new("/sys/fs/cgroup").join(&name)
        };
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("no freezer cgroup at {}: {e}", dir.display()));
        Freezer { dir, v1 }
    }

    /// Moves `root` and what runs below it (twice: a child forked meanwhile
    /// is born inside once its parent is).
    pub fn take(&self, root: i32) {
        for _ in 0..2 {
            for pid in std::iter::once(root).chain(descendants(root)) {
                let _ = std::fs::write(self.dir.join("cgroup.procs"), pid.to_string());
            }
        }
    }

    pub fn freeze(&self, frozen: bool) {
        if self.v1 {
            std::fs::write(self.dir.join("freezer.state"), if frozen { "FROZEN" } else { "THAWED" }).unwrap();
        } else {
            std::fs::write(self.dir.join("cgroup.freeze"), if frozen { "1" } else { "0" }).unwrap();
        }
    }
}

impl Drop for Freezer {
    fn drop(&mut self) {
        self.freeze(false);
        // Empty once warden and its tree are gone (bounded: 5 s).
        wait_until(Duration::from_secs(5), || std::fs::remove_dir(&self.dir).is_ok());
    }
}

/// Freezes `sleeper` (a `sleep` under warden) with the v1 freezer, whose
/// frozen tasks outlive SIGKILL as one stuck on a hung mount does, then
/// sends warden SIGTERM: warden must give up 2 s after its SIGKILL with
/// `said` followed by the sleep's pid, name and state D; thawed, the sleep
/// dies and warden exits with `code` (as PID 1, its exit waits for the
/// namespace to empty). Returns the line.
pub fn stop_with_a_frozen_sleep(warden: &mut Running, sleeper: i32, said: &str, code: i32) -> String {
    let freezer = Freezer::new();
    assert!(freezer.v1, "needs the v1 freezer: a task frozen by cgroup v2 dies on SIGKILL");
    freezer.take(sleeper);
    freezer.freeze(true);
    let begin = Instant::now();
    warden.signal(libc::SIGTERM);
    warden.expect_stderr(Duration::from_secs(6), said);
    let took = begin.elapsed();
    assert!(took >= Duration::from_millis(2900) && took < Duration::from_secs(5), "took {took:?}");
    drop(freezer);
    assert_eq!(warden.wait(Duration::from_secs(10)), code, "{}", warden.stderr());
    assert!(
        wait_until(Duration::from_secs(5), || state_of(sleeper).is_none()),
        "the sleep outlived its thaw"
    );
    let stderr = warden.stderr();
    let line = stderr.lines().find(|l| l.contains(said)).unwrap_or_default().to_string();
    assert!(
        line.starts_with(&format!("warden: {said}")) || line.starts_with(&format!("warden: warning: {said}")),
        "{stderr}"
    );
    assert!(line.ends_with(" (sleep, D)"), "{stderr}");
    line
}
