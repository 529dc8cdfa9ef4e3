use super::*;

#[test]
fn path_search_follows_execvp() {
    let path = OsStr::new("/a::/b");
    assert_eq!(
        search_path(OsStr::new("ls"), Some(path)),
        vec![b"/a/ls".to_vec(), b"ls".to_vec(), b"/b/ls".to_vec()]
    );
    assert_eq!(search_path(OsStr::new("./x"), Some(path)), vec![b"./x".to_vec()]);
    assert_eq!(search_path(OsStr::new("ls"), None).len(), 3);
}

fn true_program() -> Program {
    let env = Environment::new(&[("PATH".into(), "/usr/bin:/bin".into())]).unwrap();
    Program::new(&["true".into()], &env, &[]).unwrap()
}

fn exit_code_of(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waiting for a child of this test process.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    libc::WEXITSTATUS(status)
}

/// The `CLONE_VM` child reports each failed step through shared memory,
/// and exits 127 by itself once it has.
#[test]
fn shared_memory_start_reports_the_failed_step() {
    let workdir = Setup { workdir: Some(c"/nonexistent/dir".into()), ..Setup::default() };
    let limit = Setup { limits: vec![(libc::RLIMIT_NOFILE as i32, 2, 1)], ..Setup::default() };
    for (setup, stage, errno) in [
        (workdir, SetupStep::Workdir, libc::ENOENT),
        (limit, SetupStep::Limit(libc::RLIMIT_NOFILE as i32), libc::EINVAL),
    ] {
        match spawn_with(&true_program(), Placement::default(), &setup) {
            Err(SpawnError::Exec { pid, stage: got, error }) => {
                assert_eq!((got, error.raw_os_error()), (stage, Some(errno)));
                assert_eq!(exit_code_of(pid), 127);
            }
            other => panic!("expected a {stage:?} failure, got {other:?}"),
        }
    }
    let missing = Program::new(&["/nonexistent/program".into()], &true_program().0.base, &[]).unwrap();
    match spawn_with(&missing, Placement::default(), &Setup::default()) {
        Err(e @ SpawnError::Exec { pid, .. }) => {
            assert_eq!(e.exit_code(), 127);
            assert_eq!(exit_code_of(pid), 127);
        }
        other => panic!("expected not found, got {other:?}"),
    }
    let pid = spawn_with(&true_program(), Placement::default(), &Setup::default()).unwrap();
    assert_eq!(exit_code_of(pid), 0);
}

/// A start given up on before its exec keeps what the child reads until the
/// child is reaped: 2000 missing PATH entries keep it busy for milliseconds
/// after its `Pending` is gone, and it must still find `true` at the end.
#[test]
fn a_dropped_start_lends_its_memory_until_the_reap() {
    let mut path: Vec<String> = (0..2000).map(|i| format!("/nonexistent/{i}")).collect();
    path.push("/usr/bin:/bin".into());
    // Under load the child may be done before its Pending is dropped (then no
    // loan is needed): up to five tries to catch one in flight.
    let mut caught = 0;
    for _ in 0..5 {
        let env = Environment::new(&[("PATH".into(), path.join(":").into())]).unwrap();
        let program = Program::new(&["true".into()], &env, &[]).unwrap();
        let before = outstanding();
        let pending = start(&program, Placement::default(), &Setup::default()).unwrap();
        let pid = pending.pid;
        drop(pending);
        drop(program);
        drop(env);
        if outstanding() == before + 1 {
            caught += 1;
        }
        assert_eq!(exit_code_of(pid), 0, "the child read its job after the Pending was dropped");
        reaped(pid);
        assert_eq!(outstanding(), before);
        if caught > 0 {
            break;
        }
    }
    if raw::SHARED_MEMORY_SAFE {
        assert!(caught > 0, "no loan outlived its Pending in five starts of a child still searching PATH");
    }
}

/// Polls a start's outcome for up to 2 s (1000 times 2 ms).
fn outcome_within_2s(pending: &Pending) -> Option<Result<i32, SpawnError>> {
    for _ in 0..1000 {
        if let Some(outcome) = pending.outcome() {
            return Some(outcome);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    None
}

/// The outcome comes only with the pipe's EOF, after the failure report.
#[test]
fn a_started_child_reports_through_the_pipe() {
    let missing = Program::new(&["/nonexistent/program".into()], &true_program().0.base, &[]).unwrap();
    let pending = start(&missing, Placement::default(), &Setup::default()).unwrap();
    match outcome_within_2s(&pending) {
        Some(Err(e @ SpawnError::Exec { stage: SetupStep::Exec, .. })) => assert_eq!(e.exit_code(), 127),
        other => panic!("expected not found, got {other:?}"),
    }
    assert_eq!(exit_code_of(pending.pid), 127);
    let pending = start(&true_program(), Placement::default(), &Setup::default()).unwrap();
    assert_eq!(outcome_within_2s(&pending).map(|r| r.ok()), Some(Some(pending.pid)));
    assert_eq!(exit_code_of(pending.pid), 0);
}

/// A limit that cannot be set is named in the start error (issue 20).
#[test]
fn a_limit_that_cannot_be_set_is_named() {
    let error = SpawnError::Exec {
        pid: 0,
        stage: SetupStep::from_code(SetupStep::Limit(libc::RLIMIT_NOFILE as i32).code()),
        error: io::Error::from_raw_os_error(libc::EPERM),
    };
    assert_eq!(error.to_string(), "unable to set the nofile limit: Operation not permitted");
}

#[test]
fn a_command_is_shown_as_a_shell_reads_it_back() {
    let words = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
    assert_eq!(
        shell_line(&words(&["redis-server", "--save", "", "--port", "6379"])),
        "redis-server --save '' --port 6379"
    );
    assert_eq!(shell_line(&words(&["sh", "-c", "echo it's $HOME"])), r#"sh -c 'echo it'\''s $HOME'"#);
    assert_eq!(shell_line(&words(&["/usr/bin/env", "A=b,c:d@e%f+g"])), "/usr/bin/env A=b,c:d@e%f+g");
    // A shell splits the line back into the same words.
    let tricky = words(&["", "a b", "'", "\"", "$x", "`y`", "\\", "*", "~", "é", "a\nb", "#c", "!"]);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {}", shell_line(&tricky)))
        .output()
        .unwrap();
    let back: Vec<OsString> = out
        .stdout
        .split(|&b| b == 0)
        .map(|w| std::os::unix::ffi::OsStringExt::from_vec(w.to_vec()))
        .collect();
    assert_eq!(&back[..tricky.len()], &tricky[..]);
}
