//! sd_notify, both ways. Each `notify: true` service gets a datagram socket of
//! its own in the abstract namespace (no file is written: read-only root
//! filesystems work), named in its `NOTIFY_SOCKET`; whatever arrives there
//! speaks for that service. Towards the outside, when warden itself was given a
//! `NOTIFY_SOCKET` (podman `--sdnotify=container`), `Outer` tells the host when
//! the container is ready, alive and stopping. A service never sees warden's own
//! socket.

use std::io::ErrorKind;
use std::os::fd::{AsRawFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use crate::logger::debug;
use crate::sys::Reason;

/// Longest datagram read; sd_notify messages are a few short lines.
const MAX_MESSAGE: usize = 4096;
/// STATUS= texts are kept for `warden status`, cut to this many bytes.
const MAX_STATUS: usize = 200;
/// Datagrams handled per wake-up, so a chatty service cannot starve the loop.
const MAX_PER_WAKE: usize = 64;

/// One line of a notification that warden acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Ready,
    Reloading,
    Stopping,
    Status(String),
    Watchdog,
    WatchdogTrigger,
}

/// The lines of one datagram warden understands; the rest are ignored, as
/// systemd ignores what it does not know.
pub fn parse(message: &[u8]) -> Vec<Notice> {
    let text = String::from_utf8_lossy(message);
    text.lines()
        .filter_map(|line| match line.split_once('=')? {
            ("READY", "1") => Some(Notice::Ready),
            ("RELOADING", "1") => Some(Notice::Reloading),
            ("STOPPING", "1") => Some(Notice::Stopping),
            ("STATUS", status) => Some(Notice::Status(truncate(status, MAX_STATUS))),
            ("WATCHDOG", "1") => Some(Notice::Watchdog),
            ("WATCHDOG", "trigger") => Some(Notice::WatchdogTrigger),
            _ => None,
        })
        .collect()
}

fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_string()
}

/// A service's own notification socket.
pub struct NotifySocket {
    socket: UnixDatagram,
    /// The `NOTIFY_SOCKET` value: `@` and the abstract name.
    pub address: String,
}

impl NotifySocket {
    /// Binds a fresh abstract socket; `nonce` makes the name unique among the
    /// wardens sharing a network namespace (every one of them may be PID 1).
    pub fn bind(nonce: u64) -> std::io::Result<NotifySocket> {
        let mut last = None;
        for attempt in 0..4u64 {
            let name =
                format!("warden/{:016x}", nonce.wrapping_add(attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
            let result =
                SocketAddr::from_abstract_name(name.as_bytes()).and_then(|a| UnixDatagram::bind_addr(&a));
            match result {
                Ok(socket) => {
                    socket.set_nonblocking(true)?;
                    return Ok(NotifySocket { socket, address: format!("@{name}") });
                }
                Err(e) if e.kind() == ErrorKind::AddrInUse => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ErrorKind::AddrInUse.into()))
    }

    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Reads what has arrived (bounded per call) and returns what it says.
    pub fn receive(&self) -> Vec<Notice> {
        let mut notices = Vec::new();
        let mut buffer = [0u8; MAX_MESSAGE];
        for _ in 0..MAX_PER_WAKE {
            match self.socket.recv(&mut buffer) {
                Ok(n) => notices.extend(parse(buffer.get(..n).unwrap_or_default())),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    if e.kind() != ErrorKind::WouldBlock {
                        debug!("notify socket: {}", Reason(&e));
                    }
                    break;
                }
            }
        }
        notices
    }

    /// Throws away what an earlier run of the service sent.
    pub fn discard(&self) {
        while !self.receive().is_empty() {}
    }
}

/// warden's own link to the host's service manager.
pub struct Outer {
    socket: UnixDatagram,
    address: SocketAddr,
    /// WATCHDOG_USEC, when the manager watches warden.
    pub watchdog: Option<Duration>,
    ready_sent: bool,
}

impl Outer {
    /// From warden's `NOTIFY_SOCKET` (a path, or `@name` for the abstract
    /// namespace); None when there is none or it is unusable.
    pub fn from_environment() -> Option<Outer> {
        let target = std::env::var_os("NOTIFY_SOCKET")?;
        let target = target.to_string_lossy();
        let address = match target.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
            None => SocketAddr::from_pathname(&*target),
        };
        let socket = address.and_then(|address| Ok((UnixDatagram::unbound()?, address)));
        let (socket, address) = match socket {
            Ok(pair) => pair,
            Err(e) => {
                crate::logger::warning!("NOTIFY_SOCKET={target}: {}; not notifying", Reason(&e));
                return None;
            }
        };
        // WATCHDOG_PID, when set, names the process the manager watches.
        let for_us = std::env::var("WATCHDOG_PID")
            .map_or(true, |pid| pid.trim() == crate::sys::process::pid().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0 && for_us)
            .map(Duration::from_micros);
        Some(Outer { socket, address, watchdog, ready_sent: false })
    }

    pub fn ready_sent(&self) -> bool {
        self.ready_sent
    }

    /// READY=1, once in warden's life.
    pub fn ready(&mut self, status: &str) {
        if !self.ready_sent {
            self.ready_sent = true;
            // READY=1 first: runc's relay looks at the start of the datagram.
            self.send(&format!("READY=1\nSTATUS={status}"));
        }
    }

    pub fn send(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.address) {
            // The manager may be gone or not listening: nothing to do about it.
            debug!("sd_notify {message:?}: {}", Reason(&e));
        }
    }
}

#[cfg(test)]
mod tests;
