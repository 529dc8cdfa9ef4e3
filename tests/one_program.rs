//! One-program mode (`warden -- CMD`), run as real PID 1 of a fresh PID namespace
//! and as a subreaper: exit codes, signal forwarding, the child's starting state,
//! pass-through of argv/env/cwd/stdio, reaping, grace and leftovers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks)]

mod common;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const SECOND: Duration = Duration::from_secs(1);

in_both_modes!(
    exit_codes_pass_through,
    death_by_signal_is_128_plus_n,
    exit_map_rewrites_codes,
    exec_failures_are_127_and_126,
    every_catchable_signal_is_forwarded,
    stop_signals_are_forwarded,
    sigchld_is_not_forwarded,
    child_gets_clean_signal_state_from_dirty_warden,
    child_gets_only_inherited_fds,
    argv_passes_through_unchanged,
    environment_passes_through_unchanged,
    working_directory_passes_through,
    stdio_bytes_pass_through,
    orphans_are_reaped_while_the_program_runs,
    ten_thousand_orphans_are_all_reaped,
    grace_ends_in_sigkill,
    a_program_that_outlives_sigkill_is_named,
    stop_signals_option_leaves_quit_to_the_program,
    repeated_stop_signals_reach_the_program,
    every_signal_in_a_row_reaches_the_program,
    a_stop_signal_after_the_exit_does_not_kill_the_leftovers,
    leftovers_get_sigterm_and_are_waited_for,
    leftovers_ignoring_sigterm_are_killed_at_grace,
    group_option_signals_the_whole_group,
    rewrite_option_changes_the_forwarded_signal,
    option_parsing_stops_at_the_first_word,
    own_sigpipe_is_not_forwarded,
    ctrl_c_on_a_terminal_reaches_the_program_once,
    idle_warden_makes_no_system_calls,
    start_up_code_is_released_once_the_program_runs,
);

