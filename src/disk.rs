//! warden's calls that may wait on a file system, on a thread of their own:
//! an `open`, `write`, `fsync` or `rename` on a network mount that stops
//! answering can hang for minutes, and PID 1 must not hang with it. The
//! thread writes services' log files, and runs errands: saving a crash
//! report, reading the config for a reload.
//!
//! For a log file, the loop appends a service's records to the file's queue
//! and goes on reading; the thread writes each queue in one `write` per
//! batch (rotating between records, `rotate`).
//!
//! Bounded: once the queues hold `MAX_QUEUED` bytes, the loop stops reading
//! the pipes of the services that log to files (they block on their own
//! writes, as with a slow reader of warden's stdout) until the thread has
//! brought the queues under `RESUME_BELOW`; an eventfd wakes the loop then.
//! A slow or hung disk never drops a line; a write that fails does (counted,
//! with one warning per failure streak).
//!
//! The thread starts with the first log file or errand (a warden that has
//! neither has no thread) and sleeps on a condition variable while there is nothing to
//! write: no system call while idle. It never writes to warden's streams
//! (their reader may be stalled): its warnings go back to the loop through
//! the same eventfd. Without a thread (it could not be started), the files
//! are written on the loop, as a last resort.
//!
//! The thread always opens a file first. A regular file it finds on a local
//! file system (ext4, XFS, tmpfs, overlayfs, ...: `sys::fs::on_local_disk`)
//! is handed back to the loop once its queue is empty, and written there
//! from then on, rotations included: those calls wait only on this machine,
//! and handing a flood between three busy threads on two cores halves its
//! throughput. A file on NFS, SMB, FUSE, 9p, virtiofs (any other file
//! system), a FIFO or a device stays with the thread.
//!
//! Errands (`run`) are closures run in order between batches; each result
//! comes back to the loop with its ticket (`take_done`).
//!
//! The thread has a descriptor table of its own, holding none of the loop's:
//! a file that a fork of the loop inherits is closed again by the child's
//! `execve`, and closing a file on FUSE (always) or NFS (written to) waits
//! for its server, uninterruptibly on FUSE. With the thread's files in the
//! loop's table, one hung mount froze every service, probe and hook started
//! after it in `execve`, beyond the reach of SIGKILL. So a file found local
//! is closed by the thread and opened again by the loop, an entry is dropped
//! only by the thread, and a descriptor of the loop's that an errand needs
//! is sent to it over a socket (`run_with`).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::config::FileLog;
use crate::logger::warning;
use crate::output::rotate::RotatingFile;
use crate::sys::Reason;

/// Bytes queued for all files at most (plus one read), before the loop stops
/// reading their services' pipes.
const MAX_QUEUED: usize = 768 * 1024;
/// The loop reads those pipes again once the queues are under this.
const RESUME_BELOW: usize = MAX_QUEUED / 2;
/// Queued bytes worth waking the thread for at once.
const BATCH: usize = 256 * 1024;
/// How long less than a batch may wait for more before it is written.
pub const BATCH_DELAY: std::time::Duration = std::time::Duration::from_millis(2);
/// A queue buffer's size: the most that is queued, and one read's records.
/// Made once and reused (`SPARE_BUFFERS`): a buffer grown as it fills, or
/// freed once written, costs a page fault per page of every batch.
const BUFFER: usize = MAX_QUEUED + 256 * 1024;
/// Emptied queue buffers kept for reuse.
const SPARE_BUFFERS: usize = 2;
/// Warnings waiting for the loop at most (one per failure streak and file).
const MAX_WARNINGS: usize = 16;
/// Errands waiting at most (a crash loop on a disk that hangs): more are
/// refused.
const MAX_ERRANDS: usize = 64;

/// Work for the thread; what it returns goes back to the loop.
pub type Errand = Box<dyn FnOnce() -> Box<dyn std::any::Any + Send> + Send>;

