//! Starting a program: a new process and `execve`, with nothing but
//! async-signal-safe work in between.
//!
//! Everything the child needs (argv, envp, the list of paths to try) is built in
//! the parent beforehand; the child only makes system calls. Two ways to start:
//!
//! - [`spawn_with`] waits for the outcome, so it uses `clone(CLONE_VM |
//!   CLONE_VFORK)`: the child borrows warden's memory on a stack of its own and
//!   warden sleeps until the child has exec'd or exited. No page table is
//!   copied and no page is copied-on-write afterwards, which is most of what a
//!   `fork` costs, and an exec failure comes back through that shared memory
//!   instead of a pipe. The one-program mode starts CMD this way.
//! - [`start`] must not wait (the supervisor starts many services at once), so
//!   it forks, and the child reports a failure over a close-on-exec pipe that
//!   the event loop watches.
//!
//! Either way warden learns "not found" (127) or "cannot execute" (126) with
//! the real reason.
//!
//! std's `Command` is not used: it would own the child's exit status (warden's one
//! reaper must), and its spawn path may panic on unexpected pipe errors.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use super::{retry, signals};

/// A program ready to be started: every string already converted for `execve`.
#[derive(Debug, Clone)]
pub struct Program {
    /// The command as the user wrote it, for messages.
    pub display: String,
    argv: Vec<CString>,
    /// Shared by every program started from the same environment.
    base: Environment,
    /// `KEY=VALUE` entries that replace or extend the base.
    overrides: Vec<CString>,
    /// Paths to try in order: the program itself if it has a '/', else each PATH entry.
    candidates: Vec<CString>,
}

/// An environment ready for `execve`, shared (not copied) by the programs that
/// start from it: a hundred services cost one copy of warden's environment.
#[derive(Debug, Clone)]
pub struct Environment(Rc<Vec<CString>>);

impl Environment {
    pub fn new(vars: &[(OsString, OsString)]) -> Result<Environment, SpawnError> {
        let entries =
            vars.iter().map(|(k, v)| entry(k.as_bytes(), v.as_bytes())).collect::<Result<_, _>>()?;
        Ok(Environment(Rc::new(entries)))
    }

    fn value(&self, key: &[u8]) -> Option<&[u8]> {
        self.0.iter().find_map(|e| e.as_bytes().strip_prefix(key)?.strip_prefix(b"="))
    }
}

fn entry(key: &[u8], value: &[u8]) -> Result<CString, SpawnError> {
    CString::new([key, b"=", value].concat()).map_err(|_| {
        SpawnError::Invalid(format!("the variable {} contains a NUL byte", String::from_utf8_lossy(key)))
    })
}

fn key_of(entry: &CString) -> &[u8] {
    let bytes = entry.as_bytes();
    bytes.iter().position(|&b| b == b'=').and_then(|i| bytes.get(..i)).unwrap_or(bytes)
}

/// How the child is placed among processes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement {
    /// Put the child in a process group of its own.
    pub own_process_group: bool,
    /// Make that group the terminal's foreground group when stdin is a terminal.
    pub take_terminal: bool,
    /// Start a new session instead (own group, no controlling terminal): a
    /// service can then never be stopped by SIGTTIN/SIGTTOU.
    pub new_session: bool,
}

/// Everything else about the child's starting state; all of it applied between
/// fork and exec with plain system calls.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// stdin from /dev/null instead of warden's.
    pub null_stdin: bool,
    /// stdout and stderr to /dev/null instead of warden's.
    pub null_output: bool,
    /// Write ends of the capture pipes, placed as fds 1 and 2.
    pub output: Option<(RawFd, RawFd)>,
    pub workdir: Option<CString>,
    pub umask: Option<u32>,
    /// (resource, soft, hard)
    pub limits: Vec<(i32, u64, u64)>,
    /// (uid, gid, supplementary groups)
    pub credentials: Option<(u32, u32, Vec<u32>)>,
    /// PR_SET_NO_NEW_PRIVS: execve can never grant privileges again (setuid
    /// binaries, file capabilities).
    pub no_new_privs: bool,
    /// (fd in warden, number in the child): a descriptor given on purpose,
    /// such as the write end of a readiness-notification pipe.
    pub pass_fd: Option<(RawFd, i32)>,
}

