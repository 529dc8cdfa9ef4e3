//! Services' cgroups: what this machine offers, one cgroup per service,
//! its limits written, its accounting read, its whole tree ended.
//!
//! - **cgroup v2, delegated**: warden moves itself into a leaf of its own
//!   cgroup (`warden`; a cgroup with children may hold no process), enables
//!   the controllers in `cgroup.subtree_control`, and gives every service a
//!   sibling cgroup, `NAME.service`.
//! - **cgroup v1** with writable hierarchies: services with limits get a
//!   cgroup `NAME.service` in each hierarchy (memory, cpu, cpuacct, pids)
//!   under a directory of this warden's, `warden-ID`, removed at exit.
//! - **Neither**: no cgroup; a memory limit is watched by warden itself
//!   (`procfs`), cpus and pids cannot be enforced and warden says so.
//!
//! cgroupfs and procfs live in kernel memory: their reads and writes do not
//! wait on a disk or a network, so the loop may make them.

pub mod place;
pub mod procfs;

use std::cell::Cell;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::config::{CgroupMode, Resources};
use crate::sys::Reason;
use place::Place;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// How one limit is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    Cgroup(Version),
    /// warden reads the tree's memory every `limits_period` (memory only).
    Watched,
    NotEnforced,
}

impl Enforcement {
    pub fn text(self) -> &'static str {
        match self {
            Enforcement::Cgroup(Version::V2) => "cgroup v2",
            Enforcement::Cgroup(Version::V1) => "cgroup v1",
            Enforcement::Watched => "watched",
            Enforcement::NotEnforced => "not enforced",
        }
    }
}

/// What a service uses, from its cgroup or its tree in /proc.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    pub cpu_seconds: f64,
    /// Bytes: the cgroup's charge, or the tree's resident memory.
    pub memory: u64,
    /// Bytes, where known: the cgroup's high-water mark, or the highest a
    /// watched tree was seen at.
    pub memory_peak: Option<u64>,
    pub processes: u64,
}

/// What this machine lets warden do, decided before anything is made: the
/// runtime sets up from it, `warden validate` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub version: Option<Version>,
    pub memory: bool,
    pub cpu: bool,
    pub pids: bool,
    /// Without a version: why not, and how to give warden a cgroup.
    pub why_not: String,
    place: Place,
}

/// Why there is no cgroup when the config says so.
pub const OFF: &str = "cgroups: off";

/// How to give warden a cgroup it can write, for the messages that need it.
pub const HOW_TO_DELEGATE: &str = "give warden a writable cgroup: `docker run --privileged --cgroupns=private`, \
     `podman run --cgroupns=private`, or systemd's Delegate=yes (docs/limits.md)";

impl Offer {
    pub fn of_this_machine(mode: CgroupMode) -> Offer {
        Offer::of(Place::find(), mode)
    }

    pub fn of(place: Place, mode: CgroupMode) -> Offer {
        let none = |why: String, place: Place| Offer {
            version: None,
            memory: false,
            cpu: false,
            pids: false,
            why_not: why,
            place,
        };
        if mode == CgroupMode::Off {
            return none(OFF.into(), place);
        }
        if let Some(unified) = &place.unified
            && ["memory", "cpu", "pids"].iter().any(|c| unified.controllers.iter().any(|have| have == c))
        {
            if !unified.writable {
                return none(format!("{} is not writable", unified.dir.display()), place);
            }
            let has = |c: &str| unified.controllers.iter().any(|have| have == c);
            return Offer {
                version: Some(Version::V2),
                memory: has("memory"),
                cpu: has("cpu"),
                pids: has("pids"),
                why_not: String::new(),
                place,
            };
        }
        let writable = |c: &str| place.legacy.iter().any(|(name, _, ok)| *name == c && *ok);
        let (memory, cpu, pids) = (writable("memory"), writable("cpu"), writable("pids"));
        if memory || cpu || pids {
            return Offer { version: Some(Version::V1), memory, cpu, pids, why_not: String::new(), place };
        }
        let why = match place.legacy.first() {
            Some((_, dir, _)) => format!("the cgroup v1 hierarchies ({}) are not writable", dir.display()),
            None if place.unified.is_some() => "the cgroup v2 hierarchy has no controllers for warden".into(),
            None => "no cgroup file system is mounted".into(),
        };
        none(why, place)
    }