/// One file, between the loop's handle and the thread.
struct Entry {
    id: u64,
    queued: Vec<u8>,
    /// None while the thread writes it.
    file: Option<RotatingFile>,
    dropped_lines: u64,
    /// Its handle is gone: written to the end, then removed.
    closed: bool,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    /// Bytes in all queues, and being written.
    queued: usize,
    /// The thread waits for work (a write must wake it).
    asleep: bool,
    /// The loop paused a pipe for room (the thread must wake it).
    room_wanted: bool,
    /// The loop waits for the queues to empty (warden exits).
    flushing: bool,
    spares: Vec<Vec<u8>>,
    /// Lines of the batch being written (lost if warden exits before it is).
    writing_lines: u64,
    warnings: Vec<String>,
    /// Errands to run, by ticket; one is running; results for the loop.
    errands: std::collections::VecDeque<(u64, Errand)>,
    running: bool,
    done: Vec<(u64, Box<dyn std::any::Any + Send>)>,
    next_id: u64,
    /// Where the thread looks for work next (round robin between files).
    cursor: usize,
}

struct Shared {
    state: Mutex<State>,
    /// The thread waits here for bytes to write and errands to run.
    work: Condvar,
    /// warden's exit waits here for the queues to empty.
    written: Condvar,
    /// Signalled by the thread, watched by the loop: room again, warnings
    /// to say, errands done.
    wake_loop: OwnedFd,
    /// The loop's end of the socket that hands the thread descriptors.
    lend: OwnedFd,
    /// The thread's end (owned by the thread; in the loop's table too, unused).
    receiver: RawFd,
}

/// A poisoned lock only means a thread panicked holding it; the state is
/// still whole (nothing in it is left half-changed across a call that can
/// panic), and PID 1 must go on.
fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The disk thread, as the loop holds it, and the loop's end of its eventfd.
#[derive(Default)]
pub struct Disk {
    shared: Option<Arc<Shared>>,
    /// The thread could not be started (said once): files are written inline.
    inline: bool,
}

/// A service's log file, as the loop holds it.
pub struct LogFile(Handle);

enum Handle {
    Queued {
        id: u64,
        shared: Arc<Shared>,
    },
    /// Written on the loop (no thread).
    Inline(RotatingFile),
}

impl Disk {
    /// The file of a `logs: {file: ...}` service, starting the thread with
    /// the first one.
    pub fn open(&mut self, log: FileLog) -> LogFile {
        self.start();
        let Some(shared) = &self.shared else { return LogFile(Handle::Inline(RotatingFile::new(log))) };
        let mut state = lock(shared);
        state.next_id += 1;
        let id = state.next_id;
        let file = Some(RotatingFile::new(log));
        state.entries.push(Entry { id, queued: Vec::new(), file, dropped_lines: 0, closed: false });
        LogFile(Handle::Queued { id, shared: shared.clone() })
    }

    /// Runs `errand` on the thread; its result comes back with `ticket`
    /// from `take_done`. Err(Some(errand)) when there is no thread (the
    /// caller runs it itself), Err(None) when too many wait.
    pub fn run(&mut self, ticket: u64, errand: Errand) -> Result<(), Option<Errand>> {
        self.start();
        let Some(shared) = &self.shared else { return Err(Some(errand)) };
        let mut state = lock(shared);
        if state.errands.len() >= MAX_ERRANDS {
            return Err(None);
        }
        state.errands.push_back((ticket, errand));
        if state.asleep {
            state.asleep = false;
            drop(state);
            shared.work.notify_one();
        }
        Ok(())
    }

