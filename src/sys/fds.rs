//! File-descriptor hygiene.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::retry;

/// Marks every fd ≥ 3 that warden inherited close-on-exec, so children get only
/// 0, 1 and 2 (plus what they are given on purpose). Uses `close_range` (Linux 5.11)
/// and falls back to walking `/proc/self/fd`.
pub fn mark_inherited_cloexec() -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if ret == 0 {
        return Ok(());
    }
    let mut open = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        if let Some(fd) = entry?.file_name().to_str().and_then(|s| s.parse::<RawFd>().ok()) {
            open.push(fd);
        }
    }
    for fd in open.into_iter().filter(|fd| *fd >= 3) {
        set_cloexec(fd).ok(); // the read_dir fd itself is gone by now: EBADF is fine
    }
    Ok(())
}

fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an integer fd has no memory effects.
    let flags = retry(|| unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: as above.
    retry(|| unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) }).map(drop)
}

/// Whether `fd` is a terminal.
pub fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the fd.
    unsafe { libc::isatty(fd) == 1 }
}

/// A close-on-exec pipe whose read end is non-blocking (for the event loop) and
/// whose write end blocks (for the child that gets it): (read, write).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    retry(|| unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded: both fds are fresh and owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    set_nonblocking(&read)?;
    Ok((read, write))
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on an integer fd has no memory effects.
    let flags = retry(|| unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    retry(|| unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) }).map(drop)
}

/// Waits up to `timeout` for `fd` to accept a write; false on timeout.
pub fn wait_writable(fd: RawFd, timeout: std::time::Duration) -> io::Result<bool> {
    let mut poll = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd, exclusively borrowed for the call.
    let ready = retry(|| unsafe { libc::poll(&mut poll, 1, ms) })?;
    Ok(ready > 0)
}

/// Asks for a pipe buffer of `bytes` (rounded up by the kernel; capped by
/// /proc/sys/fs/pipe-max-size for unprivileged users). Best effort.
pub fn grow_pipe(fd: std::os::fd::BorrowedFd, bytes: usize) {
    use std::os::fd::AsRawFd;
    let size = i32::try_from(bytes).unwrap_or(i32::MAX);
    // SAFETY: fcntl on an integer fd has no memory effects; failure changes nothing.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
}

/// What kind of file an fd is, as far as writing to it without waiting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Socket,
    /// A pipe, FIFO or character device (a terminal): writes can wait for a reader.
    Stream,
    /// A regular file, a directory, a block device.
    Other,
}

pub fn kind(fd: RawFd) -> io::Result<Kind> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `stat` into the buffer on success.
    retry(|| unsafe { libc::fstat(fd, stat.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so the structure is initialised.
    let mode = unsafe { stat.assume_init() }.st_mode & libc::S_IFMT;
    Ok(match mode {
        libc::S_IFSOCK => Kind::Socket,
        libc::S_IFIFO | libc::S_IFCHR => Kind::Stream,
        _ => Kind::Other,
    })
}

/// A close-on-exec duplicate of `fd`, numbered 3 or above.
pub fn duplicate(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on an integer fd has no memory effects.
    let new = retry(|| unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) })?;
    // SAFETY: F_DUPFD_CLOEXEC returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Whether a pipe or terminal has room for a write now (poll without waiting).
pub fn has_room(fd: std::os::fd::BorrowedFd) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut poll = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd, exclusively borrowed for the call.
    let ready = retry(|| unsafe { libc::poll(&mut poll, 1, 0) })?;
    if ready > 0 && poll.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
        return Err(io::ErrorKind::BrokenPipe.into());
    }
    Ok(ready > 0)
}

/// One `write(2)`; EINTR is the caller's to retry.
pub fn write(fd: std::os::fd::BorrowedFd, bytes: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `bytes` is valid for reads of its length.
    let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}
