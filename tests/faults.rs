//! Faults a container throws at its PID 1, against the real binary as PID 1
//! and as a subreaper: fork failing with EAGAIN, descriptors running out
//! (pipes and accepts), the config deleted before a reload or on a mount
//! that stops answering, a scale whose env file is on such a mount (and
//! no path looked up in the loop on a reload or a scale), a stopped
//! service at shutdown, and a service that forks a thousand children when
//! told to stop. warden keeps supervising through each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const SECOND: Duration = Duration::from_secs(1);
/// Uids no other test and no account uses, one per mode: RLIMIT_NPROC
/// counts the processes of a uid across the whole machine.
fn loner(mode: Mode) -> u32 {
    if mode == Mode::Pid1 { 64123 } else { 64124 }
}

in_both_modes!(
    fork_failing_with_eagain_is_retried,
    running_out_of_descriptors_for_pipes,
    running_out_of_descriptors_for_accepts,
    config_deleted_before_a_reload,
    a_config_on_a_mount_that_stops_answering,
    a_scale_whose_env_file_is_on_a_mount_that_stops_answering,
    a_reload_and_a_scale_look_up_no_path_in_the_loop,
    a_stopped_service_at_shutdown,
    a_service_forking_a_thousand_children_when_told_to_stop,
);

/// warden started as a uid of its own (after unshare, which needs root), under
/// `limits`, prlimit options such as `--nproc=3`.
fn launch_limited(mode: Mode, args: &[&str], limits: &[&str]) -> Launch {
    let uid = loner(mode);
    let ids = [format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()];
    let mut command = match mode {
        Mode::Pid1 => {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child", "prlimit"]);
            c
        }
        Mode::Subreaper => Command::new("prlimit"),
    };
    command.args(limits).args(["--", "setpriv"]).args(ids).arg("--").arg(warden()).args(args);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).env("WARDEN_CONTROL", "off");
    Launch { mode, command }
}