/// The step of the child's set-up that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Exec,
    Session,
    Stdio,
    Workdir,
    Limits,
    Credentials,
    Privileges,
}

impl Stage {
    fn code(self) -> u32 {
        self as u32
    }

    fn from_code(code: u32) -> Stage {
        [
            Stage::Exec,
            Stage::Session,
            Stage::Stdio,
            Stage::Workdir,
            Stage::Limits,
            Stage::Credentials,
            Stage::Privileges,
        ]
        .into_iter()
        .find(|s| s.code() == code)
        .unwrap_or(Stage::Exec)
    }
}

#[derive(Debug)]
pub enum SpawnError {
    /// The program could not be prepared (a NUL byte in an argument or variable).
    Invalid(String),
    /// fork or the status pipe failed: resources (EAGAIN, ENOMEM, EMFILE).
    Fork(io::Error),
    /// The child was created but its set-up or `execve` failed; it exits 127
    /// on its own and must still be reaped.
    Exec { pid: i32, stage: Stage, error: io::Error },
}

impl SpawnError {
    /// The shell's convention for a program that could not be run: 127 when it
    /// was not found, 126 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Exec { stage: Stage::Exec, error, .. }
                if matches!(error.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) =>
            {
                127
            }
            _ => 126,
        }
    }
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::Invalid(why) => f.write_str(why),
            SpawnError::Fork(e) => write!(f, "unable to fork: {}", super::Reason(e)),
            SpawnError::Exec { stage, error, .. } => {
                let step = match stage {
                    Stage::Exec => "",
                    Stage::Session => "unable to set the process group: ",
                    Stage::Stdio => "unable to open /dev/null: ",
                    Stage::Workdir => "unable to enter the working directory: ",
                    Stage::Limits => "unable to set resource limits: ",
                    Stage::Credentials => "unable to switch user: ",
                    Stage::Privileges => "unable to set no_new_privs: ",
                };
                write!(f, "{step}{}", super::Reason(error))
            }
        }
    }
}