fn exit_codes_pass_through(mode: Mode) {
    for code in [0, 1, 42, 255] {
        let (got, _, err) = run_to_end(mode, &["--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(got, code, "stderr: {err}");
    }
}

fn death_by_signal_is_128_plus_n(mode: Mode) {
    for (signal, code) in [("KILL", 137), ("TERM", 143), ("SEGV", 139), ("INT", 130)] {
        let (got, _, err) = run_to_end(mode, &["--", "sh", "-c", &format!("kill -{signal} $$")]);
        assert_eq!(got, code, "{signal}; stderr: {err}");
    }
}

fn exit_map_rewrites_codes(mode: Mode) {
    let (got, ..) = run_to_end(mode, &["--exit-map", "143:0", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(got, 0);
    let (got, ..) = run_to_end(mode, &["--exit-map", "3:7", "--exit-map", "4:0", "sh", "-c", "exit 3"]);
    assert_eq!(got, 7);
    let (got, ..) = run_to_end(mode, &["--exit-map", "3:7", "sh", "-c", "exit 5"]);
    assert_eq!(got, 5);
}

fn exec_failures_are_127_and_126(mode: Mode) {
    let (code, _, err) = run_to_end(mode, &["--", "/no/such/program", "x"]);
    assert_eq!(code, 127);
    assert!(err.contains("cannot run \"/no/such/program\"") && err.contains("No such file"), "{err}");
    let (code, _, err) = run_to_end(mode, &["--", "no-such-program-in-path"]);
    assert_eq!(code, 127);
    assert!(err.contains("\"no-such-program-in-path\""), "{err}");
    let (code, _, err) = run_to_end(mode, &["--", "/etc/passwd"]);
    assert_eq!(code, 126);
    assert!(err.contains("cannot run \"/etc/passwd\"") && err.contains("Permission denied"), "{err}");
}

/// Every catchable signal that does not mean "stop", including the fault signals
/// tini and catatonit do not forward when they are sent with kill(2).
fn every_catchable_signal_is_forwarded(mode: Mode) {
    let kit = testkit();
    let mut warden = Launch::new(mode, &["--", &kit, "signals", "--exit-on", "USR2"]).start();
    warden.expect("ready");
    let mut signals = vec![
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGSTKFLT, "SIGSTKFLT"),
        (libc::SIGCONT, "SIGCONT"),
        (libc::SIGTSTP, "SIGTSTP"),
        (libc::SIGTTIN, "SIGTTIN"),
        (libc::SIGTTOU, "SIGTTOU"),
        (libc::SIGURG, "SIGURG"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
        (libc::SIGWINCH, "SIGWINCH"),
        (libc::SIGIO, "SIGIO"),
        (libc::SIGPWR, "SIGPWR"),
        (libc::SIGSYS, "SIGSYS"),
    ];
    let realtime: Vec<(i32, String)> = [libc::SIGRTMIN(), libc::SIGRTMIN() + 3, libc::SIGRTMAX()]
        .iter()
        .map(|&s| (s, format!("SIG{s}")))
        .collect();
    signals.extend(realtime.iter().map(|(s, n)| (*s, n.as_str())));
    for (signal, name) in signals {
        warden.signal(signal);
        warden.expect_line(5 * SECOND, |l| l == name);
    }
    warden.signal(libc::SIGUSR2);
    assert_eq!(warden.wait(5 * SECOND), 0);
}

fn stop_signals_are_forwarded(mode: Mode) {
    let kit = testkit();
    for name in ["TERM", "INT", "QUIT"] {
        let mut warden = Launch::new(mode, &["--", &kit, "signals", "--exit-on", name]).start();
        warden.expect("ready");
        warden.signal(libc_signal(name));
        warden.expect(&format!("SIG{name}"));
        assert_eq!(warden.wait(5 * SECOND), 0, "{name}");
    }
}

fn libc_signal(name: &str) -> i32 {
    match name {
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "USR1" => libc::SIGUSR1,
        _ => panic!("{name}"),
    }
}

fn sigchld_is_not_forwarded(mode: Mode) {
    let kit = testkit();
    let mut warden = Launch::new(mode, &["--", &kit, "signals", "--exit-on", "USR2"]).start();
    warden.expect("ready");
    warden.signal(libc::SIGCHLD);
    warden.signal(libc::SIGUSR1);
    let line = warden.expect_line(5 * SECOND, |_| true);
    assert_eq!(line, "SIGUSR1", "SIGCHLD must not be forwarded");
    warden.signal(libc::SIGUSR2);
    assert_eq!(warden.expect_line(5 * SECOND, |_| true), "SIGUSR2");
    assert_eq!(warden.wait(5 * SECOND), 0);
}

/// warden started with signals blocked and ignored (SIGCHLD among them: that would
/// make the kernel discard exit statuses) still gives its child a clean state.
fn child_gets_clean_signal_state_from_dirty_warden(mode: Mode) {
    let dirty = |launch: &mut Launch| unsafe {
        launch.command.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGTERM, libc::SIGUSR1, libc::SIGHUP, libc::SIGCHLD] {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            for s in [libc::SIGINT, libc::SIGQUIT, libc::SIGPIPE, libc::SIGTTOU, libc::SIGUSR2, libc::SIGCHLD]
            {
                libc::signal(s, libc::SIG_IGN);
            }
            // Signal 32 is reserved by the C library, whose signal() refuses it.
            let ignore = [libc::SIG_IGN, 0, 0, 0];
            libc::syscall(libc::SYS_rt_sigaction, 32, ignore.as_ptr(), 0, 8);
            Ok(())
        });
    };
    // grep, not a Rust helper: std itself sets SIGPIPE to ignored at start-up.
    let mut launch = Launch::new(mode, &["--", "grep", "^Sig[BI]", "/proc/self/status"]);
    dirty(&mut launch);
    let mut warden = launch.start();
    warden.expect("SigBlk:\t0000000000000000");
    warden.expect("SigIgn:\t0000000000000000");
    assert_eq!(warden.wait(5 * SECOND), 0);

    let mut launch = Launch::new(mode, &["--", "sh", "-c", "exit 42"]);
    dirty(&mut launch);
    assert_eq!(launch.start().wait(5 * SECOND), 42, "exit status lost with SIGCHLD ignored");
}

/// CMD gets exactly what warden inherited (here 5 and 9, a gap between) and
/// none of warden's own descriptors (signalfd, epoll, its output streams).
fn child_gets_only_inherited_fds(mode: Mode) {
    let mut launch = Launch::new(mode, &["--", &testkit(), "status"]);
    unsafe {
        launch.command.pre_exec(|| {
            // Nothing but stdio and two descriptors without close-on-exec.
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            libc::dup2(2, 5);
            libc::dup2(2, 9);
            Ok(())
        });
    }
    let mut warden = launch.start();
    warden.expect("fds 0 1 2 5 9");
    assert_eq!(warden.wait(5 * SECOND), 0);
}

fn argv_passes_through_unchanged(mode: Mode) {
    let args: Vec<OsString> = vec![
        "with space".into(),
        "".into(),
        OsString::from_vec(vec![0xff, 0xfe, b'x']),
        "-v".into(),
        "--".into(),
        "ünïcødé".into(),
    ];
    let mut all: Vec<OsString> = vec!["--".into(), testkit().into(), "argv".into()];
    all.extend(args.iter().cloned());
    let (code, out, err) = run_to_end(mode, &all);
    assert_eq!(code, 0, "{err}");
    let expected: Vec<String> = args.iter().map(|a| hex(a.as_encoded_bytes())).collect();
    assert_eq!(out, expected.join("\n"));
}

fn environment_passes_through_unchanged(mode: Mode) {
    let mut launch = Launch::new(mode, &["--", &testkit(), "env"]);
    launch
        .command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("A", "1")
        .env("EMPTY", "")
        .env("ODD", OsString::from_vec(vec![0xff, b'=', b' ']));
    let mut warden = launch.start();
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    let got = warden.rest_of_stdout();
    let mut expected: Vec<String> =
        [&b"PATH=/usr/bin:/bin"[..], b"A=1", b"EMPTY=", b"ODD=\xff= "].iter().map(|v| hex(v)).collect();
    expected.sort();
    assert_eq!(got, expected);
}

fn working_directory_passes_through(mode: Mode) {
    let dir = std::env::temp_dir().canonicalize().unwrap();
    let mut launch = Launch::new(mode, &["--", &testkit(), "cwd"]);
    launch.command.current_dir(&dir);
    let mut warden = launch.start();
    warden.expect(&dir.display().to_string());
    assert_eq!(warden.wait(5 * SECOND), 0);
}

fn stdio_bytes_pass_through(mode: Mode) {
    let input: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    for (script, to_stderr) in [("cat", false), ("cat >&2", true)] {
        let mut launch = Launch::new(mode, &["--", "sh", "-c", script]);
        launch.command.stdin(Stdio::piped());
        let mut child = launch.command.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = input.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(output.status.code(), Some(0));
        let (got, other) =
            if to_stderr { (output.stderr, output.stdout) } else { (output.stdout, output.stderr) };
        assert!(got == input, "{script}: {} bytes came out of {}", got.len(), input.len());
        assert!(other.is_empty(), "{script}: unexpected output on the other stream");
    }
}

/// Orphans are reaped while the program keeps running: only the program is left.
fn wait_for_orphans_reaped(warden: &Running, timeout: Duration) {
    let pid = warden.warden_pid;
    let mut children = Vec::new();
    let done = wait_until(timeout, || {
        children = children_of(pid);
        children.len() == 1 && state_of(children[0]) != Some('Z')
    });
    let zombies = children.iter().filter(|&&c| state_of(c) == Some('Z')).count();
    assert!(done, "{} children left, {zombies} of them zombies", children.len());
}

fn orphans_are_reaped_while_the_program_runs(mode: Mode) {
    let mut warden = Launch::new(mode, &["--", &testkit(), "orphans", "100"]).start();
    warden.expect("released");
    wait_for_orphans_reaped(&warden, 5 * SECOND);
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(5 * SECOND), 0);
}

fn ten_thousand_orphans_are_all_reaped(mode: Mode) {
    let mut warden = Launch::new(mode, &["--", &testkit(), "orphans", "10000"]).start();
    warden.expect_line(120 * SECOND, |l| l == "released");
    wait_for_orphans_reaped(&warden, 30 * SECOND);
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

fn grace_ends_in_sigkill(mode: Mode) {
    let mut warden = Launch::new(mode, &["-v", "--grace", "1s", "--", &testkit(), "ignore-term"]).start();
    warden.expect_line(5 * SECOND, |l| l.starts_with("pid "));
    let start = Instant::now();
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 137);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(950) && took < 4 * SECOND, "took {took:?}");
    assert!(warden.stderr().contains("grace period of 1s is over"), "{}", warden.stderr());
}

