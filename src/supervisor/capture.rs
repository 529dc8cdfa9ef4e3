//! Service output in the supervisor's loop: each run of a `prefix` or `file`
//! service gets two pipes (its stdout and stderr); the loop reads them, cuts
//! lines, keeps the tail, and writes records to warden's stdout/stderr or to
//! the service's rotating file. When warden's stream cannot take more, the
//! pipes are left unread until it can: the services block on their full pipes
//! instead of warden buffering without bound. A pipe is read to its end even
//! after its process exited (a last line without newline is still a line), and
//! what a process wrote before dying is read before its exit is handled, so the
//! crash report has it. Crashes produce a report and run the on_crash hook.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::SystemTime;

use super::core::UnitId;
use super::machine::Crash;
use super::{Supervisor, Timer};
use crate::config::{LogFormat, Logs};
use crate::logger::warning;
use crate::output::sink::{self, Flushed, Sink};
use crate::output::{
    Chunk, Lines, Piece, Stream, copy, crash, for_each_line, json, json_head, json_record, text_record,
};
use crate::reactor::{Interest, deadline_after};
use crate::sys::Reason;
use crate::sys::reap::ExitStatus;
use crate::sys::spawn::{Placement, Program, Setup, start};

/// Reactor tokens of warden's stdout and stderr sinks.
pub const SINK_TOKENS: [u64; 2] = [1, 2];
/// Bytes read from a pipe at once, and reads per wake-up (fairness).
const READ_SIZE: usize = 64 * 1024;
/// Bytes read at once from a grown pipe: fewer trips through the loop for a
/// service that floods (the buffer is only this large once one has).
const BIG_READ_SIZE: usize = 128 * 1024;
/// Buffer asked for the capture pipe of a chatty service (the kernel's
/// default is 64 KiB): fewer round trips between it and warden.
const PIPE_SIZE: usize = 1024 * 1024;
const READS_PER_WAKE: usize = 4;
/// A read this large grows the pipe: a program that writes 64 KiB at a time
/// in whole lines (65,500 bytes of 100-byte lines) never fills a 64 KiB read,
/// and lock-stepped on the default pipe it waited for warden at every write.
const GROW_AT: usize = READ_SIZE / 2;
/// A pipe that delivered less than `TRICKLE` bytes at its last read, less
/// than `COALESCE` ago, is read again only when `COALESCE` has passed since
/// that read: a program that writes a line at a time would otherwise wake
/// warden for every line or two, and on a busy machine those wake-ups, not
/// the bytes, are most of the cost of capturing it. Lines wait in the pipe
/// meanwhile (it grows once a read finds `GROW_AT` in it); a quiet
/// service's line is read at once.
const COALESCE: std::time::Duration = std::time::Duration::from_millis(1);
const TRICKLE: usize = 16 * 1024;
/// How long warden waits, when exiting, for a slow reader of its output.
pub(super) const EXIT_FLUSH: std::time::Duration = std::time::Duration::from_secs(2);
/// on_crash hooks running at once; more crashes meanwhile skip the hook.
const MAX_HOOKS: usize = 4;

/// One capture pipe of one run.
pub struct Capture {
    unit: UnitId,
    pid: i32,
    stream: Stream,
    /// The service's name when the run started (labels its lines).
    name: String,
    pipe: File,
    lines: Lines,
    paused: bool,
    /// Its pipe was enlarged.
    grown: bool,
    /// The last read: when, and whether it found less than `TRICKLE`.
    last_read: Option<(std::time::Instant, bool)>,
    /// Out of epoll until its `COALESCE` timer.
    held: bool,
}

/// Output state shared by all services (warden's stdout and stderr
/// themselves are `output::sink`'s, shared with warden's own lines).
pub struct Outputs {
    sink_watched: [bool; 2],
    /// The disk thread's eventfd is in epoll.
    disk_watched: bool,
    /// Less than a batch is queued for the disk thread: written at this.
    pub(super) disk_timer: Option<crate::reactor::TimerId>,
    read_buffer: Vec<u8>,
    batch: Vec<u8>,
    /// Copies of lines for `logs -f` readers (filled only when followed).
    followed: Vec<u8>,
    /// Crash reports on their way to disk: ticket → (service, its hook's
    /// variables and the timer after which it runs without the report).
    reports_waiting: HashMap<u64, (String, Option<(HookVariables, crate::reactor::TimerId)>)>,
}

