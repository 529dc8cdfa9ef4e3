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
    let mut head = Vec::new();
    json_head(&mut head, "web", Stream::Stderr, 7, "T");
    json_record(&mut out, &head, Piece { text: b"a\"b\\\x01\xffz", continued: true });
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
        tail.push(Stream::Stdout, Piece { text: &text, continued: false }, 1_700_000_000_000 + i);
    }
    let kept = tail.lines();
    assert_eq!(kept.len(), TAIL_LINES);
    assert_eq!(kept[0].text, format!("line {}", 200 - TAIL_LINES));
    assert_eq!(kept[0].at_ms, 1_700_000_000_000 + 200 - TAIL_LINES as u64);
    assert_eq!(kept[TAIL_LINES - 1].text.len(), TAIL_LINE);
}

/// A run keeps in the tail exactly what pushing its lines one by one would:
/// a short run adds to what was kept, a long one replaces it, wherever it
/// comes and however long its lines are (beyond `TAIL_LINE` they are cut).
#[test]
fn a_run_keeps_what_its_lines_pushed_one_by_one_would() {
    let run_of = |from: usize, count: usize, width: usize| -> Vec<u8> {
        (from..from + count).flat_map(|i| format!("line {i:<width$}\n").into_bytes()).collect()
    };
    let short = [
        (Stream::Stdout, run_of(0, 30, 1)),
        (Stream::Stderr, run_of(30, 10, 1)),
        (Stream::Stdout, run_of(40, 3, 1)),
    ];
    for (count, width) in [(0, 1), (75, 1), (TAIL_LINES, 1), (60, TAIL_LINE + 100)] {
        for at in 0..=short.len() {
            let mut all = short.to_vec();
            all.insert(at, (Stream::Stderr, run_of(100, count, width)));
            let mut by_run = Tail::default();
            let mut by_line = Tail::default();
            for (ms, (stream, run)) in all.iter().enumerate() {
                by_run.push_run(*stream, run, ms as u64);
                for_each_line(run, |line| {
                    by_line.push(*stream, Piece { text: line, continued: false }, ms as u64)
                });
            }
            let kept = by_run.lines();
            assert_eq!(kept, by_line.lines(), "{count} lines of {width} at {at}");
            assert_eq!(kept.len(), (43 + count).min(TAIL_LINES));
            assert!(kept.iter().all(|l| l.text.len() <= TAIL_LINE));
        }
    }
}

/// Runs carry whole lines as they came; everything else comes as pieces,
/// and the two together are exactly what `push` makes, however the data is
/// cut into reads.
#[test]
fn runs_and_pieces_make_the_same_lines_as_push() {
    let mut text = Vec::new();
    for i in 0..300 {
        text.extend_from_slice(format!("line {i} ").as_bytes());
        // Now and then a line longer than a record.
        let long = if i % 97 == 5 { MAX_LINE + 300 } else { i % 13 };
        text.extend(std::iter::repeat_n(b'x', long));
        text.push(b'\n');
    }
    text.extend_from_slice(b"no newline at the end");
    // What the rules say: each line one record, a longer one cut every
    // MAX_LINE bytes (the pieces after the first marked as continuing).
    let mut expected: Vec<(String, bool)> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        for (i, piece) in line.chunks(MAX_LINE).enumerate() {
            expected.push((String::from_utf8_lossy(piece).into_owned(), i > 0));
        }
    }
    for cut in [1, 7, 100, 4096, 65536, text.len()] {
        let mut lines = Lines::default();
        let mut got: Vec<(String, bool)> = Vec::new();
        let mut runs = 0;
        for chunk in text.chunks(cut) {
            lines.push_runs(chunk, &mut |c| match c {
                Chunk::Run(run) => {
                    runs += 1;
                    assert_eq!(run.last(), Some(&b'\n'));
                    for_each_line(run, |l| {
                        assert!(l.len() <= MAX_LINE);
                        got.push((String::from_utf8_lossy(l).into_owned(), false))
                    });
                }
                Chunk::Piece(p) => got.push((String::from_utf8_lossy(p.text).into_owned(), p.continued)),
            });
        }
        lines.finish(&mut |p| got.push((String::from_utf8_lossy(p.text).into_owned(), p.continued)));
        assert_eq!(got, expected, "reads of {cut} bytes");
        if cut >= 4096 {
            assert!(runs > 0, "reads of {cut} bytes made no run");
        }
    }
    assert_eq!(last_lines_start(b"a\nb\nc\n", 2), 2);
    assert_eq!(last_lines_start(b"a\nb\nc\n", 5), 0);
}
