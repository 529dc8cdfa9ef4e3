//! Signals as events: the start-up mask, the signalfd that turns every signal into a
//! readable fd, signal names, and the reset a child needs before `execve`.
//!
//! warden blocks *every* signal as the first thing `main` does and never installs a
//! handler. Blocked signals are queued rather than dropped, even for a PID 1 whose
//! dispositions are the default (the kernel treats blocked signals as never ignored),
//! so the signalfd sees all of them, including SIGSEGV or SIGABRT sent with kill(2).
//! A real fault in warden is still fatal: the kernel unblocks forced fault signals.

use std::io;
use std::mem::{MaybeUninit, size_of};

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::retry;

/// Highest signal number on Linux (SIGRTMAX).
const MAX_SIGNAL: i32 = 64;

/// One received signal, with who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub signal: i32,
    /// Sender's pid (0 when the kernel sent it on no one's behalf).
    pub sender: i32,
    /// `si_code` of the signal: `SI_USER`, `SI_KERNEL`, `CLD_EXITED`...
    pub code: i32,
}

/// Every signal, 1 to 64, as the kernel's 64-bit set. The C library's
/// `sigfillset` leaves out the numbers it reserves for itself (32-34 in musl), which
/// would leave those unblocked and unread; the raw system calls take them all.
const ALL_SIGNALS: u64 = u64::MAX;

/// Blocks every signal in the calling thread. Call before any thread exists.
pub fn block_all() -> io::Result<()> {
    // SAFETY: the new set is a valid 8-byte kernel sigset; a null old set is allowed.
    retry(|| unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &ALL_SIGNALS,
            std::ptr::null_mut::<u64>(),
            KERNEL_SIGSET_SIZE,
        )
    })
    .map(drop)
}

/// Unblocks every signal (for the client verbs, which are no init).
pub fn unblock_all() -> io::Result<()> {
    const NONE: u64 = 0;
    // SAFETY: the new set is a valid 8-byte kernel sigset; a null old set is allowed.
    retry(|| unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &NONE,
            std::ptr::null_mut::<u64>(),
            KERNEL_SIGSET_SIZE,
        )
    })
    .map(drop)
}

/// Sets every signal that warden inherited as ignored back to the default.
///
/// An inherited `SIGCHLD = SIG_IGN` would make the kernel reap children on its own
/// and hide their exit codes; the others do no harm while blocked, but resetting
/// them keeps warden's state the same however it was started. Handlers (std's stack
/// overflow handler for SIGSEGV/SIGBUS) are left alone.
pub fn reset_ignored_dispositions() {
    for signal in 1..=MAX_SIGNAL {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        let mut old = KernelSigaction::default();
        // SAFETY: querying with a null new action only writes `old`, which is large
        // enough for the kernel's structure on every architecture.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                std::ptr::null::<KernelSigaction>(),
                &mut old,
                KERNEL_SIGSET_SIZE,
            )
        };
        if ret == 0 && old.handler == libc::SIG_IGN {
            set_default(signal);
        }
    }
}

/// The kernel's `struct sigaction` (handler first on every architecture; the rest
/// is only ever written as zeros). Sized generously for all layouts.
#[repr(C)]
#[derive(Default)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    rest: [u64; 3],
}

/// Size of the kernel's signal set, as the rt_* system calls want it.
const KERNEL_SIGSET_SIZE: usize = 8;

/// async-signal-safe: sets `signal` to SIG_DFL through the raw system call, which
/// unlike the C library's wrappers also accepts the numbers the library reserves
/// for itself (32-34), so nothing inherited survives.
fn set_default(signal: i32) {
    let default = KernelSigaction::default(); // SIG_DFL is 0
    // SAFETY: a valid, fully initialised action; a null old-action pointer is allowed.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signal,
            &default,
            std::ptr::null_mut::<KernelSigaction>(),
            KERNEL_SIGSET_SIZE,
        );
    }
}

/// A signalfd reading every signal. It is *blocking*: read it either when it is
/// known to be readable (epoll said so; one read then never blocks, as nothing else
/// consumes signals) or when waiting for a signal is exactly what is wanted.
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    pub fn new() -> io::Result<Self> {
        // SAFETY: the mask is a valid 8-byte kernel sigset; -1 asks for a new fd.
        let fd = retry(|| unsafe {
            libc::syscall(libc::SYS_signalfd4, -1, &ALL_SIGNALS, KERNEL_SIGSET_SIZE, libc::SFD_CLOEXEC)
        })?;
        // SAFETY: signalfd4 returned a fresh descriptor that nothing else owns.
        Ok(Self { fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) } })
    }

    /// Reads the pending signals, up to a batch, into `out`; returns how many.
    /// Blocks until at least one is pending.
    pub fn read(&self, out: &mut Vec<Received>) -> io::Result<usize> {
        const BATCH: usize = 16;
        let mut infos = [MaybeUninit::<libc::signalfd_siginfo>::zeroed(); BATCH];
        let size = size_of::<libc::signalfd_siginfo>();
        // SAFETY: the buffer holds BATCH whole signalfd_siginfo structures.
        let result =
            retry(|| unsafe { libc::read(self.fd.as_raw_fd(), infos.as_mut_ptr().cast(), size * BATCH) });
        let bytes = match result {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        let count = bytes / size;
        for info in infos.iter().take(count) {
            // SAFETY: the kernel filled the first `count` structures completely.
            let info = unsafe { info.assume_init_ref() };
            out.push(Received {
                signal: info.ssi_signo as i32,
                sender: info.ssi_pid as i32,
                code: info.ssi_code,
            });
        }
        Ok(count)
    }
}

impl AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

const NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// The C library's real-time range (it reserves the first few kernel numbers).
fn realtime_range() -> (i32, i32) {
    (libc::SIGRTMIN(), libc::SIGRTMAX())
}

/// Parses `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+3` or `SIGRTMAX-1`.
pub fn parse(text: &str) -> Option<i32> {
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Ok(number) = name.parse::<i32>() {
        return (1..=MAX_SIGNAL).contains(&number).then_some(number);
    }
    if let Some(&(_, number)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Some(number);
    }
    if name == "IOT" {
        return Some(libc::SIGABRT);
    }
    if name == "POLL" {
        return Some(libc::SIGIO);
    }
    let (min, max) = realtime_range();
    let offset =
        |rest: &str| -> Option<i32> { if rest.is_empty() { Some(0) } else { rest.parse::<i32>().ok() } };
    let number = if let Some(rest) = name.strip_prefix("RTMIN") {
        min + offset(rest.strip_prefix('+').unwrap_or(rest))?
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        max - offset(rest.strip_prefix('-').unwrap_or(rest))?
    } else {
        return None;
    };
    (min..=max).contains(&number).then_some(number)
}

/// `SIGTERM`, `SIGRTMIN+3`, or `SIG42` for a number without a name.
pub fn name(signal: i32) -> String {
    if let Some((n, _)) = NAMES.iter().find(|(_, s)| *s == signal) {
        return format!("SIG{n}");
    }
    let (min, max) = realtime_range();
    if (min..=max).contains(&signal) {
        return if signal - min <= max - signal {
            format!("SIGRTMIN+{}", signal - min)
        } else {
            format!("SIGRTMAX-{}", max - signal)
        };
    }
    format!("SIG{signal}")
}

#[cfg(test)]
mod tests;