/// A program that SIGKILL cannot end (frozen by the v1 freezer, as one stuck
/// on a hung mount is in state D): warden gives up 2 s after the kill and
/// names it.
fn a_program_that_outlives_sigkill_is_named(mode: Mode) {
    let mut warden = Launch::new(mode, &["--grace", "1s", "--", "sleep", "1000"]).start();
    let mut sleeper = 0;
    assert!(wait_until(5 * SECOND, || {
        sleeper = descendants(warden.warden_pid).first().copied().unwrap_or(0);
        sleeper != 0
    }));
    // The sleep holds warden's stderr too: the harness reads it to the end
    // once the sleep has died.
    let line = stop_with_a_frozen_sleep(
        &mut warden,
        sleeper,
        "processes survived SIGKILL for 2s; exiting anyway: ",
        137,
    );
    assert!(line.starts_with("warden: warning: processes survived"), "{line}");
}

/// A JVM prints its threads on QUIT and runs on: with `--stop-signals
/// TERM,INT` a QUIT is only forwarded and starts no grace (by default it
/// does, and the program was SIGKILLed when the grace ran out); TERM still
/// stops.
fn stop_signals_option_leaves_quit_to_the_program(mode: Mode) {
    let kit = testkit();
    // (the list, by option or environment; a signal it leaves out; the one it names)
    let cases = [
        (Some("TERM,INT"), None, (libc::SIGQUIT, "SIGQUIT"), (libc::SIGTERM, "TERM")),
        (None, Some("INT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "INT")),
    ];
    for (option, variable, (other, other_name), (stop, stop_name)) in cases {
        let mut args = vec!["--grace", "1s"];
        if let Some(list) = option {
            args.extend(["--stop-signals", list]);
        }
        args.extend(["--", &kit, "signals", "--exit-on", stop_name, "--code", "3"]);
        let mut launch = Launch::new(mode, &args);
        if let Some(list) = variable {
            launch.command.env("WARDEN_STOP_SIGNALS", list);
        }
        let mut warden = launch.start();
        warden.expect("ready");
        warden.signal(other);
        warden.expect_line(5 * SECOND, |l| l == other_name);
        hold(Duration::from_millis(1500));
        assert!(warden.child.try_wait().unwrap().is_none(), "ended after {other_name}: {}", warden.stderr());
        warden.signal(libc::SIGUSR1);
        warden.expect_line(5 * SECOND, |l| l == "SIGUSR1");
        warden.signal(stop);
        assert_eq!(warden.wait(10 * SECOND), 3, "{}", warden.stderr());
    }
}

/// PostgreSQL's shutdown is TERM (smart), then INT (fast), then QUIT
/// (immediate): each must reach it, with warden running throughout, and the
/// exit code is the program's.
fn repeated_stop_signals_reach_the_program(mode: Mode) {
    let kit = testkit();
    let mut warden =
        Launch::new(mode, &["--grace", "60s", "--", &kit, "signals", "--exit-on", "QUIT", "--code", "7"])
            .start();
    warden.expect("ready");
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        warden.signal(signal);
        warden.expect_line(5 * SECOND, |l| l == name);
        assert!(warden.child.try_wait().unwrap().is_none(), "warden exited after {name}");
    }
    warden.signal(libc::SIGQUIT);
    warden.expect("SIGQUIT");
    assert_eq!(warden.wait(5 * SECOND), 7, "{}", warden.stderr());
}

/// The signals of the issue that found the fault, one after another, stop
/// signals among them: every one arrives and warden is still running.
fn every_signal_in_a_row_reaches_the_program(mode: Mode) {
    let kit = testkit();
    let mut warden =
        Launch::new(mode, &["--grace", "60s", "--", &kit, "signals", "--exit-on", "TSTP"]).start();
    warden.expect("ready");
    let mut signals: Vec<(i32, String)> = [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGILL,
        libc::SIGTRAP,
        libc::SIGABRT,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGUSR1,
        libc::SIGSEGV,
        libc::SIGUSR2,
        libc::SIGPIPE,
        libc::SIGALRM,
        libc::SIGTERM,
        libc::SIGSTKFLT,
        libc::SIGCONT,
        libc::SIGURG,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGWINCH,
        libc::SIGIO,
        libc::SIGPWR,
        libc::SIGSYS,
    ]
    .into_iter()
    .map(|s| (s, String::new()))
    .collect();
    signals
        .extend([libc::SIGRTMIN(), libc::SIGRTMIN() + 3, libc::SIGRTMAX()].map(|s| (s, format!("SIG{s}"))));
    for (signal, name) in &mut signals {
        if name.is_empty() {
            *name = format!("SIG{}", signal_name_of(*signal));
        }
    }
    for (signal, name) in &signals {
        warden.signal(*signal);
        warden.expect_line(5 * SECOND, |l| l == name);
    }
    assert!(warden.child.try_wait().unwrap().is_none(), "warden exited: {}", warden.stderr());
    warden.signal(libc::SIGTSTP);
    assert_eq!(warden.wait(5 * SECOND), 0);
}

fn signal_name_of(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "HUP",
        libc::SIGINT => "INT",
        libc::SIGQUIT => "QUIT",
        libc::SIGILL => "ILL",
        libc::SIGTRAP => "TRAP",
        libc::SIGABRT => "ABRT",
        libc::SIGBUS => "BUS",
        libc::SIGFPE => "FPE",
        libc::SIGUSR1 => "USR1",
        libc::SIGSEGV => "SEGV",
        libc::SIGUSR2 => "USR2",
        libc::SIGPIPE => "PIPE",
        libc::SIGALRM => "ALRM",
        libc::SIGTERM => "TERM",
        libc::SIGSTKFLT => "STKFLT",
        libc::SIGCONT => "CONT",
        libc::SIGURG => "URG",
        libc::SIGXCPU => "XCPU",
        libc::SIGXFSZ => "XFSZ",
        libc::SIGVTALRM => "VTALRM",
        libc::SIGPROF => "PROF",
        libc::SIGWINCH => "WINCH",
        libc::SIGIO => "IO",
        libc::SIGPWR => "PWR",
        libc::SIGSYS => "SYS",
        _ => "?",
    }
}

