//! Starting a program: a new process and `execve`, with nothing but raw
//! system calls in between.
//!
//! Everything the child needs (argv, envp, the list of paths to try, its
//! set-up) is built in the parent beforehand, and the child is a
//! `clone(CLONE_VM)`: it borrows warden's memory on a guarded stack of its own
//! instead of getting a copy. No page table is copied and warden takes no
//! copy-on-write fault afterwards, which is most of what a `fork` of a large
//! process costs. The price is discipline in the child: it writes nothing but
//! its own stack (raw system calls from `sys::raw`, so not even `errno`), and
//! what it reads must outlive it. Two ways to start:
//!
//! - [`spawn_with`] waits for the outcome (`CLONE_VFORK`: warden sleeps until
//!   the child has exec'd or exited), and an exec failure comes back through
//!   the shared memory. The one-program mode starts CMD this way.
//! - [`start`] must not wait: the supervisor starts many services at once, and
//!   a service whose `chdir` or `execve` hangs on a dead network filesystem
//!   must not freeze PID 1. The child runs alongside warden, reports a failure
//!   over a close-on-exec pipe, and what it was lent (its [`Pending`] holds it)
//!   is freed at that pipe's EOF, or once the child is reaped if the start is
//!   given up on first. Where `sys::raw` has no implementation it forks.
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

use std::cell::{Cell, RefCell};

use super::{raw, retry};

mod child;
use child::{ChildStack, Failure, Job, ReportTo, clone_child, exec_child};

/// A program ready to be started: every string already converted for `execve`.
/// Cheap to clone: a child being started keeps its own reference.
#[derive(Debug, Clone)]
pub struct Program(Rc<ProgramParts>);

#[derive(Debug)]
struct ProgramParts {
    /// The command as a shell would take it back, for messages and crash
    /// reports.
    display: String,
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
    /// Descriptors warden inherited, passed on under the same numbers (only
    /// the one child that receives them has any).
    pub inherited_fds: Rc<[RawFd]>,
    /// Set `LISTEN_PID` to the child's own pid (it named warden).
    pub listen_pid: bool,
    /// `cgroup.procs` files of the service's cgroups (one per hierarchy),
    /// open for writing: the child moves itself in first thing, so all it
    /// starts and all it allocates is counted there.
    pub cgroup_procs: Vec<RawFd>,
}

/// The step of the child's set-up that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupStep {
    Exec,
    Session,
    Stdio,
    Workdir,
    /// Setting this resource limit (`RLIMIT_*`).
    Limit(i32),
    Credentials,
    Privileges,
    /// Joining the service's cgroup.
    Cgroup,
}

impl SetupStep {
    /// As the child reports it: the step in the low byte, a limit's
    /// resource above it (plain arithmetic: the child may call this).
    fn code(self) -> u32 {
        match self {
            SetupStep::Exec => 0,
            SetupStep::Session => 1,
            SetupStep::Stdio => 2,
            SetupStep::Workdir => 3,
            SetupStep::Limit(resource) => 4 | ((resource as u32 & 0xff) << 8),
            SetupStep::Credentials => 5,
            SetupStep::Privileges => 6,
            SetupStep::Cgroup => 7,
        }
    }

    fn from_code(code: u32) -> SetupStep {
        match code & 0xff {
            1 => SetupStep::Session,
            2 => SetupStep::Stdio,
            3 => SetupStep::Workdir,
            4 => SetupStep::Limit((code >> 8) as i32),
            5 => SetupStep::Credentials,
            6 => SetupStep::Privileges,
            7 => SetupStep::Cgroup,
            _ => SetupStep::Exec,
        }
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
    Exec { pid: i32, stage: SetupStep, error: io::Error },
}

impl SpawnError {
    /// The shell's convention for a program that could not be run: 127 when it
    /// was not found, 126 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Exec { stage: SetupStep::Exec, error, .. }
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
                    SetupStep::Exec => String::new(),
                    SetupStep::Session => "unable to set the process group: ".into(),
                    SetupStep::Stdio => "unable to open /dev/null: ".into(),
                    SetupStep::Workdir => "unable to enter the working directory: ".into(),
                    SetupStep::Limit(resource) => {
                        format!("unable to set the {} limit: ", limit_name(*resource))
                    }
                    SetupStep::Credentials => "unable to switch user: ".into(),
                    SetupStep::Privileges => "unable to set no_new_privs: ".into(),
                    SetupStep::Cgroup => "unable to join its cgroup: ".into(),
                };
                write!(f, "{step}{}", super::Reason(error))
            }
        }
    }
}

