//! Service output, run as real PID 1 of a fresh PID namespace and as a
//! subreaper: prefixed lines whole and in order, long and partial lines, JSON
//! records, rotation, backpressure and bounded memory under a flood, crash
//! reports and the on_crash hook (with a flood's last lines), a full disk, a
//! log file that hangs, and a closed stdout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks)]

mod common;

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const SECOND: Duration = Duration::from_secs(1);

in_both_modes!(
    lines_of_concurrent_services_arrive_whole_and_in_order,
    long_and_partial_lines,
    json_records,
    rotation_stays_under_its_bound,
    flood_keeps_memory_bounded,
    a_slow_reader_slows_the_services_down,
    crash_reports_and_the_hook,
    a_full_disk_is_survived,
    a_closed_stdout_is_survived,
    output_of_a_service_removed_by_reload_is_kept,
    timestamps_on_prefixed_and_file_lines,
    a_hanging_hook_is_killed_at_its_timeout,
    a_floods_last_lines_are_its_tail,
    a_log_file_that_hangs_stops_nothing,
    a_log_file_that_hangs_does_not_hold_the_exit,
    a_mount_that_stops_answering_stops_nothing,
    a_log_file_open_on_a_mount_that_hangs_holds_no_start,
    a_chatty_service_gets_a_bigger_pipe_and_a_quiet_one_does_not,
    a_line_at_a_time_is_read_in_batches,
    a_service_with_a_user_opens_its_output_by_path,
);

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn lines_of_concurrent_services_arrive_whole_and_in_order(mode: Mode) {
    let dir = Dir::new();
    let mut yaml = String::from("services:\n");
    for name in ["a", "b", "c", "d"] {
        yaml += &format!("  {name}:\n    command: [seq, \"1\", \"20000\"]\n    restart: never\n");
    }
    let config = dir.config(&yaml);
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    assert_eq!(warden.wait(30 * SECOND), 0, "{}", warden.stderr());
    let mut next = std::collections::HashMap::new();
    for line in warden.rest_of_stdout() {
        let (name, number) = line.split_once(" | ").unwrap_or_else(|| panic!("torn or unlabelled: {line:?}"));
        let expected = next.entry(name.to_string()).or_insert(1u32);
        assert_eq!(number.parse::<u32>().ok(), Some(*expected), "{name}: {line:?}");
        *expected += 1;
    }
    for name in ["a", "b", "c", "d"] {
        assert_eq!(next.get(name), Some(&20001), "{name} lost lines");
    }
}

fn long_and_partial_lines(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  long:\n    command: \"head -c 40000 /dev/zero | tr '\\\\0' x; echo; echo end; printf 'no newline'\"\n    \
         restart: never\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    let out = warden.rest_of_stdout();
    let shape: Vec<(String, usize)> =
        out.iter().map(|l| (l.get(..7).unwrap_or(l).to_string(), l.len().saturating_sub(7))).collect();
    assert_eq!(
        shape,
        [
            ("long | ".to_string(), 16384),
            ("long + ".to_string(), 16384),
            ("long + ".to_string(), 40000 - 2 * 16384),
            ("long | ".to_string(), 3),
            ("long | ".to_string(), 10)
        ],
        "{out:?}"
    );
    assert_eq!(out[4], "long | no newline");
}

/// nginx's `access_log /dev/stdout` and a log file linked to /dev/stderr open
/// the capture pipe again by path, which needs the service's user to own it;
/// also in a hardened container, without CAP_CHOWN or CAP_DAC_OVERRIDE.
fn a_service_with_a_user_opens_its_output_by_path(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  p:\n    command: \"echo out > /dev/stdout && echo err > /proc/self/fd/2\"\n    \
         user: \"65534:65534\"\n    restart: never\n",
    );
    let hardened = ["setpriv", "--bounding-set", "-chown,-dac_override,-dac_read_search,-fowner"];
    for wrapper in [&[][..], &hardened[..]] {
        let mut warden = Launch::under(mode, wrapper, &["-c", &config]).start();
        assert_eq!(warden.wait(10 * SECOND), 0, "{wrapper:?}: {}", warden.stderr());
        assert_eq!(warden.rest_of_stdout(), ["p | out"], "{wrapper:?}: {}", warden.stderr());
        assert!(warden.stderr().contains("p | err\n"), "{wrapper:?}: {}", warden.stderr());
    }
}

