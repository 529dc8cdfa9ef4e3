//! File probes without a file-system call on the loop: `stat` can hang for
//! minutes on a dead network mount, and PID 1 must not hang with it. The
//! checks run on one helper thread, started at the first file probe (a
//! warden without file probes has no thread); results come back through a
//! channel, and an eventfd in the loop says when there are some.
//!
//! A check that hangs holds up only the checks queued behind it: each probe
//! still fails at its own timeout in the loop, and a late result is ignored
//! by the caller (its ticket is no longer awaited). The queue is bounded:
//! past `MAX_QUEUED` waiting checks a new one fails at once.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use super::Outcome;
use crate::sys::Reason;

/// Checks waiting for the helper thread at most.
const MAX_QUEUED: usize = 256;

struct Request {
    ticket: u64,
    path: PathBuf,
}

struct Helper {
    requests: SyncSender<Request>,
    results: Receiver<(u64, Outcome)>,
    /// Readable when results wait.
    ready: OwnedFd,
}

#[derive(Default)]
pub struct PathChecks {
    helper: Option<Helper>,
}

impl PathChecks {
    /// Asks whether `path` exists (like `test -e`: a symlink counts if what
    /// it points to exists). Ok(()) when the question is on its way (the
    /// answer comes with `ticket` from `results`), or the outcome at once
    /// when it could not be asked.
    pub fn ask(&mut self, ticket: u64, path: PathBuf) -> Result<(), Outcome> {
        let helper = match &self.helper {
            Some(helper) => helper,
            None => {
                self.helper = Some(start_helper().map_err(Err)?);
                self.helper.as_ref().ok_or_else(|| Err("no helper thread".to_string()))?
            }
        };
        match helper.requests.try_send(Request { ticket, path }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(request)) => Err(Err(format!(
                "{}: not checked: {MAX_QUEUED} file checks are still waiting (a mount that does not answer?)",
                request.path.display()
            ))),
            Err(TrySendError::Disconnected(_)) => {
                self.helper = None;
                Err(Err("the file-check thread is gone".into()))
            }
        }
    }

    /// The fd to watch for results, once the helper runs.
    pub fn fd(&self) -> Option<RawFd> {
        self.helper.as_ref().map(|h| h.ready.as_raw_fd())
    }

    /// Every result that has arrived.
    pub fn results(&mut self) -> Vec<(u64, Outcome)> {
        let Some(helper) = &self.helper else { return Vec::new() };
        crate::sys::fds::drain_eventfd(helper.ready.as_fd());
        helper.results.try_iter().collect()
    }
}

fn start_helper() -> Result<Helper, String> {
    let ready = crate::sys::fds::eventfd().map_err(|e| format!("cannot make an eventfd: {}", Reason(&e)))?;
    let notify = ready.try_clone().map_err(|e| format!("cannot duplicate the eventfd: {}", Reason(&e)))?;
    let (requests, queue) = sync_channel::<Request>(MAX_QUEUED);
    let (answers, results) = sync_channel::<(u64, Outcome)>(MAX_QUEUED);
    // Every signal stays blocked in the thread: it inherits the mask main set.
    std::thread::Builder::new()
        .name("file-checks".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            for request in queue {
                let outcome = match std::fs::metadata(&request.path) {
                    Ok(_) => Ok(()),
                    Err(e) => Err(format!("{}: {}", request.path.display(), Reason(&e))),
                };
                // Full: the loop is far behind; the answer would be stale anyway.
                let _ = answers.try_send((request.ticket, outcome));
                crate::sys::fds::signal_eventfd(notify.as_fd());
            }
        })
        .map_err(|e| format!("cannot start the file-check thread: {}", Reason(&e)))?;
    Ok(Helper { requests, results, ready })
}
