//! Where warden's own cgroups are: read from `/proc/self/cgroup` and
//! `/proc/self/mountinfo`. The parsing is pure (text in, paths out); only
//! [`Place::find`] reads the two files.

use std::path::{Path, PathBuf};

/// The controllers warden uses, and in v1 the hierarchies it looks for.
pub const CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

/// warden's cgroups as the kernel shows them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Place {
    /// cgroup v2: the directory of warden's own cgroup, the controllers its
    /// parent gives it (`cgroup.controllers`), and whether the mount is writable.
    pub unified: Option<Unified>,
    /// cgroup v1: (controller, directory of warden's cgroup in its hierarchy,
    /// writable mount), for each of [`CONTROLLERS`] that is mounted.
    pub legacy: Vec<(&'static str, PathBuf, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unified {
    pub dir: PathBuf,
    pub controllers: Vec<String>,
    pub writable: bool,
}

/// One line of mountinfo that mounts a cgroup file system.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    /// The path inside the hierarchy that is mounted (a cgroup namespace's root shows as `/`).
    root: String,
    point: PathBuf,
    version2: bool,
    /// v1: the controllers of the hierarchy (from the super options).
    controllers: Vec<String>,
    read_only: bool,
}

impl Place {
    /// Reads the two files; a machine without them has no cgroups.
    pub fn find() -> Place {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut place = Place::parse(&cgroup, &mountinfo);
        if let Some(unified) = &mut place.unified {
            unified.controllers = std::fs::read_to_string(unified.dir.join("cgroup.controllers"))
                .map(|text| text.split_whitespace().map(String::from).collect())
                .unwrap_or_default();
            unified.writable &= writable(&unified.dir);
        }
        for (_, dir, ok) in &mut place.legacy {
            *ok = *ok && writable(dir);
        }
        place
    }

    /// The places named by `/proc/self/cgroup` (`cgroup`) under the mounts
    /// of `mountinfo`. v2's controllers are left for the caller to read.
    pub fn parse(cgroup: &str, mountinfo: &str) -> Place {
        let mounts: Vec<Mount> = mountinfo.lines().filter_map(mount).collect();
        let mut place = Place::default();
        for line in cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(names), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            if names.is_empty() {
                let found = mounts.iter().find(|m| m.version2 && path_under(path, &m.root).is_some());
                if let Some(m) = found
                    && let Some(relative) = path_under(path, &m.root)
                {
                    place.unified = Some(Unified {
                        dir: m.point.join(relative),
                        controllers: Vec::new(),
                        writable: !m.read_only,
                    });
                }
                continue;
            }
            for name in names.split(',') {
                let Some(controller) = CONTROLLERS.iter().find(|c| **c == name) else { continue };
                let found = mounts.iter().find(|m| {
                    !m.version2
                        && m.controllers.iter().any(|c| c == name)
                        && path_under(path, &m.root).is_some()
                });
                if let Some(m) = found
                    && let Some(relative) = path_under(path, &m.root)
                {
                    place.legacy.push((controller, m.point.join(relative), !m.read_only));
                }
            }
        }
        place
    }
}

/// `path` relative to `root` ("" for the root itself), if it lies under it.
fn path_under<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    if root == "/" {
        return Some(path.trim_start_matches('/'));
    }
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() || rest.starts_with('/') { Some(rest.trim_start_matches('/')) } else { None }
}

/// A mountinfo line: `ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS...] - TYPE SOURCE SUPER`.
fn mount(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let fields: Vec<&str> = left.split(' ').collect();
    let mut tail = right.split(' ');
    let kind = tail.next()?;
    let version2 = match kind {
        "cgroup2" => true,
        "cgroup" => false,
        _ => return None,
    };
    let supers = tail.nth(1).unwrap_or("");
    let options = fields.get(5)?;
    Some(Mount {
        root: unescape(fields.get(3)?),
        point: PathBuf::from(unescape(fields.get(4)?)),
        version2,
        controllers: supers.split(',').map(String::from).collect(),
        read_only: options.split(',').any(|o| o == "ro"),
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let code =
            bytes.get(i + 1..i + 4).filter(|d| b == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match code {
            Some(d) => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether warden may make cgroups under `dir`: its mount is writable (checked
/// by the caller) and the directory lets this user write.
fn writable(dir: &Path) -> bool {
    crate::sys::fs::may_write(dir)
}

#[cfg(test)]
mod tests;
