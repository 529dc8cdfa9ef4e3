//! The operating-system boundary: every `unsafe` block of warden lives below this
//! module, each with a `SAFETY:` note. Everything here is a thin, policy-free wrapper
//! that turns raw return codes into `io::Result`; deciding what to do is the caller's.
//! Code that runs in a child before `execve` (which may share warden's memory) is
//! marked as such and makes only raw system calls.
#![allow(unsafe_code)]

pub mod clock;
pub mod epoll;
pub mod fds;
pub mod fs;
pub mod memory;
pub mod net;
pub mod process;
pub mod raw;
pub mod reap;
pub mod signals;
pub mod spawn;

use std::io;

/// An OS error as people read it: "No such file or directory", without std's
/// " (os error 2)" suffix.
pub struct Reason<'a>(pub &'a io::Error);

impl std::fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.to_string();
        f.write_str(text.rfind(" (os error ").and_then(|i| text.get(..i)).unwrap_or(&text))
    }
}

/// Turns a `-1`-on-error return code into an `io::Result`, retrying on `EINTR`.
///
/// With every signal blocked EINTR is rare, but a ptrace attach (strace, gdb) can
/// still interrupt a system call, so every raw call goes through this loop.
pub(crate) fn retry<T, F>(mut call: F) -> io::Result<T>
where
    T: PartialEq + From<i8>,
    F: FnMut() -> T,
{
    loop {
        let ret = call();
        if ret != T::from(-1) {
            return Ok(ret);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