impl Program {
    /// Prepares `argv` to run with `base` plus `overrides` (which also give PATH).
    pub fn new(
        argv: &[OsString],
        base: &Environment,
        overrides: &[(OsString, OsString)],
    ) -> Result<Self, SpawnError> {
        let first = argv.first().ok_or_else(|| SpawnError::Invalid("empty command".into()))?;
        let display = argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
        let to_c = |bytes: &[u8]| {
            CString::new(bytes).map_err(|_| SpawnError::Invalid(format!("{display:?} contains a NUL byte")))
        };
        let argv_c = argv.iter().map(|a| to_c(a.as_bytes())).collect::<Result<Vec<_>, _>>()?;
        let overrides = overrides
            .iter()
            .map(|(k, v)| entry(k.as_bytes(), v.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let path = overrides
            .iter()
            .find(|e| key_of(e) == b"PATH")
            .and_then(|e| e.as_bytes().get(5..))
            .or_else(|| base.value(b"PATH"));
        let candidates = search_path(first, path.map(OsStr::from_bytes))
            .iter()
            .map(|c| to_c(c))
            .collect::<Result<_, _>>()?;
        Ok(Self { display, argv: argv_c, base: base.clone(), overrides, candidates })
    }
}

/// execvp's search: a name with a '/' is used as is, otherwise each PATH entry is
/// tried (an empty entry means the current directory); musl's default PATH applies
/// when none is set.
fn search_path(program: &OsStr, path: Option<&OsStr>) -> Vec<Vec<u8>> {
    let name = program.as_bytes();
    if name.contains(&b'/') || name.is_empty() {
        return vec![name.to_vec()];
    }
    let path = path.map(OsStr::as_bytes).unwrap_or(b"/usr/local/bin:/bin:/usr/bin");
    path.split(|&b| b == b':')
        .map(|dir| match dir {
            b"" => name.to_vec(),
            _ => [dir, b"/", name].concat(),
        })
        .collect()
}

/// Starts `program`; returns its pid once `execve` has succeeded.
pub fn spawn(program: &Program, placement: Placement) -> Result<i32, SpawnError> {
    spawn_with(program, placement, &Setup::default())
}

/// Starts `program` with `setup` applied in the child, and waits until `execve`
/// has succeeded or failed.
pub fn spawn_with(program: &Program, placement: Placement, setup: &Setup) -> Result<i32, SpawnError> {
    let pointers = Pointers::of(program);
    let stack = ChildStack::new().map_err(SpawnError::Fork)?;
    let mut failure = Failure::default();
    let failure_at = &raw mut failure;
    let job = SharedJob { pointers: &pointers, placement, setup, failure: failure_at };
    // SAFETY: warden is single-threaded and, with CLONE_VFORK, suspended until the
    // child has exec'd or exited, so nothing else touches the memory the child
    // borrows. The child runs only `exec_child` (async-signal-safe, never returns)
    // on its own guarded stack; `job`, `pointers`, `setup` and `failure` outlive
    // the call. Without CLONE_SIGHAND and CLONE_FILES the child gets its own
    // dispositions and descriptor table, as after fork.
    let pid = unsafe {
        libc::clone(
            shared_child,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw const job).cast_mut().cast(),
        )
    };
    if pid < 0 {
        return Err(SpawnError::Fork(io::Error::last_os_error()));
    }
    // SAFETY: the child is past execve or gone, so it no longer writes `failure`.
    let failure = unsafe { std::ptr::read_volatile(failure_at) };
    if failure.failed {
        return Err(SpawnError::Exec {
            pid,
            stage: Stage::from_code(failure.stage),
            error: io::Error::from_raw_os_error(failure.errno),
        });
    }
    Ok(pid)
}

/// What `spawn_with`'s child receives, in memory it shares with warden.
struct SharedJob<'a> {
    pointers: &'a Pointers,
    placement: Placement,
    setup: &'a Setup,
    failure: *mut Failure,
}

/// Written by a `CLONE_VM` child whose set-up or exec failed.
#[derive(Debug, Clone, Copy, Default)]
struct Failure {
    failed: bool,
    stage: u32,
    errno: i32,
}

/// async-signal-safe: the entry point of `spawn_with`'s child.
extern "C" fn shared_child(job: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `job` is the SharedJob that `spawn_with` passed, alive while it waits.
    let job = unsafe { &*job.cast_const().cast::<SharedJob>() };
    exec_child(job.pointers, job.placement, job.setup, Report::Shared(job.failure))
}

/// The stack of a `CLONE_VM` child: a private mapping with an inaccessible page
/// below it, so that an overflow faults instead of writing over warden's memory.
/// Only the pages the child touches (one or two) are ever backed.
struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    const SIZE: usize = 64 * 1024;

    fn new() -> io::Result<ChildStack> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let len = Self::SIZE + page;
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the lowest page of the mapping just made.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The highest address: stacks grow down on every architecture Linux runs
    /// containers on.
    fn top(&self) -> *mut libc::c_void {
        self.base.wrapping_byte_add(self.len)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping made in `new`, which nothing uses
        // any more: the child is past execve or gone.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// A child forked but not yet known to have exec'd: its status pipe reports
/// the outcome (readable in the event loop).
#[derive(Debug)]
pub struct Pending {
    pub pid: i32,
    status: OwnedFd,
}

impl Pending {
    pub fn fd(&self) -> RawFd {
        self.status.as_raw_fd()
    }

    /// The outcome once known: the pid after a successful `execve`, or why it
    /// failed. None while the child is still on its way.
    pub fn outcome(&self) -> Option<Result<i32, SpawnError>> {
        let pid = self.pid;
        // The child writes (stage, errno) in one 8-byte write if anything fails;
        // EOF without data means exec worked (the pipe closed on exec).
        let mut report = [0u8; 8];
        let mut filled = 0;
        while filled < report.len() {
            let rest = report.get_mut(filled..).unwrap_or_default();
            // SAFETY: reading into the remaining part of a local buffer.
            let n = retry(|| unsafe {
                libc::read(self.status.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len())
            });
            match n {
                Ok(0) => break,
                Ok(n) => filled += n as usize,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) => return Some(Err(SpawnError::Exec { pid, stage: Stage::Exec, error: e })),
            }
        }
        if filled == 0 {
            return Some(Ok(pid));
        }
        let [s0, s1, s2, s3, e0, e1, e2, e3] = report;
        Some(Err(SpawnError::Exec {
            pid,
            stage: Stage::from_code(u32::from_ne_bytes([s0, s1, s2, s3])),
            error: io::Error::from_raw_os_error(i32::from_ne_bytes([e0, e1, e2, e3])),
        }))
    }
}

