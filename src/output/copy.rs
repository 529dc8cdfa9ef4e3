//! Short copies without a call to `memcpy`, for the per-line work of a
//! flood (a label and a line, or a JSON head and a message, per line).
//!
//! The static build's `memcpy` is musl's, which starts every copy with
//! `rep movs`: for a 100-byte line that start costs more than the copy, and
//! labelling a flood paid it twice a line (half of warden's CPU in prefix
//! mode, by `perf`). Copies of a fixed size are made into vector moves by
//! the compiler instead, so lines are copied here in whole blocks, reading
//! past the end of the wanted bytes into the rest of the same buffer (the
//! next lines), and what was copied too much is cut off again.

use std::ops::Range;

/// Bytes copied at a time.
pub const BLOCK: usize = 32;

/// From this length on, `memcpy` is faster than the blocks (measured with
/// 4 KiB lines: blocks took 40% more of warden's user time).
const LONG: usize = 256;

/// Appends `source[range]` to `out`. Whole `BLOCK`s are copied while
/// `source` holds them (up to `BLOCK - 1` bytes past the range), the rest
/// as an ordinary copy. A range outside `source` appends nothing.
pub fn append(out: &mut Vec<u8>, source: &[u8], range: Range<usize>) {
    let Some(wanted) = source.get(range.clone()) else { return };
    if wanted.len() > LONG {
        // Long enough for `rep movs` to pay off: a block loop is slower.
        out.extend_from_slice(wanted);
        return;
    }
    let end = out.len() + wanted.len();
    out.reserve(wanted.len() + BLOCK);
    let mut at = range.start;
    while at < range.end {
        let Some(block) = source.get(at..at + BLOCK).and_then(|b| <&[u8; BLOCK]>::try_from(b).ok()) else {
            out.extend_from_slice(source.get(at..range.end).unwrap_or_default());
            break;
        };
        out.extend_from_slice(block);
        at += BLOCK;
    }
    out.truncate(end);
}

/// Adds `BLOCK` bytes of room after `bytes` (none to an empty one), so
/// that `append` copies all of it in blocks, and returns its length before
/// (for what is copied once per line: a label, a JSON head).
pub fn pad(bytes: &mut Vec<u8>) -> usize {
    let len = bytes.len();
    if len > 0 {
        bytes.resize(len + BLOCK, 0);
    }
    len
}

#[cfg(test)]
mod tests;
