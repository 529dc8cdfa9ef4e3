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

/// A program ready to be started: every string already converted for `execve`.
/// Cheap to clone: a child being started keeps its own reference.
#[derive(Debug, Clone)]
pub struct Program(Rc<ProgramParts>);

#[derive(Debug)]
struct ProgramParts {
    /// The command as the user wrote it, for messages.
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
}

/// The step of the child's set-up that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupStep {
    Exec,
    Session,
    Stdio,
    Workdir,
    Limits,
    Credentials,
    Privileges,
}

impl SetupStep {
    fn code(self) -> u32 {
        self as u32
    }

    fn from_code(code: u32) -> SetupStep {
        [
            SetupStep::Exec,
            SetupStep::Session,
            SetupStep::Stdio,
            SetupStep::Workdir,
            SetupStep::Limits,
            SetupStep::Credentials,
            SetupStep::Privileges,
        ]
        .into_iter()
        .find(|s| s.code() == code)
        .unwrap_or(SetupStep::Exec)
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
                    SetupStep::Exec => "",
                    SetupStep::Session => "unable to set the process group: ",
                    SetupStep::Stdio => "unable to open /dev/null: ",
                    SetupStep::Workdir => "unable to enter the working directory: ",
                    SetupStep::Limits => "unable to set resource limits: ",
                    SetupStep::Credentials => "unable to switch user: ",
                    SetupStep::Privileges => "unable to set no_new_privs: ",
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
        Ok(Self(Rc::new(ProgramParts { display, argv: argv_c, base: base.clone(), overrides, candidates })))
    }

