//! Service output: capture pipes are read by the loop, cut into lines
//! (`Lines`), and each line becomes one record: `name | line` or a JSON object
//! on warden's stdout or stderr (`sink`), or a line in a rotating file
//! (`rotate`), written by the disk thread (`crate::disk`). Every service keeps its last lines (`Tail`) for crash reports
//! and `warden logs`.
//!
//! Memory is bounded everywhere: a line longer than `MAX_LINE` is cut into
//! several records, the last marked as continuing the previous ones; a sink
//! holds at most `sink::SOFT_LIMIT` bytes plus one read's worth before warden
//! stops reading the pipes (the children then block: backpressure); the tail
//! keeps `TAIL_LINES` lines of at most `TAIL_LINE` bytes.

pub mod copy;
pub mod crash;
pub mod json;
pub mod rotate;
pub mod sink;

/// The longest record: a longer line is split.
pub const MAX_LINE: usize = 16 * 1024;
/// Lines a service's tail keeps, and the bytes kept of each.
pub const TAIL_LINES: usize = 50;
pub const TAIL_LINE: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One record: a whole line, or a piece of a line longer than `MAX_LINE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece<'a> {
    pub text: &'a [u8],
    /// It continues the record before it (a split line).
    pub continued: bool,
}

/// What `Lines::push_runs` hands on: a record, or a run of whole lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk<'a> {
    Piece(Piece<'a>),
    /// Complete lines straight from the data, each at most `MAX_LINE` bytes
    /// and ending in its newline: a caller that writes lines as they came
    /// copies the run whole instead of line by line.
    Run(&'a [u8]),
}

/// Reassembles lines from the chunks one pipe delivers.
#[derive(Debug, Default)]
pub struct Lines {
    partial: Vec<u8>,
    /// The bytes held belong to a line already partly emitted.
    continued: bool,
}

impl Lines {
    /// Feeds `data`; calls `emit` for every complete line (without its
    /// newline) and for every `MAX_LINE` piece of a longer one.
    pub fn push(&mut self, data: &[u8], emit: &mut dyn FnMut(Piece)) {
        self.push_runs(data, &mut |chunk| match chunk {
            Chunk::Piece(piece) => emit(piece),
            Chunk::Run(run) => for_each_line(run, |line| emit(Piece { text: line, continued: false })),
        });
    }

    /// As `push`, but the complete lines that need no reassembly come as
    /// runs (`Chunk::Run`), found with a vectorised newline search.
    pub fn push_runs(&mut self, mut data: &[u8], emit: &mut dyn FnMut(Chunk)) {
        while !data.is_empty() {
            if !self.partial.is_empty() || self.continued {
                data = self.push_pieces(data, emit, true);
                continue;
            }
            let Some(last) = memchr::memrchr(b'\n', data) else {
                data = self.push_pieces(data, emit, true);
                continue;
            };
            // The longest stretch of whole lines that each fit in a record:
            // a window of MAX_LINE + 1 bytes from a line's start holding a
            // newline holds whole lines that fit, up to its last newline, so
            // the search leaps a window at a time, not a line at a time.
            let lines = data.get(..=last).unwrap_or_default();
            let mut whole = 0;
            while let Some(window) = lines.get(whole..(whole + MAX_LINE + 1).min(lines.len())) {
                match memchr::memrchr(b'\n', window) {
                    Some(end) if !window.is_empty() => whole += end + 1,
                    _ => break,
                }
            }
            if whole == 0 {
                // The first line is too long: it is cut into pieces.
                data = self.push_pieces(data, emit, true);
                continue;
            }
            let (run, rest) = data.split_at(whole);
            emit(Chunk::Run(run));
            data = rest;
        }
    }

    /// Cuts `data` into records through the partial line; with `one`, stops
    /// after the first line that ends. Returns what is left of `data`.
    fn push_pieces<'d>(&mut self, mut data: &'d [u8], emit: &mut dyn FnMut(Chunk), one: bool) -> &'d [u8] {
        while !data.is_empty() {
            let room = MAX_LINE - self.partial.len();
            // A newline right after `room` bytes still ends a line that fits.
            let window = data.get(..room + 1).unwrap_or(data);
            match memchr::memchr(b'\n', window) {
                Some(end) => {
                    let (line, rest) = data.split_at(end);
                    if self.partial.is_empty() {
                        emit(Chunk::Piece(Piece { text: line, continued: self.continued }));
                    } else {
                        self.partial.extend_from_slice(line);
                        emit(Chunk::Piece(Piece { text: &self.partial, continued: self.continued }));
                        self.partial.clear();
                    }
                    self.continued = false;
                    data = rest.get(1..).unwrap_or_default();
                    if one {
                        return data;
                    }
                }
                None if data.len() < room => {
                    self.partial.extend_from_slice(data);
                    return &[];
                }
                None => {
                    // A full record's worth without a newline: out it goes.
                    let (piece, rest) = data.split_at(room);
                    self.partial.extend_from_slice(piece);
                    emit(Chunk::Piece(Piece { text: &self.partial, continued: self.continued }));
                    self.partial.clear();
                    self.continued = true;
                    data = rest;
                }
            }
        }
        data
    }

    /// The stream ended: a last line without newline is still a line.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Piece)) {
        if !self.partial.is_empty() {
            emit(Piece { text: &self.partial, continued: self.continued });
        }
        self.partial = Vec::new();
        self.continued = false;
    }
}

/// Each line of `run` (complete lines, each ending in a newline), without its newline.
pub fn for_each_line(run: &[u8], mut each: impl FnMut(&[u8])) {
    let mut start = 0;
    for newline in memchr::memchr_iter(b'\n', run) {
        each(run.get(start..newline).unwrap_or_default());
        start = newline + 1;
    }
}

/// Where the last `count` lines of `run` begin.
pub fn last_lines_start(run: &[u8], count: usize) -> usize {
    // The run ends in a newline: skip it, then find `count` more.
    let body = run.get(..run.len().saturating_sub(1)).unwrap_or_default();
    memchr::memrchr_iter(b'\n', body).nth(count.saturating_sub(1)).map_or(0, |i| i + 1)
}

/// The last lines of a service's output, kept as bytes in one buffer (no
/// allocation per line): each line is a stream tag, its text (at most
/// `TAIL_LINE` bytes) and a newline; the oldest are dropped in bulk.
///
/// A flood hands over a run of hundreds of lines per read, of which only the
/// last `TAIL_LINES` can be kept: those are copied as they came, in one
/// piece (`latest`), and turned into tail lines only when something else
/// comes or the tail is read. A read then costs one copy, not one per line.
#[derive(Debug, Default)]
pub struct Tail {
    bytes: Vec<u8>,
    /// The last lines of the latest run, as read (each ending in a newline,
    /// any length up to `MAX_LINE`, at most `TAIL_BYTES` in all), after
    /// everything in `bytes`.
    latest: Vec<u8>,
    /// Their stream and time.
    latest_head: [u8; LINE_HEAD],
}

/// Bytes the tail keeps at least (more until the next trim).
const TAIL_BYTES: usize = TAIL_LINES * (TAIL_LINE + 2 + TIME_DIGITS);

/// One line of a tail: its stream, when it was read (milliseconds since the
/// epoch), its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailLine {
    pub stream: Stream,
    pub at_ms: u64,
    pub text: String,
}

/// Digits of a line's time in the tail (milliseconds since the epoch).
const TIME_DIGITS: usize = 13;

/// A tail line's stream tag and time.
const LINE_HEAD: usize = 1 + TIME_DIGITS;

/// The stream tag and fixed-width time digits a tail line starts with (no
/// newline can hide in them), made once per batch of lines.
fn line_head(stream: Stream, at_ms: u64) -> [u8; LINE_HEAD] {
    let mut head = [b'0'; LINE_HEAD];
    let (tag, digits) = head.split_at_mut(1);
    if let Some(tag) = tag.first_mut() {
        *tag = match stream {
            Stream::Stdout => b'o',
            Stream::Stderr => b'e',
        };
    }
    let mut left = at_ms;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (left % 10) as u8;
        left /= 10;
    }
    head
}

impl Tail {
    /// Keeps a record read at `at_ms` (milliseconds since the epoch).
    pub fn push(&mut self, stream: Stream, piece: Piece, at_ms: u64) {
        self.settle();
        self.push_line(&line_head(stream, at_ms), piece.text);
        self.trim();
    }

    /// The last `TAIL_LINES` lines of a run of whole lines (the earlier
    /// ones would be dropped anyway). A run of more replaces what the tail
    /// held.
    pub fn push_run(&mut self, stream: Stream, run: &[u8], at_ms: u64) {
        let from = last_lines_start(run, TAIL_LINES);
        let last = run.get(from..).unwrap_or_default();
        let head = line_head(stream, at_ms);
        if from > 0 {
            self.bytes.clear();
            self.latest.clear();
            if last.len() <= TAIL_BYTES {
                self.latest.extend_from_slice(last);
                self.latest_head = head;
                return;
            }
        } else {
            self.settle();
        }
        for_each_line(last, |line| self.push_line(&head, line));
        self.trim();
    }

    /// Turns the latest run's lines into tail lines.
    fn settle(&mut self) {
        if self.latest.is_empty() {
            return;
        }
        let latest = std::mem::take(&mut self.latest);
        let head = self.latest_head;
        for_each_line(&latest, |line| self.push_line(&head, line));
        self.latest = latest;
        self.latest.clear();
    }

    fn push_line(&mut self, head: &[u8; LINE_HEAD], text: &[u8]) {
        let cut = text.get(..TAIL_LINE).unwrap_or(text);
        self.bytes.extend_from_slice(head);
        // A newline inside the text cannot happen (lines are cut at newlines).
        self.bytes.extend_from_slice(cut);
        self.bytes.push(b'\n');
    }

    /// Drops the oldest lines in bulk once twice the minimum is held.
    fn trim(&mut self) {
        if self.bytes.len() > 2 * TAIL_BYTES {
            let excess = self.bytes.len() - TAIL_BYTES;
            // Keep whole lines: drop up to the end of the line the cut falls in.
            let end = memchr::memchr(b'\n', self.bytes.get(excess..).unwrap_or_default())
                .map_or(excess, |i| excess + i + 1);
            self.bytes.drain(..end);
        }
    }

    /// The last `TAIL_LINES` lines, oldest first.
    pub fn lines(&self) -> Vec<TailLine> {
        let parse = |line: &[u8]| {
            let (tag, rest) = line.split_first()?;
            let stream = if *tag == b'e' { Stream::Stderr } else { Stream::Stdout };
            let (time, text) = rest.split_at_checked(TIME_DIGITS)?;
            let at_ms = std::str::from_utf8(time).ok()?.parse().ok()?;
            Some(TailLine { stream, at_ms, text: String::from_utf8_lossy(text).into_owned() })
        };
        let mut all: Vec<TailLine> =
            self.bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).filter_map(parse).collect();
        // The latest run's lines are kept whole: cut here as `push_line` cuts.
        if !self.latest.is_empty()
            && let Some(latest) = parse(&self.latest_head)
        {
            for_each_line(&self.latest, |text| {
                let text = text.get(..TAIL_LINE).unwrap_or(text);
                all.push(TailLine { text: String::from_utf8_lossy(text).into_owned(), ..latest.clone() });
            });
        }
        let skip = all.len().saturating_sub(TAIL_LINES);
        all.split_off(skip)
    }
}

/// `name | line` (`name + piece` for a continuation), optionally after a
/// timestamp; bytes are written as they came.
pub fn text_record(out: &mut Vec<u8>, name: &str, piece: Piece, timestamp: Option<&str>) {
    if let Some(time) = timestamp {
        out.extend_from_slice(time.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(if piece.continued { b" + " } else { b" | " });
    out.extend_from_slice(piece.text);
    out.push(b'\n');
}

/// What every JSON record of one service's stream starts with, up to its
/// message: made once per batch of records, not once per line.
pub fn json_head(out: &mut Vec<u8>, name: &str, stream: Stream, pid: i32, time: &str) {
    out.extend_from_slice(b"{\"time\":\"");
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\",\"service\":");
    json::string(out, name.as_bytes());
    out.extend_from_slice(b",\"stream\":\"");
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(b"\",\"pid\":");
    out.extend_from_slice(pid.to_string().as_bytes());
    out.extend_from_slice(b",\"message\":");
}

/// One JSON object per record, after its `head` (`json_head`). Bytes that
/// are not UTF-8 are written as `\xNN` escapes (`"\\xff"` in the JSON
/// text), so nothing is lost.
pub fn json_record(out: &mut Vec<u8>, head: &[u8], piece: Piece) {
    out.extend_from_slice(head);
    json::string(out, piece.text);
    if piece.continued {
        out.extend_from_slice(b",\"continued\":true");
    }
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests;
