//! Hearing that the wall clock jumped.
//!
//! A cron line names wall-clock times, but warden's timers count monotonic
//! time, which neither follows a step of the clock (`date -s`, NTP's first
//! sync on a machine that booted with a wrong clock) nor advances while the
//! machine sleeps. A `CLOCK_REALTIME` timerfd armed with
//! `TFD_TIMER_CANCEL_ON_SET` becomes readable whenever the kernel's wall clock
//! is set or resumes from a suspend, and at no other time: nothing runs while
//! the clock only ticks or is slewed.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::retry;

/// Far in the future (2096): the timer itself never fires in practice.
const FAR_FUTURE: i64 = 4_000_000_000;

pub struct ClockJumps {
    fd: OwnedFd,
}

impl ClockJumps {
    /// A timerfd that becomes readable when the wall clock is set.
    pub fn new() -> io::Result<Self> {
        // SAFETY: timerfd_create takes two integers and returns a new descriptor or -1.
        let fd = retry(|| unsafe {
            libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        })?;
        // SAFETY: `fd` was just returned by timerfd_create and is owned by nobody else.
        let watch = Self { fd: unsafe { OwnedFd::from_raw_fd(fd) } };
        watch.arm()?;
        Ok(watch)
    }

    fn arm(&self) -> io::Result<()> {
        let at = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            // (time_t is i64 on every 64-bit target warden builds for.)
            it_value: libc::timespec { tv_sec: FAR_FUTURE as _, tv_nsec: 0 },
        };
        // SAFETY: `at` is a valid itimerspec that outlives the call; the old
        // value is not asked for (null).
        retry(|| unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET,
                &raw const at,
                std::ptr::null_mut(),
            )
        })?;
        Ok(())
    }

    /// After a wake-up: true when the clock jumped since the last call (the
    /// watch is armed again); false for a wake-up with nothing to read.
    pub fn jumped(&self) -> io::Result<bool> {
        let mut expirations = 0u64;
        // SAFETY: reads at most 8 bytes into `expirations`, which outlives the call.
        let read = retry(|| unsafe {
            libc::read(self.fd.as_raw_fd(), (&raw mut expirations).cast(), std::mem::size_of::<u64>())
        });
        match read {
            // The clock was set: the kernel cancelled the timer; it must be armed again.
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => self.arm().map(|()| true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
            // 2096 came: a clock set that far is a jump too.
            Ok(_) => self.arm().map(|()| true),
        }
    }
}

impl AsRawFd for ClockJumps {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Armed, it is quiet: the clock only ticks here (setting it would
    /// change the whole machine's; the VM test does, scripts/vm/check.sh).
    #[test]
    fn a_clock_that_only_ticks_is_no_jump() {
        let watch = ClockJumps::new().unwrap();
        assert!(!watch.jumped().unwrap());
        assert!(!watch.jumped().unwrap());
    }
}
