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

/// Whether the process group `pgid` has a member (signal 0 checks without
/// sending; EPERM means a member warden may not signal).
pub fn group_exists(pgid: i32) -> bool {
    // SAFETY: kill with signal 0 has no effect and no memory effects.
    match retry(|| unsafe { libc::kill(-pgid, 0) }) {
        Ok(_) => true,
        Err(e) => e.raw_os_error() == Some(libc::EPERM),
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

/// `pid`'s name and state letter, from `/proc/PID/stat` ("12 (sh) D ...",
/// where the name may hold spaces and parentheses).
pub fn name_and_state(pid: i32) -> Option<(String, char)> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let name = String::from_utf8_lossy(stat.get(open + 1..close)?).into_owned();
    let state = char::from(*stat.get(close + 2)?);
    Some((name, state))
}

/// warden's own children (every thread's), from `/proc/self/task/*/children`.
pub fn own_children() -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        let path = task.path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            children.extend(text.split_ascii_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    children
}

/// `pid`'s session and when it started (in clock ticks since boot): fields
/// 6 and 22 of its stat.
pub fn session_and_start(pid: i32) -> Option<(i32, u64)> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    // After "(comm)": state is field 3, so session (6) is the 4th and
    // starttime (22) the 20th.
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    Some((fields.get(3)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// Now, in the clock ticks `start_ticks` counts: CLOCK_BOOTTIME through the
/// vDSO, so no system call.
pub fn boot_ticks_now() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_BOOTTIME exists on
    // every kernel warden supports.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) };
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100).max(1);
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    seconds * hz + nanos * hz / 1_000_000_000
}

#[cfg(test)]
mod tests;

/// warden's own use of the machine, from `/proc/self` (the `process_*`
/// metrics). Zero where a file cannot be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub start_time_seconds: f64,
    pub open_fds: u64,
    pub max_fds: u64,
}

pub fn own_usage() -> Usage {
    // USER_HZ: the unit of /proc's times, 100 on every Linux ABI.
    const TICKS: f64 = 100.0;
    let mut usage = Usage::default();
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        let fields = stat_fields(&stat);
        let field = |n: usize| fields.get(n.wrapping_sub(3)).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        usage.cpu_seconds = (field(14) + field(15)) as f64 / TICKS;
        usage.virtual_bytes = field(23);
        usage.resident_bytes = field(24) * page_size();
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse::<u64>().ok()))
            .unwrap_or(0);
        usage.start_time_seconds = boot as f64 + field(22) as f64 / TICKS;
    }
    usage.open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    usage.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    usage
}

/// The fields of a `/proc/PID/stat` line from the state (field 3) on: the
/// command name before them may hold spaces and parentheses.
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect()
}

/// The size of a memory page (the unit of `/proc`'s resident counts).
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// Whether warden runs as root (effective uid 0).
pub fn is_root() -> bool {
    effective_uid() == 0
}

/// The capability to signal any process (linux/capability.h).
pub const CAP_KILL: u32 = 5;

/// warden's effective uid.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether warden's effective capabilities hold `capability` (a number, as
/// `CAP_KILL` = 5), from `/proc/self/status`; None where it cannot be read.
pub fn has_capability(capability: u32) -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mask = status.lines().find_map(|line| line.strip_prefix("CapEff:"))?;
    let mask = u64::from_str_radix(mask.trim(), 16).ok()?;
    Some(mask.checked_shr(capability).is_some_and(|bits| bits & 1 == 1))
}

/// warden's own hard limit for `resource`; None if it cannot be read.
pub fn hard_limit(resource: i32) -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid, writable rlimit; the resource number is
    // checked by the kernel (EINVAL for an unknown one).
    let done = unsafe { libc::getrlimit(resource as _, &mut limit) };
    (done == 0).then_some(limit.rlim_max)
}

/// CPUs online on this machine (at least 1).
pub fn cpu_count() -> u32 {
    // SAFETY: sysconf takes an integer and reads no memory of ours.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u32::try_from(online).unwrap_or(1).max(1)
}
