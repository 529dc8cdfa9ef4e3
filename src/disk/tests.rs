use super::*;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-disk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn log(path: std::path::PathBuf) -> FileLog {
    FileLog { path, max_size: 1 << 30, keep: 1 }
}

#[test]
fn records_reach_their_files_in_order_and_a_closed_file_is_finished() {
    let dir = scratch("order");
    let mut files = Disk::default();
    let mut a = files.open(log(dir.join("a.log")));
    let mut b = files.open(log(dir.join("b.log")));
    for i in 0..2000 {
        a.write(format!("a {i}\n").as_bytes());
        b.write(format!("b {i}\n").as_bytes());
    }
    // Its handle dropped with lines still queued: they are written all the same.
    drop(b);
    assert_eq!(files.flush(Instant::now() + std::time::Duration::from_secs(10)), 0);
    for name in ["a", "b"] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap();
        let expected: String = (0..2000).map(|i| format!("{name} {i}\n")).collect();
        assert!(text == expected, "{name}.log differs");
    }
    assert_eq!(a.dropped_lines(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_on_a_local_disk_is_written_by_the_loop_after_the_thread_opened_it() {
    let dir = scratch("local");
    let mut files = Disk::default();
    let mut file = files.open(log(dir.join("l.log")));
    file.write(b"first\n");
    assert!(matches!(file.0, Handle::Queued { .. }), "opened by the thread first");
    files.wake_now();
    assert_eq!(files.flush(Instant::now() + std::time::Duration::from_secs(10)), 0);
    file.write(b"second\n");
    assert!(matches!(file.0, Handle::Inline(_)), "a local file comes back to the loop");
    assert_eq!(std::fs::read_to_string(dir.join("l.log")).unwrap(), "first\nsecond\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_queue_says_so_and_the_loop_hears_when_there_is_room() {
    let dir = scratch("room");
    // A FIFO nobody reads yet: the thread's open waits, as on a hung mount.
    let fifo = dir.join("hung.log");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut files = Disk::default();
    let mut file = files.open(log(fifo.clone()));
    let line = [b'x'; 99].iter().copied().chain([b'\n']).collect::<Vec<u8>>();
    let mut queued = 0u64;
    while file.has_room() {
        file.write(&line);
        queued += 1;
        assert!(queued <= (MAX_QUEUED / 100 + 1) as u64, "never full");
    }
    // The exit gives up on what cannot be written, and counts it.
    let lost = files.flush(Instant::now() + std::time::Duration::from_millis(200));
    assert!(lost > 0 && lost <= queued, "{lost} of {queued}");
    // The file answers: the thread writes and wakes the loop.
    let reader = std::thread::spawn(move || std::fs::read(fifo).unwrap().len());
    let mut reactor = crate::reactor::Reactor::<()>::new().unwrap();
    reactor.register(files.fd().unwrap(), 9, crate::reactor::Interest::Read).unwrap();
    reactor.add_timer(Instant::now() + std::time::Duration::from_secs(10), ());
    let mut events = Vec::new();
    reactor.turn(&mut events).unwrap();
    assert!(
        matches!(events.first(), Some(crate::reactor::Event::Io(ready)) if ready.token == 9),
        "never woken"
    );
    files.on_ready();
    assert!(file.has_room());
    file.write(&line);
    assert!(matches!(file.0, Handle::Queued { .. }), "a FIFO stays with the thread");
    drop(file);
    files.wake_now();
    drop(files);
    // Every queued line that was not given up on went through.
    let written = reader.join().unwrap();
    assert_eq!(written as u64 % 100, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
