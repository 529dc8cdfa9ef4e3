//! File-descriptor hygiene.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::retry;

/// The descriptors above 2 that warden inherited, in increasing order, after
/// marking every one of them close-on-exec: no child gets them unless it is
/// given them on purpose (`Setup::inherited_fds`). Marks with `close_range`
/// (Linux 5.11) where it can; lists them from `/proc/self/fd`, or where that
/// cannot be read, by asking `fcntl` about each number up to the soft limit
/// (at most 65 536).
pub fn take_inherited() -> io::Result<Vec<RawFd>> {
    let mut open = Vec::new();
    let listed = std::fs::read_dir("/proc/self/fd").map(|dir| {
        for entry in dir.flatten() {
            if let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse::<RawFd>().ok()) {
                open.push(fd);
            }
        }
    });
    if listed.is_err() {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes one rlimit.
        let highest = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            RawFd::try_from(limit.rlim_cur.min(65_536)).unwrap_or(65_536)
        } else {
            1024
        };
        open.extend(3..highest);
    }
    // The directory's own descriptor is closed by now: keep what is still open.
    // SAFETY: fcntl on an integer fd has no memory effects.
    open.retain(|&fd| fd >= 3 && unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1);
    open.sort_unstable();
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    let marked =
        unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) } == 0;
    if !marked {
        for &fd in &open {
            set_cloexec(fd)?;
        }
    }
    Ok(open)
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

/// A [`pipe`] that belongs to `uid`:`gid`, so that the program given it may
/// open it again by path (`/dev/stdout`, `/proc/self/fd/1`, which check the
/// pipe's owner). A pipe belongs to the filesystem identity of the thread
/// that made it: this thread takes the user's for the one call, which needs
/// CAP_SETUID and CAP_SETGID, as starting the program as that user does, and
/// not CAP_CHOWN, which hardened containers drop. Where the identity cannot be
/// taken, the pipe is warden's (and the program's own setuid will say why).
pub fn pipe_owned_by(uid: u32, gid: u32) -> io::Result<(OwnedFd, OwnedFd)> {
    let own = fs_identity();
    set_fs_identity((uid, gid));
    let made = pipe();
    set_fs_identity(own);
    if fs_identity() != own {
        // Going back to its own ids cannot be refused; if it ever were, this
        // thread would go on with a user's file access, which must be loud.
        return Err(io::Error::other("cannot take back its own filesystem identity after making a pipe"));
    }
    made
}

/// This thread's filesystem uid and gid: an invalid id (-1) changes nothing
/// and returns the current one.
fn fs_identity() -> (u32, u32) {
    // SAFETY: setfsuid/setfsgid with -1 only read this thread's credentials.
    unsafe { (libc::setfsuid(u32::MAX) as u32, libc::setfsgid(u32::MAX) as u32) }
}

fn set_fs_identity((uid, gid): (u32, u32)) {
    // SAFETY: they change this thread's filesystem identity only (the raw
    // system calls, unlike setuid, are not broadcast to other threads).
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
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
    wait_for(fd, false, timeout)
}

/// Waits up to `timeout` for `fd` to be readable (or, `readable` false,
/// writable); false on timeout. For the one-shot client commands, never
/// for the loop.
pub fn wait_for(fd: RawFd, readable: bool, timeout: std::time::Duration) -> io::Result<bool> {
    let events = if readable { libc::POLLIN } else { libc::POLLOUT };
    let mut poll = libc::pollfd { fd, events, revents: 0 };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd, exclusively borrowed for the call.
    let ready = retry(|| unsafe { libc::poll(&mut poll, 1, ms) })?;
    Ok(ready > 0)
}

/// Asks for a pipe buffer of `bytes` (rounded up by the kernel; capped by
/// /proc/sys/fs/pipe-max-size for unprivileged users). Best effort: whether
/// the pipe is now larger than it was.
pub fn grow_pipe(fd: std::os::fd::BorrowedFd, bytes: usize) -> bool {
    use std::os::fd::AsRawFd;
    let size = i32::try_from(bytes).unwrap_or(i32::MAX);
    // SAFETY: fcntl on an integer fd has no memory effects; failure changes nothing.
    let before = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) };
    // SAFETY: as above.
    let after = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
    before >= 0 && after > before
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

