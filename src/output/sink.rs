//! warden's stdout and stderr, written without ever blocking the loop: one
//! writer per stream for warden's own lines (events, warnings, `-v` lines)
//! and for services' records alike, so that their order on a stream is the
//! order they were produced.
//!
//! The writer needs a description of the stream that it alone makes
//! non-blocking (the children that inherit warden's stdout keep their blocking
//! one):
//! - a pipe, FIFO or terminal is opened again through `/proc/self/fd`;
//! - a socket (a journal stream) is written with `MSG_DONTWAIT`;
//! - a pipe or terminal that cannot be reopened (no `/proc`, or a pipe made by
//!   another user, as a container runtime's is for `--user`) is written only
//!   after `poll` says it has room, at most `PIPE_BUF` bytes at a time. A
//!   writer sharing the pipe that fills it between the poll and the write, or
//!   a terminal with less room than the line (poll only says "some"), could
//!   still block warden there (documented in docs/output.md);
//! - a regular file is written as it is: disk writes wait for nobody.
//!
//! Records wait in a queue. Services' records stop being read past
//! `SOFT_LIMIT` queued bytes, so a reader that does not keep up slows the
//! services down (backpressure) instead of growing warden. warden's own lines
//! may use `OWN_ALLOWANCE` more; past that they are dropped and counted, and
//! once the queue drains one line says how many were lost. A stream that fails
//! (EPIPE: nobody reads any more) is given up with one warning.
//!
//! Until [`install`] (client verbs, `validate`, errors before the loop
//! exists) warden's lines are written directly, blocking.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::time::Instant;

use super::Stream;
use crate::sys::Reason;

/// Queued bytes beyond which warden stops reading services' output.
pub const SOFT_LIMIT: usize = 256 * 1024;
/// Queued bytes beyond `SOFT_LIMIT` that warden's own lines may still take.
pub const OWN_ALLOWANCE: usize = 64 * 1024;
/// Writes to a pipe of at most this many bytes are atomic and, after a poll
/// that saw room, never block.
const PIPE_BUF: usize = 4096;
/// The pipe size a stream found full is given (the kernel's default is 64 KiB).
const PIPE_SIZE: usize = 1024 * 1024;

/// How warden writes one stream.
enum Target {
    /// A private non-blocking description of a pipe, FIFO or terminal.
    Reopened(File),
    /// A duplicate of a socket: `send` with `MSG_DONTWAIT`.
    Socket(OwnedFd),
    /// A duplicate of a pipe or terminal that could not be reopened.
    Guarded(OwnedFd),
    /// A regular file (or anything else that never makes a writer wait).
    Blocking(File),
}

pub struct Sink {
    what: &'static str,
    target: Option<Target>,
    queue: Vec<u8>,
    /// Bytes of `queue` already written.
    written: usize,
    broken: bool,
    /// Services' lines lost on this stream.
    pub dropped_lines: u64,
    /// warden's own lines lost on this stream, in all, and since the last notice.
    pub own_dropped: u64,
    own_unreported: u64,
    /// A warning to give once the sink is no longer borrowed.
    warning: Option<String>,
    /// Its pipe was found full once and enlarged.
    grown: bool,
}

pub enum Flushed {
    /// Everything is written.
    Done,
    /// The stream is full: wait until it is writable.
    Blocked,
}

impl Sink {
    /// The sink for warden's stdout or stderr.
    pub fn open(stream: Stream) -> Sink {
        let fd = match stream {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        };
        Sink::with_target(stream.name(), open_target(fd))
    }

    /// A sink writing to `target` (None: nothing can be written).
    fn with_target(what: &'static str, target: Option<Target>) -> Sink {
        Sink {
            what,
            broken: target.is_none(),
            target,
            queue: Vec::new(),
            written: 0,
            dropped_lines: 0,
            own_dropped: 0,
            own_unreported: 0,
            warning: None,
            grown: false,
        }
    }

    /// The fd to watch for writability while something is queued (a
    /// blocking target never leaves anything queued).
    pub fn fd(&self) -> Option<RawFd> {
        match self.target.as_ref()? {
            Target::Reopened(file) => Some(file.as_raw_fd()),
            Target::Socket(fd) | Target::Guarded(fd) => Some(fd.as_raw_fd()),
            Target::Blocking(_) => None,
        }
    }

