//! What both modes do as an init, in one place: register as a subreaper when
//! not PID 1, read signals from a signalfd watched by the one event loop, and
//! sort each batch into "a child ended" and signals someone sent.

use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::leftovers::Scope;
use crate::logger::{error, warning};
use crate::reactor::{Event, Interest, Reactor};
use crate::sys::reap::{ExitStatus, Reaped, reap_one};
use crate::sys::signals::{Received, SignalFd};
use crate::sys::{Reason, process};

/// The reactor token of the signalfd.
pub const SIGNALS: u64 = 0;

/// While processes remain after the final SIGKILL, how often to walk them
/// again (one may have forked while a walk ran; only possible as a subreaper).
pub const KILL_AGAIN: Duration = Duration::from_millis(100);

/// After the final SIGKILL, how long to wait for the kernel to finish the kills
/// (processes in uninterruptible sleep) before exiting anyway.
pub const AFTER_KILL: Duration = Duration::from_secs(2);

/// The signal source and loop every mode starts from.
pub struct Base<T> {
    pub reactor: Reactor<T>,
    pub signals: SignalFd,
    pub scope: Scope,
    /// Cached: compared with every signal's sender.
    pub own_pid: i32,
}

impl<T> Base<T> {
    /// Sets up the signalfd and the loop; on failure, says why and returns the
    /// exit code (nothing has been started yet).
    pub fn new() -> Result<Base<T>, i32> {
        let scope = Scope::of_this_process();
        if scope == Scope::Descendants
            && let Err(e) = process::become_subreaper()
        {
            warning!("unable to become a subreaper ({}): orphans will not be reaped by warden", Reason(&e));
        }
        let fail = |what: &str, e: std::io::Error| {
            error!("unable to {what}: {}", Reason(&e));
            1
        };
        let signals = SignalFd::new().map_err(|e| fail("create a signalfd", e))?;
        let reactor = Reactor::new().map_err(|e| fail("create an epoll instance", e))?;
        reactor
            .register(signals.as_raw_fd(), SIGNALS, Interest::Read)
            .map_err(|e| fail("watch the signalfd", e))?;
        Ok(Base { reactor, signals, scope, own_pid: process::pid() })
    }

    /// Waits for the next events of the loop (replacing what `events` held).
    pub fn wait(&mut self, events: &mut Vec<Event<T>>) {
        events.clear();
        if let Err(e) = self.reactor.turn(events) {
            // epoll_wait fails only on programming errors (EBADF, EINVAL): carry on
            // rather than abandon the children, but do not spin on the error.
            error!("event loop: {}", Reason(&e));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Reads one batch of signals (blocking until one is pending: call it when
    /// the signalfd is readable, or to wait). Puts the signals others sent into
    /// `sent`, and returns whether a child ended. Signals warden raised itself
    /// (SIGPIPE from writing to a closed pipe) are dropped, unlogged: the log
    /// write could raise the next one.
    pub fn read_signals(&mut self, sent: &mut Vec<Received>) -> bool {
        sent.clear();
        if let Err(e) = self.signals.read(sent) {
            error!("reading signals: {}", Reason(&e));
        }
        // epoll is level-triggered: whatever arrives after this read wakes us again.
        let child_ended = sent.iter().any(|r| r.signal == libc::SIGCHLD);
        let own = self.own_pid;
        sent.retain(|r| r.signal != libc::SIGCHLD && r.sender != own);
        child_ended
    }

    /// Reaps every child that has ended, appending (pid, status) to `ended`,
    /// and returns whether warden has no child left at all. The only place
    /// warden waits for children: orphans and its own alike.
    pub fn reap_all(&self, ended: &mut Vec<(i32, ExitStatus)>) -> bool {
        loop {
            match reap_one() {
                Ok(Reaped::Child { pid, status }) => ended.push((pid, status)),
                Ok(Reaped::NoneReady) => return false,
                Ok(Reaped::NoChildren) => return true,
                Err(e) => {
                    error!("waitpid: {}", Reason(&e));
                    return false;
                }
            }
        }
    }
}
