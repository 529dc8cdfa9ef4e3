use super::*;

fn collect(lines: &mut Lines, chunks: &[&[u8]], finish: bool) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for chunk in chunks {
        lines.push(chunk, &mut |p| out.push((String::from_utf8_lossy(p.text).into_owned(), p.continued)));
    }
    if finish {
        lines.finish(&mut |p| out.push((String::from_utf8_lossy(p.text).into_owned(), p.continued)));
    }
    out
}

#[test]
fn lines_are_reassembled_across_reads() {
    let mut lines = Lines::default();
    let out = collect(&mut lines, &[b"one\ntw", b"o\n", b"", b"thr", b"ee\nfour"], true);
    let texts: Vec<&str> = out.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(texts, ["one", "two", "three", "four"]);
    assert!(out.iter().all(|(_, c)| !c));
}

#[test]
fn long_lines_are_split_into_marked_records() {
    let mut lines = Lines::default();
    let long = vec![b'x'; MAX_LINE * 2 + 10];
    let mut input = long.clone();
    input.extend_from_slice(b"\nnext\n");
    // Fed in odd-sized chunks, the result is the same.
    let chunks: Vec<&[u8]> = input.chunks(7000).collect();
    let out = collect(&mut lines, &chunks, true);
    let sizes: Vec<(usize, bool)> = out.iter().map(|(t, c)| (t.len(), *c)).collect();
    assert_eq!(sizes, [(MAX_LINE, false), (MAX_LINE, true), (10, true), (4, false)]);
}

#[test]
fn a_line_of_exactly_the_limit_is_one_record() {
    let mut lines = Lines::default();
    let mut input = vec![b'y'; MAX_LINE];
    input.push(b'\n');
    let out = collect(&mut lines, &[&input], true);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.len(), MAX_LINE);
}

#[test]
fn records_render_as_text_and_json() {
    let mut out = Vec::new();
    text_record(&mut out, "web", Piece { text: b"hello \xff", continued: false }, None);
    text_record(&mut out, "web", Piece { text: b"more", continued: true }, Some("T"));
    assert_eq!(out, b"web | hello \xff\nT web + more\n");
    let mut out = Vec::new();
    json_record(&mut out, "web", Stream::Stderr, 7, Piece { text: b"a\"b\\\x01\xffz", continued: true }, "T");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"time\":\"T\",\"service\":\"web\",\"stream\":\"stderr\",\"pid\":7,\"message\":\"a\\\"b\\\\\\u0001\\\\xffz\",\"continued\":true}\n"
    );
}

#[test]
fn the_tail_is_bounded() {
    let mut tail = Tail::default();
    let long = vec![b'z'; 10_000];
    for i in 0..200 {
        let text = if i == 199 { long.clone() } else { format!("line {i}").into_bytes() };
        tail.push(Stream::Stdout, Piece { text: &text, continued: false });
    }
    let kept = tail.lines();
    assert_eq!(kept.len(), TAIL_LINES);
    assert_eq!(kept[0].1, format!("line {}", 200 - TAIL_LINES));
    assert_eq!(kept[TAIL_LINES - 1].1.len(), TAIL_LINE);
}
