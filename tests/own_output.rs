//! warden's own lines never stop PID 1: with stdout and stderr on a pipe that
//! nobody reads, warden keeps reaping, restarting, answering its control
//! socket and forwarding signals, exits within its grace on SIGTERM, and says
//! how many of its own lines it dropped once the pipe is read again.
#![allow(
    unsafe_code,
    clippy::undocumented_unsafe_blocks,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SECOND: Duration = Duration::from_secs(1);

in_both_modes!(
    a_stalled_reader_stops_nothing_in_services_mode,
    a_stalled_reader_stops_nothing_with_one_program
);

/// A pipe (read end, write end), both close-on-exec in the test.
fn pipe() -> (std::fs::File, OwnedFd) {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    unsafe { (std::fs::File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Gives the pipe's write end to warden as both stdout and stderr.
fn on_stalled_pipe(launch: &mut Launch) -> std::fs::File {
    let (read, write) = pipe();
    let copy = write.try_clone().unwrap();
    launch.command.stdout(Stdio::from(write)).stderr(Stdio::from(copy));
    read
}

/// Reads what is in the pipe now (non-blocking), at most `limit` bytes.
fn drain(pipe: &mut std::fs::File, until: impl Fn(&str) -> bool, timeout: Duration) -> String {
    use std::os::fd::AsRawFd;
    unsafe {
        let flags = libc::fcntl(pipe.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut text = String::new();
    let mut buffer = vec![0u8; 1 << 16];
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && !until(&text) {
        match pipe.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                // Keep only the recent part: the flood of event lines is large.
                text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                if text.len() > 1 << 20 {
                    text.drain(..text.len() - (1 << 19));
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    text
}

/// Zombies below `root` that stay zombies for more than `limit`, watched for `span`.
fn lasting_zombies(root: i32, span: Duration, limit: Duration) -> Vec<i32> {
    let mut first_seen: std::collections::HashMap<i32, Instant> = Default::default();
    let mut lasting = Vec::new();
    let end = Instant::now() + span;
    while Instant::now() < end {
        let now = Instant::now();
        let zombies: Vec<i32> =
            descendants(root).into_iter().filter(|&pid| state_of(pid) == Some('Z')).collect();
        first_seen.retain(|pid, _| zombies.contains(pid));
        for pid in zombies {
            let since = *first_seen.entry(pid).or_insert(now);
            if now.duration_since(since) > limit && !lasting.contains(&pid) {
                lasting.push(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    lasting
}

/// One HTTP GET on loopback; the whole answer (bounded by a 10 s timeout).
fn http_get(port: u16, path: &str) -> String {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(10 * SECOND)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

fn a_stalled_reader_stops_nothing_in_services_mode(mode: Mode) {
    let dir = Dir::new();
    let socket = format!("{}/running.sock", dir.0.display());
    let port = free_port();
    let config = dir.config(&format!(
        "grace: 5s\nhttp: 127.0.0.1:{port}\nservices:\n  crash:\n    command: [\"/bin/false\"]\n    restart: always\n    \
         backoff: {{ initial: 0s, max: 0s }}\n    min_uptime: 0s\n    logs: null\n  \
         idle:\n    command: [sleep, \"1000\"]\n"
    ));
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.env("WARDEN_CONTROL", &socket);
    let mut pipe = on_stalled_pipe(&mut launch);
    let running = launch.start();
    assert!(wait_until(5 * SECOND, || std::path::Path::new(&socket).exists()), "no control socket");

    // Several seconds of crash loop with nobody reading: the pipe (64 KiB) is
    // full within the first second.
    let zombies = lasting_zombies(running.warden_pid, 3 * SECOND, Duration::from_millis(100));
    assert!(zombies.is_empty(), "zombies left unreaped for over 100 ms: {zombies:?}");
    let first = status_json(&socket);
    let before = restarts_of(&first, "crash");
    assert!(before > 100, "the crash loop is not running: {first}");
    assert!(
        wait_until(5 * SECOND, || restarts_of(&status_json(&socket), "crash") > before + 100),
        "restarts stopped counting while stderr was not read"
    );
    // Past what warden queues for its own lines (320 KiB), they are dropped
    // and counted: wait for the count (how soon depends on the machine's pace).
    let table = || {
        let out = Command::new(warden()).arg("status").env("WARDEN_CONTROL", &socket).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dropped = |text: &str| {
        text.lines().find_map(|l| l.strip_prefix("warden: ")?.split(' ').next()?.parse::<u64>().ok())
    };
    assert!(
        wait_until(30 * SECOND, || dropped(&table()).is_some_and(|n| n > 0)),
        "no own lines counted as dropped: {}",
        table()
    );
    // And in the metrics and /status, answered while the reader still stalls.
    let metrics = http_get(port, "/metrics");
    let counted = metrics
        .lines()
        .find_map(|l| l.strip_prefix("warden_log_lines_dropped_total{source=\"warden\"} "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(counted.is_some_and(|n| n > 0), "{metrics}");
    let status = http_get(port, "/status");
    assert!(
        !status.contains("\"own_lines_dropped\":0,") && status.contains("\"own_lines_dropped\":"),
        "{status}"
    );
    // The reader comes back: the notice follows the lines that got through.
    let text = drain(&mut pipe, |t| t.contains("of its own were dropped"), 10 * SECOND);
    assert!(
        text.contains("lines of its own were dropped while stdout/stderr were not read"),
        "no dropped-lines notice in {}",
        &text[text.len().saturating_sub(2000)..]
    );

    // Stalled again, then SIGTERM: out within the grace.
    let start = Instant::now();
    running.signal(libc::SIGTERM);
    let mut running = running;
    assert!(
        wait_until(6 * SECOND, || running.child.try_wait().unwrap().is_some()),
        "warden did not exit within its grace with a stalled stderr"
    );
    assert!(start.elapsed() < 5 * SECOND, "exit took {:?}", start.elapsed());
    let _ = running.wait(SECOND);
}

fn a_stalled_reader_stops_nothing_with_one_program(mode: Mode) {
    let dir = Dir::new();
    let record = dir.0.join("signals");
    // The program writes each signal it gets to a file, not to the stalled pipe.
    let script = format!(
        "exec >{} 2>&1; trap 'echo USR2' USR2; trap 'echo TERM; exit 3' TERM; echo ready; \
         while :; do sleep 0.05; done",
        record.display()
    );
    let mut launch = Launch::new(mode, &["-vv", "--grace", "5s", "--", "sh", "-c", &script]);
    let mut pipe = on_stalled_pipe(&mut launch);
    let running = launch.start();
    assert!(wait_until(5 * SECOND, || std::fs::read_to_string(&record)
        .unwrap_or_default()
        .contains("ready")));
    // Each forwarded WINCH is a debug line: far more than the pipe holds.
    let flood = Instant::now();
    while flood.elapsed() < 2 * SECOND {
        for _ in 0..1000 {
            running.signal(libc::SIGWINCH);
        }
    }
    // warden is not stuck in a write: the next signal still reaches the program.
    running.signal(libc::SIGUSR2);
    assert!(
        wait_until(5 * SECOND, || std::fs::read_to_string(&record).unwrap_or_default().contains("USR2")),
        "a signal sent after the flood was not forwarded: warden is blocked"
    );
    let text = drain(&mut pipe, |t| t.contains("of its own were dropped"), 10 * SECOND);
    assert!(
        text.contains("of its own were dropped while stdout/stderr were not read"),
        "no notice: {text:.2000}"
    );
    let start = Instant::now();
    running.signal(libc::SIGTERM);
    let mut running = running;
    assert_eq!(running.wait(6 * SECOND), 3);
    assert!(start.elapsed() < 5 * SECOND, "exit took {:?}", start.elapsed());
}
