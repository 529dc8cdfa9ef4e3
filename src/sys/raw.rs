//! System calls that never touch `errno`, for a child that shares warden's
//! memory (`CLONE_VM`) while warden keeps running.
//!
//! Such a child runs on the same thread-local storage as warden's thread: the C
//! library's wrappers would write warden's `errno` behind its back (and some,
//! like `setuid`, would try to signal warden's threads). These calls return the
//! kernel's answer as is: a value, or the error number.
//!
//! On architectures without an implementation here, [`SHARED_MEMORY_SAFE`] is
//! false and the supervisor forks instead; the calls then go through libc.

/// Whether these calls leave warden's memory alone on this architecture.
pub const SHARED_MEMORY_SAFE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Makes system call `number` with up to six arguments; `Err(errno)` on failure.
///
/// # Safety
/// The arguments must be what the kernel expects for that call (valid pointers
/// to memory of the right size, or plain integers).
#[allow(clippy::too_many_arguments)]
pub unsafe fn call(number: libc::c_long, args: [usize; 6]) -> Result<usize, i32> {
    // SAFETY: forwarded from the caller's contract.
    let ret = unsafe { syscall6(number, args) };
    // The kernel returns -4095..-1 for errors, anything else is a value.
    if (-4095..0).contains(&ret) { Err(-ret as i32) } else { Ok(ret as usize) }
}

#[cfg(target_arch = "x86_64")]
unsafe fn syscall6(number: libc::c_long, [a0, a1, a2, a3, a4, a5]: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 Linux system call convention: number in rax, arguments
    // in rdi, rsi, rdx, r10, r8, r9; rcx and r11 are clobbered; no stack use.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") number as isize => ret,
            in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3, in("r8") a4, in("r9") a5,
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn syscall6(number: libc::c_long, [a0, a1, a2, a3, a4, a5]: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the aarch64 Linux system call convention: number in x8, arguments
    // in x0..x5, the result in x0; no stack use.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") number,
            inlateout("x0") a0 as isize => ret,
            in("x1") a1, in("x2") a2, in("x3") a3, in("x4") a4, in("x5") a5,
            options(nostack),
        );
    }
    ret
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn syscall6(number: libc::c_long, [a0, a1, a2, a3, a4, a5]: [usize; 6]) -> isize {
    // SAFETY: forwarded; only used where the child does not share memory.
    unsafe {
        let ret = libc::syscall(number, a0, a1, a2, a3, a4, a5);
        if ret < 0 { -(*libc::__errno_location() as isize) } else { ret as isize }
    }
}

#[cfg(test)]
mod tests;
