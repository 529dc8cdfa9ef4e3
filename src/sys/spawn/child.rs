//! The child's side of a start: everything it reads, built before it exists
//! (`Job`), the guarded stack it runs on, how it reports a failed step, and
//! `exec_child` itself, which makes only raw system calls until `execve`.

use std::cell::Cell;
use std::io;

use super::*;

/// Creates the child on `stack`, running `exec_child(job)`.
///
/// # Safety
/// `job`, everything it points to, and `stack` must stay alive and unchanged
/// until the child has exec'd or exited.
pub(super) unsafe fn clone_child(job: &Job, stack: &ChildStack, extra_flags: libc::c_int) -> io::Result<i32> {
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
pub(super) struct Job {
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
pub(super) struct ListenPid(std::cell::UnsafeCell<[u8; ListenPid::SIZE]>);

impl ListenPid {
    const PREFIX: &'static [u8] = b"LISTEN_PID=";
    const SIZE: usize = 32;

    pub(super) fn new() -> ListenPid {
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
    pub(super) fn new(program: &Program, placement: Placement, setup: &Setup, report: ReportTo) -> Job {
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

/// Written by a `CLONE_VFORK` child whose set-up or exec failed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Failure {
    pub(super) failed: bool,
    pub(super) stage: u32,
    pub(super) errno: i32,
}

/// The stack of a `CLONE_VM` child: a private mapping with an inaccessible page
/// below it, so that an overflow faults instead of writing over warden's memory.
/// Only the pages the child touches (one or two) are ever backed.
pub(super) struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    const SIZE: usize = 64 * 1024;

    pub(super) fn new() -> io::Result<ChildStack> {
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
    pub(super) fn top(&self) -> *mut libc::c_void {
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

/// Where a child says which step of its set-up failed, and with what errno.
#[derive(Clone, Copy)]
pub(super) enum ReportTo {
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
pub(super) fn exec_child(job: &Job) -> ! {
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

    // First, so that everything below (and all it allocates) is the cgroup's.
    // "0" names the writer itself.
    for &procs in &setup.cgroup_procs {
        if let Err(errno) = sys!(libc::SYS_write, procs, b"0".as_ptr(), 1usize) {
            fail(SetupStep::Cgroup, errno);
        }
    }
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
    // A directory that only the service's user may enter (mode 0700 in a
    // container without CAP_DAC_OVERRIDE, root squashed on NFS, a FUSE mount)
    // refuses root: entered again once the user is the service's, as runc does.
    let mut enter_as_user = None;
    if let Some(dir) = &setup.workdir
        && let Err(errno) = sys!(libc::SYS_chdir, dir.as_ptr())
    {
        match setup.credentials {
            Some(_) if errno == libc::EACCES || errno == libc::EPERM => enter_as_user = Some(dir),
            _ => fail(SetupStep::Workdir, errno),
        }
    }
    for &(resource, soft, hard) in &setup.limits {
        let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        if let Err(errno) = sys!(libc::SYS_prlimit64, 0, resource, &raw const limit, 0) {
            fail(SetupStep::Limit(resource), errno);
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
    if let Some(dir) = enter_as_user
        && let Err(errno) = sys!(libc::SYS_chdir, dir.as_ptr())
    {
        fail(SetupStep::Workdir, errno);
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