    /// The first time the stream is found full: a pipe gets the room of
    /// a chatty one (`PIPE_SIZE`), so a flood crosses it in fewer round
    /// trips. Whether it may be worth writing again at once.
    fn grow_once(&mut self) -> bool {
        if std::mem::replace(&mut self.grown, true) {
            return false;
        }
        match &self.target {
            Some(Target::Reopened(file)) => crate::sys::fds::grow_pipe(file.as_fd(), PIPE_SIZE),
            _ => false,
        }
    }

    fn pending(&self) -> usize {
        self.queue.len().saturating_sub(self.written)
    }

    /// Something waits for the stream to take it.
    pub fn is_blocked(&self) -> bool {
        !self.broken && self.pending() > 0
    }

    /// Whether more services' records may be read for this sink now.
    pub fn has_room(&self) -> bool {
        self.broken || self.pending() < SOFT_LIMIT
    }

    /// Queues services' `records` (`lines` of them) and writes what the stream takes.
    pub fn push(&mut self, records: &[u8], lines: u64) -> Flushed {
        if self.broken {
            self.dropped_lines += lines;
            return Flushed::Done;
        }
        self.enqueue(records)
    }

    /// Queues one line of warden's own, or drops and counts it when the
    /// queue is past what warden's lines may take.
    pub fn push_own(&mut self, line: &[u8]) -> Flushed {
        if self.broken {
            self.own_dropped += 1;
            return Flushed::Done;
        }
        if self.pending() + line.len() > SOFT_LIMIT + OWN_ALLOWANCE {
            self.own_dropped += 1;
            self.own_unreported += 1;
            return Flushed::Blocked;
        }
        self.enqueue(line)
    }

    fn enqueue(&mut self, bytes: &[u8]) -> Flushed {
        if self.pending() == 0 {
            self.queue.clear();
            self.written = 0;
            // Nothing waiting: write straight from the caller's buffer, and
            // queue only what the stream does not take now.
            let mut sent = 0;
            while let Some(rest) = bytes.get(sent..).filter(|r| !r.is_empty()) {
                match write_to(self.target.as_ref(), rest) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock && self.grow_once() => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        self.queue.extend_from_slice(rest);
                        return self.give_up(e);
                    }
                }
            }
            self.queue.extend_from_slice(bytes.get(sent..).unwrap_or_default());
            return self.flush();
        }
        self.queue.extend_from_slice(bytes);
        self.flush()
    }

    /// Writes as much of the queue as the stream takes now; once it is empty,
    /// says how many of warden's own lines were lost meanwhile.
    pub fn flush(&mut self) -> Flushed {
        loop {
            while let Some(rest) = self.queue.get(self.written..).filter(|r| !r.is_empty()) {
                let result = write_to(self.target.as_ref(), rest);
                match result {
                    Ok(0) => return self.give_up(ErrorKind::WriteZero.into()),
                    Ok(n) => self.written += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock && self.grow_once() => {}
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
            if self.own_unreported == 0 {
                return Flushed::Done;
            }
            let lost = std::mem::take(&mut self.own_unreported);
            let message = format!(
                "{lost} line{} of its own {} dropped while stdout/stderr were not read",
                if lost == 1 { "" } else { "s" },
                if lost == 1 { "was" } else { "were" }
            );
            let mut line = (NOTICE.get())(&message).into_bytes();
            line.push(b'\n');
            self.queue.extend_from_slice(&line);
        }
    }

    /// Writes what is queued before warden exits, waiting for the reader up
    /// to `deadline`; what is left then is dropped and counted.
    pub fn flush_before_exit(&mut self, deadline: Instant) {
        while let Flushed::Blocked = self.flush() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(fd) = self.fd() else { break };
            match crate::sys::fds::wait_writable(fd, left) {
                Ok(true) => {}
                _ => {
                    self.dropped_lines += self.unwritten_lines();
                    self.queue.clear();
                    self.written = 0;
                    break;
                }
            }
        }
    }

    fn unwritten_lines(&self) -> u64 {
        self.queue.get(self.written..).map_or(0, |r| memchr::memchr_iter(b'\n', r).count()) as u64
    }

    fn give_up(&mut self, error: std::io::Error) -> Flushed {
        self.dropped_lines += self.unwritten_lines();
        self.broken = true;
        self.queue = Vec::new();
        self.written = 0;
        // A warning about stderr would only go to stderr.
        if self.what != "stderr" {
            self.warning = Some(format!(
                "cannot write services' output to {} ({}): dropping it from now on",
                self.what,
                Reason(&error)
            ));
        }
        Flushed::Done
    }
}

