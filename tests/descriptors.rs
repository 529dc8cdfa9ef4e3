//! Descriptors warden is given reach the program, and nothing of warden's own
//! reaches any child: pipes passed at fds 3 and 7 (a gap between), socket
//! activation's LISTEN_PID rewritten to the receiver's pid, `inherit_fds` on
//! a service, two claimants refused. As PID 1 and as subreaper.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks)]

mod common;

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const SECOND: Duration = Duration::from_secs(1);

in_both_modes!(
    inherited_pipes_reach_the_program,
    listen_pid_naming_warden_becomes_the_programs,
    listen_pid_of_another_process_passes_unchanged,
    services_mode_gives_them_to_the_main_program_only,
    a_service_with_inherit_fds_takes_them,
);

fn pipe() -> (std::fs::File, OwnedFd) {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    unsafe { (std::fs::File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Hands `fds` (write ends of pipes) to warden as descriptors 3 and 7.
fn pass_at_3_and_7(command: &mut Command, three: &OwnedFd, seven: &OwnedFd) {
    let (three, seven) = (three.as_raw_fd(), seven.as_raw_fd());
    unsafe {
        command.pre_exec(move || {
            // dup2 clears close-on-exec on the copy: warden inherits both.
            if libc::dup2(three, 3) < 0 || libc::dup2(seven, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Nothing else: the test runner's own descriptors (a jobserver)
            // would be passed on too, rightly.
            libc::syscall(libc::SYS_close_range, 4u32, 6u32, 0u32);
            libc::syscall(libc::SYS_close_range, 8u32, u32::MAX, 0u32);
            Ok(())
        });
    }
}

/// A command that runs warden with `args`, as PID 1 or as a subreaper, with
/// `LISTEN_PID` naming warden when `listen_pid_is_warden`, else `listen_pid`.
fn warden_command(mode: Mode, args: &[&str], listen_pid: Option<&str>) -> Command {
    let mut command = match mode {
        Mode::Pid1 => {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child"]).arg(warden());
            if listen_pid == Some("warden") {
                c.env("LISTEN_PID", "1");
            }
            c
        }
        Mode::Subreaper => {
            // exec keeps the shell's pid: $$ is warden's.
            let mut c = Command::new("sh");
            let set = if listen_pid == Some("warden") { "LISTEN_PID=$$ " } else { "" };
            c.args(["-c", &format!("{set}exec \"$0\" \"$@\"")]).arg(warden());
            c
        }
    };
    if let Some(pid) = listen_pid.filter(|p| *p != "warden") {
        command.env("LISTEN_PID", pid);
    }
    command.args(args).env("WARDEN_CONTROL", "off").stdin(Stdio::null());
    command
}

/// Runs `command` to its end (bounded); returns (code, stdout, stderr).
fn run(mut command: Command) -> (i32, String, String) {
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id() as i32;
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    // Bounded: a run that hangs is killed after 20 s (not reaped yet, so the
    // pid is still the child's).
    let output = match outcome.recv_timeout(20 * SECOND) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("warden did not finish within 20 s");
        }
    };
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn inherited_pipes_reach_the_program(mode: Mode) {
    let (mut read3, write3) = pipe();
    let (mut read7, write7) = pipe();
    let kit = testkit();
    let script = format!("echo three >&3; echo seven >&7; exec {kit} status");
    let mut command = warden_command(mode, &["--", "sh", "-c", &script], None);
    pass_at_3_and_7(&mut command, &write3, &write7);
    let (code, out, err) = run(command);
    drop((write3, write7));
    assert_eq!(code, 0, "{err}");
    let (mut three, mut seven) = (String::new(), String::new());
    read3.read_to_string(&mut three).unwrap();
    read7.read_to_string(&mut seven).unwrap();
    assert_eq!((three.as_str(), seven.as_str()), ("three\n", "seven\n"));
    // The same two, and none of warden's own (signalfd, epoll, its streams).
    assert!(out.lines().any(|l| l == "fds 0 1 2 3 7"), "{out}");
}

fn listen_pid_naming_warden_becomes_the_programs(mode: Mode) {
    let (_read3, write3) = pipe();
    let (_read7, write7) = pipe();
    let mut command = warden_command(
        mode,
        &["--", "sh", "-c", "echo \"$LISTEN_PID $$ $LISTEN_FDS $LISTEN_FDNAMES\""],
        Some("warden"),
    );
    command.env("LISTEN_FDS", "2").env("LISTEN_FDNAMES", "http:admin");
    pass_at_3_and_7(&mut command, &write3, &write7);
    let (code, out, err) = run(command);
    assert_eq!(code, 0, "{err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{out}");
    assert_eq!(words[0], words[1], "LISTEN_PID is not the program's pid: {out}");
    assert_eq!(&words[2..], ["2", "http:admin"]);
}

fn listen_pid_of_another_process_passes_unchanged(mode: Mode) {
    let command =
        warden_command(mode, &["--", "sh", "-c", "echo \"$LISTEN_PID $LISTEN_FDS\""], Some("424242"));
    let mut command = command;
    command.env("LISTEN_FDS", "1");
    let (code, out, err) = run(command);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "424242 1");
}

/// A service that prints its descriptors and LISTEN_* variables, and an exec
/// probe that records its descriptors in `$DIR/probe`.
fn config_with_probe(dir: &Dir, claim: bool) -> String {
    let kit = testkit();
    dir.config(&format!(
        "services:\n  svc:\n    command: \"echo listen=$LISTEN_FDS,$LISTEN_PID; {kit} status; touch $DIR/reported; exec sleep 100\"\n{}    readiness:\n      exec: \"exec {kit} status > $DIR/probe\"\n      period: 1s\n",
        if claim { "    inherit_fds: true\n" } else { "" }
    ))
}

/// Runs `config` with `main` as the main program, pipes at 3 and 7 and
/// LISTEN_FDS=2 with LISTEN_PID naming warden; returns (code, stdout,
/// stderr) and the read end of the pipe at 3 (its writers all closed).
fn run_services_with_pipes(mode: Mode, config: &str, main: &str) -> (i32, String, String, std::fs::File) {
    let (read3, write3) = pipe();
    let (_read7, write7) = pipe();
    let mut command = warden_command(mode, &["-c", config, "--", "sh", "-c", main], Some("warden"));
    command.env("LISTEN_FDS", "2");
    pass_at_3_and_7(&mut command, &write3, &write7);
    let (code, out, err) = run(command);
    drop((write3, write7));
    (code, out, err, read3)
}

fn services_mode_gives_them_to_the_main_program_only(mode: Mode) {
    let dir = Dir::new();
    let config = config_with_probe(&dir, false);
    // The service's probe can make it ready before it printed: the main
    // program, whose end stops everything, waits for that too.
    let main = format!(
        "for i in $(seq 100); do [ -e {}/reported ] && break; sleep 0.05; done; \
         echo main-listen=$LISTEN_FDS,$LISTEN_PID,$$; exec {} status",
        dir.0.display(),
        testkit()
    );
    let (code, out, err, _) = run_services_with_pipes(mode, &config, &main);
    assert_eq!(code, 0, "{err}");
    // The main program: the two descriptors, LISTEN_PID its own pid.
    assert!(out.lines().any(|l| l == "fds 0 1 2 3 7"), "{out}");
    let main_line =
        out.lines().find_map(|l| l.strip_prefix("main-listen=")).unwrap_or_else(|| panic!("{out}"));
    let parts: Vec<&str> = main_line.split(',').collect();
    assert_eq!(parts[0], "2", "{out}");
    assert_eq!(parts[1], parts[2], "LISTEN_PID is not the main program's pid: {out}");
    // The service: only stdio (its capture pipes), and no LISTEN_* at all.
    assert!(out.lines().any(|l| l == "svc | fds 0 1 2"), "{out}");
    assert!(out.lines().any(|l| l == "svc | listen=,"), "{out}");
    // The probe: only stdio.
    assert!(wait_until(5 * SECOND, || dir.read("probe").contains("fds ")), "the probe never ran: {err}");
    assert!(dir.read("probe").lines().any(|l| l == "fds 0 1 2"), "{}", dir.read("probe"));
}

fn a_service_with_inherit_fds_takes_them(mode: Mode) {
    let dir = Dir::new();
    let config = config_with_probe(&dir, true);
    // The main program gets none of them now: its fd 3 is not the pipe.
    let main = format!(
        "for i in $(seq 100); do [ -e {}/reported ] && break; sleep 0.05; done; echo main >&3; exec {} status",
        dir.0.display(),
        testkit()
    );
    let (code, out, err, mut read3) = run_services_with_pipes(mode, &config, &main);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l == "svc | fds 0 1 2 3 7"), "{out}");
    let listen = out.lines().find_map(|l| l.strip_prefix("svc | listen=")).unwrap_or_else(|| panic!("{out}"));
    assert!(listen.starts_with("2,") && listen.len() > 2, "{out}");
    assert!(out.lines().any(|l| l == "fds 0 1 2"), "the main program got descriptors: {out}");
    assert!(wait_until(5 * SECOND, || dir.read("probe").contains("fds ")), "the probe never ran: {err}");
    assert!(dir.read("probe").lines().any(|l| l == "fds 0 1 2"), "{}", dir.read("probe"));
    let mut through = String::new();
    read3.read_to_string(&mut through).unwrap();
    assert_eq!(through, "", "the main program wrote into the inherited pipe");
}

#[test]
fn two_claimants_are_refused() {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  a:\n    command: [sleep, \"1\"]\n    inherit_fds: true\n  \
         b:\n    command: [sleep, \"1\"]\n    inherit_fds: true\n",
    );
    let output = Command::new(warden()).args(["validate", "-c", &config]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains(":7:5: services.b.inherit_fds: \"a\" already takes the inherited descriptors"),
        "{err}"
    );
}
