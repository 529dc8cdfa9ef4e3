use super::*;

fn root() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-users-{}", std::process::id()));
    assert!(std::fs::create_dir_all(dir.join("etc")).is_ok());
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
        .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\napp:x:1000:\nextra:x:2000:app,other\nweb:x:33:\n")
        .unwrap();
    dir
}

#[test]
fn resolves_names_numbers_and_groups() {
    let root = root();
    let app = resolve("app", None, &root).unwrap();
    assert_eq!((app.uid, app.gid, app.groups.clone()), (1000, 1000, vec![1000, 2000]));
    assert_eq!(app.home.as_deref(), Some("/home/app"));
    let with_group = resolve("app:web", None, &root).unwrap();
    assert_eq!((with_group.gid, with_group.groups), (33, vec![33, 2000]));
    assert_eq!(resolve("app", Some("33"), &root).unwrap().gid, 33);
    let numeric = resolve("4242", None, &root).unwrap();
    assert_eq!((numeric.uid, numeric.gid, numeric.groups, numeric.name), (4242, 4242, vec![4242], None));
    assert_eq!(resolve("4242:7", None, &root).unwrap().gid, 7);
    assert!(resolve("nobody-here", None, &root).unwrap_err().contains("no user \"nobody-here\""));
    assert!(resolve("app:nogroup", None, &root).unwrap_err().contains("no group \"nogroup\""));
    assert!(resolve("app:web", Some("root"), &root).is_err());
}