/// One write of what `target` takes now without waiting.
fn write_to(target: Option<&Target>, bytes: &[u8]) -> std::io::Result<usize> {
    match target {
        None => Err(ErrorKind::NotFound.into()),
        Some(Target::Reopened(file) | Target::Blocking(file)) => {
            let mut file: &File = file;
            file.write(bytes)
        }
        Some(Target::Socket(fd)) => crate::sys::net::send_nonblocking(fd.as_fd(), bytes),
        Some(Target::Guarded(fd)) => {
            if !crate::sys::fds::has_room(fd.as_fd())? {
                return Err(ErrorKind::WouldBlock.into());
            }
            crate::sys::fds::write(fd.as_fd(), bytes.get(..PIPE_BUF).unwrap_or(bytes))
        }
    }
}

/// How warden reaches what `fd` refers to without ever waiting on it.
fn open_target(fd: RawFd) -> Option<Target> {
    let path = format!("/proc/self/fd/{fd}");
    let duplicate = || crate::sys::fds::duplicate(fd).ok();
    match crate::sys::fds::kind(fd) {
        Ok(crate::sys::fds::Kind::Socket) => duplicate().map(Target::Socket),
        Ok(crate::sys::fds::Kind::Stream) => std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
            .ok()
            .filter(|file| {
                file.metadata().is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_char_device())
            })
            .map(Target::Reopened)
            .or_else(|| duplicate().map(Target::Guarded)),
        Ok(crate::sys::fds::Kind::Other) => duplicate().map(|fd| Target::Blocking(File::from(fd))),
        Err(_) => None,
    }
}

fn plain_notice(message: &str) -> String {
    format!("warden: {message}")
}

thread_local! {
    /// warden's two streams, once the loop owns them.
    static STREAMS: RefCell<Option<[Sink; 2]>> = const { RefCell::new(None) };
    /// How a line of warden's own is formatted (text or JSON, by the config).
    static NOTICE: Cell<fn(&str) -> String> = const { Cell::new(plain_notice) };
}

/// From now on warden's own lines and services' records go through the
/// non-blocking sinks. Idempotent.
pub fn install() {
    STREAMS.with(|streams| {
        if let Ok(mut streams) = streams.try_borrow_mut()
            && streams.is_none()
        {
            *streams = Some([Sink::open(Stream::Stdout), Sink::open(Stream::Stderr)]);
        }
    });
}

/// How the "lines were dropped" notice is written (the supervisor's event format).
pub fn set_notice_format(format: fn(&str) -> String) {
    NOTICE.set(format);
}

/// Runs `f` on the sink of `stream`; None before [`install`] (or when called
/// from inside another `with`). A warning the sink left is logged afterwards.
pub fn with<R>(stream: Stream, f: impl FnOnce(&mut Sink) -> R) -> Option<R> {
    let (result, warning) = STREAMS.with(|streams| {
        let mut streams = streams.try_borrow_mut().ok()?;
        let sink = streams.as_mut()?.get_mut(index(stream))?;
        let result = f(sink);
        Some((result, sink.warning.take()))
    })?;
    if let Some(warning) = warning {
        crate::logger::warning!("{warning}");
    }
    Some(result)
}

/// A line of warden's own (with its newline) for `stream`; false when no
/// sink is installed, and the caller writes it itself.
pub fn own_line(stream: Stream, line: &[u8]) -> bool {
    with(stream, |sink| {
        sink.push_own(line);
    })
    .is_some()
}

/// warden's own lines dropped so far on both streams.
pub fn own_dropped() -> u64 {
    [Stream::Stdout, Stream::Stderr].into_iter().filter_map(|s| with(s, |sink| sink.own_dropped)).sum()
}

/// Before exit: writes what is queued on both streams, waiting for a slow
/// reader until `deadline`.
pub fn flush_before_exit(deadline: Instant) {
    for stream in [Stream::Stdout, Stream::Stderr] {
        with(stream, |sink| sink.flush_before_exit(deadline));
    }
}

pub fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

#[cfg(test)]
mod tests;