/// A resource limit's name as the config writes it (`limits: {nofile: ...}`).
pub fn limit_name(resource: i32) -> &'static str {
    match resource {
        r if r == libc::RLIMIT_NOFILE as i32 => "nofile",
        r if r == libc::RLIMIT_NPROC as i32 => "nproc",
        r if r == libc::RLIMIT_CORE as i32 => "core",
        r if r == libc::RLIMIT_STACK as i32 => "stack",
        r if r == libc::RLIMIT_MEMLOCK as i32 => "memlock",
        r if r == libc::RLIMIT_AS as i32 => "as",
        _ => "resource",
    }
}

/// `argv` as one line a shell reads back as the same words: a word with
/// anything but letters, digits and `_@%+=:,./-` goes in single quotes, an
/// empty one is `''`. Joined with spaces, `["--save", ""]` would read as one
/// word, and `["sh", "-c", "a b"]` as four.
pub fn shell_line(argv: &[OsString]) -> String {
    let mut line = String::new();
    for (n, word) in argv.iter().enumerate() {
        if n > 0 {
            line.push(' ');
        }
        let word = word.to_string_lossy();
        let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
        if !word.is_empty() && word.chars().all(plain) {
            line.push_str(&word);
        } else {
            line.push('\'');
            line.push_str(&word.replace('\'', "'\\''"));
            line.push('\'');
        }
    }
    line
}

impl Program {
    /// Prepares `argv` to run with `base` plus `overrides` (which also give PATH).
    pub fn new(
        argv: &[OsString],
        base: &Environment,
        overrides: &[(OsString, OsString)],
    ) -> Result<Self, SpawnError> {
        let first = argv.first().ok_or_else(|| SpawnError::Invalid("empty command".into()))?;
        let display = shell_line(argv);
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
        Ok(Self(Rc::new(ProgramParts { display, argv: argv_c, base: base.clone(), overrides, candidates })))
    }

    /// The command as a shell would take it back, for messages and crash
    /// reports.
    pub fn display(&self) -> &str {
        &self.0.display
    }

    /// The program itself as given (its first argument), for messages.
    pub fn name(&self) -> String {
        self.0.argv.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default()
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
    let stack = ChildStack::new().map_err(SpawnError::Fork)?;
    let mut failure = Failure::default();
    let failure_at = &raw mut failure;
    let job = Job::new(program, placement, setup, ReportTo::Shared(failure_at));
    // SAFETY: warden is suspended (CLONE_VFORK) until the child has exec'd or
    // exited, and the child runs only `exec_child` (raw system calls, never
    // returns) on its own guarded stack; `job`, `failure` and `stack` outlive
    // the call. Without CLONE_SIGHAND and CLONE_FILES the child gets its own
    // dispositions and descriptor table, as after fork.
    let pid = unsafe { clone_child(&job, &stack, libc::CLONE_VFORK) }.map_err(SpawnError::Fork)?;
    // SAFETY: the child is past execve or gone, so it no longer writes `failure`.
    let failure = unsafe { std::ptr::read_volatile(failure_at) };
    if failure.failed {
        return Err(SpawnError::Exec {
            pid,
            stage: SetupStep::from_code(failure.stage),
            error: io::Error::from_raw_os_error(failure.errno),
        });
    }
    Ok(pid)
}

/// Starts `program` without waiting: the child is created and warden carries
/// on at once; the outcome is read from `Pending::outcome` when its fd is
/// readable.
///
/// Where raw system calls are available the child is a `clone(CLONE_VM)` that
/// shares warden's memory, so nothing is copied however large warden is; it
/// reads only what the returned `Pending` keeps alive, and writes nothing but
/// its own stack. Elsewhere it is a plain fork.
pub fn start(program: &Program, placement: Placement, setup: &Setup) -> Result<Pending, SpawnError> {
    let mut pipe = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    retry(|| unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })
        .map_err(SpawnError::Fork)?;
    // SAFETY: pipe2 succeeded: both fds are fresh and owned by nothing else.
    let (status_read, status_write) =
        unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };
    let job = Box::new(Job::new(program, placement, setup, ReportTo::Pipe(status_write.as_raw_fd())));

    let (pid, stack) = if raw::SHARED_MEMORY_SAFE {
        let stack = ChildStack::new().map_err(SpawnError::Fork)?;
        // SAFETY: the child reads only `job` (boxed, kept in the Pending) and runs
        // on `stack` (kept there too) until it has exec'd or exited, which the
        // status pipe's EOF tells; it writes nothing shared (raw system calls,
        // no errno). Nothing on warden's stack is read: warden runs on at once.
        let pid = unsafe { clone_child(&job, &stack, 0) }.map_err(SpawnError::Fork)?;
        (pid, Some(stack))
    } else {
        // SAFETY: the child runs only `exec_child` (no lock a helper thread could
        // hold, no allocation),
        // which is async-signal-safe and never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(SpawnError::Fork(io::Error::last_os_error()));
        }
        if pid == 0 {
            exec_child(&job);
        }
        (pid, None)
    };
    drop(status_write);
    if placement.own_process_group && !placement.new_session {
        // Also set from the parent, so the group exists before warden signals it.
        // SAFETY: integer-only call; EACCES (child already exec'd) is harmless.
        unsafe { libc::setpgid(pid, pid) };
    }
    let lent = Some(Loan { pid, _job: job, stack });
    Ok(Pending {
        pid,
        status: status_read,
        report: Cell::new([0; 8]),
        filled: Cell::new(0),
        lent: RefCell::new(lent),
    })
}

