//! Crash reports: one JSON file per unexpected exit, written atomically (a
//! temporary file, then a rename) with mode 0600, in a directory of which only
//! the newest `keep` reports are kept. The loop makes a report's text
//! (`Report::saved`); the file calls (with an `fsync`) are made on the
//! disk thread (`crate::disk`), where a slow disk or a dead mount holds up
//! nothing else.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Tail;
use super::json::{quote, timestamp};
use crate::sys::reap::ExitStatus;

pub struct Report<'a> {
    pub service: &'a str,
    pub pid: Option<i32>,
    pub status: ExitStatus,
    pub uptime: Duration,
    pub restarts: u32,
    /// What warden does next: "restart in 2s", "failed".
    pub next: &'a str,
    pub reason: &'a str,
    pub command: &'a str,
    pub tail: &'a Tail,
    /// What the service used (its cgroup's figures; a watched tree's peak).
    pub usage: Option<crate::cgroups::Usage>,
    /// Its cgroup limits, as `memory 48M (cgroup v2)`.
    pub limits: &'a [String],
}

impl Report<'_> {
    pub fn to_json(&self, time: SystemTime) -> String {
        let (code, signal, core) = match self.status {
            ExitStatus::Exited(code) => (code.to_string(), "null".to_string(), false),
            ExitStatus::Signaled { signal, core_dumped } => {
                ("null".to_string(), quote(&crate::sys::signals::name(signal)), core_dumped)
            }
        };
        let output: Vec<String> = self
            .tail
            .lines()
            .iter()
            .map(|l| format!("{{\"stream\":\"{}\",\"line\":{}}}", l.stream.name(), quote(&l.text)))
            .collect();
        let usage = match self.usage {
            Some(u) => format!(
                "{{\"cpu_seconds\":{:.3},\"memory_peak_bytes\":{}}}",
                u.cpu_seconds,
                u.memory_peak.map_or("null".to_string(), |p| p.to_string())
            ),
            None => "null".into(),
        };
        let limits: Vec<String> = self.limits.iter().map(|l| quote(l)).collect();
        format!(
            "{{\"service\":{},\"time\":\"{}\",\"pid\":{},\"exit_code\":{code},\"signal\":{signal},\"core_dumped\":{core},\
             \"uptime_s\":{:.3},\"restarts\":{},\"next\":{},\"reason\":{},\"command\":{},\"usage\":{usage},\"limits\":[{}],\"output\":[{}]}}\n",
            quote(self.service),
            timestamp(time),
            self.pid.map_or("null".to_string(), |p| p.to_string()),
            self.uptime.as_secs_f64(),
            self.restarts,
            quote(self.next),
            quote(self.reason),
            quote(self.command),
            limits.join(","),
            output.join(",")
        )
    }
}

/// A report made, to be saved: where, and what.
pub struct Saved {
    pub dir: PathBuf,
    pub keep: usize,
    /// Names sort by time: 2026-11-23T20:00:00.123Z-web.json
    pub name: String,
    pub text: String,
}

impl Saved {
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }
}

impl Report<'_> {
    /// The report as it will be saved in `dir`, made now.
    pub fn saved(&self, dir: &Path, keep: usize) -> Saved {
        let now = SystemTime::now();
        Saved {
            dir: dir.to_path_buf(),
            keep,
            name: format!("{}-{}.json", timestamp(now), self.service),
            text: self.to_json(now),
        }
    }
}

/// Writes `report` into `dir` and removes the oldest reports beyond `keep`;
/// returns the report's path.
#[cfg(test)]
pub fn write(dir: &Path, keep: usize, report: &Report) -> std::io::Result<PathBuf> {
    save(&report.saved(dir, keep))
}

/// `save`, with what went wrong said as a warning says it.
pub fn save_or_say(report: &Saved) -> Result<PathBuf, String> {
    save(report).map_err(|e| {
        format!("cannot write a crash report in {}: {}", report.dir.display(), crate::sys::Reason(&e))
    })
}

/// Writes a report atomically and removes the oldest beyond its `keep`;
/// returns its path.
pub fn save(report: &Saved) -> std::io::Result<PathBuf> {
    let dir = report.dir.as_path();
    std::fs::create_dir_all(dir)?;
    let path = report.path();
    let temporary = dir.join(format!(".{}.tmp", report.name));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&temporary)?;
    let written = file.write_all(report.text.as_bytes()).and_then(|()| file.sync_data());
    drop(file);
    if let Err(e) = written.and_then(|()| std::fs::rename(&temporary, &path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    prune(dir, report.keep);
    Ok(path)
}

fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut reports: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    if reports.len() <= keep {
        return;
    }
    reports.sort();
    for old in reports.iter().take(reports.len() - keep) {
        let _ = std::fs::remove_file(old);
    }
}

#[cfg(test)]
mod tests;
