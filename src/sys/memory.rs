//! warden's own resident memory.
//!
//! The kernel maps code in 64 KiB runs around every page fault, so after
//! start-up nearly all of warden's code is resident, the YAML parser and the
//! configuration checks included, although they run again only on a reload.
//! Those pages are clean copies of the executable: dropping them from warden's
//! page tables loses nothing, and whatever runs later is faulted back in from
//! the page cache.

use std::io;

/// Drops warden's code and read-only data from its resident set: every
/// loadable segment of the executable that is never written. Writable segments
/// and the RELRO range (relocated at start-up, so no longer what the file
/// holds) are left alone. Returns how many bytes were released.
pub fn release_clean_image() -> io::Result<usize> {
    let mut ranges = Ranges::default();
    // SAFETY: the callback only reads the program headers the C library passes
    // and writes to `ranges`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(collect), (&raw mut ranges).cast()) };
    let mut released = 0;
    for &(start, end) in ranges.found.iter().take(ranges.count) {
        // SAFETY: page-aligned ranges inside read-only, file-backed segments of
        // warden's own executable: MADV_DONTNEED only unmaps their pages, which
        // the next access reads back from the page cache unchanged.
        if unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) } < 0 {
            return Err(io::Error::last_os_error());
        }
        released += end - start;
    }
    Ok(released)
}

/// The clean ranges of the executable, page-aligned inwards.
#[derive(Default)]
struct Ranges {
    found: [(usize, usize); 8],
    count: usize,
}

unsafe extern "C" fn collect(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: the C library passes a valid `dl_phdr_info` whose `dlpi_phdr`
    // points to `dlpi_phnum` headers, and `data` is the `Ranges` given above.
    let (info, ranges) = unsafe { (&*info, &mut *data.cast::<Ranges>()) };
    // SAFETY: as above.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let base = info.dlpi_addr as usize;
    let span = |h: &libc::Elf64_Phdr| (base + h.p_vaddr as usize, base + (h.p_vaddr + h.p_memsz) as usize);
    let relro = headers.iter().find(|h| h.p_type == libc::PT_GNU_RELRO).map(span);
    for header in headers {
        if header.p_type != libc::PT_LOAD
            || header.p_flags & libc::PF_W != 0
            || header.p_filesz != header.p_memsz
        {
            continue;
        }
        let (start, end) = span(header);
        let (start, end) = (start.next_multiple_of(page), end / page * page);
        let overlaps_relro = relro.is_some_and(|(r0, r1)| start < r1 && r0 < end);
        if start >= end || overlaps_relro {
            continue;
        }
        if let Some(slot) = ranges.found.get_mut(ranges.count) {
            *slot = (start, end);
            ranges.count += 1;
        }
    }
    1 // the first object is the executable itself: stop there
}

#[cfg(test)]
mod tests;