fn json_records(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "log_format: json\nservices:\n  j:\n    command: \"printf 'caf\\\\351 \\\"q\\\"\\\\n'; echo oops >&2\"\n    restart: never\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    let out = warden.rest_of_stdout();
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("{\"time\":\"20"), "{}", out[0]);
    assert!(out[0].contains(",\"service\":\"j\",\"stream\":\"stdout\",\"pid\":"), "{}", out[0]);
    assert!(out[0].ends_with(",\"message\":\"caf\\\\xe9 \\\"q\\\"\"}"), "{}", out[0]);
    assert!(warden.stderr().contains("\"stream\":\"stderr\""), "{}", warden.stderr());
    assert!(warden.stderr().contains("\"message\":\"oops\"}"), "{}", warden.stderr());
}

fn rotation_stays_under_its_bound(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  w:\n    command: [\"$KIT\", flood, \"1000000\"]\n    restart: never\n    \
         logs: { file: \"$DIR/w.log\", max_size: 64K, keep: 2 }\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    assert_eq!(warden.wait(20 * SECOND), 0, "{}", warden.stderr());
    let mut names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("w.log"))
        .collect();
    names.sort();
    assert_eq!(names, ["w.log", "w.log.1", "w.log.2"]);
    let mut last = String::new();
    for name in &names {
        let text = std::fs::read_to_string(dir.0.join(name)).unwrap();
        assert!(text.len() <= 64 * 1024, "{name}: {}", text.len());
        assert!(text.lines().all(|l| l.len() == 99), "{name} has a torn line");
        if name == "w.log" {
            last = text.lines().last().unwrap().to_string();
        }
    }
    // The newest file ends with the last line written: line 10 000 of 100 bytes.
    assert!(last.starts_with(&format!("{:012} ", 1_000_000 / 100 - 1)), "{last}");
    assert!(warden.rest_of_stdout().is_empty());
}

fn flood_keeps_memory_bounded(mode: Mode) {
    let dir = Dir::new();
    let config = dir
        .config("services:\n  flood:\n    command: [\"$KIT\", flood, \"1000000000\"]\n    restart: never\n");
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.stdout(Stdio::null());
    let mut warden = launch.start();
    let started = Instant::now();
    let mut most = 0;
    while warden.child.try_wait().unwrap().is_none() && started.elapsed() < 60 * SECOND {
        most = most.max(rss_kib(warden.warden_pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(warden.wait(60 * SECOND), 0, "{}", warden.stderr());
    assert!(most > 0, "never measured");
    assert!(most < 8 * 1024, "warden's RSS reached {most} KiB during a 1 GB flood");
}

fn a_slow_reader_slows_the_services_down(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  flood:\n    command: \"$KIT flood 200000000; echo done > $DIR/done\"\n    restart: never\n",
    );
    // stdout is a pipe nobody reads for a while.
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.stdout(Stdio::from(write));
    let mut warden = launch.start();
    // The reader stalls this long: the producer must be held back meanwhile.
    hold(1500 * Duration::from_millis(1));
    let stalled_rss = rss_kib(warden.warden_pid);
    assert!(!dir.0.join("done").exists(), "the producer was not slowed down");
    assert!(stalled_rss < 8 * 1024, "{stalled_rss} KiB while the reader stalls");
    // Now read everything: nothing was lost.
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = 0u64;
        for line in std::io::BufReader::new(std::fs::File::from(read)).lines() {
            let line = line.unwrap();
            assert!(line.starts_with("flood | ") && line.len() == 99 + 8, "{line:?}");
            lines += 1;
        }
        lines
    });
    // The only service ends with `restart: never`, so warden exits by itself:
    // signalling it here would race that exit.
    assert_eq!(warden.wait(60 * SECOND), 0, "{}", warden.stderr());
    assert!(dir.0.join("done").exists());
    let lines = reader.join().unwrap();
    // `flood` writes exactly its total, in 100-byte lines.
    assert_eq!(lines, 200_000_000 / 100, "lines lost");
}

