//! The one JSON encoder of warden's output (event lines, records, crash
//! reports, control answers) and the one timestamp format they share.

use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `bytes` as a JSON string. Bytes that are not UTF-8 become `\xNN`
/// escapes (`"\\xff"` in the JSON text), so nothing a program wrote is lost;
/// control characters and DEL become `\uNNNN` (or their short escapes).
pub fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
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
    out.push(b'"');
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
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_time() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_457_045_123);
        assert_eq!(timestamp(t), "2026-11-23T18:04:05.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn escapes_what_json_requires_and_keeps_the_rest() {
        assert_eq!(quote("plain"), "\"plain\"");
        assert_eq!(quote("a\"b\\c\nd\re\tf"), "\"a\\\"b\\\\c\\nd\\re\\tf\"");
        assert_eq!(quote("\u{1}\u{7f}é✓"), "\"\\u0001\\u007fé✓\"");
        let mut out = Vec::new();
        string(&mut out, b"ok\xff\xfeend");
        assert_eq!(out, b"\"ok\\\\xff\\\\xfeend\"");
    }

    #[test]
    fn every_output_parses_as_json_and_round_trips_valid_text() {
        // Every single character class, and mixed runs.
        for text in ["", "x", "\"\"", "\\", "\u{0}\u{1f}", "日本語 text \u{7f} \t end"] {
            let quoted = quote(text);
            assert!(quoted.starts_with('"') && quoted.ends_with('"'), "{quoted}");
            let decoded = decode(&quoted);
            assert_eq!(decoded, text, "{quoted}");
        }
    }

    /// A small JSON string decoder for the round trip above.
    fn decode(quoted: &str) -> String {
        let inner = &quoted[1..quoted.len() - 1];
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    }
}