/// Memory lent to a child: its job and its stack. Returned when the child has
/// left warden's memory: at the status pipe's EOF (the kernel closes
/// close-on-exec descriptors only after the exec'd process has its own memory,
/// and an exiting one drops its memory before its descriptors), or once it is
/// reaped.
struct Loan {
    pid: i32,
    /// Held, never read here: the child reads it.
    _job: Box<Job>,
    stack: Option<ChildStack>,
}

thread_local! {
    /// Loans of children whose `Pending` was dropped before they were done with
    /// them (a probe given up on while its exec hangs): one per such child,
    /// never more than there are such processes.
    static OUTSTANDING: RefCell<Vec<Loan>> = const { RefCell::new(Vec::new()) };
}

/// How many children hold a loan past their `Pending`.
#[cfg(test)]
fn outstanding() -> usize {
    OUTSTANDING.with(|loans| loans.borrow().len())
}

/// The reaper's news: `pid` is gone, so whatever it was lent can be freed.
pub fn reaped(pid: i32) {
    OUTSTANDING.with(|loans| {
        if let Ok(mut loans) = loans.try_borrow_mut()
            && !loans.is_empty()
        {
            loans.retain(|loan| loan.pid != pid);
        }
    });
}

/// A child created but not yet known to have exec'd: its status pipe reports
/// the outcome (readable in the event loop).
pub struct Pending {
    pub pid: i32,
    status: OwnedFd,
    /// The child's failure report, as far as it has arrived.
    report: Cell<[u8; 8]>,
    filled: Cell<usize>,
    /// What the child reads, until it is done with it.
    lent: RefCell<Option<Loan>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("pid", &self.pid).finish_non_exhaustive()
    }
}

impl Pending {
    pub fn fd(&self) -> RawFd {
        self.status.as_raw_fd()
    }

    /// The outcome once known: the pid after a successful `execve`, or why it
    /// failed. None while the child is still on its way: until the pipe's EOF,
    /// which also means the child has left warden's memory.
    pub fn outcome(&self) -> Option<Result<i32, SpawnError>> {
        let pid = self.pid;
        // The child writes (stage, errno) in one 8-byte write if anything fails;
        // EOF without data means exec worked (the pipe closed on exec).
        loop {
            let mut report = self.report.get();
            let filled = self.filled.get();
            let rest = report.get_mut(filled..).unwrap_or_default();
            // An exec'd child's report never comes: read into a scrap once full.
            let mut scrap = [0u8; 8];
            let into = if rest.is_empty() { &mut scrap[..] } else { rest };
            // SAFETY: reading into a local buffer of `into.len()` bytes.
            let n = retry(|| unsafe {
                libc::read(self.status.as_raw_fd(), into.as_mut_ptr().cast(), into.len())
            });
            match n {
                Ok(0) => break,
                Ok(n) => {
                    let n = n as usize;
                    if filled < report.len() {
                        self.report.set(report);
                        self.filled.set((filled + n).min(report.len()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) => return Some(Err(SpawnError::Exec { pid, stage: SetupStep::Exec, error: e })),
            }
        }
        // EOF: the child is off warden's memory; what it was lent can go.
        self.lent.replace(None);
        if self.filled.get() == 0 {
            return Some(Ok(pid));
        }
        let [s0, s1, s2, s3, e0, e1, e2, e3] = self.report.get();
        Some(Err(SpawnError::Exec {
            pid,
            stage: SetupStep::from_code(u32::from_ne_bytes([s0, s1, s2, s3])),
            error: io::Error::from_raw_os_error(i32::from_ne_bytes([e0, e1, e2, e3])),
        }))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(loan) = self.lent.get_mut().take() else { return };
        // Given up on before its EOF: the child may still be reading its job,
        // so the loan waits for the reaper unless the EOF has come by now.
        let mut byte = [0u8; 8];
        let at_eof = loop {
            // SAFETY: reading into a local buffer.
            let read = retry(|| unsafe {
                libc::read(self.status.as_raw_fd(), byte.as_mut_ptr().cast(), byte.len())
            });
            match read {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(_) => break false,
            }
        };
        if !at_eof && loan.stack.is_some() {
            OUTSTANDING.with(|loans| {
                if let Ok(mut loans) = loans.try_borrow_mut() {
                    loans.push(loan);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests;
