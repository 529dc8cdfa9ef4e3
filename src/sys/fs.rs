//! File-system questions that std has no call for.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Whether this process may create entries in `dir` (`access(W_OK)`, which
/// also says no on a read-only mount).
pub fn may_write(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else { return false };
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

/// File systems whose calls wait only on this machine's memory and disks:
/// ext2/3/4, XFS, Btrfs, F2FS, ZFS, tmpfs, ramfs, overlayfs (a container's
/// root), squashfs. Anything else (NFS, SMB, FUSE, 9p, virtiofs, Ceph, ...)
/// may wait on another machine, which may stop answering.
const LOCAL_FILE_SYSTEMS: [u64; 9] = [
    0xEF53,      // ext2, ext3, ext4
    0x5846_5342, // XFS
    0x9123_683E, // Btrfs
    0xF2F5_2010, // F2FS
    0x2FC1_2FC1, // ZFS
    0x0102_1994, // tmpfs
    0x8584_58F6, // ramfs
    0x794C_7630, // overlayfs
    0x7371_7368, // squashfs
];

/// Whether `file` is a regular file on a local file system (where a write
/// never waits on another machine, nor on a reader as a FIFO's does).
pub fn on_local_disk(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    if !file.metadata().is_ok_and(|m| m.file_type().is_file()) {
        return false;
    }
    // SAFETY: statfs is plain old data; fstatfs fills it or fails.
    let mut stats: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a pointer to a statfs that outlives the call.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &raw mut stats) } != 0 {
        return false;
    }
    let kind = stats.f_type as u64;
    LOCAL_FILE_SYSTEMS.contains(&kind)
}

/// An inotify instance, non-blocking and close-on-exec.
pub fn inotify() -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: inotify_init1 takes flags only; a descriptor it returns is ours to own.
    let fd = super::retry(|| unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Watches `path` for modification; returns the watch descriptor.
pub fn watch_modify(inotify: std::os::fd::BorrowedFd<'_>, path: &Path) -> std::io::Result<i32> {
    use std::os::fd::AsRawFd;
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    // SAFETY: `path` is NUL-terminated and outlives the call; the fd is open.
    super::retry(|| unsafe { libc::inotify_add_watch(inotify.as_raw_fd(), path.as_ptr(), libc::IN_MODIFY) })
}

/// Reads the inotify events waiting (without blocking) and returns the
/// watch descriptors they name, each once.
pub fn read_watches(inotify: std::os::fd::BorrowedFd<'_>) -> Vec<i32> {
    let mut fired: Vec<i32> = Vec::new();
    for event in read_events(inotify) {
        if !fired.contains(&event.wd) {
            fired.push(event.wd);
        }
    }
    fired
}

/// One inotify event: the watch, what happened, and the name of the entry
/// (in a watched directory; empty for the directory itself).
pub struct Event {
    pub wd: i32,
    pub mask: u32,
    pub name: Vec<u8>,
}

/// Watches the directory `path` for entries written, created, moved in or
/// out, or deleted.
pub fn watch_directory(inotify: std::os::fd::BorrowedFd<'_>, path: &Path) -> std::io::Result<i32> {
    use std::os::fd::AsRawFd;
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    let mask = libc::IN_CLOSE_WRITE
        | libc::IN_MODIFY
        | libc::IN_CREATE
        | libc::IN_MOVED_TO
        | libc::IN_MOVED_FROM
        | libc::IN_DELETE
        | libc::IN_ONLYDIR;
    // SAFETY: `path` is NUL-terminated and outlives the call; the fd is open.
    super::retry(|| unsafe { libc::inotify_add_watch(inotify.as_raw_fd(), path.as_ptr(), mask) })
}

/// The events waiting (without blocking), with their names.
pub fn read_events(inotify: std::os::fd::BorrowedFd<'_>) -> Vec<Event> {
    use std::os::fd::AsRawFd;
    const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
    let mut events = Vec::new();
    let mut buffer = [0u8; 4096];
    for _ in 0..16 {
        // SAFETY: the buffer is ours and its length is passed.
        let read = unsafe { libc::read(inotify.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
        let Ok(length) = usize::try_from(read) else { break };
        if length == 0 {
            break;
        }
        let mut at = 0;
        while at + HEADER <= length {
            let word = |offset: usize| {
                buffer
                    .get(at + offset..at + offset + 4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_ne_bytes)
            };
            let (Some(wd), Some(mask), Some(size)) = (word(0), word(4), word(12)) else { break };
            let name = buffer.get(at + HEADER..at + HEADER + size as usize).unwrap_or_default();
            // The name is NUL-padded.
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            events.push(Event { wd: wd as i32, mask, name: name.get(..end).unwrap_or_default().to_vec() });
            at += HEADER + size as usize;
        }
    }
    events
}
