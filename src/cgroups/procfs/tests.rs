use super::*;

fn process(pid: i32, parent: i32, session: i32) -> Process {
    Process { pid, parent, group: session, session, resident_pages: 10, cpu_ticks: 50 }
}

#[test]
fn stat_lines_with_odd_names_parse() {
    let line =
        b"42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 500 1000 25 18446744073709551615";
    let p = parse_stat(42, line).unwrap();
    assert_eq!((p.parent, p.session, p.cpu_ticks, p.resident_pages), (1, 42, 10, 25));
}

#[test]
fn a_tree_is_the_session_and_the_descendants() {
    let all = [
        process(10, 1, 10),  // the service's program, its session's leader
        process(11, 10, 10), // a worker
        process(12, 1, 10),  // orphaned, still in the session
        process(13, 11, 13), // setsid, but its parent is in the tree
        process(14, 13, 13),
        process(20, 1, 20), // another service
        process(21, 1, 21), // double-forked away: parent chain lost
    ];
    let pids: Vec<i32> = tree(10, &all).iter().map(|p| p.pid).collect();
    assert_eq!(pids, [10, 11, 12, 13, 14]);
    let used = usage(&tree(10, &all));
    assert_eq!(used.processes, 5);
    assert_eq!(used.cpu_seconds, 2.5);
    assert!(tree(99, &all).is_empty());
}
