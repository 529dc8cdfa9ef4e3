//! A minimal epoll wrapper: one instance, fds registered with a `u64` token.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::retry;

/// What an fd is watched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Read,
    Write,
}

impl Interest {
    fn bits(self) -> u32 {
        match self {
            Interest::Read => libc::EPOLLIN as u32,
            Interest::Write => libc::EPOLLOUT as u32,
        }
    }
}

/// One readiness report.
#[derive(Debug, Clone, Copy)]
pub struct Ready {
    pub token: u64,
    pub readable: bool,
    pub writable: bool,
    /// Error or hang-up: the fd will not produce more data.
    pub closed: bool,
}

pub struct Epoll {
    fd: OwnedFd,
    buffer: Vec<libc::epoll_event>,
}

impl Epoll {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain system call without pointers.
        let fd = retry(|| unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: epoll_create1 returned a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let buffer = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
        Ok(Self { fd, buffer })
    }

    pub fn add(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, fd, token, interest)
    }

    pub fn modify(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_MOD, fd, token, interest)
    }

    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: a null event is allowed for EPOLL_CTL_DEL since Linux 2.6.9.
        retry(|| unsafe {
            libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut())
        })
        .map(drop)
    }

    fn control(&self, op: i32, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        let mut event = libc::epoll_event { events: interest.bits(), u64: token };
        // SAFETY: `event` is a valid epoll_event that outlives the call.
        retry(|| unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) }).map(drop)
    }

    /// Waits up to `timeout_ms` (-1: forever) and appends what is ready to `out`.
    /// An interrupted wait returns with nothing ready rather than retrying, so the
    /// caller recomputes its timeout.
    pub fn wait(&mut self, timeout_ms: i32, out: &mut Vec<Ready>) -> io::Result<()> {
        let capacity = self.buffer.len() as i32;
        // SAFETY: the buffer holds `capacity` events and is exclusively borrowed.
        let n =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), self.buffer.as_mut_ptr(), capacity, timeout_ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(err) };
        }
        let error_bits = (libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLRDHUP) as u32;
        for event in self.buffer.iter().take(n as usize) {
            let bits = event.events;
            out.push(Ready {
                token: event.u64,
                readable: bits & libc::EPOLLIN as u32 != 0,
                writable: bits & libc::EPOLLOUT as u32 != 0,
                closed: bits & error_bits != 0,
            });
        }
        Ok(())
    }
}