/// After the program exits, a stop signal does not kill what it left: the
/// leftovers get it and still have the grace to finish.
fn a_stop_signal_after_the_exit_does_not_kill_the_leftovers(mode: Mode) {
    let dir = tempdir();
    // The leftover records every signal and leaves on SIGINT only.
    let script = background_then_exit(&dir, "signals --exit-on INT");
    let mut warden = Launch::new(mode, &["-v", "--grace", "30s", "--", "sh", "-c", &script]).start();
    warden.expect("ready");
    warden.expect_stderr(10 * SECOND, "program exited with code 5");
    // The sweep's SIGTERM reaches it and does not end it.
    warden.expect("SIGTERM");
    warden.signal(libc::SIGINT);
    warden.expect("SIGINT");
    assert_eq!(warden.wait(10 * SECOND), 5, "{}", warden.stderr());
    assert!(!warden.stderr().contains("killing"), "{}", warden.stderr());
}

/// A shell line that starts `testkit ARGS &` and exits 5 once it is ready.
fn background_then_exit(dir: &std::path::Path, args: &str) -> String {
    let ready = dir.join("ready");
    format!(
        "{kit} {args} --ready {r} & i=0; while [ ! -e {r} ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; exit 5",
        kit = testkit(),
        r = ready.display()
    )
}

