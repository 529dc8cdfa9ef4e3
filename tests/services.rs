//! Services mode (`warden -c FILE [-- CMD]`), run as real PID 1 of a fresh PID
//! namespace and as a subreaper: restart policies and backoff, dependencies,
//! oneshots, periodic jobs, the main program, ordered shutdown within the grace,
//! privileges and the process environment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks)]

mod common;

use std::time::{Duration, Instant};

use common::*;

const SECOND: Duration = Duration::from_secs(1);

in_both_modes!(
    bounded_restarts_end_in_failed,
    backoff_grows_then_caps,
    long_runs_reset_the_backoff,
    restart_window_forgets_old_restarts,
    critical_failure_is_the_exit_code,
    start_in_dependency_order_stop_in_reverse,
    oneshot_gates_its_dependents,
    periodic_jobs_run_and_skip_overlaps,
    cron_jobs_are_scheduled,
    shutdown_kills_a_service_ignoring_term_at_grace,
    second_stop_signal_skips_the_waiting,
    leftovers_of_services_are_swept,
    main_program_waits_for_services_and_gives_the_exit_code,
    services_get_their_environment_and_limits,
    services_drop_privileges,
    a_workdir_only_its_user_may_enter,
    processes_that_outlive_sigkill_are_named,
    a_service_of_another_user_without_cap_kill_is_told,
    exec_failure_backs_off_then_fails,
    json_events,
    all_done_means_exit,
    reload_applies_the_difference,
    reload_of_an_invalid_config_changes_nothing,
    one_program_with_restart_policy,
    idle_services_make_no_system_calls,
    a_service_stuck_in_exec_holds_up_nothing_else,
    start_up_code_is_released_from_memory,
    a_reload_restart_waits_for_new_dependencies,
    a_reload_restarts_dependents_around_their_dependency,
    other_signals_go_only_to_the_services_that_ask,
    a_command_sees_its_own_env_first,
    a_program_that_daemonizes_is_pointed_out,
    what_a_crashed_program_left_behind_does_not_pile_up,
    stop_signals_option_sends_quit_to_the_main_program,
    what_a_program_left_behind_is_stopped_before_its_end_is_told,
    env_files_reach_services_and_a_changed_one_restarts_them,
    watched_files_restart_signal_and_reload,
    a_configmap_update_reloads_the_service,
    watch_config_with_the_config_in_the_current_directory,
);

