//! A service's processes without a cgroup: its tree read from `/proc`.
//!
//! warden starts every service as the leader of a session of its own, so
//! what the service starts stays in that session unless it calls `setsid`;
//! such a process is still found while its parent chain leads to the
//! service's program. Read only when asked (status, metrics) or, for a
//! watched memory limit, once per `limits_period` while such a service runs.

use std::collections::HashMap;

use super::Usage;

/// One process, as much of its `/proc/PID/stat` as the accounting needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    pub pid: i32,
    pub parent: i32,
    /// Its process group.
    pub group: i32,
    pub session: i32,
    pub resident_pages: u64,
    /// User and system time, in clock ticks.
    pub cpu_ticks: u64,
}

/// Every process warden can see now.
pub fn snapshot() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        // One that ended during the walk has no entry any more.
        if let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat"))
            && let Some(process) = parse_stat(pid, &stat)
        {
            found.push(process);
        }
    }
    found
}

/// The fields of a stat line after the command name (which may hold spaces
/// and parentheses, so the last ')' ends it).
pub fn parse_stat(pid: i32, stat: &[u8]) -> Option<Process> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 (state) of proc(5).
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<i64>().ok());
    Some(Process {
        pid,
        parent: i32::try_from(field(4)?).ok()?,
        group: i32::try_from(field(5)?).ok()?,
        session: i32::try_from(field(6)?).ok()?,
        resident_pages: u64::try_from(field(24)?).unwrap_or(0),
        cpu_ticks: u64::try_from(field(14)? + field(15)?).unwrap_or(0),
    })
}

/// The processes of the service whose program is `leader`: its session,
/// and every descendant of the leader.
pub fn tree(leader: i32, all: &[Process]) -> Vec<Process> {
    let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
    for (index, process) in all.iter().enumerate() {
        children.entry(process.parent).or_default().push(index);
    }
    let mut member = vec![false; all.len()];
    let mut queue: Vec<usize> = Vec::new();
    for (index, process) in all.iter().enumerate() {
        if process.pid == leader || process.session == leader {
            queue.push(index);
        }
    }
    while let Some(index) = queue.pop() {
        let Some(seen) = member.get_mut(index) else { continue };
        if *seen {
            continue;
        }
        *seen = true;
        if let Some(process) = all.get(index)
            && let Some(kids) = children.get(&process.pid)
        {
            queue.extend(kids);
        }
    }
    all.iter().zip(member).filter(|(_, m)| *m).map(|(p, _)| *p).collect()
}

/// What a tree uses: resident memory, CPU time of the processes alive now
/// (not of those that ended), and how many there are.
pub fn usage(tree: &[Process]) -> Usage {
    // USER_HZ, the unit of /proc's times: 100 on every Linux ABI.
    const TICKS: f64 = 100.0;
    let page = crate::sys::process::page_size();
    Usage {
        cpu_seconds: tree.iter().map(|p| p.cpu_ticks).sum::<u64>() as f64 / TICKS,
        memory: tree.iter().map(|p| p.resident_pages).sum::<u64>() * page,
        memory_peak: None,
        processes: tree.len() as u64,
    }
}

#[cfg(test)]
mod tests;