fn leftovers_get_sigterm_and_are_waited_for(mode: Mode) {
    let dir = tempdir();
    let marker = dir.join("marker");
    let script = background_then_exit(&dir, &format!("term-marker {}", marker.display()));
    let start = Instant::now();
    let mut warden = Launch::new(mode, &["--grace", "20s", "--", "sh", "-c", &script]).start();
    assert_eq!(warden.wait(15 * SECOND), 5, "{}", warden.stderr());
    assert!(start.elapsed() < 10 * SECOND, "waited for the grace instead of the leftover");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap_or_default(),
        "terminated\n",
        "leftover got no SIGTERM"
    );
}

fn leftovers_ignoring_sigterm_are_killed_at_grace(mode: Mode) {
    let dir = tempdir();
    let script = background_then_exit(&dir, "ignore-term");
    // A process of the test's own, outside warden's tree: a subreaper must not touch it.
    let mut bystander = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    let start = Instant::now();
    let mut warden = Launch::new(mode, &["--grace", "1s", "--", "sh", "-c", &script]).start();
    assert_eq!(warden.wait(10 * SECOND), 5, "{}", warden.stderr());
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(950), "took {took:?}");
    if mode == Mode::Subreaper {
        let leftover: i32 = std::fs::read_to_string(dir.join("ready")).unwrap().parse().unwrap();
        assert!(wait_until(2 * SECOND, || state_of(leftover).is_none()), "leftover {leftover} still alive");
    }
    assert!(bystander.try_wait().unwrap().is_none(), "warden killed a process that was not its own");
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

