//! What warden was given to pass on: the descriptors above 2 it inherited
//! (socket activation, `podman run --preserve-fds`, a pipe from its parent)
//! and the `LISTEN_*` variables that describe them.
//!
//! Exactly one child receives them: CMD in the one-program mode; in services
//! mode the main program, or the service marked `inherit_fds: true` instead.
//! It gets every inherited descriptor under its number (the child clears
//! their close-on-exec flag just before `execve`), and `LISTEN_FDS`,
//! `LISTEN_FDNAMES` and `LISTEN_PID` as warden got them, except that a
//! `LISTEN_PID` naming warden becomes the child's own pid (sd_listen_fds
//! checks it). Every other child (services, probes, hooks) gets none of them
//! and none of the three variables.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::rc::Rc;

use crate::sys::spawn::Setup;

/// The socket-activation variables: passed together to the receiver, or not at all.
pub const LISTEN_VARIABLES: [&str; 3] = ["LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PID"];

#[derive(Debug, Clone, Default)]
pub struct Inherited {
    /// Descriptor numbers, increasing; all close-on-exec in warden.
    pub fds: Rc<[RawFd]>,
    /// The `LISTEN_*` variables warden was started with.
    pub variables: Vec<(OsString, OsString)>,
    /// `LISTEN_PID` named warden: the receiver gets its own pid instead.
    rewrite_listen_pid: bool,
}

impl Inherited {
    /// Takes over what warden was started with: marks the descriptors
    /// close-on-exec and remembers them and the variables.
    pub fn take(fds: Vec<RawFd>, own_pid: i32, environment: impl Fn(&str) -> Option<OsString>) -> Inherited {
        let variables: Vec<(OsString, OsString)> = LISTEN_VARIABLES
            .iter()
            .filter_map(|name| Some((OsString::from(name), environment(name)?)))
            .collect();
        let rewrite_listen_pid = environment("LISTEN_PID")
            .and_then(|pid| pid.to_str()?.trim().parse::<i32>().ok())
            .is_some_and(|pid| pid == own_pid);
        Inherited { fds: fds.into(), variables, rewrite_listen_pid }
    }

    /// Makes `setup` the receiver's.
    pub fn give(&self, setup: &mut Setup) {
        setup.inherited_fds = Rc::clone(&self.fds);
        setup.listen_pid = self.rewrite_listen_pid;
    }

    pub fn is_empty(&self) -> bool {
        self.fds.is_empty() && self.variables.is_empty()
    }
}

#[cfg(test)]
mod tests;
