use super::*;

fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("RssFile:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The code keeps running after its pages are released, and the resident
/// file-backed memory goes down.
#[test]
fn released_code_still_runs_and_is_no_longer_resident() {
    let before = resident_kib();
    let released = release_clean_image().unwrap();
    let after = resident_kib();
    assert!(released >= 64 * 1024, "released only {released} bytes");
    assert!(after < before, "RssFile {before} kB -> {after} kB");
    // Faulted back in on use.
    assert_eq!(crate::duration::parse("1m30s").map(|d| d.as_secs()), Ok(90));
}