fn group_option_signals_the_whole_group(mode: Mode) {
    let kit = testkit();
    let script = format!("{kit} signals --tag a & exec {kit} signals --tag b --exit-on TERM");
    for (group, expect_a) in [(true, true), (false, false)] {
        let mut args = vec!["--grace", "2s"];
        if group {
            args.push("-g");
        }
        args.extend(["--", "sh", "-c", &script]);
        let mut warden = Launch::new(mode, &args).start();
        warden.expect_all(5 * SECOND, &["a ready", "b ready"]);
        warden.signal(libc::SIGUSR1);
        warden.expect_line(5 * SECOND, |l| l == "b SIGUSR1");
        warden.signal(libc::SIGTERM);
        let _ = warden.wait(10 * SECOND);
        let rest = warden.rest_of_stdout();
        let a_got = warden.seen.iter().chain(&rest).any(|l| l == "a SIGUSR1");
        assert_eq!(a_got, expect_a, "group={group}: {:?}", warden.seen);
    }
}

fn rewrite_option_changes_the_forwarded_signal(mode: Mode) {
    let args =
        ["--rewrite", "USR1:USR2", "--rewrite", "HUP:0", "--", &testkit(), "signals", "--exit-on", "USR2"];
    let mut warden = Launch::new(mode, &args).start();
    warden.expect("ready");
    warden.signal(libc::SIGHUP);
    warden.signal(libc::SIGUSR1);
    assert_eq!(warden.expect_line(5 * SECOND, |_| true), "SIGUSR2", "HUP must be dropped, USR1 become USR2");
    assert_eq!(warden.wait(5 * SECOND), 0);
}

fn option_parsing_stops_at_the_first_word(mode: Mode) {
    let (code, out, _) = run_to_end(mode, &[&testkit(), "argv", "-v", "--grace", "x"]);
    assert_eq!(code, 0);
    assert_eq!(out, ["-v", "--grace", "x"].map(|a| hex(a.as_bytes())).join("\n"));
}