/// A non-blocking, close-on-exec eventfd (one thread's way to wake the loop).
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes integers only.
    let fd = retry(|| unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
    // SAFETY: a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds one to an eventfd's counter (makes it readable). Cannot block: the
/// counter would have to reach 2^64 - 1 first.
pub fn signal_eventfd(fd: std::os::fd::BorrowedFd) {
    use std::os::fd::AsRawFd;
    let one: u64 = 1;
    // SAFETY: writes the 8 bytes of `one`.
    unsafe { libc::write(fd.as_raw_fd(), (&raw const one).cast(), 8) };
}

/// Resets an eventfd's counter (it is non-blocking: EAGAIN when already zero).
pub fn drain_eventfd(fd: std::os::fd::BorrowedFd) {
    use std::os::fd::AsRawFd;
    let mut count: u64 = 0;
    // SAFETY: reads 8 bytes into `count`.
    unsafe { libc::read(fd.as_raw_fd(), (&raw mut count).cast(), 8) };
}

/// A connected pair of close-on-exec datagram sockets, one thread's way to
/// hand another a descriptor ([`send_fd`], [`receive_fd`]).
pub fn fd_channel() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two fds into the array.
    retry(|| unsafe {
        libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    })?;
    // SAFETY: both fds are fresh and owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Room for one descriptor's control message, aligned as `cmsghdr` needs.
#[repr(C)]
struct OneFd {
    _align: [u64; 0],
    bytes: [u8; 32],
}

/// A message of the one byte in `iov`, with room for one descriptor in `control`.
fn one_fd_message(iov: &mut libc::iovec, control: &mut OneFd) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is valid (no name, no buffers); the caller
    // keeps `iov` and `control` alive for as long as it uses the message.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = iov;
    message.msg_iovlen = 1;
    message.msg_control = control.bytes.as_mut_ptr().cast();
    message.msg_controllen = control.bytes.len() as _;
    message
}

/// Sends a copy of `fd` over `channel` (SCM_RIGHTS), without waiting.
pub fn send_fd(channel: std::os::fd::BorrowedFd, fd: std::os::fd::BorrowedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    let mut control = OneFd { _align: [], bytes: [0; 32] };
    let mut message = one_fd_message(&mut iov, &mut control);
    // SAFETY: CMSG_SPACE only computes a size.
    message.msg_controllen = unsafe { libc::CMSG_SPACE(4) } as _;
    // SAFETY: msg_control holds CMSG_SPACE(4) <= 32 aligned bytes, so the
    // first header and its 4 data bytes lie inside `control`.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&raw const message);
        if header.is_null() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(4) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd.as_raw_fd());
    }
    // SAFETY: `message` and what it points to are valid for the call.
    retry(|| unsafe {
        libc::sendmsg(channel.as_raw_fd(), &raw const message, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
    })?;
    Ok(())
}

/// The next descriptor sent over `channel`, as a close-on-exec descriptor
/// of this thread's table; EAGAIN when none is waiting.
pub fn receive_fd(channel: RawFd) -> io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    let mut control = OneFd { _align: [], bytes: [0; 32] };
    let mut message = one_fd_message(&mut iov, &mut control);
    // SAFETY: `message` and its buffers are valid for the call.
    retry(|| unsafe {
        libc::recvmsg(channel, &raw mut message, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC)
    })?;
    // SAFETY: recvmsg set msg_controllen to what it wrote into `control`;
    // CMSG_FIRSTHDR is null when no header fits, and the header is checked
    // to carry SCM_RIGHTS with room for one descriptor before it is read.
    let fd = unsafe {
        let header = libc::CMSG_FIRSTHDR(&raw const message);
        if header.is_null()
            || (*header).cmsg_level != libc::SOL_SOCKET
            || (*header).cmsg_type != libc::SCM_RIGHTS
            || ((*header).cmsg_len as usize) < libc::CMSG_LEN(4) as usize
        {
            return Err(io::Error::other("a message without a descriptor"));
        }
        std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<RawFd>())
    };
    // SAFETY: the kernel installed `fd` for this receive; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Gives the calling thread a descriptor table of its own (`unshare
/// CLONE_FILES`) holding only 0, 1, 2 and `keep`: what it opens from then
/// on is in no other thread's table, so no child forked by them inherits
/// it, and what they open later is not in this one.
pub fn private_fd_table(keep: &[RawFd]) -> io::Result<()> {
    // SAFETY: unshare with CLONE_FILES copies this thread's table; no memory effects.
    retry(|| unsafe { libc::unshare(libc::CLONE_FILES) })?;
    let mut kept: Vec<u32> =
        keep.iter().filter_map(|&fd| u32::try_from(fd).ok()).filter(|&fd| fd >= 3).collect();
    kept.sort_unstable();
    let mut first = 3u32;
    for fd in kept.into_iter().chain(std::iter::once(u32::MAX)) {
        if fd > first {
            // SAFETY: close_range on integers; the range holds copies of other
            // threads' descriptors, which this thread never uses.
            retry(|| unsafe { libc::syscall(libc::SYS_close_range, first, fd - 1, 0u32) })?;
        }
        first = fd.saturating_add(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