    /// The command as the user wrote it, for messages.
    pub fn display(&self) -> &str {
        &self.0.display
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

/// Creates the child on `stack`, running `exec_child(job)`.
///
/// # Safety
/// `job`, everything it points to, and `stack` must stay alive and unchanged
/// until the child has exec'd or exited.
unsafe fn clone_child(job: &Job, stack: &ChildStack, extra_flags: libc::c_int) -> io::Result<i32> {
    extern "C" fn entry(job: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `job` is the Job passed to clone, alive while the child needs
        // it (the caller's contract).
        exec_child(unsafe { &*job.cast_const().cast::<Job>() })
    }
    // SAFETY: CLONE_VM shares memory, which the caller's contract covers; no
    // CLONE_SIGHAND, CLONE_FILES or CLONE_THREAD: the child is a process of its
    // own, with copies of dispositions and descriptors, reaped through SIGCHLD.
    let pid = unsafe {
        libc::clone(
            entry,
            stack.top(),
            libc::CLONE_VM | extra_flags | libc::SIGCHLD,
            (job as *const Job).cast_mut().cast(),
        )
    };
    if pid < 0 { Err(io::Error::last_os_error()) } else { Ok(pid) }
}

/// Everything the child reads, built before it exists.
struct Job {
    /// Keeps the strings behind `argv`, `envp` and `candidates` alive (a reload
    /// may replace the unit's program while a child still reads them).
    _program: Program,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    candidates: Vec<*const libc::c_char>,
    placement: Placement,
    setup: Setup,
    /// Where a failed step is reported.
    report: ReportTo,
    /// The `LISTEN_PID=` entry of `envp`, which the child completes with its
    /// own pid: the one thing it writes outside its stack besides a report.
    listen_pid: Option<Box<ListenPid>>,
}

/// `LISTEN_PID=` and room for any pid, NUL-terminated by the child.
struct ListenPid(std::cell::UnsafeCell<[u8; ListenPid::SIZE]>);

impl ListenPid {
    const PREFIX: &'static [u8] = b"LISTEN_PID=";
    const SIZE: usize = 32;

    fn new() -> ListenPid {
        let mut bytes = [0u8; Self::SIZE];
        if let Some(start) = bytes.get_mut(..Self::PREFIX.len()) {
            start.copy_from_slice(Self::PREFIX);
        }
        ListenPid(std::cell::UnsafeCell::new(bytes))
    }

    /// In the child: writes `pid` after the prefix. Only async-signal-safe
    /// work: digits into a buffer that no one else reads until the child has
    /// exec'd (its `execve` copies the environment) or exited.
    fn complete(&self, pid: usize) {
        let mut digits = [0u8; 20];
        let mut count = 0;
        let mut rest = pid;
        loop {
            if let Some(slot) = digits.get_mut(count) {
                *slot = b'0' + (rest % 10) as u8;
            }
            count += 1;
            rest /= 10;
            if rest == 0 || count == digits.len() {
                break;
            }
        }
        let base = self.0.get().cast::<u8>();
        for i in 0..count {
            let digit = digits.get(count - 1 - i).copied().unwrap_or(b'0');
            // SAFETY: PREFIX + 20 digits + NUL fit in SIZE bytes; the buffer is
            // this child's alone (see above), so no other access overlaps.
            unsafe { base.add(Self::PREFIX.len() + i).write(digit) };
        }
        // SAFETY: as above; the terminating NUL.
        unsafe { base.add(Self::PREFIX.len() + count).write(0) };
    }
}

impl Job {
    fn new(program: &Program, placement: Placement, setup: &Setup, report: ReportTo) -> Job {
        let parts = &program.0;
        let mut argv: Vec<*const libc::c_char> = parts.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let overridden = |e: &CString| parts.overrides.iter().any(|o| key_of(o) == key_of(e));
        let rewritten = |e: &&CString| setup.listen_pid && key_of(e) == b"LISTEN_PID";
        let mut envp: Vec<*const libc::c_char> = parts
            .base
            .0
            .iter()
            .filter(|e| !overridden(e))
            .chain(&parts.overrides)
            .filter(|e| !rewritten(e))
            .map(|e| e.as_ptr())
            .collect();
        let listen_pid = setup.listen_pid.then(|| Box::new(ListenPid::new()));
        if let Some(entry) = &listen_pid {
            envp.push(entry.0.get().cast_const().cast());
        }
        envp.push(std::ptr::null());
        let candidates = parts.candidates.iter().map(|c| c.as_ptr()).collect();
        Job {
            _program: program.clone(),
            argv,
            envp,
            candidates,
            placement,
            setup: setup.clone(),
            report,
            listen_pid,
        }
    }
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

/// Written by a `CLONE_VFORK` child whose set-up or exec failed.
#[derive(Debug, Clone, Copy, Default)]
struct Failure {
    failed: bool,
    stage: u32,
    errno: i32,
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
        // SAFETY: unmapping exactly the mapping made in `new`, which no child
        // uses any more (the loan rules above).
        unsafe { libc::munmap(self.base, self.len) };
    }
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

/// Where a child says which step of its set-up failed, and with what errno.
#[derive(Clone, Copy)]
enum ReportTo {
    /// A close-on-exec pipe: one 8-byte write.
    Pipe(libc::c_int),
    /// The memory a `CLONE_VFORK` child shares with its suspended parent.
    Shared(*mut Failure),
}

/// A raw system call for the child (see `raw`): `Err(errno)` on failure.
macro_rules! sys {
    ($nr:expr $(, $arg:expr)* $(,)?) => {{
        let mut args = [0usize; 6];
        let given = [$($arg as usize),*];
        for (slot, value) in args.iter_mut().zip(given) {
            *slot = value;
        }
        // SAFETY: each use passes the arguments its system call documents.
        unsafe { raw::call($nr, args) }
    }};
}

/// Runs in the child, which may share warden's memory: only raw system calls
/// (async-signal-safe, no errno, no allocation, no lock), no write to memory
/// other than its own stack, a failure report and its `LISTEN_PID` entry, and it
/// never returns.
fn exec_child(job: &Job) -> ! {
    let Job { argv, envp, candidates, placement, setup, report, listen_pid, .. } = job;
    // Moved if the fd given on purpose takes its number.
    let report = Cell::new(*report);
    // Reports the failed stage and errno to the parent, then exits 127.
    let fail = |stage: SetupStep, errno: i32| -> ! {
        match report.get() {
            ReportTo::Pipe(fd) => {
                let mut bytes = [0u8; 8];
                let (stage_bytes, errno_bytes) = bytes.split_at_mut(4);
                stage_bytes.copy_from_slice(&stage.code().to_ne_bytes());
                errno_bytes.copy_from_slice(&errno.to_ne_bytes());
                let _ = sys!(libc::SYS_write, fd, bytes.as_ptr(), bytes.len());
            }
            // SAFETY: a shared report points into the suspended parent's frame.
            ReportTo::Shared(failure) => unsafe {
                std::ptr::write_volatile(failure, Failure { failed: true, stage: stage.code(), errno })
            },
        }
        loop {
            let _ = sys!(libc::SYS_exit_group, 127);
        }
    };
    // `dup2` as the kernel has it everywhere (dup3), also when the numbers are
    // equal: then the descriptor is kept and its close-on-exec flag cleared.
    let place = |from: i32, to: i32| -> Result<usize, i32> {
        if from == to {
            sys!(libc::SYS_fcntl, to, libc::F_SETFD, 0)
        } else {
            sys!(libc::SYS_dup3, from, to, 0)
        }
    };

    if placement.new_session {
        if let Err(errno) = sys!(libc::SYS_setsid) {
            fail(SetupStep::Session, errno);
        }
    } else if placement.own_process_group {
        let _ = sys!(libc::SYS_setpgid, 0, 0);
        // Done here rather than in the parent: SIGTTOU is still blocked in this
        // process, so a background group may take the terminal (tini does the same).
        let mut size = std::mem::MaybeUninit::<libc::winsize>::uninit();
        if placement.take_terminal
            && sys!(libc::SYS_ioctl, 0, libc::TIOCGWINSZ, size.as_mut_ptr()).is_ok()
            && let Ok(me) = sys!(libc::SYS_getpid)
        {
            let me = me as libc::pid_t;
            let _ = sys!(libc::SYS_ioctl, 0, libc::TIOCSPGRP, &raw const me);
        }
    }
    if setup.null_stdin || setup.null_output {
        let null = match sys!(libc::SYS_openat, libc::AT_FDCWD, c"/dev/null".as_ptr(), libc::O_RDWR) {
            Ok(fd) => fd as i32,
            Err(errno) => fail(SetupStep::Stdio, errno),
        };
        if setup.null_stdin {
            let _ = place(null, 0);
        }
        if setup.null_output {
            let _ = place(null, 1);
            let _ = place(null, 2);
        }
        if null > 2 {
            let _ = sys!(libc::SYS_close, null);
        }
    }
    if let Some((stdout, stderr)) = setup.output
        && let Err(errno) = place(stdout, 1).and_then(|_| place(stderr, 2))
    {
        fail(SetupStep::Stdio, errno);
    }
    if let Some(dir) = &setup.workdir
        && let Err(errno) = sys!(libc::SYS_chdir, dir.as_ptr())
    {
        fail(SetupStep::Workdir, errno);
    }
    for &(resource, soft, hard) in &setup.limits {
        let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        if let Err(errno) = sys!(libc::SYS_prlimit64, 0, resource, &raw const limit, 0) {
            fail(SetupStep::Limits, errno);
        }
    }
    if let Some(mask) = setup.umask {
        let _ = sys!(libc::SYS_umask, mask);
    }
    // Groups first, then the gid, then the uid: after setuid nothing else may
    // change. The raw calls change this process only, which is all there is.
    if let Some((uid, gid, groups)) = &setup.credentials
        && let Err(errno) = sys!(libc::SYS_setgroups, groups.len(), groups.as_ptr())
            .and_then(|_| sys!(libc::SYS_setgid, *gid))
            .and_then(|_| sys!(libc::SYS_setuid, *uid))
    {
        fail(SetupStep::Credentials, errno);
    }
    if setup.no_new_privs
        && let Err(errno) = sys!(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    {
        fail(SetupStep::Privileges, errno);
    }
    // An empty mask for the program; dispositions need no work: `execve` resets
    // every caught signal, and warden ignores none (it cleared the inherited
    // ones at start-up), which saves 64 system calls per spawn.
    let no_signals: u64 = 0;
    let _ = sys!(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &raw const no_signals, 0, 8);
    // Belt and braces: whatever fd ≥ 3 is open now must not survive exec...
    let _ = sys!(libc::SYS_close_range, 3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
    // ...except what warden inherited, for the child that receives it.
    for &fd in setup.inherited_fds.iter() {
        if let Err(errno) = sys!(libc::SYS_fcntl, fd, libc::F_SETFD, 0) {
            fail(SetupStep::Stdio, errno);
        }
    }
    if let Some(entry) = listen_pid
        && let Ok(pid) = sys!(libc::SYS_getpid)
    {
        entry.complete(pid);
    }
    if let Some((source, target)) = setup.pass_fd {
        if let ReportTo::Pipe(fd) = report.get()
            && fd == target
        {
            // Keep the status pipe out of the way of the fd being placed.
            match sys!(libc::SYS_fcntl, target, libc::F_DUPFD_CLOEXEC, target + 1) {
                Ok(moved) => report.set(ReportTo::Pipe(moved as i32)),
                Err(errno) => fail(SetupStep::Stdio, errno),
            }
        }
        if let Err(errno) = place(source, target) {
            fail(SetupStep::Stdio, errno);
        }
    }

    let mut error = libc::ENOENT;
    let mut denied = false;
    for &path in candidates {
        let Err(errno) = sys!(libc::SYS_execve, path, argv.as_ptr(), envp.as_ptr()) else { continue };
        error = errno;
        match error {
            libc::EACCES => denied = true,
            libc::ENOENT | libc::ENOTDIR => {}
            _ => break,
        }
    }
    if denied && (error == libc::ENOENT || error == libc::ENOTDIR) {
        error = libc::EACCES;
    }
    fail(SetupStep::Exec, error)
}

#[cfg(test)]
mod tests;