/// warden's own write to a closed stderr raises SIGPIPE in warden: that must not
/// kill it nor be forwarded as if someone had sent it.
fn own_sigpipe_is_not_forwarded(mode: Mode) {
    let mut launch = Launch::new(mode, &["-vv", "--", &testkit(), "signals", "--exit-on", "USR2"]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    launch.command.stderr(writer);
    let mut warden = launch.start();
    warden.expect("ready");
    warden.signal(libc::SIGUSR1); // logged at debug level: a write to the closed pipe
    assert_eq!(warden.expect_line(5 * SECOND, |_| true), "SIGUSR1");
    warden.signal(libc::SIGUSR2);
    assert_eq!(warden.expect_line(5 * SECOND, |_| true), "SIGUSR2", "SIGPIPE was forwarded");
    assert_eq!(warden.wait(5 * SECOND), 0);
}

/// Under a terminal the program is the foreground process group, so ^C reaches
/// it straight from the line discipline, exactly once, and warden stays out of it.
fn ctrl_c_on_a_terminal_reaches_the_program_once(mode: Mode) {
    let (master, slave) = open_pty();
    let mut launch = Launch::new(mode, &["-v", "--", &testkit(), "signals", "--exit-on", "USR2"]);
    let slave_fd = slave;
    launch.command.stdin(dup(slave_fd)).stdout(dup(slave_fd)).stderr(dup(slave_fd));
    unsafe {
        launch.command.pre_exec(move || {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = launch.command.spawn().unwrap();
    unsafe { libc::close(slave_fd) };
    let mut output = String::new();
    let read_until = |want: &str, output: &mut String| {
        let deadline = Instant::now() + 5 * SECOND;
        while !output.contains(want) {
            assert!(Instant::now() < deadline, "terminal never showed {want:?}: {output:?}");
            let mut pfd = libc::pollfd { fd: master, events: libc::POLLIN, revents: 0 };
            if unsafe { libc::poll(&mut pfd, 1, 100) } == 1 {
                let mut buf = [0u8; 1024];
                let n = unsafe { libc::read(master, buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    output.push_str(&String::from_utf8_lossy(&buf[..n as usize]));
                }
            }
        }
    };
    read_until("ready", &mut output);
    assert_eq!(unsafe { libc::write(master, b"\x03".as_ptr().cast(), 1) }, 1);
    read_until("SIGINT", &mut output);
    // USR1 through warden marks the end: any duplicate SIGINT would come before it.
    let warden_pid = match mode {
        Mode::Subreaper => child.id() as i32,
        Mode::Pid1 => children_of(child.id() as i32)[0],
    };
    send(warden_pid, libc::SIGUSR1);
    read_until("SIGUSR1", &mut output);
    send(warden_pid, libc::SIGUSR2);
    read_until("SIGUSR2", &mut output);
    assert!(wait_until(5 * SECOND, || child.try_wait().unwrap().is_some()));
    assert_eq!(output.matches("SIGINT").count(), 1, "{output:?}");
    assert!(!output.contains("stopping"), "warden itself saw the ^C: {output:?}");
    unsafe { libc::close(master) };
}

fn open_pty() -> (i32, i32) {
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(master >= 0);
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(slave >= 0);
        (master, slave)
    }
}

fn dup(fd: i32) -> Stdio {
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    assert!(copy >= 0);
    unsafe { <Stdio as std::os::fd::FromRawFd>::from_raw_fd(copy) }
}

/// An idle warden blocks in epoll_wait with no timeout: strace attached for two
/// seconds sees at most the interrupted wait that the attach itself restarts.
fn idle_warden_makes_no_system_calls(mode: Mode) {
    let mut warden = Launch::new(mode, &["--", &testkit(), "signals", "--exit-on", "TERM"]).start();
    warden.expect("ready");
    let output = std::process::Command::new("timeout")
        .args(["-s", "INT", "2", "strace", "-c", "-p", &warden.warden_pid.to_string()])
        .output()
        .expect("strace is installed");
    let report = String::from_utf8_lossy(&output.stderr).into_owned();
    let calls = strace_total_calls(&report);
    assert!(calls <= 1, "idle warden made {calls} system calls:\n{report}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(5 * SECOND), 0);
}

/// The "total" line of `strace -c`; 0 when strace saw no call (it prints no table).
fn strace_total_calls(report: &str) -> u64 {
    assert!(!report.contains("Operation not permitted"), "strace could not attach: {report}");
    report
        .lines()
        .find(|l| l.trim_end().ends_with("total"))
        .and_then(|l| l.split_whitespace().nth(2).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn tempdir() -> std::path::PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("warden-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Once the program runs, warden gives back the code that started it (the
/// effect on PSS: `scripts/bench init`); what runs later, reaping and the
/// exit, faults back in, and the run ends as it would have.
fn start_up_code_is_released_once_the_program_runs(mode: Mode) {
    let (code, _, err) = run_to_end(mode, &["-vv", "--", "sh", "-c", "sleep 0.2; exit 3"]);
    assert_eq!(code, 3, "{err}");
    let released: Vec<u64> =
        err.lines().filter_map(|l| l.split("released ").nth(1)?.split(" KiB").next()?.parse().ok()).collect();
    assert_eq!(released.len(), 1, "{err}");
    assert!(released[0] >= 64, "released too little: {released:?} KiB");
}