fn fork_failing_with_eagain_is_retried(mode: Mode) {
    let dir = Dir::new();
    // warden, first and second take the three processes its uid may have:
    // third's fork fails with EAGAIN until first has finished.
    let config = dir.config(
        "services:\n  first:\n    type: oneshot\n    command: [sleep, \"1\"]\n  \
         second:\n    command: [sleep, \"1000\"]\n  \
         third:\n    command: [sh, -c, \"echo third up; exec sleep 1000\"]\n    \
         backoff: { initial: 50ms, max: 200ms }\n    min_uptime: 0s\n",
    );
    let mut warden = launch_limited(mode, &["-c", &config], &["--nproc=3"]).start();
    warden.expect_stderr(
        10 * SECOND,
        "third: starting -> backoff: cannot run: unable to fork: Resource temporarily unavailable",
    );
    warden.expect("third | third up");
    let err = warden.stderr();
    assert!(err.contains("first: running -> exited: exited with code 0"), "{err}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}

fn running_out_of_descriptors_for_pipes(mode: Mode) {
    let dir = Dir::new();
    // Each service's output needs two pipes; 16 descriptors are not enough
    // for ten services at once, so some wait until others have finished.
    let mut yaml = String::from("services:\n");
    for i in 0..10 {
        yaml += &format!(
            "  s{i}:\n    type: oneshot\n    command: \"echo s{i} ran; sleep 0.3\"\n    \
             backoff: {{ initial: 50ms, max: 200ms }}\n    min_uptime: 0s\n"
        );
    }
    let config = dir.config(&yaml);
    let mut warden = launch_limited(mode, &["-c", &config], &["--nofile=16"]).start();
    assert_eq!(warden.wait(30 * SECOND), 0, "{}", warden.stderr());
    let out = warden.rest_of_stdout();
    for i in 0..10 {
        assert!(out.contains(&format!("s{i} | s{i} ran")), "s{i} never ran: {out:?}\n{}", warden.stderr());
    }
    let err = warden.stderr();
    assert!(err.contains("Too many open files"), "the limit was never reached: {err}");
}

fn running_out_of_descriptors_for_accepts(mode: Mode) {
    let dir = Dir::new();
    let port = free_port();
    let config = dir
        .config(&format!("http: 127.0.0.1:{port}\nservices:\n  steady:\n    command: [sleep, \"1000\"]\n"));
    let mut warden = launch_limited(mode, &["-c", &config], &["--nofile=24"]).start();
    let connect = || TcpStream::connect(("127.0.0.1", port));
    assert!(wait_until(5 * SECOND, || connect().is_ok()), "{}", warden.stderr());
    // Far more idle clients than descriptors: accept fails with EMFILE.
    let hogs: Vec<TcpStream> = (0..60).filter_map(|_| connect().ok()).collect();
    warden.expect_stderr(10 * SECOND, "cannot accept a connection: Too many open files");
    drop(hogs);
    // Once they are gone (or timed out), warden answers again.
    let began = Instant::now();
    let answered = wait_until(15 * SECOND, || {
        let Ok(mut stream) = connect() else { return false };
        use std::io::{Read, Write};
        let _ = stream.set_read_timeout(Some(SECOND));
        let _ = stream.write_all(b"GET /livez HTTP/1.1\r\n\r\n");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 200")
    });
    assert!(answered, "no answer {:?} after the clients left: {}", began.elapsed(), warden.stderr());
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}

fn config_deleted_before_a_reload(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config("services:\n  steady:\n    command: \"echo up $$$$; exec sleep 1000\"\n");
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    let first = warden.expect_line(10 * SECOND, |l| l.starts_with("steady | up "));
    std::fs::remove_file(&config).unwrap();
    warden.signal(libc::SIGHUP);
    warden.expect_stderr(10 * SECOND, "cannot read: No such file or directory");
    // Back again, with a second service: the reload applies, steady is untouched.
    dir.config("services:\n  steady:\n    command: \"echo up $$$$; exec sleep 1000\"\n  added:\n    command: echo added\n    restart: never\n");
    warden.signal(libc::SIGHUP);
    warden.expect("added | added");
    assert!(
        !warden.seen.iter().any(|l| l.starts_with("steady | up ") && *l != first),
        "steady was restarted"
    );
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}

/// A service restarted every 50 ms: its count shows that the loop turns.
const CRASHY: &str = "  crashy:\n    command: \"exit 3\"\n    restart: always\n    \
                      backoff: { initial: 50ms, max: 50ms }\n    min_uptime: 0s\n    logs: null\n";

fn crashy_restarts(socket: &str) -> u64 {
    restarts_of(&status_json(socket), "crashy")
}

/// Asserts that crashy goes on restarting (and `status` answering) for
/// 800 ms while `waiting` waits on the disk thread; returns the count before.
fn crashy_keeps_restarting(socket: &str, waiting: &str) -> u64 {
    let first = crashy_restarts(socket);
    std::thread::sleep(Duration::from_millis(800));
    assert!(crashy_restarts(socket) > first + 3, "restarts stalled while {waiting} waits");
    first
}

/// A reload whose config is on a mount that stops answering waits alone:
/// warden goes on restarting and answering, and the reload fails once the
/// mount is gone.
fn a_config_on_a_mount_that_stops_answering(mode: Mode) {
    let dir = Dir::new();
    let mount = Mount::new(&dir);
    let config = mount.point.join("w.yaml");
    std::fs::write(&config, format!("services:\n{CRASHY}")).unwrap();
    let socket = format!("{}/w.sock", dir.0.display());
    let mut launch = Launch::new(mode, &["-c".as_ref(), config.as_os_str()]);
    launch.command.env("WARDEN_CONTROL", &socket);
    let mut warden = launch.start();
    assert!(wait_until(5 * SECOND, || std::path::Path::new(&socket).exists()), "no control socket");
    mount.stop_answering();
    warden.signal(libc::SIGHUP);
    let first = crashy_keeps_restarting(&socket, "the reload");
    // The mount goes away: the read fails, the reload with it, nothing moves.
    drop(mount);
    warden.expect_stderr(10 * SECOND, "reload failed, nothing was changed");
    assert!(crashy_restarts(&socket) > first + 3);
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}

/// `warden scale` reads the new copies on the disk thread: with their
/// env_file on a mount that stops answering, warden restarts and answers
/// meanwhile, and the scale fails once the mount is gone.
fn a_scale_whose_env_file_is_on_a_mount_that_stops_answering(mode: Mode) {
    let dir = Dir::new();
    let mount = Mount::new(&dir);
    let env_file = mount.point.join("web.env");
    std::fs::write(&env_file, "GREETING=hello\n").unwrap();
    let setup = start_with_socket(
        mode,
        &format!(
            "services:\n{CRASHY}  web:\n    command: \"echo $$GREETING; exec sleep 1000\"\n    replicas: 1\n    env_file: {}\n",
            env_file.display()
        ),
    );
    let mut warden = setup.warden;
    warden.expect("web-0 | hello");
    mount.stop_answering();
    let scale = Command::new(common::warden())
        .args(["scale", "web", "2"])
        .env("WARDEN_CONTROL", &setup.socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = crashy_keeps_restarting(&setup.socket, "the scale");
    drop(mount);
    let answer = scale.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&answer.stderr);
    assert!(!answer.status.success() && said.contains("not scaled: cannot read the new copies"), "{said}");
    assert!(crashy_restarts(&setup.socket) > first + 3);
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}

/// warden's loop (its main thread, traced alone) looks up no path while it
/// reloads, watches files again and scales: the disk thread does that.
fn a_reload_and_a_scale_look_up_no_path_in_the_loop(mode: Mode) {
    let yaml = "watch_config: true\nservices:\n  web:\n    command: \"echo $$GREETING; exec sleep 1000\"\n    \
                replicas: 1\n    env_file: $DIR/web.env\n    watch: { paths: [$DIR/app.conf] }\n";
    let dir = Dir::new();
    std::fs::write(dir.0.join("web.env"), "GREETING=hello\n").unwrap();
    let socket = format!("{}/warden.sock", dir.0.display());
    let config = dir.config(yaml);
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.env("WARDEN_CONTROL", &socket);
    let mut warden = launch.start();
    warden.expect("web-0 | hello");
    let trace = dir.0.join("trace");
    let said = dir.0.join("strace.err");
    let mut strace = Command::new("strace")
        .args(["-e", "trace=%file,inotify_add_watch", "-o"])
        .arg(&trace)
        .args(["-p", &warden.warden_pid.to_string()])
        .stderr(std::fs::File::create(&said).unwrap())
        .spawn()
        .expect("strace is installed");
    let attached = || std::fs::read_to_string(&said).is_ok_and(|t| t.contains("attached"));
    assert!(wait_until(5 * SECOND, attached), "strace did not attach");
    dir.config(&format!("{yaml}  added:\n    command: \"echo added; exec sleep 1000\"\n"));
    warden.signal(libc::SIGHUP);
    warden.expect("added | added");
    let scaled = Command::new(common::warden())
        .args(["scale", "web", "2"])
        .env("WARDEN_CONTROL", &socket)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(scaled.status.success(), "{}", String::from_utf8_lossy(&scaled.stderr));
    warden.expect("web-1 | hello");
    send(strace.id() as i32, libc::SIGINT);
    strace.wait().unwrap();
    let calls = std::fs::read_to_string(&trace).unwrap();
    assert!(calls.trim().is_empty(), "the loop looked paths up:\n{calls}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}

fn a_stopped_service_at_shutdown(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  frozen:\n    command: \"trap 'echo got TERM; exit 0' TERM; echo pid $$$$; while :; do sleep 0.05; done\"\n",
    );
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    let line = warden.expect_line(10 * SECOND, |l| l.starts_with("frozen | pid "));
    let pid: i32 = line.rsplit(' ').next().unwrap().parse().unwrap();
    // Its pid inside the namespace is not ours: find the shell among warden's children.
    let shell = if mode == Mode::Pid1 { children_of(warden.warden_pid)[0] } else { pid };
    send(shell, libc::SIGSTOP);
    assert!(wait_until(5 * SECOND, || state_of(shell) == Some('T')), "not stopped");
    let began = Instant::now();
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    // SIGCONT after the stop signal: it handled TERM instead of waiting for SIGKILL.
    assert!(warden.rest_of_stdout().contains(&"frozen | got TERM".to_string()), "{}", warden.stderr());
    assert!(began.elapsed() < 4 * SECOND, "took {:?}", began.elapsed());
}

fn a_service_forking_a_thousand_children_when_told_to_stop(mode: Mode) {
    let dir = Dir::new();
    // A duration of its own per mode, to find its children among every process.
    let nap = if mode == Mode::Pid1 { "977" } else { "978" };
    let config = dir.config(&format!(
        "grace: 15s\nservices:\n  hydra:\n    command: \"trap 'i=0; while [ $$i -lt 1000 ]; do sleep {nap} & i=$$((i+1)); done; \
         echo spawned; exit 0' TERM; echo ready; while :; do sleep 0.05; done\"\n    stop_timeout: 12s\n",
    ));
    let mut warden = Launch::new(mode, &["-c", &config]).start();
    warden.expect("hydra | ready");
    let began = Instant::now();
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(20 * SECOND), 0, "{}", warden.stderr());
    assert!(warden.rest_of_stdout().contains(&"hydra | spawned".to_string()), "{}", warden.stderr());
    // The thousand are leftovers: SIGTERM, then SIGKILL when the grace runs out.
    // Most go at the SIGTERM; a child caught between the shell's fork and its
    // exec still runs the shell's TERM trap and loses the signal, so the grace
    // can be needed (how many depends on the machine's load).
    assert!(began.elapsed() < 18 * SECOND, "took {:?}", began.elapsed());
    // As a subreaper no namespace ends them for us: warden must have.
    let left = || {
        let out = Command::new("pgrep").args(["-f", &format!("^sleep {nap}$")]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert!(wait_until(5 * SECOND, || left() == 0), "{} children left behind", left());
}
