use super::*;
use crate::output::{Piece, Stream};

#[test]
fn reports_are_json_atomic_private_and_pruned() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("warden-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut tail = Tail::default();
    tail.push(Stream::Stderr, Piece { text: b"panic: \"boom\"", continued: false }, 0);
    let report = Report {
        service: "web",
        pid: Some(42),
        status: ExitStatus::Signaled { signal: libc::SIGSEGV, core_dumped: true },
        uptime: Duration::from_millis(1500),
        restarts: 3,
        next: "restart in 2s",
        reason: "killed by SIGSEGV (core dumped)",
        command: "/app/web --port 80",
        tail: &tail,
        usage: None,
        limits: &[],
    };
    let path = write(&dir, 2, &report).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\"service\":\"web\",\"time\":\""), "{text}");
    assert!(
        text.contains("\"pid\":42,\"exit_code\":null,\"signal\":\"SIGSEGV\",\"core_dumped\":true"),
        "{text}"
    );
    assert!(text.contains("\"uptime_s\":1.500,\"restarts\":3,\"next\":\"restart in 2s\""), "{text}");
    assert!(text.contains("\"output\":[{\"stream\":\"stderr\",\"line\":\"panic: \\\"boom\\\"\"}]"), "{text}");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(2));
        write(&dir, 2, &report).unwrap();
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
