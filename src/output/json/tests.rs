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

/// The fast scan for plain text hands over at any place: every escape
/// comes out the same as when the slow path does it all.
#[test]
fn the_plain_text_scan_hands_over_anywhere() {
    for special in [b'"', b'\\', b'\n', 0x01, 0x7f, 0xc3, 0xff] {
        for at in 0..48 {
            let mut bytes = vec![b'a'; at];
            bytes.push(special);
            if special == 0xc3 {
                bytes.push(0xa9); // é
            }
            bytes.extend_from_slice(b"bbbbbbbbbbbbbbbbbbbb");
            let mut fast = Vec::new();
            string(&mut fast, &bytes);
            let mut slow = vec![b'"'];
            escape(&mut slow, &bytes);
            slow.push(b'"');
            assert_eq!(fast, slow, "byte {special:#x} at {at}");
            assert_eq!(plain_prefix(&bytes), at);
        }
    }
}

#[test]
fn a_string_within_a_buffer_is_the_string_alone() {
    let lines: [&[u8]; 6] = [
        b"",
        b"plain text of a line that is longer than a block or two",
        b"quote \" here",
        b"\xff\xfe bytes",
        b"tab\tand \x01",
        b"short",
    ];
    let mut source = Vec::new();
    let mut ranges = Vec::new();
    for line in lines {
        ranges.push(source.len()..source.len() + line.len());
        source.extend_from_slice(line);
        source.push(b'\n');
    }
    for (line, range) in lines.iter().zip(ranges) {
        let (mut alone, mut within) = (b"{".to_vec(), b"{".to_vec());
        string(&mut alone, line);
        string_within(&mut within, &source, range);
        assert_eq!(within, alone, "{:?}", String::from_utf8_lossy(line));
    }
}
