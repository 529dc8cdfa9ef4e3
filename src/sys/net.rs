//! A non-blocking TCP connect, which std does not offer: PID 1's loop must never
//! wait for a handshake. Everything after the connect uses std's `TcpStream`.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};

use super::retry;

/// Starts a connection to `address`. Returns the socket (non-blocking,
/// close-on-exec) and whether it is already established (loopback often is);
/// otherwise it becomes writable once the handshake ends, and
/// `TcpStream::take_error` says how.
pub fn connect(address: SocketAddr) -> io::Result<(TcpStream, bool)> {
    let (domain, storage, length) = socket_address(address);
    let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain system call without pointers.
    let fd = retry(|| unsafe { libc::socket(domain, kind, 0) })?;
    // SAFETY: socket returned a fresh descriptor that nothing else owns.
    let socket = TcpStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // SAFETY: `storage` holds a valid address of `length` bytes for `domain`.
    // connect is not retried on EINTR: the attempt goes on in the background.
    let result = unsafe { libc::connect(fd, std::ptr::from_ref(&storage).cast::<libc::sockaddr>(), length) };
    if result == 0 {
        return Ok((socket, true));
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EINPROGRESS | libc::EINTR) => Ok((socket, false)),
        _ => Err(error),
    }
}

fn socket_address(address: SocketAddr) -> (libc::c_int, libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid (unspecified) address.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match address {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::from_mut(&mut storage).cast::<libc::sockaddr_in>().write(sin) };
            (libc::AF_INET, storage, size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: v6.ip().octets() },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::from_mut(&mut storage).cast::<libc::sockaddr_in6>().write(sin6) };
            (libc::AF_INET6, storage, size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
    }
}

/// The user id of the process at the other end of a Unix socket (SO_PEERCRED).
pub fn peer_uid(socket: std::os::fd::BorrowedFd) -> io::Result<u32> {
    use std::os::fd::AsRawFd;
    let mut credentials = libc::ucred { pid: 0, uid: u32::MAX, gid: u32::MAX };
    let mut length = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `credentials` is a writable ucred and `length` its size.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            std::ptr::from_mut(&mut credentials).cast::<libc::c_void>(),
            &mut length,
        )
    };
    if result == 0 { Ok(credentials.uid) } else { Err(io::Error::last_os_error()) }
}

/// warden's effective user id.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// One `send` that never waits and never raises SIGPIPE (EAGAIN instead).
pub fn send_nonblocking(fd: std::os::fd::BorrowedFd, bytes: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: `bytes` is valid for reads of its length.
    let n = unsafe {
        libc::send(
            fd.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}
