use super::*;

#[test]
fn rotation_keeps_the_total_under_its_bound() {
    let dir = std::env::temp_dir().join(format!("warden-rotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = FileLog { path: dir.join("web.log"), max_size: 64 * 1024, keep: 3 };
    let mut file = RotatingFile::new(log);
    let record = [b'x'; 1000];
    let mut line = record.to_vec();
    line.push(b'\n');
    for _ in 0..1000 {
        file.write(&line);
    }
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["web.log", "web.log.1", "web.log.2", "web.log.3"]);
    let total: u64 = names.iter().map(|n| std::fs::metadata(dir.join(n)).unwrap().len()).sum();
    assert!(total <= 64 * 1024 * 4, "{total}");
    for name in &names {
        let size = std::fs::metadata(dir.join(name)).unwrap().len();
        assert!(size <= 64 * 1024 && size.is_multiple_of(1001), "{name}: {size}");
    }
    // Deleted from under warden: noticed, and written again.
    std::fs::remove_file(dir.join("web.log")).unwrap();
    for _ in 0..CHECK_EVERY {
        file.write(&line);
    }
    assert!(dir.join("web.log").exists());
    assert_eq!(file.dropped_lines, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