    /// The same machine when making cgroups failed (`why`): memory is
    /// watched, the rest not enforced.
    pub fn without_cgroups(&self, why: &str) -> Offer {
        Offer {
            version: None,
            memory: false,
            cpu: false,
            pids: false,
            why_not: why.to_string(),
            place: self.place.clone(),
        }
    }

    /// How each limit of `resources` is enforced here: (key, enforcement).
    pub fn enforcement(&self, resources: &Resources) -> Vec<(&'static str, Enforcement)> {
        let mut out = Vec::new();
        let via = |available: bool| match self.version {
            Some(version) if available => Enforcement::Cgroup(version),
            _ => Enforcement::NotEnforced,
        };
        if resources.memory.is_some() {
            out.push(("memory", if self.memory { via(true) } else { Enforcement::Watched }));
        }
        if resources.memory_high.is_some() {
            // v1 has no throttle point (its soft limit only steers reclaim).
            out.push(("memory_high", via(self.memory && self.version == Some(Version::V2))));
        }
        if resources.cpus.is_some() {
            out.push(("cpus", via(self.cpu)));
        }
        if resources.pids.is_some() {
            out.push(("pids", via(self.pids)));
        }
        out
    }

    /// Whether a service with these limits gets a cgroup: every service
    /// under v2, those with limits a cgroup enforces under v1.
    pub fn wants_group(&self, resources: &Resources) -> bool {
        match self.version {
            Some(Version::V2) => true,
            Some(Version::V1) => {
                self.enforcement(resources).iter().any(|(_, how)| matches!(how, Enforcement::Cgroup(_)))
            }
            None => false,
        }
    }

    /// warden's own memory cgroup's OOM counter and limit, readable even
    /// where nothing is writable: in a container started with `--memory`,
    /// the kernel's kills there are how a service's SIGKILL is told apart.
    pub fn own_memory(&self) -> Option<OwnMemory> {
        let (events, limit) = match &self.place.unified {
            Some(u) if u.controllers.iter().any(|c| c == "memory") => {
                (u.dir.join("memory.events"), u.dir.join("memory.max"))
            }
            _ => {
                let (_, dir, _) = self.place.legacy.iter().find(|(c, _, _)| *c == "memory")?;
                (dir.join("memory.oom_control"), dir.join("memory.limit_in_bytes"))
            }
        };
        let limit = read_number(&limit).filter(|l| *l < 1 << 60);
        let own = OwnMemory { events, limit, seen: Cell::new(0) };
        own.seen.set(oom_kills_in(&own.events)?);
        Some(own)
    }
}

/// The container's (warden's own) memory cgroup, for telling OOM kills.
#[derive(Debug)]
pub struct OwnMemory {
    events: PathBuf,
    pub limit: Option<u64>,
    seen: Cell<u64>,
}

impl OwnMemory {
    /// Whether the kernel OOM-killed something here since last asked.
    pub fn killed_since(&self) -> bool {
        let now = oom_kills_in(&self.events).unwrap_or(0);
        let before = self.seen.replace(now.max(self.seen.get()));
        now > before
    }
}

/// The cgroups warden made for its services.
#[derive(Debug)]
pub struct Cgroups {
    pub offer: Offer,
    version: Version,
    /// Where services' cgroups go: v2 one parent; v1 one per controller
    /// (the same directory where hierarchies are mounted together).
    parents: Vec<(&'static str, PathBuf)>,
    /// v1: the directories made for this warden, removed at exit.
    made: Vec<PathBuf>,
}

impl Cgroups {
    /// Makes warden's cgroups from what `offer` says is possible; Err says
    /// why not (then no limit is enforced through a cgroup).
    pub fn set_up(offer: Offer) -> Result<Cgroups, String> {
        match offer.version {
            Some(Version::V2) => Cgroups::set_up_v2(offer),
            Some(Version::V1) => Cgroups::set_up_v1(offer),
            None => Err(offer.why_not.clone()),
        }
    }

