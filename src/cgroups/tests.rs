use super::*;
use place::Unified;

fn unified(controllers: &[&str], writable: bool) -> Place {
    Place {
        unified: Some(Unified {
            dir: PathBuf::from("/sys/fs/cgroup"),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            writable,
        }),
        legacy: Vec::new(),
    }
}

fn every_limit() -> Resources {
    Resources { memory: Some(500 << 20), memory_high: Some(400 << 20), cpus: Some(1500), pids: Some(256) }
}

#[test]
fn a_delegated_v2_cgroup_enforces_everything() {
    let offer = Offer::of(unified(&["cpuset", "cpu", "io", "memory", "pids"], true), CgroupMode::Auto);
    assert_eq!(offer.version, Some(Version::V2));
    let how = offer.enforcement(&every_limit());
    assert!(how.iter().all(|(_, e)| *e == Enforcement::Cgroup(Version::V2)), "{how:?}");
    assert!(offer.wants_group(&Resources::default()), "v2 gives every service a cgroup");
}

#[test]
fn a_read_only_cgroup_leaves_memory_watched_and_the_rest_unenforced() {
    let offer = Offer::of(unified(&["cpu", "memory", "pids"], false), CgroupMode::Auto);
    assert_eq!(offer.version, None);
    assert!(offer.why_not.contains("not writable"), "{}", offer.why_not);
    let how = offer.enforcement(&every_limit());
    assert_eq!(
        how,
        vec![
            ("memory", Enforcement::Watched),
            ("memory_high", Enforcement::NotEnforced),
            ("cpus", Enforcement::NotEnforced),
            ("pids", Enforcement::NotEnforced),
        ]
    );
    assert!(!offer.wants_group(&every_limit()));
}

#[test]
fn v1_enforces_what_its_hierarchies_allow_and_only_limited_services_get_cgroups() {
    let place = Place {
        unified: Some(Unified {
            dir: "/sys/fs/cgroup/unified".into(),
            controllers: Vec::new(),
            writable: true,
        }),
        legacy: vec![
            ("memory", PathBuf::from("/sys/fs/cgroup/memory/a"), true),
            ("cpu", PathBuf::from("/sys/fs/cgroup/cpu"), true),
            ("pids", PathBuf::from("/sys/fs/cgroup/pids"), false),
        ],
    };
    let offer = Offer::of(place, CgroupMode::Auto);
    assert_eq!(offer.version, Some(Version::V1));
    let how = offer.enforcement(&every_limit());
    assert_eq!(
        how,
        vec![
            ("memory", Enforcement::Cgroup(Version::V1)),
            ("memory_high", Enforcement::NotEnforced),
            ("cpus", Enforcement::Cgroup(Version::V1)),
            ("pids", Enforcement::NotEnforced),
        ]
    );
    assert!(offer.wants_group(&every_limit()));
    assert!(!offer.wants_group(&Resources::default()));
    let pids_only = Resources { pids: Some(5), ..Resources::default() };
    assert!(!offer.wants_group(&pids_only), "a cgroup that enforces nothing of it is not made");
}

#[test]
fn cgroups_off_touches_nothing() {
    let offer = Offer::of(unified(&["memory"], true), CgroupMode::Off);
    assert_eq!(offer.version, None);
    assert_eq!(offer.enforcement(&every_limit()).first(), Some(&("memory", Enforcement::Watched)));
}

#[test]
fn values_read_as_they_were_written() {
    assert_eq!(size_text(500 << 20), "500M");
    assert_eq!(size_text(1 << 30), "1G");
    assert_eq!(size_text(1536 << 10), "1536K");
    assert_eq!(size_text((3 << 20) + 1), "3.0M");
    assert_eq!(cpus_text(500), "0.5");
    assert_eq!(cpus_text(2000), "2");
    assert_eq!(cpus_text(1250), "1.25");
    let how = [("memory", Enforcement::Watched)];
    assert_eq!(
        limits_text(&every_limit(), Some(&how)),
        ["memory 500M (watched)", "memory_high 400M", "cpus 1.5", "pids 256"]
    );
}

/// A directory laid out like a cgroup, with the files warden writes.
fn fake_group(version: Version, files: &[&str]) -> (PathBuf, Group) {
    // One directory per call: `cargo test` runs the tests as threads of one process.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("warden-cgroup-test-{}-{call}-{:?}", std::process::id(), version));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in files {
        std::fs::write(dir.join(file), "").unwrap();
    }
    let dirs = match version {
        Version::V2 => vec![("", dir.clone())],
        Version::V1 => ["memory", "cpu", "cpuacct", "pids"].iter().map(|c| (*c, dir.clone())).collect(),
    };
    (dir, Group { version, dirs, oom_seen: Cell::new(0), oom_noted: Cell::new(0) })
}

#[test]
fn limits_are_written_in_each_versions_terms_and_lifted_when_unset() {
    let (dir, group) = fake_group(Version::V2, &["memory.max", "memory.high", "cpu.max", "pids.max"]);
    assert!(group.apply(&every_limit()).is_empty());
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(read("memory.max"), (500u64 << 20).to_string());
    assert_eq!(read("cpu.max"), "150000 100000");
    assert_eq!(read("pids.max"), "256");
    assert!(group.apply(&Resources::default()).is_empty());
    assert_eq!(read("memory.max"), "max");
    assert_eq!(read("cpu.max"), "max 100000");
    let _ = std::fs::remove_dir_all(&dir);

    let (dir, group) = fake_group(
        Version::V1,
        &["memory.limit_in_bytes", "cpu.cfs_period_us", "cpu.cfs_quota_us", "pids.max"],
    );
    assert!(group.apply(&every_limit()).is_empty());
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(read("cpu.cfs_quota_us"), "150000");
    assert_eq!(read("cpu.cfs_period_us"), "100000");
    assert!(group.apply(&Resources::default()).is_empty());
    assert_eq!(read("memory.limit_in_bytes"), "-1");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_cannot_be_written_is_named_and_the_rest_still_written() {
    let (dir, group) = fake_group(Version::V2, &["memory.max", "pids.max"]);
    let problems = group.apply(&every_limit());
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("cpu.max") && p.contains("No such file")), "{problems:?}");
    assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap(), "256");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn oom_kills_are_noticed_once() {
    let (dir, group) = fake_group(Version::V2, &[]);
    std::fs::write(dir.join("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n").unwrap();
    assert!(!group.oom_killed_since());
    std::fs::write(dir.join("memory.events"), "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n").unwrap();
    assert!(group.oom_killed_since());
    assert!(!group.oom_killed_since());
    let _ = std::fs::remove_dir_all(&dir);
}
