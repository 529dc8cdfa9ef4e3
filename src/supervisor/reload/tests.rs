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