fn crash_reports_and_the_hook(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "crash_reports: { dir: \"$DIR/crashes\", keep: 2 }\n\
         on_crash: \"env | grep ^WARDEN_ | sort > $DIR/hook-$$WARDEN_RESTARTS\"\n\
         services:\n  crashy:\n    command: \"echo starting; echo bad thing >&2; exit 3\"\n    \
         max_restarts: 3\n    backoff: { initial: 10ms, max: 10ms }\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    assert_eq!(warden.wait(20 * SECOND), 1, "{}", warden.stderr());
    let mut reports: Vec<_> =
        std::fs::read_dir(dir.0.join("crashes")).unwrap().map(|e| e.unwrap().path()).collect();
    reports.sort();
    assert_eq!(reports.len(), 2, "only the newest are kept: {reports:?}");
    let last = std::fs::read_to_string(&reports[1]).unwrap();
    assert!(last.starts_with("{\"service\":\"crashy\""), "{last}");
    assert!(last.contains("\"exit_code\":3,\"signal\":null,\"core_dumped\":false"), "{last}");
    assert!(last.contains("\"restarts\":3,\"next\":\"failed\""), "{last}");
    assert!(
        last.contains(
            "{\"stream\":\"stdout\",\"line\":\"starting\"},{\"stream\":\"stderr\",\"line\":\"bad thing\"}]"
        ),
        "{last}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&reports[1]).unwrap().permissions().mode() & 0o777, 0o600);
    let hook = std::fs::read_to_string(dir.0.join("hook-3")).unwrap();
    let report = reports[1].display().to_string();
    assert_eq!(
        // WARDEN_CONTROL is the harness's own setting, passed down like any variable.
        hook.lines().filter(|l| !l.starts_with("WARDEN_CONTROL=")).collect::<Vec<_>>(),
        [
            "WARDEN_EXIT_CODE=3",
            "WARDEN_NEXT=failed",
            &format!("WARDEN_REPORT={report}"),
            "WARDEN_RESTARTS=3",
            "WARDEN_SERVICE=crashy",
            "WARDEN_SIGNAL=",
        ]
    );
    for restarts in 0..3 {
        assert!(dir.0.join(format!("hook-{restarts}")).exists(), "no hook for crash {restarts}");
    }
}

fn a_full_disk_is_survived(mode: Mode) {
    let dir = Dir::new();
    let disk = dir.0.join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=128k", "tmpfs"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(disk.clone());
    let config = dir.config(
        "services:\n  w:\n    command: \"$KIT flood 1000000; echo still here\"\n    restart: never\n    \
         logs: { file: \"$DIR/disk/w.log\", max_size: 1M, keep: 1 }\n  other:\n    command: [sleep, \"100\"]\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    warden.expect_stderr(20 * SECOND, "w: running -> exited: exited with code 0");
    // The log-file thread's warning may come after the exit line.
    warden.expect_stderr(5 * SECOND, "No space left on device");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
    let err = warden.stderr();
    assert_eq!(err.matches("No space left on device").count(), 1, "one warning: {err}");
    assert!(err.contains("lines of services' output could not be written and were dropped"), "{err}");
}

fn a_closed_stdout_is_survived(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  talker:\n    command: \"echo hello; sleep 0.2; exit 1\"\n    max_restarts: 3\n    \
         backoff: { initial: 10ms, max: 10ms }\n",
    );
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    unsafe { libc::close(fds[0]) };
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.stdout(Stdio::from(unsafe { OwnedFd::from_raw_fd(fds[1]) }));
    let mut warden = launch.start();
    // Supervision goes on: every restart happens, then failed, then exit 1.
    assert_eq!(warden.wait(20 * SECOND), 1, "{}", warden.stderr());
    let err = warden.stderr();
    assert_eq!(err.matches("cannot write services' output to stdout").count(), 1, "{err}");
    assert!(err.contains("talker: running -> failed"), "{err}");
}

fn output_of_a_service_removed_by_reload_is_kept(mode: Mode) {
    let dir = Dir::new();
    let service =
        "  gone:\n    command: \"trap 'echo bye; exit 0' TERM; echo hi; while :; do sleep 0.05; done\"\n";
    let config = dir.config(&format!("services:\n{service}  stays:\n    command: [sleep, \"100\"]\n"));
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    warden.expect("gone | hi");
    dir.config("services:\n  stays:\n    command: [sleep, \"100\"]\n");
    warden.signal(libc::SIGHUP);
    // Its last words, written while it stops, are still labelled and written.
    warden.expect("gone | bye");
    warden.expect_stderr(5 * SECOND, "gone: stopping -> stopped");
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`
fn is_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn timestamps_on_prefixed_and_file_lines(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "log_timestamps: true\nservices:\n  p:\n    command: \"echo one\"\n    restart: never\n  \
         f:\n    command: \"echo two\"\n    restart: never\n    logs: { file: \"$DIR/f.log\" }\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    let out = warden.rest_of_stdout();
    assert_eq!(out.len(), 1, "{out:?}");
    let (time, rest) = out[0].split_at(24);
    assert!(is_timestamp(time) && rest == " p | one", "{out:?}");
    let file = std::fs::read_to_string(dir.0.join("f.log")).unwrap();
    let (time, rest) = file.split_at(24);
    assert!(is_timestamp(time) && rest == " two\n", "{file:?}");
}

fn a_hanging_hook_is_killed_at_its_timeout(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "on_crash: { command: [sleep, \"100\"], timeout: 300ms }\n\
         services:\n  c:\n    command: \"exit 4\"\n    restart: never\n  stays:\n    command: [sleep, \"100\"]\n",
    );
    let warden = Launch::new(mode, &["-c", &config]).start();
    warden.expect_stderr(5 * SECOND, "c: running -> failed");
    let seen = Instant::now();
    warden.expect_stderr(5 * SECOND, "c: on_crash hook still running after its timeout: killing it");
    let waited = seen.elapsed();
    assert!(waited >= Duration::from_millis(200) && waited < 2 * SECOND, "{waited:?}");
    warden.expect_stderr(5 * SECOND, "c: on_crash hook killed by SIGKILL");
    // Supervision went on meanwhile: the other service was never touched.
    assert!(!warden.stderr().contains("stays: running ->"), "{}", warden.stderr());
}

/// A run of hundreds of lines in one read keeps only its end in the tail
/// (copied whole, made into tail lines when read): the crash report holds
/// exactly the last 50 lines, in order, labelled and in a log file alike.
fn a_floods_last_lines_are_its_tail(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "crash_reports: { dir: \"$DIR/crashes\", keep: 10 }\n\
         services:\n  labelled:\n    command: \"seq 1 300; exit 3\"\n    restart: never\n  \
         filed:\n    command: \"seq 1 300; exit 3\"\n    restart: never\n    logs: { file: \"$DIR/filed.log\" }\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    assert_eq!(warden.wait(20 * SECOND), 1, "{}", warden.stderr());
    let expected: String = (251..=300)
        .map(|i| format!("{{\"stream\":\"stdout\",\"line\":\"{i}\"}}"))
        .collect::<Vec<_>>()
        .join(",");
    for name in ["labelled", "filed"] {
        let report = std::fs::read_dir(dir.0.join("crashes"))
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .find(|r| r.starts_with(&format!("{{\"service\":\"{name}\"")))
            .unwrap_or_else(|| panic!("no crash report of {name}"));
        assert!(report.contains(&format!("[{expected}]")), "{name}: {report}");
    }
    assert_eq!(std::fs::read_to_string(dir.0.join("filed.log")).unwrap().lines().count(), 300);
}

/// A FIFO nobody opens for reading stands in for a log file on a mount that
/// stopped answering: opening it for writing blocks until a reader comes.
fn hanging_log_path(dir: &Dir) -> std::path::PathBuf {
    let path = dir.0.join("hung.log");
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    path
}

/// warden on `config`, with its control socket at `socket`, once it answers there.
fn start_on(mode: Mode, config: &str, socket: &str) -> Running {
    let mut launch = Launch::new(mode, &["-c", config]);
    launch.command.env("WARDEN_CONTROL", socket);
    let warden = launch.start();
    assert!(wait_until(5 * SECOND, || std::path::Path::new(socket).exists()), "no control socket");
    warden
}

/// The restart counter of service `name`, 1.5 s apart.
fn restarts_over_a_while(socket: &str, name: &str) -> (u64, u64) {
    let first = restarts_of(&status_json(socket), name);
    hold(1500 * Duration::from_millis(1));
    (first, restarts_of(&status_json(socket), name))
}

/// While a service's log file hangs, warden goes on supervising (restarts,
/// control socket) with bounded memory, the service is held back instead of
/// its lines being dropped, and once the file answers every line arrives, in
/// order.
fn a_log_file_that_hangs_stops_nothing(mode: Mode) {
    let dir = Dir::new();
    let fifo = hanging_log_path(&dir);
    let socket = format!("{}/w.sock", dir.0.display());
    let config = dir.config(
        "services:\n  flood:\n    command: \"$KIT flood 20000000; touch $DIR/done\"\n    restart: never\n    \
         logs: { file: \"$DIR/hung.log\", max_size: 1G }\n  \
         crash:\n    command: [\"/bin/false\"]\n    restart: always\n    backoff: { initial: 0s, max: 0s }\n    \
         min_uptime: 0s\n    logs: null\n",
    );
    let mut warden = start_on(mode, &config, &socket);
    let (first, second) = restarts_over_a_while(&socket, "crash");
    assert!(second > first, "no restarts while the log file hangs: {first} then {second}");
    assert!(!dir.0.join("done").exists(), "the flood was not held back");
    let rss = rss_kib(warden.warden_pid);
    assert!(rss < 8 * 1024, "{rss} KiB while the log file hangs");

    // The file answers: everything comes, whole and in order.
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = 0u64;
        for line in std::io::BufReader::new(std::fs::File::open(fifo).unwrap()).lines() {
            let line = line.unwrap();
            assert!(line.starts_with(&format!("{lines:012} ")) && line.len() == 99, "{lines}: {line:?}");
            lines += 1;
            if lines == 20_000_000 / 100 {
                break;
            }
        }
        lines
    });
    assert!(wait_until(30 * SECOND, || dir.0.join("done").exists()), "the flood never finished");
    assert_eq!(reader.join().unwrap(), 20_000_000 / 100, "lines lost");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    assert!(!warden.stderr().contains("dropped"), "{}", warden.stderr());
}

/// A log file that never answers holds warden's exit for at most the 2 s it
/// gives a slow reader, and the lines it could not write are counted.
fn a_log_file_that_hangs_does_not_hold_the_exit(mode: Mode) {
    let dir = Dir::new();
    hanging_log_path(&dir);
    let config = dir.config(
        "grace: 2s\nservices:\n  w:\n    command: \"seq 1 1000; touch $DIR/written; exec sleep 1000\"\n    \
         logs: { file: \"$DIR/hung.log\" }\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    warden.expect_stderr(5 * SECOND, "w: starting -> running");
    // On a loaded machine the shell may not have run seq yet: then there
    // would be no lines to drop.
    assert!(wait_until(10 * SECOND, || dir.0.join("written").exists()), "seq never ran");
    hold(Duration::from_millis(300));
    let asked = Instant::now();
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    let took = asked.elapsed();
    assert!(took < 4500 * Duration::from_millis(1), "exit took {took:?}");
    assert!(
        warden.stderr().contains("1000 lines of services' output could not be written and were dropped"),
        "{}",
        warden.stderr()
    );
}

/// A log file and the crash reports on a mount that stops answering: warden
/// goes on restarting and answering, the on_crash hook runs without its
/// report once its timeout has passed, and SIGTERM ends warden within its
/// grace and the 2 s it gives unwritten output.
fn a_mount_that_stops_answering_stops_nothing(mode: Mode) {
    let dir = Dir::new();
    let mount = Mount::new(&dir);
    let socket = format!("{}/w.sock", dir.0.display());
    let config = dir.config(
        "grace: 2s\ncrash_reports: { dir: \"$DIR/mnt/crashes\" }\n\
         on_crash: { command: \"echo \\\"[$$WARDEN_REPORT]\\\" > $DIR/hook-$$WARDEN_RESTARTS\", timeout: 1s }\n\
         services:\n  logged:\n    command: \"seq 1 1000; exec sleep 1000\"\n    \
         logs: { file: \"$DIR/mnt/logged.log\" }\n  \
         crashy:\n    command: \"echo bad; exit 3\"\n    restart: always\n    \
         backoff: { initial: 100ms, max: 100ms }\n    min_uptime: 0s\n    logs: null\n",
    );
    mount.stop_answering();
    let mut warden = start_on(mode, &config, &socket);
    let (first, second) = restarts_over_a_while(&socket, "crashy");
    assert!(second > first + 3, "restarts stalled while the mount hangs: {first} then {second}");
    // The first crash's hook waited its 1 s timeout for the report, then ran without it.
    assert!(wait_until(5 * SECOND, || dir.0.join("hook-1").exists()), "{}", warden.stderr());
    assert_eq!(std::fs::read_to_string(dir.0.join("hook-1")).unwrap(), "[]\n");
    warden.expect_stderr(SECOND, "its crash report is still not saved: the on_crash hook runs without it");
    let asked = Instant::now();
    warden.signal(libc::SIGTERM);
    warden.wait(20 * SECOND);
    let took = asked.elapsed();
    assert!(took < 6 * SECOND, "exit took {took:?}: {}", warden.stderr());
    assert!(
        warden.stderr().contains("1000 lines of services' output could not be written and were dropped"),
        "{}",
        warden.stderr()
    );
}

/// The size of the pipe at `fd` of process `pid` (its own description of
/// the same pipe, opened through /proc).
/// A log file on a mount that stops answering once warden has it open: the
/// file is open in the disk thread's own descriptor table, so a service
/// started afterwards runs at once. (With the file in the loop's table, a
/// child forked after the hang closed its copy in `execve`, and closing a
/// FUSE file waits for the server, uninterruptibly: no service, probe or
/// hook could start any more, nor be killed.)
fn a_log_file_open_on_a_mount_that_hangs_holds_no_start(mode: Mode) {
    let dir = Dir::new();
    let mount = Mount::new(&dir);
    let socket = format!("{}/w.sock", dir.0.display());
    let config = dir.config(
        "services:\n  logged:\n    command: \"echo first; exec sleep 1000\"\n    \
         logs: { file: \"$DIR/mnt/logged.log\" }\n  \
         later:\n    command: [sleep, \"1000\"]\n    enabled: false\n",
    );
    let mut warden = start_on(mode, &config, &socket);
    let written = dir.0.join("source/logged.log");
    let first = || std::fs::read_to_string(&written).is_ok_and(|text| text == "first\n");
    assert!(wait_until(5 * SECOND, first), "the log file was never written: {}", warden.stderr());
    mount.stop_answering();
    for verb in ["start", "restart", "restart"] {
        let asked = Instant::now();
        let run = std::process::Command::new(common::warden())
            .args([verb, "--timeout", "3s", "later"])
            .env("WARDEN_CONTROL", &socket)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{verb}: {said}\n{}", warden.stderr());
        assert!(asked.elapsed() < 2 * SECOND, "{verb} took {:?}", asked.elapsed());
    }
    // Its daemon killed, the mount fails every call: warden can close the file.
    drop(mount);
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}

fn pipe_size(pid: i32, fd: i32) -> i32 {
    use std::os::fd::AsRawFd;
    let pipe = std::fs::OpenOptions::new().write(true).open(format!("/proc/{pid}/fd/{fd}")).unwrap();
    unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_GETPIPE_SZ) }
}

/// One write of 40 KiB (a buffered program's) grows a capture pipe to
/// 1 MiB; a service that writes a line keeps the kernel's 64 KiB.
fn a_chatty_service_gets_a_bigger_pipe_and_a_quiet_one_does_not(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  chatty:\n    command: \"$KIT flood 40000 100 40000; exec sleep 1001\"\n  \
         quiet:\n    command: \"echo hello; exec sleep 1002\"\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    // Both have written everything (in either order).
    let last = format!("chatty | 000000000399 {}", "x".repeat(86));
    warden.expect_all(10 * SECOND, &["quiet | hello", &last]);
    // Each sleeps for a time of its own, which names it in /proc.
    let sleeper = |seconds: &str| {
        let cmdline = format!("sleep\u{0}{seconds}\u{0}");
        let mut found = None;
        let listed = wait_until(10 * SECOND, || {
            found = children_of(warden.warden_pid).into_iter().find(|&pid| {
                std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default() == cmdline
            });
            found.is_some()
        });
        assert!(listed, "no sleep {seconds} under warden");
        found.unwrap()
    };
    assert_eq!(pipe_size(sleeper("1001"), 1), 1024 * 1024, "the chatty one's pipe");
    assert_eq!(pipe_size(sleeper("1002"), 1), 64 * 1024, "the quiet one's pipe");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}

/// A program that writes one line per `write` (Go's fmt.Println, a logger
/// that flushes every record): warden reads its pipe about once a
/// millisecond while it trickles, not once for every line or two, and every
/// line still arrives, whole and in order.
fn a_line_at_a_time_is_read_in_batches(mode: Mode) {
    let dir = Dir::new();
    let log = dir.0.join("flood.log");
    let config = dir.config(&format!(
        "services:\n  flood:\n    command: \"$KIT flood 5000000 100 0; exec sleep 1001\"\n    \
         logs: {{file: {}}}\n",
        log.display()
    ));
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    let complete = || std::fs::metadata(&log).is_ok_and(|m| m.len() >= 5_000_000);
    assert!(wait_until(30 * SECOND, complete), "the 50,000 lines never all reached the file");
    let reads = read_calls(warden.warden_pid);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        assert_eq!(line, format!("{n:012} {}", "x".repeat(86)), "line {n}");
        count += 1;
    }
    assert_eq!(count, 50_000);
    // Read as it came, that is some 20,000 reads (two or three lines each).
    assert!(reads < 2_500, "warden made {reads} reads for 50,000 lines written one at a time");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}