    /// `run` for an errand that needs the loop's descriptor `fd`: it gets a
    /// copy in the thread's own table (Err when it could not be sent), or,
    /// without a thread, a duplicate in the loop's.
    pub fn run_with<F>(&mut self, ticket: u64, fd: BorrowedFd, errand: F) -> Result<(), Option<Errand>>
    where
        F: FnOnce(std::io::Result<OwnedFd>) -> Box<dyn std::any::Any + Send> + Send + 'static,
    {
        self.start();
        let Some(shared) = &self.shared else {
            let copy = fd.try_clone_to_owned();
            return Err(Some(Box::new(move || errand(copy))));
        };
        // Sent only once the errand is sure to be queued: a copy left in the
        // socket would go to the next errand.
        if lock(shared).errands.len() >= MAX_ERRANDS {
            return Err(None);
        }
        let sent = crate::sys::fds::send_fd(shared.lend.as_fd(), fd);
        let receiver = shared.receiver;
        self.run(ticket, Box::new(move || errand(sent.and_then(|()| crate::sys::fds::receive_fd(receiver)))))
    }

    /// Results of the errands done since the last call, by ticket.
    pub fn take_done(&self) -> Vec<(u64, Box<dyn std::any::Any + Send>)> {
        self.shared.as_ref().map(|shared| std::mem::take(&mut lock(shared).done)).unwrap_or_default()
    }

    /// Before the loop waits: wakes the thread if a batch worth a wake-up
    /// is queued. True when less is: the caller wakes it with `wake_now`
    /// after `BATCH_DELAY` unless more comes first. A flood is handed over
    /// in batches of `BATCH` instead of one per read: on two cores every
    /// wake-up of the thread is paid for by the service and the loop.
    pub fn wake(&self) -> bool {
        let Some(shared) = &self.shared else { return false };
        let mut state = lock(shared);
        if !state.asleep || state.queued == 0 {
            return false;
        }
        if state.queued < BATCH {
            return true;
        }
        state.asleep = false;
        drop(state);
        shared.work.notify_one();
        false
    }

    /// The thread writes whatever is queued.
    pub fn wake_now(&self) {
        let Some(shared) = &self.shared else { return };
        let mut state = lock(shared);
        if state.asleep && state.queued > 0 {
            state.asleep = false;
            drop(state);
            shared.work.notify_one();
        }
    }

    /// The thread, unless it runs already or could not be started.
    fn start(&mut self) {
        if self.shared.is_some() || self.inline {
            return;
        }
        match start_thread() {
            Ok(shared) => self.shared = Some(shared),
            Err(e) => {
                warning!("log files, crash reports and reloads use the main loop: {e}");
                self.inline = true;
            }
        }
    }

    /// The descriptor the loop watches (readable: room again, warnings, errands done).
    pub fn fd(&self) -> Option<RawFd> {
        self.shared.as_ref().map(|shared| shared.wake_loop.as_raw_fd())
    }

    /// The thread woke the loop: says its warnings. The caller then lets the
    /// paused pipes read again (those still without room pause again).
    pub fn on_ready(&self) {
        let Some(shared) = &self.shared else { return };
        crate::sys::fds::drain_eventfd(shared.wake_loop.as_fd());
        let warnings = std::mem::take(&mut lock(shared).warnings);
        for line in warnings {
            warning!("{line}");
        }
    }

    /// Before warden exits: waits until `deadline` for the queues to be
    /// written; returns the lines that were not (a hung disk), now dropped.
    pub fn flush(&self, deadline: Instant) -> u64 {
        let Some(shared) = &self.shared else { return 0 };
        let mut state = lock(shared);
        state.flushing = true;
        if state.asleep && (state.queued > 0 || !state.errands.is_empty()) {
            state.asleep = false;
            shared.work.notify_one();
        }
        while state.queued > 0 || !state.errands.is_empty() || state.running {
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                break;
            };
            state = match shared.written.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let mut lost = state.writing_lines;
        let mut cleared = 0;
        for entry in &mut state.entries {
            lost += count_lines(&entry.queued);
            cleared += entry.queued.len();
            entry.queued.clear();
        }
        state.queued = state.queued.saturating_sub(cleared);
        state.flushing = false;
        lost
    }
}

