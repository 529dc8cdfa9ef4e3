use super::*;

#[test]
fn values_and_errors_come_back_without_errno() {
    // SAFETY: getpid takes no argument; close of an fd that cannot exist.
    unsafe {
        assert_eq!(call(libc::SYS_getpid, [0; 6]), Ok(std::process::id() as usize));
        *libc::__errno_location() = 0;
        assert_eq!(call(libc::SYS_close, [1 << 30, 0, 0, 0, 0, 0]), Err(libc::EBADF));
        assert_eq!(*libc::__errno_location(), 0, "errno must stay untouched");
    }
}