impl Outputs {
    pub fn new() -> Outputs {
        Outputs {
            sink_watched: [false; 2],
            disk_watched: false,
            disk_timer: None,
            read_buffer: Vec::new(),
            batch: Vec::new(),
            followed: Vec::new(),
            reports_waiting: HashMap::new(),
        }
    }

    /// An on_crash hook waits for its report to be saved (warden's exit
    /// waits for it as for a running hook).
    pub fn hooks_waiting(&self) -> bool {
        self.reports_waiting.values().any(|(_, hook)| hook.is_some())
    }

    /// Services' lines dropped because warden's stdout or stderr could not be written.
    pub fn dropped_lines(&self) -> u64 {
        [Stream::Stdout, Stream::Stderr].into_iter().filter_map(|s| sink::with(s, |s| s.dropped_lines)).sum()
    }
}

fn sink_of(stream: Stream) -> usize {
    sink::index(stream)
}

fn stream_of(index: usize) -> Stream {
    if index == 0 { Stream::Stdout } else { Stream::Stderr }
}

fn has_room(stream: Stream) -> bool {
    sink::with(stream, |s| s.has_room()).unwrap_or(true)
}

/// What a crash report's errand returned.
fn saved_report(result: Box<dyn std::any::Any + Send>) -> Result<PathBuf, String> {
    result
        .downcast::<Result<PathBuf, String>>()
        .map_or_else(|_| Err("lost its report".into()), |saved| *saved)
}

/// The environment an on_crash hook gets (its report's path is added when saved).
type HookVariables = Vec<(std::ffi::OsString, std::ffi::OsString)>;

