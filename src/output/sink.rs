//! warden's stdout or stderr as the destination of captured records, written
//! without ever blocking the loop.
//!
//! When the stream is a pipe, a FIFO or a terminal, warden opens it again
//! through `/proc/self/fd` to get a description of its own and makes that
//! non-blocking: the services that inherit warden's stdout keep their blocking
//! one. Records wait in a queue; past `SOFT_LIMIT` bytes the caller stops
//! reading the services' pipes, so a reader that does not keep up slows the
//! services down instead of growing warden. A regular file (or a stream that
//! cannot be reopened) is written blocking: disk writes do not wait for
//! anybody. A stream that fails (EPIPE: nobody reads any more) is given up:
//! its lines are dropped and counted, with one warning.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

use crate::logger::warning;
use crate::sys::Reason;

/// Queued bytes beyond which warden stops reading services' output.
pub const SOFT_LIMIT: usize = 256 * 1024;

pub struct Sink {
    what: &'static str,
    /// Our own non-blocking description of the stream, or a duplicate of
    /// warden's blocking one.
    file: Option<File>,
    nonblocking: bool,
    queue: Vec<u8>,
    /// Bytes of `queue` already written.
    written: usize,
    broken: bool,
    pub dropped_lines: u64,
}

pub enum Flushed {
    /// Everything is written.
    Done,
    /// The stream is full: wait until it is writable.
    Blocked,
}

impl Sink {
    /// The sink for warden's stdout (`stderr` false) or stderr.
    pub fn open(stderr: bool) -> Sink {
        let (fd, what) = if stderr { (2, "stderr") } else { (1, "stdout") };
        let own = reopen_nonblocking(fd);
        let nonblocking = own.is_some();
        let file = own.or_else(|| {
            let duplicate = if stderr {
                std::io::stderr().as_fd().try_clone_to_owned()
            } else {
                std::io::stdout().as_fd().try_clone_to_owned()
            };
            duplicate.map(File::from).ok()
        });
        let broken = file.is_none();
        Sink { what, file, nonblocking, queue: Vec::new(), written: 0, broken, dropped_lines: 0 }
    }

    /// The fd to watch for writability (only a non-blocking sink waits).
    pub fn fd(&self) -> Option<RawFd> {
        self.file.as_ref().filter(|_| self.nonblocking).map(AsRawFd::as_raw_fd)
    }

    /// Whether more records may be read for this sink now.
    pub fn has_room(&self) -> bool {
        self.broken || self.queue.len() - self.written < SOFT_LIMIT
    }

    /// Queues `records` (`lines` of them) and writes what the stream takes.
    pub fn push(&mut self, records: &[u8], lines: u64) -> Flushed {
        if self.broken {
            self.dropped_lines += lines;
            return Flushed::Done;
        }
        if self.written == self.queue.len() {
            self.queue.clear();
            self.written = 0;
            // Nothing waiting: write straight from the caller's buffer, and
            // queue only what the stream does not take now.
            let mut sent = 0;
            while let Some(rest) = records.get(sent..).filter(|r| !r.is_empty()) {
                let Some(mut file) = self.file.as_ref() else { break };
                match file.write(rest) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        self.queue.extend_from_slice(rest);
                        return self.give_up(e);
                    }
                }
            }
            self.queue.extend_from_slice(records.get(sent..).unwrap_or_default());
            return self.flush();
        }
        self.queue.extend_from_slice(records);
        self.flush()
    }

    /// Writes as much of the queue as the stream takes now.
    pub fn flush(&mut self) -> Flushed {
        while let Some(rest) = self.queue.get(self.written..).filter(|r| !r.is_empty()) {
            let Some(mut file) = self.file.as_ref() else { return self.give_up(ErrorKind::NotFound.into()) };
            match file.write(rest) {
                Ok(0) => return self.give_up(ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // Keep the queue compact: the written part is not needed any more.
                    if self.written > SOFT_LIMIT {
                        self.queue.drain(..self.written);
                        self.written = 0;
                    }
                    return Flushed::Blocked;
                }
                Err(e) => return self.give_up(e),
            }
        }
        self.queue.clear();
        self.written = 0;
        if self.queue.capacity() > 4 * SOFT_LIMIT {
            self.queue.shrink_to(SOFT_LIMIT);
        }
        Flushed::Done
    }

    /// Writes what is queued before warden exits, waiting for the reader up
    /// to `deadline`; what is left then is dropped and counted.
    pub fn flush_before_exit(&mut self, deadline: std::time::Instant) {
        while let Flushed::Blocked = self.flush() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let Some(fd) = self.fd() else { break };
            match crate::sys::fds::wait_writable(fd, left) {
                Ok(true) => {}
                _ => {
                    let lost = self
                        .queue
                        .get(self.written..)
                        .map_or(0, |r| r.iter().filter(|&&b| b == b'\n').count());
                    self.dropped_lines += lost as u64;
                    self.queue.clear();
                    self.written = 0;
                    break;
                }
            }
        }
    }

    fn give_up(&mut self, error: std::io::Error) -> Flushed {
        let lost = self.queue.get(self.written..).map_or(0, |r| r.iter().filter(|&&b| b == b'\n').count());
        self.dropped_lines += lost as u64;
        self.broken = true;
        self.queue = Vec::new();
        self.written = 0;
        warning!(
            "cannot write services' output to {} ({}): dropping it from now on",
            self.what,
            Reason(&error)
        );
        Flushed::Done
    }
}

/// A non-blocking description of what `fd` refers to, if it is a stream
/// (pipe, FIFO, terminal) that `/proc/self/fd` can open again.
fn reopen_nonblocking(fd: RawFd) -> Option<File> {
    let path = format!("/proc/self/fd/{fd}");
    let kind = std::fs::metadata(&path).ok()?.file_type();
    if !(kind.is_fifo() || kind.is_char_device()) {
        return None;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .ok()
}
