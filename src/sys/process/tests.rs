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
