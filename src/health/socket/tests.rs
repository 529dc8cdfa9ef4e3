use super::*;

#[test]
fn status_lines() {
    assert_eq!(status(b"HTTP/1.1 200 OK\r\n"), Ok(()));
    assert_eq!(status(b"HTTP/1.0 302 Found\r\n"), Ok(()));
    assert_eq!(status(b"HTTP/1.1 503 Service Unavailable\r\n"), Err("HTTP status 503".into()));
    assert_eq!(status(b"HTTP/1.1 199 x\r\n"), Err("HTTP status 199".into()));
    assert!(status(b"").is_err());
    assert!(status(b"SSH-2.0-OpenSSH\r\n").is_err());
}