/// Forks the child for `program` and returns at once; the outcome is read from
/// `Pending::outcome` when its fd is readable.
pub fn start(program: &Program, placement: Placement, setup: &Setup) -> Result<Pending, SpawnError> {
    let pointers = Pointers::of(program);
    let mut pipe = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    retry(|| unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })
        .map_err(SpawnError::Fork)?;
    // SAFETY: pipe2 succeeded: both fds are fresh and owned by nothing else.
    let (status_read, status_write) =
        unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };

    // SAFETY: warden is single-threaded; the child runs only `exec_child`, which is
    // async-signal-safe and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SpawnError::Fork(io::Error::last_os_error()));
    }
    if pid == 0 {
        exec_child(&pointers, placement, setup, Report::Pipe(status_write.as_raw_fd()));
    }
    drop(status_write);
    if placement.own_process_group && !placement.new_session {
        // Also set from the parent, so the group exists before warden signals it.
        // SAFETY: integer-only call; EACCES (child already exec'd) is harmless.
        unsafe { libc::setpgid(pid, pid) };
    }
    Ok(Pending { pid, status: status_read })
}

/// The C arrays `execve` takes, built before the child exists: the child only
/// reads them.
struct Pointers {
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    candidates: Vec<*const libc::c_char>,
}

impl Pointers {
    fn of(program: &Program) -> Pointers {
        let mut argv: Vec<*const libc::c_char> = program.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let overridden = |e: &CString| program.overrides.iter().any(|o| key_of(o) == key_of(e));
        let mut envp: Vec<*const libc::c_char> = program
            .base
            .0
            .iter()
            .filter(|e| !overridden(e))
            .chain(&program.overrides)
            .map(|e| e.as_ptr())
            .collect();
        envp.push(std::ptr::null());
        let candidates = program.candidates.iter().map(|c| c.as_ptr()).collect();
        Pointers { argv, envp, candidates }
    }
}

/// Where a child says which step of its set-up failed, and with what errno.
#[derive(Clone, Copy)]
enum Report {
    /// A close-on-exec pipe to a forked parent: one 8-byte write.
    Pipe(libc::c_int),
    /// The memory a `CLONE_VM` child shares with its suspended parent.
    Shared(*mut Failure),
}

