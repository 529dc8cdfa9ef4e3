use std::io::Read;
use std::os::fd::OwnedFd;

use super::*;

fn pipe() -> (File, OwnedFd) {
    let (read, write) = crate::sys::fds::pipe().unwrap();
    (File::from(read), write)
}

fn socket_pair() -> (std::os::unix::net::UnixStream, OwnedFd) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    (a, OwnedFd::from(b))
}

/// Fills the sink with warden's own lines until they are dropped; returns
/// how many were written before that. Bounded: the limit is a few thousand.
fn fill_with_own_lines(sink: &mut Sink) -> usize {
    let line = [b'x'; 99].iter().chain(b"\n").copied().collect::<Vec<u8>>();
    for sent in 0..100_000 {
        sink.push_own(&line);
        if sink.own_dropped > 0 {
            // Ten more, all dropped: the queue is full.
            for _ in 0..10 {
                sink.push_own(&line);
            }
            assert_eq!(sink.own_dropped, 11);
            return sent;
        }
    }
    panic!("own lines never dropped: the queue grows without bound");
}

/// A pipe that nobody reads, written through a duplicate that may not be
/// made non-blocking (the `Guarded` case: no /proc, or a pipe of another
/// user): the writes never block, the queue stops at its bound, and what
/// was lost is said once the reader drains.
#[test]
fn a_guarded_pipe_never_blocks_and_reports_what_it_dropped() {
    let (mut read, write) = pipe();
    let mut sink = Sink::with_target("stderr", Some(Target::Guarded(write)));
    let before_drop = fill_with_own_lines(&mut sink);
    assert!(sink.is_blocked());
    // The pipe's 64 KiB plus the queue's 320 KiB, in 100-byte lines.
    assert!(before_drop < (SOFT_LIMIT + OWN_ALLOWANCE + 128 * 1024) / 100, "{before_drop}");
    let dropped = sink.own_dropped;
    // The reader comes back: everything queued, then the notice.
    let mut all = Vec::new();
    let mut buffer = vec![0u8; 1 << 16];
    for _ in 0..1000 {
        let _ = sink.flush();
        let n = read.read(&mut buffer).unwrap();
        all.extend_from_slice(&buffer[..n]);
        if !sink.is_blocked() && all.ends_with(b"not read\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&all);
    let notice =
        format!("warden: {dropped} lines of its own were dropped while stdout/stderr were not read\n");
    assert!(text.ends_with(&notice), "{}", &text[text.len().saturating_sub(200)..]);
    assert_eq!(text.lines().filter(|l| l.starts_with('x')).count(), before_drop);
}

/// A socket as stderr (a journal stream) is written with MSG_DONTWAIT.
#[test]
fn a_socket_that_is_not_read_never_blocks() {
    let (mut peer, ours) = socket_pair();
    let mut sink = Sink::with_target("stderr", Some(Target::Socket(ours)));
    fill_with_own_lines(&mut sink);
    assert!(sink.is_blocked());
    peer.set_nonblocking(true).unwrap();
    let mut buffer = vec![0u8; 1 << 16];
    let mut got = 0;
    for _ in 0..1000 {
        let _ = sink.flush();
        match peer.read(&mut buffer) {
            Ok(n) => got += n,
            Err(_) if !sink.is_blocked() => break,
            Err(_) => {}
        }
    }
    assert!(got > 0 && !sink.is_blocked());
}

/// Services' records keep their backpressure: they are never dropped for
/// room, the caller is told to stop reading instead.
#[test]
fn services_records_are_queued_and_slow_the_reader_instead_of_dropping() {
    let (_read, write) = pipe();
    let mut sink = Sink::with_target("stdout", Some(Target::Guarded(write)));
    let records = vec![b'r'; 64 * 1024];
    let mut pushes = 0;
    while sink.has_room() && pushes < 100 {
        sink.push(&records, 64);
        pushes += 1;
    }
    assert!(!sink.has_room(), "the sink never said stop");
    assert_eq!(sink.dropped_lines, 0);
}

/// A reader that is gone (EPIPE) is given up: later lines are counted, not written.
#[test]
fn a_closed_stream_is_given_up_once() {
    let (read, write) = pipe();
    drop(read);
    let mut sink = Sink::with_target("stdout", Some(Target::Guarded(write)));
    sink.push(b"a\n", 1);
    sink.push(b"b\n", 1);
    assert!(sink.warning.take().is_some_and(|w| w.contains("stdout")));
    assert!(sink.dropped_lines >= 1);
    assert!(sink.warning.is_none());
}