impl LogFile {
    /// Appends whole records (each with its newline).
    pub fn write(&mut self, records: &[u8]) {
        self.take_back_if_local();
        match &mut self.0 {
            Handle::Inline(file) => {
                file.write(records);
                if let Some(line) = file.warning.take() {
                    warning!("{line}");
                }
            }
            Handle::Queued { id, shared } => {
                let mut state = lock(shared);
                let State { entries, spares, queued, .. } = &mut *state;
                let Some(entry) = entries.iter_mut().find(|e| e.id == *id) else { return };
                if entry.queued.capacity() == 0 {
                    entry.queued = spares.pop().unwrap_or_else(|| Vec::with_capacity(BUFFER));
                }
                entry.queued.extend_from_slice(records);
                *queued += records.len();
                // The loop wakes the thread before it waits (`wake`).
            }
        }
    }

    /// Once the thread has opened the file and found it on a local disk,
    /// with nothing left queued, the loop writes it itself: a write there
    /// waits only on this machine, and a flood is not handed between two
    /// threads (on two cores the third busy thread, the hand-overs, cost
    /// half the throughput).
    fn take_back_if_local(&mut self) {
        let Handle::Queued { id, shared } = &self.0 else { return };
        let mut state = lock(shared);
        let Some(index) = state
            .entries
            .iter()
            .position(|e| e.id == *id && e.queued.is_empty() && e.file.as_ref().is_some_and(|f| f.local))
        else {
            return;
        };
        let file = state.entries.remove(index).file;
        drop(state);
        if let Some(file) = file {
            self.0 = Handle::Inline(file);
        }
    }

    /// Whether more may be queued; when not, the thread wakes the loop once
    /// there is room again.
    pub fn has_room(&self) -> bool {
        match &self.0 {
            Handle::Inline(_) => true,
            Handle::Queued { shared, .. } => {
                let mut state = lock(shared);
                if state.queued < MAX_QUEUED {
                    return true;
                }
                state.room_wanted = true;
                false
            }
        }
    }

    /// Lines that could not be written.
    pub fn dropped_lines(&self) -> u64 {
        match &self.0 {
            Handle::Inline(file) => file.dropped_lines,
            Handle::Queued { id, shared } => {
                lock(shared).entries.iter().find(|e| e.id == *id).map_or(0, |e| e.dropped_lines)
            }
        }
    }
}

impl Drop for LogFile {
    /// The thread drops the entry (its file is open in the thread's table,
    /// and closing it there may wait on a hung mount), once it is written.
    fn drop(&mut self) {
        let Handle::Queued { id, shared } = &self.0 else { return };
        let mut state = lock(shared);
        let Some(entry) = state.entries.iter_mut().find(|e| e.id == *id) else { return };
        entry.closed = true;
        if state.asleep {
            state.asleep = false;
            drop(state);
            shared.work.notify_one();
        }
    }
}

fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

fn start_thread() -> Result<Arc<Shared>, String> {
    let wake_loop =
        crate::sys::fds::eventfd().map_err(|e| format!("cannot make an eventfd: {}", Reason(&e)))?;
    let (lend, receiver) =
        crate::sys::fds::fd_channel().map_err(|e| format!("cannot make a socket pair: {}", Reason(&e)))?;
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
        written: Condvar::new(),
        wake_loop,
        lend,
        receiver: receiver.as_raw_fd(),
    });
    let theirs = shared.clone();
    // Every signal stays blocked in the thread: it inherits the mask main set.
    std::thread::Builder::new()
        .name("disk".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            // Never dropped (the thread never returns): it is not closed in
            // the loop's table, where its number stays taken.
            let receiver = receiver;
            let keep = [theirs.wake_loop.as_raw_fd(), receiver.as_raw_fd()];
            if let Err(e) = crate::sys::fds::private_fd_table(&keep) {
                let mut state = lock(&theirs);
                state.warnings.push(format!(
                    "the disk thread shares warden's descriptors ({}): a mount that stops answering can hold up \
                     the start of services",
                    Reason(&e)
                ));
                drop(state);
                crate::sys::fds::signal_eventfd(theirs.wake_loop.as_fd());
            }
            write_forever(&theirs)
        })
        .map_err(|e| format!("cannot start the disk thread: {}", Reason(&e)))?;
    Ok(shared)
}