fn hook_variables(name: &str, crash: &Crash) -> HookVariables {
    let (code, signal) = match crash.status {
        ExitStatus::Exited(code) => (code.to_string(), String::new()),
        ExitStatus::Signaled { signal, .. } => (String::new(), crate::sys::signals::name(signal)),
    };
    [
        ("WARDEN_SERVICE", name.to_string()),
        ("WARDEN_EXIT_CODE", code),
        ("WARDEN_SIGNAL", signal),
        ("WARDEN_RESTARTS", crash.restarts.to_string()),
        ("WARDEN_NEXT", crash.next.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect()
}

/// What a running on_crash hook is.
pub struct RunningHook {
    service: String,
    pending: crate::sys::spawn::Pending,
    timer: crate::reactor::TimerId,
}

/// A run's capture pipes: the write ends for the child, the read ends for warden.
pub(super) type OutputPipes = ([OwnedFd; 2], [OwnedFd; 2]);

impl Supervisor {
    /// Before a unit's program is forked: its capture pipes, if its output is
    /// captured. Returns the write ends (to close once the child has them) and
    /// the read ends (to watch once its pid is known). Without them (EMFILE,
    /// ENFILE) the start fails and is retried with backoff, as a failed fork
    /// is: running it on warden's own streams would lose its labels.
    pub(super) fn before_spawn_output(&mut self, index: usize) -> Result<Option<OutputPipes>, String> {
        let Some(unit) = self.slots.get_mut(index) else { return Ok(None) };
        unit.setup.output = None;
        if !matches!(unit.service.logs, Logs::Prefix | Logs::File(_)) {
            return Ok(None);
        }
        // A service's user owns its pipes, as runc gives a container's stdio to
        // its user: a program that opens /dev/stdout or /dev/stderr by path
        // (nginx's access_log, a log file linked there) is not refused.
        let owner = unit.service.credentials.as_ref().map(|user| (user.uid, user.gid));
        let make = || match owner {
            Some((uid, gid)) => crate::sys::fds::pipe_owned_by(uid, gid),
            None => crate::sys::fds::pipe(),
        };
        let pipes = make().and_then(|out| Ok((out, make()?)));
        match pipes {
            Ok(((out_read, out_write), (err_read, err_write))) => {
                unit.setup.output = Some((out_write.as_raw_fd(), err_write.as_raw_fd()));
                Ok(Some(([out_write, err_write], [out_read, err_read])))
            }
            Err(e) => {
                warning!("{}: cannot make its output pipes: {}", unit.service.name, Reason(&e));
                Err(format!("cannot make its output pipes: {}", Reason(&e)))
            }
        }
    }

    /// The child `pid` of unit `index` has its copies: watch the read ends.
    pub(super) fn watch_output(&mut self, index: usize, pid: i32, reads: [OwnedFd; 2]) {
        let Some((id, name)) = self.slots.get(index).map(|u| (u.id, u.service.name.clone())) else { return };
        for (stream, read) in [Stream::Stdout, Stream::Stderr].into_iter().zip(reads) {
            let token = self.registry.take(super::registry::Kind::Capture);
            if let Err(e) = self.init.reactor.register(read.as_raw_fd(), token, Interest::Read) {
                warning!("cannot watch the output of pid {pid}: {}", Reason(&e));
                continue;
            }
            let pipe = File::from(read);
            let (name, lines) = (name.clone(), Lines::default());
            self.captures.insert(
                token,
                Capture {
                    unit: UnitId { index, serial: id },
                    pid,
                    stream,
                    name,
                    pipe,
                    lines,
                    paused: false,
                    grown: false,
                    last_read: None,
                    held: false,
                },
            );
        }
    }

    /// A capture pipe is readable (or closed).
    pub(super) fn on_capture(&mut self, token: u64) {
        let now = std::time::Instant::now();
        let due = self.captures.get(&token).and_then(|c| match c.last_read {
            Some((at, true)) if now < at + COALESCE => Some(at + COALESCE),
            _ => None,
        });
        if let Some(at) = due
            && let Some(capture) = self.captures.get_mut(&token)
        {
            // Trickling: the lines gather in the pipe until `at`.
            capture.held = true;
            let _ = self.init.reactor.deregister(capture.pipe.as_raw_fd());
            self.init.reactor.add_timer(at, Timer::CaptureHeld { token });
            return;
        }
        self.read_capture(token, READS_PER_WAKE, true);
    }

    /// A trickling pipe's time is up: it is read, and back in epoll.
    pub(super) fn on_capture_held(&mut self, token: u64) {
        let Some(capture) = self.captures.get_mut(&token) else { return };
        if !std::mem::replace(&mut capture.held, false) {
            return;
        }
        if !capture.paused {
            self.watch_again(token);
            self.read_capture(token, READS_PER_WAKE, true);
        }
    }

    /// Reads everything a process left in its pipes, before its exit is handled.
    pub(super) fn drain_output_of(&mut self, pid: i32) {
        let mut tokens: Vec<u64> =
            self.captures.iter().filter(|(_, c)| c.pid == pid).map(|(t, _)| *t).collect();
        // Stdout before stderr (their tokens were taken in that order), not
        // the map's order: what a process wrote last comes out the same way
        // every time (its two pipes carry no order between them).
        tokens.sort_unstable();
        for token in tokens {
            // Enough reads to empty even a grown pipe; bounded all the same.
            self.read_capture(token, PIPE_SIZE / READ_SIZE + 1, false);
        }
    }

    fn read_capture(&mut self, token: u64, reads: usize, respect_room: bool) {
        let Some(mut capture) = self.captures.remove(&token) else { return };
        let mut buffer = std::mem::take(&mut self.outputs.read_buffer);
        let size = if capture.grown { BIG_READ_SIZE } else { READ_SIZE };
        if buffer.len() < size {
            buffer.resize(size, 0);
        }
        let mut open = true;
        let mut total = 0;
        for _ in 0..reads {
            if respect_room && !self.room_for(&capture) {
                self.pause(&mut capture);
                break;
            }
            match (&capture.pipe).read(buffer.get_mut(..size).unwrap_or_default()) {
                Ok(0) => {
                    open = false;
                    break;
                }
                Ok(n) => {
                    total += n;
                    if n >= GROW_AT && !capture.grown {
                        // This one talks a lot: a bigger pipe, once, lets it
                        // write on while warden is busy or not scheduled.
                        capture.grown = true;
                        crate::sys::fds::grow_pipe(capture.pipe.as_fd(), PIPE_SIZE);
                    }
                    let data = buffer.get(..n).unwrap_or_default();
                    self.take_lines(&mut capture, |lines, emit| lines.push_runs(data, emit));
                    if n < size && respect_room {
                        // The pipe is empty now: another read would only say
                        // so (EAGAIN); epoll tells when more comes.
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    open = false;
                    break;
                }
            }
        }
        self.outputs.read_buffer = buffer;
        if respect_room {
            capture.last_read = Some((std::time::Instant::now(), total < TRICKLE));
        }
        if open {
            self.captures.insert(token, capture);
        } else {
            // Closing the pipe takes it out of epoll.
            self.take_lines(&mut capture, |lines, emit| lines.finish(&mut |piece| emit(Chunk::Piece(piece))));
        }
    }

    /// Turns what `feed` makes `Lines` emit into records, and sends them.
    fn take_lines(&mut self, capture: &mut Capture, feed: impl FnOnce(&mut Lines, &mut dyn FnMut(Chunk))) {
        let followed = self.followed(capture.unit);
        self.outputs.followed.clear();
        self.emit_lines(capture, feed, followed);
        let seen = self
            .slots
            .get_mut(capture.unit.index)
            .filter(|u| u.id == capture.unit.serial)
            .map(|u| std::mem::take(&mut u.watch.lines_seen))
            .unwrap_or_default();
        for kind in seen {
            self.on_log_line(capture.unit.index, kind);
        }
        if followed && !self.outputs.followed.is_empty() {
            let copies = std::mem::take(&mut self.outputs.followed);
            let lines = copies.iter().filter(|&&b| b == b'\n').count() as u64;
            self.deliver(capture.unit, &copies, lines);
            self.outputs.followed = copies;
        }
    }

    /// Makes records of what `feed` emits: a service's lines into its file,
    /// or labelled (or JSON) onto warden's stream. Runs of whole lines go
    /// into a file as they came, in one write; only their last lines are
    /// kept in the tail.
    fn emit_lines(
        &mut self,
        capture: &mut Capture,
        feed: impl FnOnce(&mut Lines, &mut dyn FnMut(Chunk)),
        followed: bool,
    ) {
        // A unit removed by a reload may still have output in flight: it goes
        // to warden's streams under the name it was started with.
        let mut gone = (crate::output::Tail::default(), None, super::watch::Watch::default());
        let (tail, file, watch) =
            match self.slots.get_mut(capture.unit.index).filter(|u| u.id == capture.unit.serial) {
                Some(unit) => (&mut unit.tail, &mut unit.file_log, &mut unit.watch),
                None => (&mut gone.0, &mut gone.1, &mut gone.2),
            };
        // Lines a log probe waits for (none: no search at all).
        let looking = watch.waits_for_a_line();
        let format = self.format;
        let timestamps = self.config.log_timestamps;
        let name = capture.name.as_str();
        let file_mode = file.is_some();
        let read_at = SystemTime::now();
        let at_ms = read_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let time = (timestamps || format == LogFormat::Json).then(|| crate::output::json::timestamp(read_at));
        let stamp = time.as_deref().filter(|_| timestamps);
        let (stream, pid) = (capture.stream, capture.pid);
        // What every JSON record of this batch starts with.
        let mut head = Vec::new();
        if format == LogFormat::Json && !file_mode {
            json_head(&mut head, name, stream, pid, time.as_deref().unwrap_or_default());
        }
        // `name | `, for lines labelled without a timestamp.
        let plain_labels = !file_mode && format == LogFormat::Text && stamp.is_none();
        let mut label = if plain_labels { format!("{name} | ").into_bytes() } else { Vec::new() };
        // Padded: copied once per line, in blocks (`output::copy`).
        let (label_len, head_len) = (copy::pad(&mut label), copy::pad(&mut head));
        let batch = &mut self.outputs.batch;
        batch.clear();
        let mut records = 0u64;
        let copies = &mut self.outputs.followed;
        let record = |batch: &mut Vec<u8>, piece: Piece| {
            if file_mode {
                if let Some(time) = stamp {
                    batch.extend_from_slice(time.as_bytes());
                    batch.push(b' ');
                }
                if piece.continued {
                    batch.extend_from_slice(b"+ ");
                }
                batch.extend_from_slice(piece.text);
                batch.push(b'\n');
            } else if format == LogFormat::Json {
                json_record(batch, head.get(..head_len).unwrap_or_default(), piece);
            } else {
                text_record(batch, name, piece, stamp);
            }
        };
        feed(&mut capture.lines, &mut |chunk: Chunk| match chunk {
            Chunk::Run(run) => {
                if looking {
                    watch.look_for_lines(run);
                }
                tail.push_run(stream, run, at_ms);
                if followed {
                    copies.extend_from_slice(run);
                }
                match file.as_mut() {
                    // Written as it came, after what is batched before it.
                    Some(file) if stamp.is_none() => {
                        if !batch.is_empty() {
                            file.write(batch);
                            batch.clear();
                        }
                        file.write(run);
                    }
                    // Labelled: the label, then the line with its newline, as it came.
                    None if plain_labels => {
                        let mut start = 0;
                        for newline in memchr::memchr_iter(b'\n', run) {
                            copy::append(batch, &label, 0..label_len);
                            copy::append(batch, run, start..newline + 1);
                            start = newline + 1;
                            records += 1;
                        }
                    }
                    None if format == LogFormat::Json => {
                        let mut start = 0;
                        for newline in memchr::memchr_iter(b'\n', run) {
                            copy::append(batch, &head, 0..head_len);
                            json::string_within(batch, run, start..newline);
                            batch.extend_from_slice(b"}\n");
                            start = newline + 1;
                            records += 1;
                        }
                    }
                    _ => for_each_line(run, |line| {
                        records += 1;
                        record(batch, Piece { text: line, continued: false });
                    }),
                }
            }
            Chunk::Piece(piece) => {
                if looking {
                    watch.look_for_lines(piece.text);
                }
                tail.push(stream, piece, at_ms);
                records += 1;
                if followed {
                    copies.extend_from_slice(piece.text);
                    copies.push(b'\n');
                }
                record(batch, piece);
            }
        });
        if batch.is_empty() {
            return;
        }
        if file_mode {
            if let Some(file) = file.as_mut() {
                file.write(batch);
            }
            return;
        }
        let index = sink_of(stream);
        let records_bytes = std::mem::take(&mut self.outputs.batch);
        let pushed = sink::with(stream, |sink| {
            let before = sink.dropped_lines;
            let flushed = sink.push(&records_bytes, records);
            (flushed, sink.dropped_lines.saturating_sub(before))
        });
        if let Some((flushed, lost)) = pushed {
            if lost > 0
                && let Some(unit) =
                    self.slots.get_mut(capture.unit.index).filter(|u| u.id == capture.unit.serial)
            {
                unit.lines_dropped += lost;
            }
            if let Flushed::Blocked = flushed {
                self.watch_sink(index, true);
            }
        }
        self.outputs.batch = records_bytes;
    }

    /// Whether a capture's records have somewhere to go: warden's stream for
    /// `prefix`, the disk thread's queue for `file`.
    fn room_for(&self, capture: &Capture) -> bool {
        let Some(unit) = self.slots.get(capture.unit.index).filter(|u| u.id == capture.unit.serial) else {
            return true;
        };
        match (&unit.service.logs, &unit.file_log) {
            (Logs::Prefix, _) => has_room(capture.stream),
            (_, Some(file)) => file.has_room(),
            _ => true,
        }
    }

    /// Once the disk thread runs: its eventfd in the loop.
    pub(super) fn watch_disk(&mut self) {
        if self.outputs.disk_watched {
            return;
        }
        let Some(fd) = self.disk.fd() else { return };
        match self.init.reactor.register(fd, super::registry::DISK, Interest::Read) {
            Ok(()) => self.outputs.disk_watched = true,
            Err(e) => warning!("cannot watch the disk thread: {}", Reason(&e)),
        }
    }

    /// The disk thread made room (or has warnings): the pipes paused for
    /// room are read again (those still without it pause again at once).
    pub(super) fn on_disk(&mut self) {
        self.disk.on_ready();
        self.take_errands(false);
        let paused: Vec<u64> = self
            .captures
            .iter()
            .filter(|(_, c)| {
                c.paused
                    && self
                        .slots
                        .get(c.unit.index)
                        .is_some_and(|u| u.id == c.unit.serial && u.file_log.is_some())
            })
            .map(|(t, _)| *t)
            .collect();
        self.resume(paused);
    }

    fn resume(&mut self, tokens: Vec<u64>) {
        for token in tokens {
            let Some(capture) = self.captures.get_mut(&token) else { continue };
            capture.paused = false;
            if !capture.held {
                self.watch_again(token); // else its timer puts it back
            }
        }
    }

    /// A capture taken out of epoll (paused, or held) is watched again.
    fn watch_again(&mut self, token: u64) {
        let Some(capture) = self.captures.get(&token) else { return };
        if let Err(e) = self.init.reactor.register(capture.pipe.as_raw_fd(), token, Interest::Read) {
            warning!("cannot watch a service's output again: {}", Reason(&e));
        }
    }

    fn pause(&mut self, capture: &mut Capture) {
        if !capture.paused {
            capture.paused = true;
            let _ = self.init.reactor.deregister(capture.pipe.as_raw_fd());
        }
    }

    fn watch_sink(&mut self, index: usize, watch: bool) {
        let Some(fd) = sink::with(stream_of(index), |s| s.fd()).flatten() else { return };
        let (Some(watched), Some(&token)) =
            (self.outputs.sink_watched.get_mut(index), SINK_TOKENS.get(index))
        else {
            return;
        };
        if *watched == watch {
            return;
        }
        let result = if watch {
            self.init.reactor.register(fd, token, Interest::Write)
        } else {
            self.init.reactor.deregister(fd)
        };
        match result {
            Ok(()) => *watched = watch,
            Err(e) => warning!("cannot watch warden's output: {}", Reason(&e)),
        }
    }

    /// Before the loop waits: watch warden's stdout or stderr for room while
    /// anything is queued for it (warden's own lines queue from anywhere).
    pub(super) fn watch_sinks(&mut self) {
        for index in 0..2 {
            let blocked = sink::with(stream_of(index), |s| s.is_blocked()).unwrap_or(false);
            if self.outputs.sink_watched.get(index).is_some_and(|&w| w != blocked) {
                self.watch_sink(index, blocked);
            }
        }
    }

    /// warden's stdout or stderr can take more: write, and read again.
    pub(super) fn on_sink(&mut self, index: usize) {
        let stream = stream_of(index);
        if let Some(Flushed::Done) = sink::with(stream, Sink::flush) {
            self.watch_sink(index, false);
        }
        if !has_room(stream) {
            return;
        }
        let paused: Vec<u64> = self
            .captures
            .iter()
            .filter(|(_, c)| c.paused && sink_of(c.stream) == index)
            .map(|(t, _)| *t)
            .collect();
        self.resume(paused);
    }

    /// Before warden exits: what is still in the pipes is read, and what is
    /// queued for warden's streams and for log files is written (waiting for
    /// a slow reader or disk at most `EXIT_FLUSH`). Returns the lines the log
    /// files could not take in that time.
    pub(super) fn flush_output(&mut self) -> u64 {
        let tokens: Vec<u64> = self.captures.keys().copied().collect();
        for token in tokens {
            self.read_capture(token, READS_PER_WAKE, false);
        }
        let deadline = std::time::Instant::now() + EXIT_FLUSH;
        let unwritten = self.disk.flush(deadline);
        self.disk.on_ready();
        self.take_errands(true);
        sink::flush_before_exit(deadline);
        unwritten
    }

    /// A run crashed: write its report and run the hook, as configured. The
    /// report is saved on the disk thread (a slow or hung disk must not
    /// hold up the loop); the hook, which is told the report's path, starts
    /// once it is saved.
    pub(super) fn on_crash(&mut self, index: usize, crash: &Crash) {
        let Some(unit) = self.slots.get(index) else { return };
        let name = unit.service.name.clone();
        let hook = self.config.on_crash.is_some().then(|| hook_variables(&name, crash));
        let Some(reports) = &self.config.crash_reports else {
            if let Some(variables) = hook {
                self.run_hook(&name, variables, None);
            }
            return;
        };
        let usage = match &unit.limits.group {
            Some(group) => Some(group.usage()),
            None if unit.limits.peak > 0 => {
                Some(crate::cgroups::Usage { memory_peak: Some(unit.limits.peak), ..Default::default() })
            }
            None => None,
        };
        let limits = crate::cgroups::limits_text(&unit.service.resources, Some(&unit.limits.enforcement));
        let report = crash::Report {
            service: &unit.service.name,
            pid: crash.pid,
            status: crash.status,
            uptime: crash.uptime,
            restarts: crash.restarts,
            next: &crash.next.to_string(),
            reason: &crash.reason.to_string(),
            command: unit.program.display(),
            tail: &unit.tail,
            usage,
            limits: &limits,
        }
        .saved(&reports.dir, reports.keep);
        let ticket = self.take_token();
        let errand: crate::disk::Errand = Box::new(move || Box::new(crash::save_or_say(&report)));
        let path = match self.disk.run(ticket, errand) {
            Ok(()) => {
                self.watch_disk();
                let timeout = self.config.on_crash.as_ref().map(|h| h.timeout).unwrap_or_default();
                let hook = hook.map(|variables| {
                    (
                        variables,
                        self.init.reactor.add_timer(deadline_after(timeout), Timer::ReportWait { ticket }),
                    )
                });
                self.outputs.reports_waiting.insert(ticket, (name, hook));
                return;
            }
            // No thread: saved here, as a last resort.
            Err(Some(errand)) => saved_report(errand()),
            Err(None) => Err("crash report not written: too many are still waiting to be saved \
                              (a disk that does not answer?)"
                .to_string()),
        };
        self.on_report_saved(&name, hook, path);
    }

    /// A crash report was saved (or not): says why not, and runs the hook.
    fn on_report_saved(&mut self, name: &str, hook: Option<HookVariables>, saved: Result<PathBuf, String>) {
        let path = match saved {
            Ok(path) => Some(path),
            Err(why) => {
                warning!("{name}: {why}");
                None
            }
        };
        if let Some(variables) = hook {
            self.run_hook(name, variables, path);
        }
    }

    /// What the disk thread has done: crash reports saved (their hooks run
    /// unless warden is exiting: nothing would be left to run them for), a
    /// config read for a reload (applied, unless warden is exiting).
    fn take_errands(&mut self, exiting: bool) {
        for (ticket, result) in self.disk.take_done() {
            if let Some((name, hook)) = self.outputs.reports_waiting.remove(&ticket) {
                let hook = hook.map(|(variables, timer)| {
                    self.init.reactor.cancel_timer(timer);
                    variables
                });
                self.on_report_saved(&name, hook.filter(|_| !exiting), saved_report(result));
            } else if exiting {
                // Neither a reload nor new watches matter any more.
            } else if self.files.is_making(ticket) {
                self.on_watches_made(result);
            } else if self.is_scaling(ticket) {
                self.on_scale_read(ticket, result);
            } else {
                self.on_config_read(ticket, result);
            }
        }
    }

    /// A crash report took the hook's whole timeout and is still not saved
    /// (a disk that does not answer): the hook runs without it, and the
    /// report's late outcome is only said.
    pub(super) fn on_report_wait(&mut self, ticket: u64) {
        let Some((name, hook)) = self.outputs.reports_waiting.get_mut(&ticket) else { return };
        let Some((variables, _)) = hook.take() else { return };
        let name = name.clone();
        warning!("{name}: its crash report is still not saved: the on_crash hook runs without it");
        self.run_hook(&name, variables, None);
    }

    fn run_hook(&mut self, name: &str, mut variables: HookVariables, report: Option<PathBuf>) {
        let Some(hook) = self.config.on_crash.clone() else { return };
        if self.hooks.len() >= MAX_HOOKS {
            warning!("{name}: on_crash hook skipped: {MAX_HOOKS} hooks are still running");
            return;
        }
        let report = report.map(|p| p.into_os_string()).unwrap_or_default();
        variables.push(("WARDEN_REPORT".into(), report));
        let program = match Program::new(&hook.command, &self.base_env, &variables) {
            Ok(program) => program,
            Err(e) => {
                warning!("{name}: on_crash hook: {e}");
                return;
            }
        };
        let placement = Placement { own_process_group: true, take_terminal: false, new_session: true };
        let setup = Setup { null_stdin: true, ..Setup::default() };
        match start(&program, placement, &setup) {
            Ok(pending) => {
                let pid = pending.pid;
                let timer =
                    self.init.reactor.add_timer(deadline_after(hook.timeout), Timer::HookTimeout { pid });
                self.registry.add_child(pid, super::registry::Child::Hook);
                self.hooks.insert(pid, RunningHook { service: name.to_string(), pending, timer });
            }
            Err(e) => warning!("{name}: on_crash hook cannot run: {e}"),
        }
    }

    /// A hook ended; false if `pid` is no hook.
    pub(super) fn on_hook_exit(&mut self, pid: i32, status: ExitStatus) {
        let Some(hook) = self.hooks.remove(&pid) else { return };
        self.init.reactor.cancel_timer(hook.timer);
        match hook.pending.outcome() {
            Some(Err(e)) => warning!("{}: on_crash hook cannot run: {e}", hook.service),
            _ if status != ExitStatus::Exited(0) => {
                warning!("{}: on_crash hook {}", hook.service, super::machine::describe(status))
            }
            _ => {}
        }
    }

    pub(super) fn on_hook_timeout(&mut self, pid: i32) {
        if let Some(hook) = self.hooks.get(&pid) {
            warning!("{}: on_crash hook still running after its timeout: killing it", hook.service);
            crate::sys::process::kill_group_and_leader(pid);
        }
    }
}