/// async-signal-safe: runs in the child; only system calls, no allocation, no
/// write to memory other than its own stack and the failure report (a
/// `CLONE_VM` child shares warden's memory).
fn exec_child(pointers: &Pointers, placement: Placement, setup: &Setup, report: Report) -> ! {
    // Moved if the fd given on purpose takes its number.
    let report = std::cell::Cell::new(report);
    // Reports the failed stage and errno to the parent, then exits 127.
    let fail = |stage: Stage| -> ! {
        // SAFETY: reading errno, write(2) and _exit(2) are async-signal-safe; a
        // shared report points into the parent's live stack frame.
        unsafe {
            let errno = *libc::__errno_location();
            match report.get() {
                Report::Pipe(fd) => {
                    let mut bytes = [0u8; 8];
                    let (stage_bytes, errno_bytes) = bytes.split_at_mut(4);
                    stage_bytes.copy_from_slice(&stage.code().to_ne_bytes());
                    errno_bytes.copy_from_slice(&errno.to_ne_bytes());
                    libc::write(fd, bytes.as_ptr().cast(), bytes.len());
                }
                Report::Shared(failure) => {
                    std::ptr::write_volatile(failure, Failure { failed: true, stage: stage.code(), errno })
                }
            }
            libc::_exit(127);
        }
    };
    let Pointers { argv, envp, candidates } = pointers;
    // SAFETY: every call below is async-signal-safe and takes valid pointers built
    // before fork; argv and envp are NUL-terminated arrays of C strings.
    unsafe {
        if placement.new_session {
            if libc::setsid() < 0 {
                fail(Stage::Session);
            }
        } else if placement.own_process_group {
            libc::setpgid(0, 0);
            // Done here rather than in the parent: SIGTTOU is still blocked in this
            // process, so a background group may take the terminal (tini does the same).
            if placement.take_terminal && libc::isatty(0) == 1 {
                libc::tcsetpgrp(0, libc::getpid());
            }
        }
        if setup.null_stdin || setup.null_output {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if null < 0 {
                fail(Stage::Stdio);
            }
            if setup.null_stdin {
                libc::dup2(null, 0);
            }
            if setup.null_output {
                libc::dup2(null, 1);
                libc::dup2(null, 2);
            }
            if null > 2 {
                libc::close(null);
            }
        }
        if let Some((stdout, stderr)) = setup.output
            && (libc::dup2(stdout, 1) < 0 || libc::dup2(stderr, 2) < 0)
        {
            fail(Stage::Stdio);
        }
        if let Some(dir) = &setup.workdir
            && libc::chdir(dir.as_ptr()) < 0
        {
            fail(Stage::Workdir);
        }
        for &(resource, soft, hard) in &setup.limits {
            let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
            if libc::setrlimit(resource as _, &limit) < 0 {
                fail(Stage::Limits);
            }
        }
        if let Some(mask) = setup.umask {
            libc::umask(mask as libc::mode_t);
        }
        // Groups first, then the gid, then the uid: after setuid nothing else may change.
        if let Some((uid, gid, groups)) = &setup.credentials
            && (libc::setgroups(groups.len(), groups.as_ptr()) < 0
                || libc::setgid(*gid) < 0
                || libc::setuid(*uid) < 0)
        {
            fail(Stage::Credentials);
        }
        if setup.no_new_privs && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
            fail(Stage::Privileges);
        }
        signals::reset_for_exec();
        // Belt and braces: whatever fd ≥ 3 is open now must not survive exec.
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
        if let Some((source, target)) = setup.pass_fd {
            if let Report::Pipe(fd) = report.get()
                && fd == target
            {
                // Keep the status pipe out of the way of the fd being placed.
                report.set(Report::Pipe(libc::fcntl(target, libc::F_DUPFD_CLOEXEC, target + 1)));
            }
            // dup2 clears close-on-exec on the copy; an fd already in place needs it cleared.
            let placed = if source == target {
                libc::fcntl(target, libc::F_SETFD, 0)
            } else {
                libc::dup2(source, target)
            };
            if placed < 0 {
                fail(Stage::Stdio);
            }
        }

        let mut error = libc::ENOENT;
        let mut denied = false;
        for &path in candidates {
            libc::execve(path, argv.as_ptr(), envp.as_ptr());
            error = *libc::__errno_location();
            match error {
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ENOTDIR => {}
                _ => break,
            }
        }
        if denied && (error == libc::ENOENT || error == libc::ENOTDIR) {
            error = libc::EACCES;
        }
        *libc::__errno_location() = error;
        fail(Stage::Exec);
    }
}

#[cfg(test)]
mod tests {
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
        for (setup, stage, errno) in
            [(workdir, Stage::Workdir, libc::ENOENT), (limit, Stage::Limits, libc::EINVAL)]
        {
            match spawn_with(&true_program(), Placement::default(), &setup) {
                Err(SpawnError::Exec { pid, stage: got, error }) => {
                    assert_eq!((got, error.raw_os_error()), (stage, Some(errno)));
                    assert_eq!(exit_code_of(pid), 127);
                }
                other => panic!("expected a {stage:?} failure, got {other:?}"),
            }
        }
        let missing = Program::new(&["/nonexistent/program".into()], &true_program().base, &[]).unwrap();
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
}
