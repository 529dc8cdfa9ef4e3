use super::*;

#[test]
fn parses_parent_from_odd_command_names() {
    assert_eq!(parent_of(b"12 (a) b) c) S 7 12 12 0"), Some(7));
    assert_eq!(parent_of(b"12 (sleep) S 1 12"), Some(1));
    assert_eq!(parent_of(b"garbage"), None);
}

#[test]
fn finds_own_child() {
    let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
    let found = descendants(pid()).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(found.contains(&(child.id() as i32)));
}

#[test]
fn stat_fields_survive_a_command_name_with_spaces_and_parentheses() {
    let line = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 3";
    let fields = super::stat_fields(line);
    assert_eq!(fields.first(), Some(&"S"));
    assert_eq!(fields.get(14 - 3), Some(&"7"));
    assert_eq!(fields.get(15 - 3), Some(&"3"));
}

#[test]
fn own_usage_reads_this_process() {
    let usage = super::own_usage();
    assert!(usage.resident_bytes > 0 && usage.open_fds >= 3 && usage.max_fds > 0, "{usage:?}");
    assert!(super::page_size().is_power_of_two());
}