/// The next entry to write: one whose handle is gone first (a reload's new
/// file for the same path must come after the old one's last lines), then
/// round robin.
fn pick(state: &mut State) -> Option<usize> {
    let ready = |e: &Entry| !e.queued.is_empty() && e.file.is_some();
    if let Some(index) = state.entries.iter().position(|e| e.closed && ready(e)) {
        return Some(index);
    }
    let count = state.entries.len();
    let found =
        (0..count).map(|k| (state.cursor + k) % count).find(|&i| state.entries.get(i).is_some_and(ready))?;
    state.cursor = found + 1;
    Some(found)
}

fn write_forever(shared: &Shared) {
    let mut state = lock(shared);
    loop {
        if let Some((ticket, errand)) = state.errands.pop_front() {
            state.running = true;
            drop(state);
            let result = errand();
            state = lock(shared);
            state.running = false;
            state.done.push((ticket, result));
            crate::sys::fds::signal_eventfd(shared.wake_loop.as_fd());
            continue;
        }
        let Some(index) = pick(&mut state) else {
            // Entries whose handle is gone, written to the end: their files
            // close here, off the lock (a close may wait on a hung mount).
            if state.entries.iter().any(|e| e.closed && e.queued.is_empty() && e.file.is_some()) {
                let (done, kept) = std::mem::take(&mut state.entries)
                    .into_iter()
                    .partition(|e| e.closed && e.queued.is_empty() && e.file.is_some());
                state.entries = kept;
                drop(state);
                drop::<Vec<Entry>>(done);
                state = lock(shared);
                continue;
            }
            if state.flushing && state.queued == 0 && !state.running {
                shared.written.notify_all();
            }
            state.asleep = true;
            state = shared.work.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
            state.asleep = false;
            continue;
        };
        let Some(entry) = state.entries.get_mut(index) else { continue };
        let id = entry.id;
        let (Some(mut file), mut batch) = (entry.file.take(), std::mem::take(&mut entry.queued)) else {
            continue;
        };
        state.writing_lines = count_lines(&batch);
        drop(state);

        file.write(&batch);
        if file.local {
            // The loop takes it back and opens it in its own table.
            file.close();
        }
        let warning = file.warning.take();

        state = lock(shared);
        state.queued = state.queued.saturating_sub(batch.len());
        if let Some(position) = state.entries.iter().position(|e| e.id == id)
            && let Some(entry) = state.entries.get_mut(position)
        {
            entry.dropped_lines = file.dropped_lines;
            entry.file = Some(file);
            if entry.closed && entry.queued.is_empty() {
                state.entries.remove(position);
            }
        }
        let mut wake = false;
        if let Some(line) = warning
            && state.warnings.len() < MAX_WARNINGS
        {
            state.warnings.push(line);
            wake = true;
        }
        if state.room_wanted && state.queued < RESUME_BELOW {
            state.room_wanted = false;
            wake = true;
        }
        if wake {
            crate::sys::fds::signal_eventfd(shared.wake_loop.as_fd());
        }
        state.writing_lines = 0;
        if state.spares.len() < SPARE_BUFFERS {
            batch.clear();
            state.spares.push(batch);
        } else {
            // Freed without the lock (it may give memory back to the kernel).
            drop(state);
            drop(batch);
            state = lock(shared);
        }
    }
}

#[cfg(test)]
mod tests;
