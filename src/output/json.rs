//! The one JSON encoder of warden's output (event lines, records, crash
//! reports, control answers) and the one timestamp format they share.

use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `bytes` as a JSON string. Bytes that are not UTF-8 become `\xNN`
/// escapes (`"\\xff"` in the JSON text), so nothing a program wrote is lost;
/// control characters and DEL become `\uNNNN` (or their short escapes).
pub fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    // Most text needs no escape: copied whole up to the first byte that may
    // (a quote, a backslash, a control, DEL, or anything not ASCII).
    let (clean, rest) = bytes.split_at(plain_prefix(bytes));
    out.extend_from_slice(clean);
    escape(out, rest);
    out.push(b'"');
}

/// As `string`, for `source[range]`: its plain part is copied in blocks
/// that may read past the range into the rest of `source` (`super::copy`),
/// for a flood's lines, which lie one after the other in a read.
pub fn string_within(out: &mut Vec<u8>, source: &[u8], range: std::ops::Range<usize>) {
    let bytes = source.get(range.clone()).unwrap_or_default();
    out.push(b'"');
    let clean = plain_prefix(bytes);
    super::copy::append(out, source, range.start..range.start + clean);
    escape(out, bytes.get(clean..).unwrap_or_default());
    out.push(b'"');
}

/// How many bytes from the start need no escape: printable ASCII other
/// than a quote or a backslash. Blocks of 16 are tested without an early
/// exit inside, which the compiler turns into vector instructions.
fn plain_prefix(bytes: &[u8]) -> usize {
    let special = |b: u8| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\';
    let mut clean = 0;
    for block in bytes.chunks_exact(16) {
        if block.iter().fold(false, |any, &b| any | special(b)) {
            break;
        }
        clean += 16;
    }
    let rest = bytes.get(clean..).unwrap_or_default();
    clean + rest.iter().position(|&b| special(b)).unwrap_or(rest.len())
}

/// The escaping of `string`, for text that needs some.
fn escape(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        let mut plain = 0;
        for (at, c) in valid.char_indices() {
            let escape: Option<&[u8]> = match c {
                '"' => Some(b"\\\""),
                '\\' => Some(b"\\\\"),
                '\n' => Some(b"\\n"),
                '\r' => Some(b"\\r"),
                '\t' => Some(b"\\t"),
                _ => None,
            };
            let control = (c as u32) < 0x20 || c == '\u{7f}';
            if escape.is_none() && !control {
                continue;
            }
            // Runs of plain text are copied whole.
            out.extend_from_slice(valid.as_bytes().get(plain..at).unwrap_or_default());
            match escape {
                Some(text) => out.extend_from_slice(text),
                None => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            }
            plain = at + c.len_utf8();
        }
        out.extend_from_slice(valid.as_bytes().get(plain..).unwrap_or_default());
        for byte in chunk.invalid() {
            out.extend_from_slice(format!("\\\\x{byte:02x}").as_bytes());
        }
    }
}

/// `text` as a JSON string.
pub fn quote(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    string(&mut out, text.as_bytes());
    // Valid UTF-8 in, escapes only added: valid UTF-8 out.
    String::from_utf8(out).unwrap_or_default()
}

/// RFC 3339 UTC time with milliseconds: `2026-11-23T18:00:00.123Z`.
pub fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let days = (since.as_secs() / 86_400) as i64;
    let secs = since.as_secs() % 86_400;
    let (year, month, day) = crate::cron::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests;