fn start(mode: Mode, args: &[&str]) -> Running {
    Launch::new(mode, args).start()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

fn bounded_restarts_end_in_failed(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  crash:\n    command: exit 3\n    max_restarts: 3\n    backoff: { initial: 10ms, max: 50ms }\n  \
         other:\n    command: [sleep, \"100\"]\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_stderr(
        10 * SECOND,
        "crash: running -> failed: exited with code 3; 3 restarts within 10m used up",
    );
    let err = warden.stderr();
    assert_eq!(count(&err, "crash: running -> backoff"), 3, "{err}");
    assert_eq!(count(&err, "crash: backoff -> starting"), 3, "{err}");
    // Not critical: the other service keeps running.
    assert!(!err.contains("shutting down"), "{err}");
    // Durations of a few milliseconds read `0s`, like any other to a tenth
    // (`0.2s`, `4s`), never `0.0s`.
    for field in ["uptime ", "next in "] {
        for value in err.split(field).skip(1).map(|rest| rest.split([',', ')']).next().unwrap()) {
            let number = value.strip_suffix('s').unwrap_or_else(|| panic!("{field}{value}: {err}"));
            let (whole, tenth) = number.split_once('.').unwrap_or((number, ""));
            let plain = whole.chars().all(|c| c.is_ascii_digit()) && !whole.is_empty();
            assert!(
                plain && (tenth.is_empty() || (tenth.len() == 1 && tenth != "0")),
                "{field}{value}: {err}"
            );
        }
    }
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// The `next in` delays of consecutive quick crashes, from JSON events.
fn delays_of(stderr: &str, service: &str) -> Vec<f64> {
    stderr
        .lines()
        .filter(|l| l.contains(&format!("\"service\":\"{service}\"")) && l.contains("\"to\":\"backoff\""))
        .filter_map(|l| {
            l.split("\"next_delay_s\":").nth(1).and_then(|v| v.trim_end_matches('}').parse().ok())
        })
        .collect()
}

fn backoff_grows_then_caps(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "log_format: json\nservices:\n  crash:\n    command: exit 1\n    max_restarts: 6\n    min_uptime: 10s\n    \
         backoff: { initial: 50ms, max: 400ms, multiplier: 2, jitter: 0% }\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    // Nothing else runs: once the service has failed for good, warden ends (1).
    assert_eq!(warden.wait(20 * SECOND), 1, "{}", warden.stderr());
    let delays = delays_of(&warden.stderr(), "crash");
    assert_eq!(delays, [0.05, 0.1, 0.2, 0.4, 0.4, 0.4], "{}", warden.stderr());
    assert_eq!(count(&warden.stderr(), "\"to\":\"running\""), 7, "{}", warden.stderr());
}

fn long_runs_reset_the_backoff(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "log_format: json\nservices:\n  slow:\n    command: sleep 0.3; exit 1\n    max_restarts: 3\n    \
         min_uptime: 200ms\n    backoff: { initial: 50ms, max: 1s, jitter: 0% }\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    assert_eq!(warden.wait(20 * SECOND), 1);
    assert_eq!(delays_of(&warden.stderr(), "slow"), [0.05, 0.05, 0.05], "{}", warden.stderr());
}

fn critical_failure_is_the_exit_code(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  core:\n    command: sleep 0.2; exit 7\n    restart: never\n    critical: true\n  \
         side:\n    command: [sleep, \"100\"]\n",
    );
    let start_time = Instant::now();
    let mut warden = start(mode, &["-c", &config]);
    assert_eq!(warden.wait(10 * SECOND), 7, "{}", warden.stderr());
    assert!(start_time.elapsed() < 5 * SECOND);
    let err = warden.stderr();
    assert!(err.contains("shutting down: critical service core failed"), "{err}");
    assert!(err.contains("side: running -> stopping: sending SIGTERM"), "{err}");
}

fn start_in_dependency_order_stop_in_reverse(mode: Mode) {
    let dir = Dir::new();
    let unit = |name: &str, deps: &str| {
        format!(
            "  {name}:\n    command: echo start {name} >> $DIR/log; trap 'echo stop {name} >> $DIR/log; exit 0' TERM; \
             while :; do sleep 0.05; done\n    depends_on: [{deps}]\n"
        )
    };
    let yaml = format!("services:\n{}{}{}", unit("c", "b"), unit("b", "a"), unit("a", ""));
    let config = dir.config(&yaml);
    let mut warden = start(mode, &["-c", &config]);
    assert!(wait_until(10 * SECOND, || dir.read("log").lines().count() == 3), "{}", warden.stderr());
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    // Starts: "started" only waits for the dependency's spawn, so the services'
    // own first lines may race; warden's events give the order it started them.
    let err = warden.stderr();
    let started: Vec<&str> =
        err.lines().filter(|l| l.contains(": waiting -> starting")).map(|l| &l[8..9]).collect();
    assert_eq!(started, ["a", "b", "c"], "{err}");
    // Stops: each waits until what depends on it has exited.
    let log = dir.read("log");
    let stops: Vec<&str> = log.lines().filter(|l| l.starts_with("stop")).collect();
    assert_eq!(stops, ["stop c", "stop b", "stop a"]);
}

fn oneshot_gates_its_dependents(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  migrate:\n    command: sleep 0.3; echo done > $DIR/migrated\n    type: oneshot\n  \
         web:\n    command: cat $DIR/migrated > $DIR/web-saw; exec sleep 100\n    depends_on: { migrate: completed }\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    assert!(wait_until(10 * SECOND, || dir.read("web-saw") == "done\n"), "{}", warden.stderr());
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
    assert!(warden.stderr().contains("migrate: running -> exited: exited with code 0: completed"));
}

fn periodic_jobs_run_and_skip_overlaps(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  tick:\n    command: echo tick >> $DIR/ticks\n    schedule: 200ms\n  \
         slow:\n    command: sleep 0.5\n    schedule: 200ms\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    assert!(wait_until(10 * SECOND, || dir.read("ticks").lines().count() >= 4), "{}", warden.stderr());
    warden.expect_stderr(5 * SECOND, "slow: run skipped: the previous one is still going");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

fn shutdown_kills_a_service_ignoring_term_at_grace(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(&format!(
        "grace: 1s\nservices:\n  stubborn:\n    command: [\"{}\", ignore-term]\n    stop_timeout: 30s\n",
        testkit()
    ));
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_line(5 * SECOND, |l| l.starts_with("stubborn | pid "));
    let begin = Instant::now();
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    let took = begin.elapsed();
    assert!(took >= Duration::from_millis(950) && took < 3 * SECOND, "took {took:?}");
    assert!(warden.stderr().contains("grace period of 1s is over"));
}

/// A process that SIGKILL cannot end (frozen by the v1 freezer, as one
/// stuck on a hung mount is in state D): warden gives up 2 s after the kill
/// and says which processes are left, by pid, name and state.
fn processes_that_outlive_sigkill_are_named(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config("grace: 1s\nservices:\n  stuck:\n    command: [sleep, \"1000\"]\n");
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_stderr(5 * SECOND, "stuck: starting -> running");
    let sleeper = descendants(warden.warden_pid).into_iter().find(|&p| state_of(p).is_some()).unwrap();
    let line = stop_with_a_frozen_sleep(
        &mut warden,
        sleeper,
        "processes survived SIGKILL for 2s; exiting anyway: ",
        0,
    );
    assert!(line.starts_with("warden: processes survived"), "{line}");
}

fn second_stop_signal_skips_the_waiting(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(&format!(
        "grace: 60s\nservices:\n  stubborn:\n    command: [\"{}\", ignore-term]\n",
        testkit()
    ));
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_line(5 * SECOND, |l| l.starts_with("stubborn | pid "));
    warden.signal(libc::SIGTERM);
    warden.expect_stderr(5 * SECOND, "stubborn: running -> stopping");
    let begin = Instant::now();
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
    assert!(begin.elapsed() < 3 * SECOND, "took {:?}", begin.elapsed());
}

fn leftovers_of_services_are_swept(mode: Mode) {
    let dir = Dir::new();
    // The service leaves a process in a session of its own, out of its group.
    let config = dir.config(&format!(
        "grace: 2s\nservices:\n  leaky:\n    command: setsid {kit} term-marker $DIR/marker --ready $DIR/ready & exec sleep 100\n",
        kit = testkit()
    ));
    let mut warden = start(mode, &["-c", &config]);
    assert!(wait_until(5 * SECOND, || !dir.read("ready").is_empty()), "{}", warden.stderr());
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    assert_eq!(dir.read("marker"), "terminated\n", "{}", warden.stderr());
    assert!(warden.stderr().contains("stopping remaining processes"));
}

fn main_program_waits_for_services_and_gives_the_exit_code(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  prepare:\n    command: sleep 0.3; touch $DIR/prepared\n    type: oneshot\n  \
         db:\n    command: [sleep, \"100\"]\n",
    );
    let check = format!("test -e {}/prepared && exit 5; exit 9", dir.0.display());
    let mut warden = start(mode, &["-c", &config, "--", "sh", "-c", &check]);
    assert_eq!(warden.wait(10 * SECOND), 5, "{}", warden.stderr());
    assert!(warden.stderr().contains("shutting down: the main program ended"));
    assert!(warden.stderr().contains("db: running -> stopping"));
}

fn services_get_their_environment_and_limits(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  env:\n    command: \"echo A=$A B=$B; pwd; umask; ulimit -n; echo NOTIFY=$${NOTIFY_SOCKET:-unset}\"\n    \
         env: { A: \"1\", B: \"${HOSTNAME_FOR_TEST:-fallback}\" }\n    workdir: $DIR\n    umask: \"027\"\n    \
         limits: { nofile: 123 }\n    restart: never\n",
    );
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.env("NOTIFY_SOCKET", "/run/outer.sock");
    let mut warden = launch.start();
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    let out = warden.rest_of_stdout();
    // Captured with the default `logs: prefix`: each line labelled, in order.
    let workdir = format!("env | {}", dir.0.display());
    assert_eq!(out, ["env | A=1 B=fallback", &workdir, "env | 0027", "env | 123", "env | NOTIFY=unset"]);
}

fn services_drop_privileges(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  low:\n    command: [grep, \"-E\", \"^(Uid|Gid|Groups|NoNewPrivs)\", /proc/self/status]\n    \
         user: \"65534:65533\"\n    restart: never\n  \
         sealed:\n    command: [grep, NoNewPrivs, /proc/self/status]\n    no_new_privs: true\n    restart: never\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    let out = warden.rest_of_stdout().join("\n");
    assert!(out.contains("Uid:\t65534\t65534\t65534\t65534"), "{out}");
    assert!(out.contains("Gid:\t65533\t65533\t65533\t65533"), "{out}");
    assert!(out.contains("Groups:\t65533"), "supplementary groups not replaced: {out}");
    assert!(out.contains("low | NoNewPrivs:\t0"), "{out}");
    assert!(out.contains("sealed | NoNewPrivs:\t1"), "no_new_privs not set: {out}");
}

/// A workdir only the service's user may enter (0700, its own) while warden
/// lacks CAP_DAC_OVERRIDE, as in a container run with --cap-drop ALL
/// --cap-add SETUID,SETGID: root is refused it, the user is not.
fn a_workdir_only_its_user_may_enter(mode: Mode) {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = dir.0.join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = dir.config(
        "services:\n  app:\n    command: \"pwd && echo kept > note && cat note\"\n    user: \"65534:65534\"\n    \
         workdir: $DIR/home\n    restart: never\n",
    );
    let no_override = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"];
    let mut warden = Launch::under(mode, &no_override, &["-c", &config]).start();
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    let home = home.display().to_string();
    assert_eq!(
        warden.rest_of_stdout(),
        [format!("app | {home}"), "app | kept".to_string()],
        "{}",
        warden.stderr()
    );
    // Still refused when the user may not enter it either.
    std::fs::set_permissions(dir.0.join("home"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut warden = Launch::under(mode, &no_override, &["-c", &config]).start();
    assert_eq!(warden.wait(10 * SECOND), 1, "{}", warden.stderr());
    assert!(warden.stderr().contains("unable to enter the working directory: "), "{}", warden.stderr());
}

/// Root without CAP_KILL (a container run with --cap-drop ALL) may not
/// signal a service of another user: warden says so at start, and again,
/// with the fix, when a signal is refused.
fn a_service_of_another_user_without_cap_kill_is_told(mode: Mode) {
    let dir = Dir::new();
    let config = dir
        .config("grace: 1s\nservices:\n  app:\n    command: [sleep, \"1000\"]\n    user: \"65534:65534\"\n");
    let mut warden = Launch::under(mode, &["setpriv", "--bounding-set", "-kill"], &["-c", &config]).start();
    warden.expect_stderr(5 * SECOND, "app: starting -> running");
    assert!(
        warden.stderr().contains(
            "warden: warning: app runs as another user, and warden lacks CAP_KILL, which signalling them needs: \
             stopping or reloading them will fail (docker run --cap-add KILL"
        ),
        "{}",
        warden.stderr()
    );
    let sleeper = descendants(warden.warden_pid).into_iter().find(|&p| state_of(p).is_some()).unwrap();
    warden.signal(libc::SIGTERM);
    warden.expect_stderr(
        5 * SECOND,
        "cannot send SIGTERM to pid 2: Operation not permitted (signalling another user's process needs \
         CAP_KILL: docker run --cap-add KILL)"
            .replace("pid 2", &format!("pid {}", if mode == Mode::Pid1 { 2 } else { sleeper }))
            .as_str(),
    );
    send(sleeper, libc::SIGKILL); // the test may
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    assert!(!warden.stderr().contains("cannot send SIGCONT"), "{}", warden.stderr());
}

fn exec_failure_backs_off_then_fails(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  ghost:\n    command: [/no/such/binary]\n    max_restarts: 2\n    backoff: { initial: 10ms }\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    assert_eq!(warden.wait(10 * SECOND), 1, "{}", warden.stderr());
    let err = warden.stderr();
    // The program is named (issue 20: the message used to leave it out).
    assert!(
        err.contains("ghost: starting -> backoff: cannot run /no/such/binary: No such file or directory"),
        "{err}"
    );
    assert!(err.contains("ghost: starting -> failed"), "{err}");
}

fn json_events(mode: Mode) {
    let dir = Dir::new();
    let config =
        dir.config("log_format: json\nservices:\n  once:\n    command: exit 0\n    restart: never\n");
    let mut warden = start(mode, &["-c", &config]);
    assert_eq!(warden.wait(10 * SECOND), 0);
    let err = warden.stderr();
    let exited = err.lines().find(|l| l.contains("\"to\":\"exited\"")).unwrap_or_else(|| panic!("{err}"));
    assert!(exited.starts_with("{\"time\":\"20"), "{exited}");
    for field in [
        "\"service\":\"once\"",
        "\"from\":\"running\"",
        "\"exit_code\":0",
        "\"signal\":null",
        "\"restarts\":0",
    ] {
        assert!(exited.contains(field), "{field} missing from {exited}");
    }
    assert!(err.lines().all(|l| l.starts_with('{') && l.ends_with('}')), "not all JSON: {err}");
}

fn all_done_means_exit(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  a:\n    command: exit 0\n    type: oneshot\n  b:\n    command: exit 0\n    depends_on: { a: completed }\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    assert!(warden.stderr().contains("no service is left to run"));
}

/// The pids warden reported for `service` becoming running, in order.
fn pids_of(stderr: &str, service: &str) -> Vec<i32> {
    let prefix = format!("warden: {service}: starting -> running: started (pid ");
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect()
}

fn reload_applies_the_difference(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  keep:\n    command: [sleep, \"100\"]\n  change:\n    command: [sleep, \"101\"]\n  \
         drop:\n    command: [sleep, \"102\"]\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    // Starts complete in any order: wait for all three.
    for name in ["keep", "change", "drop"] {
        warden.expect_stderr(5 * SECOND, &format!("{name}: starting -> running"));
    }
    let before = warden.stderr();
    dir.config(
        "services:\n  keep:\n    command: [sleep, \"100\"]\n  change:\n    command: [sleep, \"201\"]\n  \
         add:\n    command: [sleep, \"103\"]\n",
    );
    warden.signal(libc::SIGHUP);
    warden.expect_stderr(5 * SECOND, "added add; removed drop; changed change; 1 unchanged");
    warden.expect_stderr(5 * SECOND, "add: starting -> running");
    warden.expect_stderr(5 * SECOND, "drop: stopping -> stopped");
    assert!(wait_until(5 * SECOND, || pids_of(&warden.stderr(), "change").len() == 2), "{}", warden.stderr());
    let after = warden.stderr();
    assert_eq!(pids_of(&after, "keep"), pids_of(&before, "keep"), "an unchanged service was restarted");
    assert_eq!(pids_of(&after, "keep").len(), 1);
    assert!(after.contains("change: running -> stopping: sending SIGTERM"), "{after}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

fn reload_of_an_invalid_config_changes_nothing(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config("services:\n  a:\n    command: [sleep, \"100\"]\n");
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_stderr(5 * SECOND, "a: starting -> running");
    dir.config(
        "services:\n  a:\n    command: [sleep, \"100\"]\n    restart: sometimes\n  b:\n    command: [x]\n",
    );
    warden.signal(libc::SIGHUP);
    warden.expect_stderr(5 * SECOND, "reload failed, nothing was changed");
    warden.expect_stderr(
        5 * SECOND,
        "services.a.restart: \"sometimes\" is not one of always, on-failure, never",
    );
    std::fs::remove_file(dir.0.join("warden.yaml")).unwrap();
    warden.signal(libc::SIGHUP);
    warden.expect_stderr(5 * SECOND, "cannot read: No such file or directory");
    let err = warden.stderr();
    assert_eq!(pids_of(&err, "a").len(), 1, "{err}");
    assert!(!err.contains("b: "), "{err}");
    assert!(!err.contains("a: running -> stopping"), "{err}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// `warden --restart on-failure -- CMD`: the one program under the same restart
/// machinery as services, and warden exits with its code when it gives up.
fn one_program_with_restart_policy(mode: Mode) {
    let dir = Dir::new();
    let counter = dir.0.join("runs");
    let script = format!("echo run >> {}; exit 4", counter.display());
    let mut warden = start(
        mode,
        &["--restart", "on-failure", "--max-restarts", "2", "--backoff", "10ms", "--", "sh", "-c", &script],
    );
    assert_eq!(warden.wait(10 * SECOND), 4, "{}", warden.stderr());
    assert_eq!(dir.read("runs").lines().count(), 3, "{}", warden.stderr());
    let ok = "exit 0";
    let mut warden = start(mode, &["--restart", "on-failure", "--", "sh", "-c", ok]);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
}

fn idle_services_make_no_system_calls(mode: Mode) {
    let dir = Dir::new();
    let mut yaml = String::from("services:\n");
    for i in 0..10 {
        yaml.push_str(&format!("  s{i}:\n    command: [sleep, \"100\"]\n"));
    }
    let config = dir.config(&yaml);
    let mut warden = start(mode, &["-c", &config]);
    for i in 0..10 {
        warden.expect_stderr(5 * SECOND, &format!("s{i}: starting -> running"));
    }
    let (calls, report) = system_calls_of(warden.warden_pid, 2);
    assert!(calls <= 1, "idle warden with 10 services made {calls} system calls:\n{report}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// A cron line's job waits for the next whole minute: check that it is
/// scheduled (not run at once) and that its config is accepted as PID 1.
fn cron_jobs_are_scheduled(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  nightly:\n    command: echo ran >> $DIR/ran\n    schedule: \"0 3 * * *\"\n  \
         web:\n    command: [sleep, \"100\"]\n  \
         often:\n    command: echo tick >> $DIR/ticks\n    schedule: \"@every 200ms\"\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_stderr(5 * SECOND, "web: starting -> running");
    // `@every`, as Go's cron libraries write an interval, runs again and again.
    assert!(wait_until(5 * SECOND, || dir.read("ticks").lines().count() >= 3), "@every 200ms did not repeat");
    assert_eq!(dir.read("ran"), "", "a cron job ran before its time");
    assert!(!warden.stderr().contains("nightly: "), "{}", warden.stderr());
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// max_restarts counts within restart_window only: a service crashing more
/// slowly than 2 per 600 ms is restarted for ever, one crashing faster fails.
fn restart_window_forgets_old_restarts(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  slow:\n    command: sleep 0.4; exit 1\n    max_restarts: 2\n    restart_window: 600ms\n    \
         backoff: { initial: 10ms, max: 10ms }\n  fast:\n    command: exit 1\n    max_restarts: 2\n    \
         restart_window: 600ms\n    backoff: { initial: 10ms, max: 10ms }\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_stderr(
        5 * SECOND,
        "fast: running -> failed: exited with code 1; 2 restarts within 600ms used up",
    );
    assert!(
        wait_until(10 * SECOND, || count(&warden.stderr(), "slow: running -> backoff") >= 5),
        "{}",
        warden.stderr()
    );
    assert!(!warden.stderr().contains("slow: running -> failed"), "{}", warden.stderr());
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// warden never waits for a service's exec: while one service's `execve` is
/// held for 3 s (strace injects the delay into that one path), another keeps
/// being restarted. The held service reaching `running` only after the delay
/// shows that the hold really happened.
fn a_service_stuck_in_exec_holds_up_nothing_else(mode: Mode) {
    let dir = Dir::new();
    // A copy, not a symlink: strace matches the resolved path.
    let held = format!("{}/held-program", dir.0.display());
    std::fs::copy("/bin/sleep", &held).expect("copy /bin/sleep");
    let ticking = "services:\n  tick:\n    command: [/bin/sh, -c, \"echo tick\"]\n    restart: always\n    \
                   min_uptime: 0s\n    backoff: { initial: 20ms, max: 20ms, jitter: 0% }\n";
    let config = dir.config(ticking);
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_stderr(5 * SECOND, "tick: starting -> running");
    let mut strace = std::process::Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-P", &held, "-e", "trace=execve"])
        .args(["-e", "inject=execve:delay_enter=3000000", "-p", &warden.warden_pid.to_string()])
        .spawn()
        .expect("strace is installed");
    let traced = wait_until(5 * SECOND, || {
        std::fs::read_to_string(format!("/proc/{}/status", warden.warden_pid))
            .is_ok_and(|s| s.lines().any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0"))
    });
    assert!(traced, "strace did not attach");
    dir.config(&format!("{ticking}  held:\n    command: [\"{held}\", \"30\"]\n"));
    warden.signal(libc::SIGHUP);
    warden.expect_stderr(5 * SECOND, "held: waiting -> starting");
    let asked = Instant::now();
    warden.expect_stderr(10 * SECOND, "held: starting -> running");
    let held_for = asked.elapsed();
    let log = warden.stderr();
    let _ = strace.kill();
    let _ = strace.wait();
    let from = log.find("held: waiting -> starting").unwrap();
    let to = log.find("held: starting -> running").unwrap();
    let restarts = count(&log[from..to], "tick: starting -> running");
    assert!(held_for >= 2 * SECOND, "the exec was not held ({held_for:?}): the test proves nothing");
    assert!(restarts >= 10, "only {restarts} restarts of tick while held's exec was held:\n{log}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// Once the services are started, again once everything is first ready (the
/// start wave's code), and after each reload's parse, warden gives its clean
/// code pages back (the effect on resident memory is checked in
/// `sys::memory`'s unit test and by `scripts/pss-ab`; here, that the real
/// binary does it, and when).
fn start_up_code_is_released_from_memory(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config("services:\n  s:\n    command: [sleep, \"100\"]\n");
    let mut warden = start(mode, &["-vv", "-c", &config]);
    warden.expect_stderr(5 * SECOND, "s: starting -> running");
    let released = |log: &str| -> Vec<u64> {
        log.lines().filter_map(|l| l.split("released ").nth(1)?.split(" KiB").next()?.parse().ok()).collect()
    };
    // At start, and once s (no readiness check) counts as ready.
    assert!(wait_until(5 * SECOND, || released(&warden.stderr()).len() == 2), "{}", warden.stderr());
    hold(Duration::from_millis(200));
    assert_eq!(released(&warden.stderr()).len(), 2, "released again while nothing happened");
    warden.signal(libc::SIGHUP);
    assert!(wait_until(5 * SECOND, || released(&warden.stderr()).len() == 3), "{}", warden.stderr());
    let amounts = released(&warden.stderr());
    assert!(amounts.iter().all(|&kib| kib >= 64), "released too little: {amounts:?} KiB");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// Where `needle` first appears in `text` after `from` (panics if nowhere).
fn position_after(text: &str, from: usize, needle: &str) -> usize {
    text[from..]
        .find(needle)
        .map(|at| from + at)
        .unwrap_or_else(|| panic!("no {needle:?} after {from}:\n{text}"))
}

/// A service a reload changes to depend on a new one restarts only once
/// that one is ready, exactly as at boot (it used to restart at once).
fn a_reload_restart_waits_for_new_dependencies(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config("services:\n  web:\n    command: [sleep, \"100\"]\n");
    let warden = start(mode, &["-c", &config]);
    warden.expect_stderr(5 * SECOND, "web: starting -> running");
    dir.config(
        "services:\n  web:\n    command: [sleep, \"100\"]\n    depends_on: { db2: ready }\n  \
         db2:\n    command: [sleep, \"100\"]\n    readiness: { file: \"$DIR/db2-ready\", period: 50ms }\n",
    );
    warden.signal(libc::SIGHUP);
    warden.expect_stderr(5 * SECOND, "web: stopping -> waiting: reloaded: waiting for its dependencies");
    warden.expect_stderr(5 * SECOND, "db2: starting -> running");
    // db2 is not ready: web does not start meanwhile.
    hold(Duration::from_millis(1500));
    let reload_at = warden.stderr().find("reloaded ").unwrap();
    assert_eq!(count(&warden.stderr()[reload_at..], "web: waiting -> starting"), 0, "{}", warden.stderr());
    std::fs::write(dir.0.join("db2-ready"), "").unwrap();
    warden.expect_stderr(5 * SECOND, "db2: running -> ready");
    warden.expect_stderr(5 * SECOND, "web: waiting -> starting");
    let log = warden.stderr();
    let ready = position_after(&log, reload_at, "db2: running -> ready");
    let web = position_after(&log, reload_at, "web: waiting -> starting");
    assert!(ready < web, "web started before db2 was ready:\n{log}");
    warden.signal(libc::SIGTERM);
    let mut warden = warden;
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// A reload that restarts a dependency stops what depends on it first, and
/// starts it again only once the dependency is back.
fn a_reload_restarts_dependents_around_their_dependency(mode: Mode) {
    let dir = Dir::new();
    let db = |arg: &str| format!("  db:\n    command: [sleep, \"{arg}\"]\n");
    // web takes a while to stop, and writes meanwhile (turns of warden's loop).
    let web = "  web:\n    command: \"trap 'echo bye; sleep 0.3; echo gone; exit 0' TERM; while :; do sleep 0.05; done\"\n    \
               depends_on: { db: started }\n";
    let config = dir.config(&format!("services:\n{}{web}", db("100")));
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_stderr(5 * SECOND, "web: starting -> running");
    // A new service depending on db comes with the same reload.
    let worker = "  worker:\n    command: [sleep, \"100\"]\n    depends_on: [db]\n";
    dir.config(&format!("services:\n{}{web}{worker}", db("101")));
    warden.signal(libc::SIGHUP);
    // web is unchanged in the file but restarts with db: the summary says so.
    warden.expect_stderr(
        5 * SECOND,
        "added worker; removed none; changed db; dependents restarted: web; 0 unchanged",
    );
    warden.expect_stderr(10 * SECOND, "web: waiting -> starting");
    warden.expect_stderr(5 * SECOND, "web: starting -> running");
    warden.expect_stderr(5 * SECOND, "worker: starting -> running");
    let log = warden.stderr();
    let at = log.find("reloaded ").unwrap();
    let web_stops = position_after(&log, at, "web: running -> stopping");
    let db_stops = position_after(&log, at, "db: running -> stopping");
    let db_back = position_after(&log, at, "db: starting -> running");
    let web_back = position_after(&log, at, "web: waiting -> starting");
    assert!(web_stops < db_stops, "db stopped before its dependent web:\n{log}");
    let web_down = position_after(&log, at, "web: stopping -> waiting");
    assert!(web_down < db_stops, "db was told to stop while web was still stopping:\n{log}");
    assert!(db_back < web_back, "web started before db was back:\n{log}");
    let worker_starts = position_after(&log, at, "worker: waiting -> starting");
    assert!(db_back < worker_starts, "the new worker started while db was down for its restart:\n{log}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// Without a main program, a signal that is not warden's own (USR1) goes only
/// to the services that list it in `forward_signals`: the others, which have
/// no handler for it and would die of it, never see it (issue 20: it used to
/// go to every service).
fn other_signals_go_only_to_the_services_that_ask(mode: Mode) {
    let kit = testkit();
    let dir = Dir::new();
    let config = dir.config(&format!(
        "services:\n  wants:\n    command: [\"{kit}\", signals, --tag, wants]\n    forward_signals: [USR1, SIGWINCH]\n  \
         plain:\n    command: [sleep, \"100\"]\n"
    ));
    let mut warden = start(mode, &["-c", &config]);
    warden.expect("wants | wants ready");
    warden.expect_stderr(5 * SECOND, "plain: starting -> running");
    warden.signal(libc::SIGUSR1);
    warden.expect("wants | wants SIGUSR1");
    warden.signal(libc::SIGUSR2);
    warden.signal(libc::SIGWINCH);
    warden.expect("wants | wants SIGWINCH");
    // What no service asked for went nowhere: USR2 would have killed both.
    hold(SECOND / 2);
    let stderr = warden.stderr();
    assert!(!stderr.contains("plain: running ->") && !stderr.contains("wants: running ->"), "{stderr}");
    assert!(!warden.seen.iter().any(|l| l.contains("SIGUSR2")), "{:?}", warden.seen);
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// `${VAR}` in a service's command comes from its own `env:` first, then
/// warden's environment; `$${HOME}` is left to the shell, which sees the
/// service's HOME (issue 20: `${PORT}` set in `env:` failed validation, and
/// `${HOME}` was warden's).
fn a_command_sees_its_own_env_first(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  svc:\n    command: \"echo port=${PORT} shared=${WARDEN_TEST_SHARED} home=$${HOME}; sleep 100\"\n    \
         env: { PORT: \"8123\", WARDEN_TEST_SHARED: mine, HOME: /srv/svc }\n",
    );
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.env("WARDEN_TEST_SHARED", "wardens").env("HOME", "/root");
    let mut warden = launch.start();
    warden.expect("svc | port=8123 shared=mine home=/srv/svc");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// A long-running program that exits 0 while processes it started go on
/// (as nginx does without `daemon off;`) is pointed out once, with the pids
/// and the fix; one that simply exits 0 is not (issue 20: both looked like
/// `exited 0`).
fn a_program_that_daemonizes_is_pointed_out(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  bg:\n    command: \"sleep 100 & exit 0\"\n  plain:\n    command: \"true\"\n  \
         keep:\n    command: [sleep, \"100\"]\n  daemon:\n    command: \"setsid sleep 100 & sleep 0.3; exit 0\"\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_stderr(5 * SECOND, "bg: exited 0, but processes it started keep running (pid ");
    warden.expect_stderr(5 * SECOND, "plain: running -> exited");
    hold(SECOND / 4);
    let stderr = warden.stderr();
    assert!(stderr.contains("daemon off;"), "{stderr}");
    assert!(!stderr.contains("plain: exited 0, but"), "{stderr}");
    // A daemon's setsid: a session of its own, still found.
    warden.expect_stderr(5 * SECOND, "daemon: exited 0, but processes it started keep running (pid ");
    let stderr = warden.stderr();
    assert_eq!(count(&stderr, "but processes it started keep running"), 2, "{stderr}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// Processes of a service's process group outlive its program (a shell's
/// `worker &`): each restart used to add one more, all running at once
/// (found with a crash-looping service; a real server's leftovers would
/// hold its port). Now a run ends once they are gone.
fn what_a_crashed_program_left_behind_does_not_pile_up(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(
        "services:\n  looping:\n    command: \"sleep 1000 & sleep 0.1; exit 3\"\n    restart: always\n    \
         min_uptime: 0s\n    backoff: { initial: 50ms, max: 50ms }\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    assert!(
        wait_until(10 * SECOND, || count(&warden.stderr(), "looping: backoff -> starting") >= 6),
        "{}",
        warden.stderr()
    );
    let sleepers = || {
        descendants(warden.warden_pid)
            .into_iter()
            .filter(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x001000\0"))
            .count()
    };
    let most = (0..10).map(|_| (sleepers(), hold(SECOND / 20)).0).max().unwrap_or(0);
    assert!(most <= 1, "{most} leftovers at once after 6 restarts:\n{}", warden.stderr());
    assert!(
        warden.stderr().contains("looping: its program ended, leaving processes in its process group: sending them SIGTERM, SIGKILL after 5s"),
        "{}",
        warden.stderr()
    );
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// With `--stop-signals TERM`, a QUIT is no shutdown: it goes to the main
/// program like any other signal (a JVM's thread dump), and the services
/// run on; TERM still shuts everything down.
fn stop_signals_option_sends_quit_to_the_main_program(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config("services:\n  db:\n    command: [sleep, \"100\"]\n");
    let kit = testkit();
    let args =
        ["-c", &config, "--stop-signals", "TERM", "--", &kit, "signals", "--exit-on", "TERM", "--code", "0"];
    let mut warden = start(mode, &args);
    warden.expect("ready");
    warden.signal(libc::SIGQUIT);
    warden.expect_line(5 * SECOND, |l| l == "SIGQUIT");
    hold(SECOND / 2);
    let stderr = warden.stderr();
    assert!(!stderr.contains("shutting down"), "{stderr}");
    assert!(warden.child.try_wait().unwrap().is_none(), "{stderr}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0, "{}", warden.stderr());
    assert!(warden.stderr().contains("shutting down: SIGTERM received"), "{}", warden.stderr());
}

/// What a program left in its process group gets the stop signal and may
/// finish (a handler's last words come before the end is told); what
/// ignores it gets SIGKILL after `stop_timeout`, and only then is the end
/// told (and a restart could begin).
fn what_a_program_left_behind_is_stopped_before_its_end_is_told(mode: Mode) {
    let dir = Dir::new();
    let config = dir.config(&format!(
        "services:\n  polite:\n    command: \"{kit} term-marker $DIR/marker & sleep 0.3; exit 3\"\n    restart: never\n  \
         stubborn:\n    command: \"(trap '' TERM; exec sleep 1001) & sleep 0.3; exit 4\"\n    restart: never\n    \
         stop_timeout: 2s\n  other:\n    command: [sleep, \"100\"]\n",
        kit = testkit()
    ));
    let socket = format!("{}/control.sock", dir.0.display());
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.env("WARDEN_CONTROL", &socket);
    let mut warden = launch.start();
    warden.expect_stderr(5 * SECOND, "polite: running -> failed: exited with code 3");
    assert_eq!(dir.read("marker"), "terminated\n", "{}", warden.stderr());
    // While its leftover is stopped, status shows no pid (its program is
    // gone) and says why the end is not told yet.
    warden.expect_stderr(5 * SECOND, "stubborn: its program ended, leaving processes in its process group");
    let status = status_json(&socket);
    let entry = &status[status.find("\"name\":\"stubborn\"").unwrap_or_else(|| panic!("{status}"))..];
    let entry = &entry[..entry
        .find("\"reason\":")
        .map_or(entry.len(), |at| at + entry[at + 10..].find('"').map_or(0, |end| end + 11))];
    assert!(entry.contains("\"pid\":null"), "{entry}");
    assert!(entry.contains("\"ready\":false"), "{entry}");
    assert!(entry.contains("\"reason\":\"its program ended; stopping what it left behind\""), "{entry}");
    warden.expect_stderr(5 * SECOND, "stubborn: running -> failed: exited with code 4");
    let stderr = warden.stderr();
    let killed = stderr
        .find("stubborn: what its program left behind outlived its stop_timeout (2s): SIGKILL")
        .unwrap_or_else(|| panic!("{stderr}"));
    let failed = stderr.find("stubborn: running -> failed").unwrap();
    assert!(killed < failed, "{stderr}");
    let uptime = stderr[failed..].split("uptime ").nth(1).and_then(|t| t.split('s').next()).unwrap_or("");
    let uptime: f64 = uptime.parse().unwrap_or_else(|_| panic!("{stderr}"));
    assert!(
        uptime >= 2.2,
        "the end was told {uptime} s into the run, before the leftover's SIGKILL: {stderr}"
    );
    let stubborn = descendants(warden.warden_pid)
        .into_iter()
        .any(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x001001\0"));
    assert!(!stubborn, "{stderr}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// The layers of a service's environment through the real binary, and a
/// reload after an env file changed restarts the services that read it.
fn env_files_reach_services_and_a_changed_one_restarts_them(mode: Mode) {
    let dir = Dir::new();
    std::fs::write(dir.0.join("all.env"), "# shared\nGREETING=hello\nTARGET=world\n").unwrap();
    std::fs::write(dir.0.join("web.env"), "export TARGET='from web.env'\n").unwrap();
    let config = dir.config(
        "env_file: all.env\nservices:\n  web:\n    env_file: [web.env, absent.env?]\n    \
         command: \"echo $$GREETING $$TARGET; sleep 100\"\n  other:\n    command: \"echo $$GREETING $$TARGET; sleep 100\"\n",
    );
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_all(5 * SECOND, &["web | hello from web.env", "other | hello world"]);
    std::fs::write(dir.0.join("web.env"), "TARGET=changed\n").unwrap();
    warden.signal(libc::SIGHUP);
    warden.expect_stderr(5 * SECOND, "added none; removed none; changed web; 1 unchanged");
    warden.expect("web | hello changed");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// `warden -c warden.yaml` (a path with no directory) and `watch_config`:
/// the current directory is watched, and an edit reloads.
fn watch_config_with_the_config_in_the_current_directory(mode: Mode) {
    let dir = Dir::new();
    let yaml = "watch_config: true\nservices:\n  web:\n    command: \"echo up; exec sleep 100\"\n";
    dir.config(yaml);
    let mut launch = Launch::new(mode, &["-c", "warden.yaml"]);
    launch.command.current_dir(&dir.0);
    let mut warden = launch.start();
    warden.expect("web | up");
    // The watch is set up on warden's disk thread once warden runs: an edit
    // made before it is in place goes unseen (on a loaded machine "web | up"
    // can come first), so the edit is made again until a reload is seen.
    let edited = format!("{yaml}  added:\n    command: \"echo added; exec sleep 100\"\n");
    let reloaded = (0..10).any(|_| {
        std::fs::write(dir.0.join("warden.yaml"), &edited).unwrap();
        wait_until(SECOND, || warden.stderr().contains("reloaded "))
    });
    assert!(reloaded, "no reload after ten edits: {}", warden.stderr());
    warden.expect("added | added");
    assert!(!warden.stderr().contains("cannot watch"), "{}", warden.stderr());
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// `watch:`: a file created, replaced by a rename, or written three times in
/// a row restarts the service once each time (debounced); a glob's match
/// sends a signal and a non-match does nothing; `watch_config` reloads warden
/// when its file changes; and a watch that sees nothing costs no system call.
fn watched_files_restart_signal_and_reload(mode: Mode) {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.0.join("conf.d")).unwrap();
    let kit = testkit();
    let yaml = format!(
        "watch_config: true\nservices:\n  web:\n    command: \"echo started; sleep 100\"\n    \
         watch: {{ paths: [app.conf], debounce: 300ms }}\n  sig:\n    command: [\"{kit}\", signals, --tag, sig]\n    \
         watch: {{ paths: [\"conf.d/*.conf\"], action: \"signal: USR2\", debounce: 50ms }}\n"
    );
    let config = dir.config(&yaml);
    let mut warden = start(mode, &["-c", &config]);
    warden.expect_all(5 * SECOND, &["web | started", "sig | sig ready"]);
    // Idle, with watches set: no system call.
    let (calls, report) = system_calls_of(warden.warden_pid, 1);
    assert!(calls <= 1, "an idle warden with file watches made {calls} system calls:\n{report}");
    // Created (it did not exist at start).
    std::fs::write(dir.0.join("app.conf"), "a").unwrap();
    warden.expect_stderr(5 * SECOND, "web: app.conf changed: restarting");
    warden.expect("web | started");
    // Replaced by a rename, as editors save.
    std::fs::write(dir.0.join(".app.conf.tmp"), "b").unwrap();
    std::fs::rename(dir.0.join(".app.conf.tmp"), dir.0.join("app.conf")).unwrap();
    warden.expect("web | started");
    // Three writes within the debounce: one restart.
    for text in ["c", "d", "e"] {
        std::fs::write(dir.0.join("app.conf"), text).unwrap();
    }
    warden.expect("web | started");
    hold(Duration::from_millis(600));
    let restarts = warden.stderr().matches("web: app.conf changed: restarting").count();
    assert_eq!(restarts, 3, "{}", warden.stderr());
    // The glob: a .conf signals, a .txt does not.
    std::fs::write(dir.0.join("conf.d/x.txt"), "").unwrap();
    std::fs::write(dir.0.join("conf.d/x.conf"), "").unwrap();
    warden.expect("sig | sig SIGUSR2");
    warden.expect_stderr(5 * SECOND, "sig: x.conf changed: sending SIGUSR2");
    assert!(!warden.stderr().contains("sig: sent SIGUSR2 by hand"), "{}", warden.stderr());
    assert!(!warden.stderr().contains("x.txt"), "{}", warden.stderr());
    // watch_config: an edit of the config is a reload.
    std::fs::write(&config, format!("{yaml}  added:\n    command: \"echo added; sleep 100\"\n")).unwrap();
    warden.expect("added | added");
    warden.expect_stderr(5 * SECOND, "added: starting -> running");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}

/// A file of a Kubernetes ConfigMap volume: `app.conf` is a link into
/// `..data`, itself a link to a timestamped directory, and the kubelet
/// updates it by making a new directory and renaming a new `..data` link
/// over the old. Nothing named app.conf changes, yet the service is
/// reloaded once per update, and the event line names app.conf.
fn a_configmap_update_reloads_the_service(mode: Mode) {
    use std::os::unix::fs::symlink;
    let dir = Dir::new();
    let volume = dir.0.join("config");
    std::fs::create_dir_all(volume.join("..2026_12_04_20_00_01.1")).unwrap();
    std::fs::write(volume.join("..2026_12_04_20_00_01.1/app.conf"), "v1").unwrap();
    symlink("..2026_12_04_20_00_01.1", volume.join("..data")).unwrap();
    symlink("..data/app.conf", volume.join("app.conf")).unwrap();
    let conf = volume.join("app.conf");
    let yaml = format!(
        "services:\n  app:\n    command: \"cat {conf}; echo; trap 'cat {conf}; echo' HUP; while :; do sleep 1 & wait; done\"\n    \
         reload_signal: HUP\n    watch: {{ paths: [{conf}], action: reload, debounce: 100ms }}\n",
        conf = conf.display()
    );
    let config = dir.config(&yaml);
    let mut warden = start(mode, &["-c", &config]);
    warden.expect("app | v1");
    for (n, text) in [(2, "v2"), (3, "v3")] {
        // As the kubelet's atomic writer does it.
        let data = format!("..2026_12_04_20_00_0{n}.1");
        std::fs::create_dir(volume.join(&data)).unwrap();
        std::fs::write(volume.join(&data).join("app.conf"), text).unwrap();
        symlink(&data, volume.join("..data_tmp")).unwrap();
        std::fs::rename(volume.join("..data_tmp"), volume.join("..data")).unwrap();
        std::fs::remove_dir_all(volume.join(format!("..2026_12_04_20_00_0{}.1", n - 1))).unwrap();
        warden.expect(&format!("app | {text}"));
    }
    let said = warden.stderr();
    assert_eq!(said.matches("app: app.conf changed: sending SIGHUP").count(), 2, "{said}");
    assert!(!said.contains("..data"), "{said}");
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(10 * SECOND), 0);
}