    fn set_up_v2(offer: Offer) -> Result<Cgroups, String> {
        let Some(unified) = offer.place.unified.clone() else { return Err("no cgroup v2".into()) };
        let dir = unified.dir;
        let leaf = dir.join("warden");
        make_dir(&leaf).map_err(|e| format!("cannot make {}: {}", leaf.display(), Reason(&e)))?;
        let own = crate::sys::process::pid().to_string();
        write_file(&leaf.join("cgroup.procs"), &own)
            .map_err(|e| format!("cannot move warden into {}: {}", leaf.display(), Reason(&e)))?;
        let wanted: Vec<String> = ["memory", "cpu", "pids"]
            .iter()
            .filter(|c| unified.controllers.iter().any(|have| have == *c))
            .map(|c| format!("+{c}"))
            .collect();
        let control = dir.join("cgroup.subtree_control");
        let mut enabled = write_file(&control, &wanted.join(" "));
        if matches!(&enabled, Err(e) if e.raw_os_error() == Some(libc::EBUSY)) {
            // Other processes share warden's cgroup (a `docker exec` before
            // it started): they move into the leaf too, then the controllers.
            for pid in read_pids(&dir.join("cgroup.procs")) {
                let _ = write_file(&leaf.join("cgroup.procs"), &pid.to_string());
            }
            enabled = write_file(&control, &wanted.join(" "));
        }
        enabled.map_err(|e| {
            format!("cannot enable {} in {}: {}", wanted.join(" "), control.display(), Reason(&e))
        })?;
        Ok(Cgroups { offer, version: Version::V2, parents: vec![("", dir)], made: Vec::new() })
    }

    fn set_up_v1(offer: Offer) -> Result<Cgroups, String> {
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(crate::sys::process::pid().unsigned_abs());
        let name = format!("warden-{unique:x}");
        let mut parents = Vec::new();
        let mut made: Vec<PathBuf> = Vec::new();
        for (controller, dir, writable) in &offer.place.legacy {
            if !writable {
                continue;
            }
            let base = dir.join(&name);
            if !made.contains(&base) {
                if let Err(e) = make_dir(&base) {
                    crate::logger::warning!("cannot make {}: {}", base.display(), Reason(&e));
                    continue;
                }
                made.push(base.clone());
            }
            parents.push((*controller, base));
        }
        if parents.is_empty() {
            return Err("no cgroup v1 hierarchy could be written".into());
        }
        Ok(Cgroups { offer, version: Version::V1, parents, made })
    }

