use super::*;
use std::ffi::OsString;

fn service(name: &str, command: &str) -> Service {
    Service::new(name, vec![OsString::from(command)])
}

#[test]
fn sorts_every_service_into_one_class() {
    let keep = service("keep", "a");
    let change = service("change", "b");
    let drop = service("drop", "c");
    let current = [&keep, &change, &drop];
    let new = [service("add", "d"), service("change", "B"), service("keep", "a")];
    let d = diff(&current, &new);
    assert_eq!(d.added, vec![0]);
    assert_eq!(d.changed, vec![1]);
    assert_eq!(d.unchanged, vec![2]);
    assert_eq!(d.removed, vec!["drop".to_string()]);
    assert_eq!(to_build(&d), vec![0, 1]);
}

#[test]
fn any_setting_counts_as_a_change() {
    let before = service("web", "x");
    let mut after = service("web", "x");
    after.stop_signal = libc::SIGINT;
    assert_eq!(diff(&[&before], &[after]).changed, vec![0]);
    let mut after = service("web", "x");
    after.depends_on = vec![crate::config::Dependency {
        name: "db".into(),
        condition: crate::config::Condition::Ready,
        any: false,
    }];
    assert_eq!(diff(&[&before], &[after]).changed, vec![0]);
}

#[test]
fn the_same_config_changes_nothing_and_an_empty_one_removes_all() {
    let a = service("a", "x");
    let b = service("b", "y");
    let same = diff(&[&a, &b], &[a.clone(), b.clone()]);
    assert_eq!((same.added.len(), same.changed.len(), same.unchanged.len()), (0, 0, 2));
    assert!(same.removed.is_empty());
    let empty = diff(&[&a, &b], &[]);
    assert_eq!(empty.removed, vec!["a".to_string(), "b".to_string()]);
    assert!(to_build(&empty).is_empty());
}

/// Every new service lands in exactly one class, and every current one that
/// the new config does not name is removed: over random pairs of configs.
#[test]
fn classes_partition_the_new_config() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..500 {
        let current: Vec<Service> = (0..next() % 6)
            .map(|i| service(&format!("s{}", i * 2 % 7), if next() % 2 == 0 { "a" } else { "b" }))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let current: Vec<Service> = current.into_iter().filter(|s| seen.insert(s.name.clone())).collect();
        let new: Vec<Service> = (0..next() % 6)
            .map(|i| service(&format!("s{}", i * 3 % 7), if next() % 2 == 0 { "a" } else { "b" }))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let new: Vec<Service> = new.into_iter().filter(|s| seen.insert(s.name.clone())).collect();
        let refs: Vec<&Service> = current.iter().collect();
        let d = diff(&refs, &new);
        let mut all: Vec<usize> = d.added.iter().chain(&d.changed).chain(&d.unchanged).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..new.len()).collect::<Vec<_>>());
        for c in &current {
            assert_eq!(d.removed.contains(&c.name), !new.iter().any(|s| s.name == c.name));
        }
    }
}

#[test]
fn other_cgroup_limits_alone_are_written_in_place() {
    let before = service("web", "x");
    let mut after = service("web", "x");
    after.resources.memory = Some(64 << 20);
    let d = diff(&[&before], std::slice::from_ref(&after));
    assert_eq!((d.unchanged.clone(), d.retuned.clone(), d.changed.clone()), (vec![0], vec![0], vec![]));
    // With anything else changed too, it restarts.
    after.stop_signal = libc::SIGINT;
    let d = diff(&[&before], &[after]);
    assert_eq!((d.retuned, d.changed), (vec![], vec![0]));
}

fn copy(index: u32, count: u32, command: &str) -> Service {
    let mut copy = service(&format!("web-{index}"), command);
    copy.instance = Some(crate::config::Instance { group: "web".into(), index, count });
    copy.env =
        vec![("WARDEN_INSTANCE".into(), index.to_string()), ("WARDEN_REPLICAS".into(), count.to_string())];
    copy
}

/// `replicas:` changed in the file: the copies that stay run on (as with
/// `warden scale`), unless a setting of theirs reads the count.
#[test]
fn a_new_count_of_copies_leaves_the_copies_that_stay() {
    let running = [copy(0, 2, "x"), copy(1, 2, "x")];
    let refs: Vec<&Service> = running.iter().collect();
    let up = diff(&refs, &[copy(0, 3, "x"), copy(1, 3, "x"), copy(2, 3, "x")]);
    assert_eq!((up.added, up.changed, up.unchanged), (vec![2], vec![], vec![0, 1]));
    let down = diff(&refs, &[copy(0, 1, "x")]);
    assert_eq!((down.changed, down.unchanged, down.removed), (vec![], vec![0], vec!["web-1".to_string()]));
    // The count in the command: that copy is another program now.
    let shards = diff(&refs, &[copy(0, 3, "shards 3"), copy(1, 3, "x"), copy(2, 3, "x")]);
    assert_eq!((shards.changed, shards.unchanged), (vec![0], vec![1]));
    // Anything else that changed still counts.
    let mut other = copy(1, 3, "x");
    other.stop_signal = libc::SIGINT;
    assert_eq!(diff(&refs, &[copy(0, 3, "x"), other]).changed, vec![1]);
    // A limit alone, with the count: retuned in place.
    let mut limited = copy(0, 3, "x");
    limited.resources.pids = Some(10);
    let retuned = diff(&refs, &[limited]);
    assert_eq!((retuned.unchanged, retuned.retuned), (vec![0], vec![0]));
}
