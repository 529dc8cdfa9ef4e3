use super::*;
use std::os::unix::fs::MetadataExt;

#[test]
fn a_pipe_made_for_a_user_is_theirs_and_the_thread_is_root_again() {
    assert_eq!(fs_identity(), (0, 0), "run as root, as the test suite is");
    let (read, write) = pipe_owned_by(65534, 65533).unwrap();
    let meta = std::fs::File::from(write).metadata().unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65533));
    assert_eq!(fs_identity(), (0, 0));
    let (_, own) = pipe().unwrap();
    let meta = std::fs::File::from(own).metadata().unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    drop(read);
}

#[test]
fn a_descriptor_sent_arrives_as_one_of_the_receivers() {
    use std::io::{Read, Write};
    use std::os::fd::{AsFd, AsRawFd};
    let (sender, receiver) = fd_channel().unwrap();
    assert_eq!(receive_fd(receiver.as_raw_fd()).unwrap_err().kind(), io::ErrorKind::WouldBlock);
    let (read, write) = pipe().unwrap();
    send_fd(sender.as_fd(), write.as_fd()).unwrap();
    drop(write);
    let mut copy = std::fs::File::from(receive_fd(receiver.as_raw_fd()).unwrap());
    copy.write_all(b"through").unwrap();
    drop(copy);
    let mut text = String::new();
    std::fs::File::from(read).read_to_string(&mut text).unwrap();
    assert_eq!(text, "through");
}

/// A thread with a table of its own keeps what it was told to, loses
/// the rest, and what it opens stays out of the other threads' table.
#[test]
fn a_private_table_keeps_only_what_it_is_told() {
    use std::os::fd::AsRawFd;
    let (kept, lost) = pipe().unwrap();
    let (kept_fd, lost_fd) = (kept.as_raw_fd(), lost.as_raw_fd());
    let theirs = std::env::temp_dir().join(format!("warden-private-table-{}", std::process::id()));
    let path = theirs.clone();
    let opened = std::thread::spawn(move || {
        private_fd_table(&[kept_fd]).unwrap();
        // SAFETY: F_GETFD only asks about the numbers.
        let open = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
        assert!(open(kept_fd) && !open(lost_fd) && open(2));
        let mine = std::fs::File::create(&path).unwrap();
        let number = mine.as_raw_fd();
        std::mem::forget(mine); // stays open in this thread's table only
        number
    })
    .join()
    .unwrap();
    // SAFETY: F_GETFD only asks about the numbers.
    let open_here = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
    assert!(open_here(kept_fd) && open_here(lost_fd));
    let here = std::fs::read_link(format!("/proc/self/fd/{opened}")).ok();
    let _ = std::fs::remove_file(&theirs);
    assert_ne!(here, Some(theirs), "the thread's file is in this table too");
}
