use super::*;

const HOST_V1: &str = "\
25 30 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:24 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
28 25 0:25 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
29 25 0:26 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
30 25 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

#[test]
fn v1_hierarchies_are_found_per_controller() {
    let cgroup = "8:pids:/\n4:memory:/jobs/42\n2:cpuacct:/\n1:cpu:/\n0::/\n";
    let place = Place::parse(cgroup, HOST_V1);
    assert_eq!(
        place.legacy,
        vec![
            ("pids", PathBuf::from("/sys/fs/cgroup/pids/"), true),
            ("memory", PathBuf::from("/sys/fs/cgroup/memory/jobs/42"), true),
            ("cpuacct", PathBuf::from("/sys/fs/cgroup/cpuacct/"), true),
            ("cpu", PathBuf::from("/sys/fs/cgroup/cpu/"), true),
        ]
    );
    // The unified hierarchy is there, with no controllers (read later).
    assert_eq!(place.unified.map(|u| u.dir), Some(PathBuf::from("/sys/fs/cgroup/unified/")));
}

#[test]
fn a_container_sees_its_own_cgroup_as_the_root_of_a_read_only_mount() {
    let mountinfo = "\
700 690 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate
";
    let place = Place::parse("0::/\n", mountinfo);
    let unified = place.unified.unwrap();
    assert_eq!(unified.dir, PathBuf::from("/sys/fs/cgroup/"));
    assert!(!unified.writable);
}

#[test]
fn a_host_mount_seen_from_a_nested_cgroup_joins_the_paths() {
    let mountinfo = "\
30 25 0:27 / /sys/fs/cgroup rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
";
    let place = Place::parse("0::/system.slice/app.service\n", mountinfo);
    assert_eq!(place.unified.unwrap().dir, PathBuf::from("/sys/fs/cgroup/system.slice/app.service"));
    // A mount of a subtree that does not hold warden's cgroup is no place of warden's.
    let other = "31 25 0:27 /other /mnt rw - cgroup2 cgroup2 rw\n";
    assert_eq!(Place::parse("0::/system.slice\n", other).unified, None);
    assert_eq!(Place::parse("0::/otherwise\n", other).unified, None);
}

#[test]
fn co_mounted_controllers_and_escaped_paths() {
    let mountinfo = "40 25 0:33 / /sys/fs/cgroup/cpu\\040acct rw - cgroup cgroup rw,cpu,cpuacct\n";
    let place = Place::parse("3:cpu,cpuacct:/a\n", mountinfo);
    let dirs: Vec<_> = place.legacy.iter().map(|(c, d, _)| (*c, d.clone())).collect();
    assert_eq!(
        dirs,
        vec![
            ("cpu", PathBuf::from("/sys/fs/cgroup/cpu acct/a")),
            ("cpuacct", PathBuf::from("/sys/fs/cgroup/cpu acct/a"))
        ]
    );
}
