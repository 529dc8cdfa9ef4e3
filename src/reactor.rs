//! The event loop: one epoll instance plus a timer queue, and nothing else.
//!
//! `turn` blocks until an fd is ready or the earliest timer is due, with no timeout
//! at all when no timer is armed, so an idle warden makes no system call. The loop
//! knows nothing about signals, children or policy: callers register fds under
//! tokens of their choosing and get `Event`s back.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::sys::epoll::Epoll;
pub use crate::sys::epoll::{Interest, Ready};

/// What woke the loop.
#[derive(Debug)]
pub enum Event<T> {
    Io(Ready),
    /// A timer, and how long after its deadline the loop got to it: more than
    /// scheduling noise means warden was not running (a frozen cgroup, a
    /// paused container, a starved machine).
    Timer(T, Duration),
}

/// Handle to cancel an armed timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerId(Instant, u64);

impl TimerId {
    pub fn deadline(self) -> Instant {
        self.0
    }
}

pub struct Reactor<T> {
    epoll: Epoll,
    timers: BTreeMap<TimerId, T>,
    next_sequence: u64,
    ready: Vec<Ready>,
}

impl<T> Reactor<T> {
    pub fn new() -> io::Result<Self> {
        Ok(Self { epoll: Epoll::new()?, timers: BTreeMap::new(), next_sequence: 0, ready: Vec::new() })
    }

    pub fn register(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.epoll.add(fd, token, interest)
    }

    pub fn reregister(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.epoll.modify(fd, token, interest)
    }

    pub fn deregister(&self, fd: RawFd) -> io::Result<()> {
        self.epoll.delete(fd)
    }

    /// Arms a timer that fires once at `deadline`.
    pub fn add_timer(&mut self, deadline: Instant, payload: T) -> TimerId {
        let id = TimerId(deadline, self.next_sequence);
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.timers.insert(id, payload);
        id
    }

    pub fn has_timers(&self) -> bool {
        !self.timers.is_empty()
    }

    pub fn cancel_timer(&mut self, id: TimerId) -> Option<T> {
        self.timers.remove(&id)
    }

    /// Waits for the next events and appends them to `out` (timers in deadline order).
    pub fn turn(&mut self, out: &mut Vec<Event<T>>) -> io::Result<()> {
        let timeout = match self.timers.keys().next() {
            None => -1,
            Some(first) => milliseconds_until(first.deadline(), Instant::now()),
        };
        self.ready.clear();
        self.epoll.wait(timeout, &mut self.ready)?;
        out.extend(self.ready.drain(..).map(Event::Io));
        let now = Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().deadline() > now {
                break;
            }
            let late = now.saturating_duration_since(entry.key().deadline());
            out.push(Event::Timer(entry.remove(), late));
        }
        Ok(())
    }
}

/// Whole milliseconds until `deadline`, rounded up so the loop never wakes a
/// fraction of a millisecond early and spins.
fn milliseconds_until(deadline: Instant, now: Instant) -> i32 {
    let left = deadline.saturating_duration_since(now);
    let ms = left.as_millis() + u128::from(!left.subsec_nanos().is_multiple_of(1_000_000));
    i32::try_from(ms).unwrap_or(i32::MAX)
}

/// `now + duration`, saturating far in the future instead of overflowing.
pub fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration).unwrap_or(now + Duration::from_secs(86_400 * 365))
}

#[cfg(test)]
mod tests;
