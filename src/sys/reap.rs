//! The only place warden calls `wait*`: one owner of reaping, so no other party can
//! steal a child's exit status (std's `Child` is never used).

use std::io;

use super::retry;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled { signal: i32, core_dumped: bool },
}

impl ExitStatus {
    /// The shell convention: the exit code, or 128 + N for death by signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled { signal, .. } => 128 + signal,
        }
    }
}

/// Result of one non-blocking reap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// A child ended and has been reaped.
    Child { pid: i32, status: ExitStatus },
    /// Children exist, none has ended.
    NoneReady,
    /// warden has no children at all.
    NoChildren,
}

/// Reaps one ended child, any child, without blocking.
pub fn reap_one() -> io::Result<Reaped> {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`.
    match retry(|| unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) }) {
        Ok(0) => Ok(Reaped::NoneReady),
        Ok(pid) => {
            // Whatever memory the child was lent and still held is free now.
            super::spawn::reaped(pid);
            let status = if libc::WIFEXITED(status) {
                ExitStatus::Exited(libc::WEXITSTATUS(status))
            } else {
                ExitStatus::Signaled { signal: libc::WTERMSIG(status), core_dumped: libc::WCOREDUMP(status) }
            };
            Ok(Reaped::Child { pid, status })
        }
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => Ok(Reaped::NoChildren),
        Err(e) => Err(e),
    }
}
