//! Process-wide facts and signalling: pids, the subreaper bit, the parent-death
//! signal, and finding one's descendants in `/proc`.

use std::collections::HashMap;
use std::io;

use super::retry;

pub fn pid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

pub fn parent_pid() -> i32 {
    // SAFETY: getppid cannot fail.
    unsafe { libc::getppid() }
}

/// Sends `signal` to `pid` (a process), `-pgid` (a group) or -1 (everyone but us).
/// ESRCH (already gone) is not an error: the target simply has nothing left to stop.
pub fn send(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill has no memory effects.
    match retry(|| unsafe { libc::kill(pid, signal) }) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other.map(drop),
    }
}

/// SIGKILL to the process group led by `pid` and to `pid` itself (which may
/// have left its group): the one way warden kills a child outright. Errors
/// other than "already gone" mean there is nothing more warden could do.
pub fn kill_group_and_leader(pid: i32) {
    let _ = send(-pid, libc::SIGKILL);
    let _ = send(pid, libc::SIGKILL);
}

/// Makes orphaned descendants re-parent to warden instead of the real init.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    retry(|| unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
}

/// Asks the kernel to send warden `signal` when its parent dies.
pub fn set_parent_death_signal(signal: i32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    retry(|| unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) }).map(drop)
}

/// Every live descendant of `root`, found by walking parent links in `/proc`.
///
/// Used only as a subreaper, where `kill(-1)` would hit processes that are not ours.
/// A process may exit between the walk and the signal; its pid cannot be reused
/// while it is a zombie child of ours, so only grandchildren carry that small race.
pub fn descendants(root: i32) -> io::Result<Vec<i32>> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        // A process that vanished during the walk simply has no entry.
        if let Some(parent) = std::fs::read(format!("/proc/{pid}/stat")).ok().and_then(|s| parent_of(&s)) {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        if let Some(kids) = children.remove(&pid) {
            queue.extend(&kids);
            found.extend(kids);
        }
    }
    Ok(found)
}

/// The ppid field of `/proc/PID/stat`: "pid (comm) state ppid ...", where comm may
/// itself contain spaces and parentheses, so parse from the last ')'.
fn parent_of(stat: &[u8]) -> Option<i32> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

#[cfg(test)]
mod tests;