    /// The cgroup of the service `name`, made if it is not there yet.
    pub fn group(&self, name: &str) -> io::Result<Group> {
        let leaf = format!("{name}.service");
        let mut dirs: Vec<(&'static str, PathBuf)> = Vec::new();
        for (controller, parent) in &self.parents {
            let dir = parent.join(&leaf);
            if !dirs.iter().any(|(_, d)| *d == dir) {
                make_dir(&dir)?;
            }
            dirs.push((controller, dir));
        }
        let group = Group { version: self.version, dirs, oom_seen: Cell::new(0), oom_noted: Cell::new(0) };
        let kills = group.oom_kills().unwrap_or(0);
        group.oom_seen.set(kills);
        group.oom_noted.set(kills);
        Ok(group)
    }

    /// At exit: the directories made for this warden (v1), once empty.
    pub fn remove(&self) {
        for dir in &self.made {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        let _ = std::fs::remove_dir(entry.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// One service's cgroup (one directory per hierarchy under v1).
#[derive(Debug)]
pub struct Group {
    pub version: Version,
    /// (controller, directory); under v2 one entry for all.
    dirs: Vec<(&'static str, PathBuf)>,
    /// OOM kills counted so far, so a new one is noticed: by the exit
    /// that it caused (`oom_seen`), and as it happens (`oom_noted`).
    oom_seen: Cell<u64>,
    oom_noted: Cell<u64>,
}

impl Group {
    fn dir(&self, controller: &str) -> Option<&Path> {
        match self.version {
            Version::V2 => self.dirs.first(),
            Version::V1 => self.dirs.iter().find(|(c, _)| *c == controller),
        }
        .map(|(_, d)| d.as_path())
    }

    /// Where the process list is read: any hierarchy holds them all.
    fn primary(&self) -> Option<&Path> {
        self.dirs.first().map(|(_, d)| d.as_path())
    }

    /// Writes the limits (a limit not set is lifted): the problems, each
    /// naming its file.
    pub fn apply(&self, resources: &Resources) -> Vec<String> {
        const PERIOD_US: u64 = 100_000;
        let mut problems = Vec::new();
        let quota = resources.cpus.map(|millis| u64::from(millis) * PERIOD_US / 1000);
        let mut set = |controller: &str, file: &str, value: String| {
            if let Some(dir) = self.dir(controller) {
                let path = dir.join(file);
                if let Err(e) = write_file(&path, &value) {
                    problems.push(format!("{}: {}", path.display(), Reason(&e)));
                }
            }
        };
        let v2 = |value: Option<u64>| value.map_or("max".into(), |v| v.to_string());
        match self.version {
            Version::V2 => {
                set("memory", "memory.max", v2(resources.memory));
                set("memory", "memory.high", v2(resources.memory_high));
                set("cpu", "cpu.max", format!("{} {PERIOD_US}", v2(quota)));
                set("pids", "pids.max", v2(resources.pids));
            }
            Version::V1 => {
                let v1 = |value: Option<u64>| value.map_or("-1".into(), |v| v.to_string());
                set("memory", "memory.limit_in_bytes", v1(resources.memory));
                set("cpu", "cpu.cfs_period_us", PERIOD_US.to_string());
                set("cpu", "cpu.cfs_quota_us", v1(quota));
                set("pids", "pids.max", v2(resources.pids));
            }
        }
        problems
    }

    /// `cgroup.procs` of each directory, open for the child to write itself into.
    pub fn open_procs(&self) -> io::Result<Vec<OwnedFd>> {
        let mut files = Vec::new();
        let mut seen: Vec<&Path> = Vec::new();
        for (_, dir) in &self.dirs {
            if seen.contains(&dir.as_path()) {
                continue;
            }
            seen.push(dir);
            let file = OpenOptions::new().write(true).open(dir.join("cgroup.procs"))?;
            files.push(OwnedFd::from(file));
        }
        Ok(files)
    }

    /// Makes its directories again (someone removed them under warden)
    /// and writes the limits again: the problems, as `apply`'s.
    pub fn restore(&self, resources: &Resources) -> io::Result<Vec<String>> {
        for (_, dir) in &self.dirs {
            make_dir(dir)?;
        }
        Ok(self.apply(resources))
    }

    /// The processes in it now.
    pub fn processes(&self) -> Vec<i32> {
        self.primary().map(|d| read_pids(&d.join("cgroup.procs"))).unwrap_or_default()
    }

    /// SIGKILL to every process in it: `cgroup.kill` where the kernel has
    /// it (atomic, also against forks), else each listed process.
    pub fn kill(&self) {
        if self.version == Version::V2
            && let Some(dir) = self.primary()
            && write_file(&dir.join("cgroup.kill"), "1").is_ok()
        {
            return;
        }
        self.signal(libc::SIGKILL);
    }

    /// `signal` to every process in it.
    pub fn signal(&self, signal: i32) {
        for pid in self.processes() {
            let _ = crate::sys::process::send(pid, signal);
        }
    }

    /// The kernel's OOM kills in it, all told.
    fn oom_kills(&self) -> Option<u64> {
        let dir = self.dir("memory")?;
        let file = match self.version {
            Version::V2 => dir.join("memory.events"),
            Version::V1 => dir.join("memory.oom_control"),
        };
        oom_kills_in(&file)
    }

    /// The file whose changes the kernel announces through inotify when
    /// it OOM-kills in it (cgroup v2's `memory.events`).
    pub fn memory_events(&self) -> Option<PathBuf> {
        (self.version == Version::V2).then(|| self.dir("memory").map(|d| d.join("memory.events")))?
    }

    /// OOM kills in it since this was last asked (for the live notice).
    pub fn oom_kills_noted(&self) -> u64 {
        let now = self.oom_kills().unwrap_or(0);
        now.saturating_sub(self.oom_noted.replace(now.max(self.oom_noted.get())))
    }

    /// Whether the kernel OOM-killed a process in it since last asked.
    pub fn oom_killed_since(&self) -> bool {
        let Some(now) = self.oom_kills() else { return false };
        now > self.oom_seen.replace(now)
    }

    /// Its accounting, read now.
    pub fn usage(&self) -> Usage {
        let read =
            |controller: &str, file: &str| self.dir(controller).and_then(|d| read_number(&d.join(file)));
        let processes = self.processes().len() as u64;
        match self.version {
            Version::V2 => {
                let cpu = self.primary().and_then(|d| {
                    let text = std::fs::read_to_string(d.join("cpu.stat")).ok()?;
                    text.lines().find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse::<u64>().ok())
                });
                Usage {
                    cpu_seconds: cpu.unwrap_or(0) as f64 / 1e6,
                    memory: read("memory", "memory.current").unwrap_or(0),
                    memory_peak: read("memory", "memory.peak"),
                    processes,
                }
            }
            Version::V1 => Usage {
                cpu_seconds: read("cpuacct", "cpuacct.usage").unwrap_or(0) as f64 / 1e9,
                memory: read("memory", "memory.usage_in_bytes").unwrap_or(0),
                memory_peak: read("memory", "memory.max_usage_in_bytes"),
                processes,
            },
        }
    }

    /// Removes it (once empty); a service that ran there leaves nothing behind.
    pub fn remove(&self) {
        for (_, dir) in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn make_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// One write of `value`, as cgroupfs wants it (never creating the file).
fn write_file(path: &Path, value: &str) -> io::Result<()> {
    OpenOptions::new().write(true).truncate(true).open(path)?.write_all(value.as_bytes())
}

fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .map(|text| text.split_ascii_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// The `oom_kill N` line of memory.events (v2) or memory.oom_control (v1).
fn oom_kills_in(file: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
}

/// A size as people write it in the config: `500M`, `1G`, `1536K`.
pub fn size_text(bytes: u64) -> String {
    for (unit, shift) in [("G", 30), ("M", 20), ("K", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    if bytes >= 1 << 20 {
        return format!("{:.1}M", bytes as f64 / f64::from(1 << 20));
    }
    bytes.to_string()
}

/// Thousandths of a CPU as written: `0.5`, `2`.
pub fn cpus_text(millis: u32) -> String {
    let text = format!("{}.{:03}", millis / 1000, millis % 1000);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The limits of `resources` as `memory 500M, cpus 2` (with how each is
/// enforced when `how` is given).
pub fn limits_text(resources: &Resources, how: Option<&[(&'static str, Enforcement)]>) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |key: &'static str, value: Option<String>| {
        if let Some(value) = value {
            let enforced = how.and_then(|h| h.iter().find(|(k, _)| *k == key)).map(|(_, e)| e.text());
            out.push(match enforced {
                Some(e) => format!("{key} {value} ({e})"),
                None => format!("{key} {value}"),
            });
        }
    };
    push("memory", resources.memory.map(size_text));
    push("memory_high", resources.memory_high.map(size_text));
    push("cpus", resources.cpus.map(cpus_text));
    push("pids", resources.pids.map(|p| p.to_string()));
    out
}

#[cfg(test)]
mod tests;
