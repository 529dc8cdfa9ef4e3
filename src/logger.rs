//! warden's own messages: one line each on stderr. In the two run modes they go
//! through `output::sink`, which never blocks the loop (a stalled reader makes
//! warden drop and count its own lines, never wait); elsewhere (clients,
//! `validate`) they are written straight to fd 2, errors ignored, so a closed
//! stderr never panics (std's `eprintln!` would on EPIPE).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
    Trace = 4,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Level::Error),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            "trace" => Some(Level::Trace),
            _ => None,
        }
    }

    /// One step more verbose, stopping at the most verbose level.
    pub fn more(self) -> Level {
        match self {
            Level::Error => Level::Warn,
            Level::Warn => Level::Info,
            Level::Info => Level::Debug,
            Level::Debug | Level::Trace => Level::Trace,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Error => "error: ",
            Level::Warn => "warning: ",
            Level::Info => "",
            Level::Debug => "debug: ",
            Level::Trace => "trace: ",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

/// Set once stderr has answered EPIPE: its reader is gone for good, and every
/// further write would only raise another SIGPIPE.
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

static TIMESTAMPS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `log_timestamps: true`: warden's own text lines start with the time too,
/// as services' lines do.
pub fn set_timestamps(on: bool) {
    TIMESTAMPS.store(on, Ordering::Relaxed);
}

/// "2026-12-03T18:04:05.123Z " when warden's own text lines are stamped.
pub fn stamp() -> String {
    if TIMESTAMPS.load(Ordering::Relaxed) {
        format!("{} ", crate::output::json::timestamp(std::time::SystemTime::now()))
    } else {
        String::new()
    }
}

/// Writes one record; use the `error!`/`warn!`/`info!`/`debug!` macros instead.
pub fn write(level: Level, message: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = Vec::with_capacity(128);
    // Writing into a Vec cannot fail.
    let _ = writeln!(line, "{}warden: {}{}", stamp(), level.label(), message);
    emit(&line);
}

/// Writes one complete line (an event) regardless of the level: event lines are
/// the supervisor's output, not diagnostics.
pub fn write_line(line: &str) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    emit(&bytes);
}

/// Through the loop's non-blocking stderr once there is one (never waiting:
/// a line that finds no room is dropped and counted there); before that, or
/// in a client, straight to fd 2.
fn emit(line: &[u8]) {
    if crate::output::sink::own_line(crate::output::Stream::Stderr, line)
        || STDERR_GONE.load(Ordering::Relaxed)
    {
        return;
    }
    if let Err(e) = std::io::stderr().write_all(line)
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        STDERR_GONE.store(true, Ordering::Relaxed);
    }
}

// The level is checked before the arguments are evaluated: a debug line that
// is not shown costs no formatting and no allocation (signal names are
// formatted on every forwarded signal).
macro_rules! error {
    ($($arg:tt)*) => { $crate::logger::log!($crate::logger::Level::Error, $($arg)*) };
}
macro_rules! warning {
    ($($arg:tt)*) => { $crate::logger::log!($crate::logger::Level::Warn, $($arg)*) };
}
macro_rules! info {
    ($($arg:tt)*) => { $crate::logger::log!($crate::logger::Level::Info, $($arg)*) };
}
macro_rules! debug {
    ($($arg:tt)*) => { $crate::logger::log!($crate::logger::Level::Debug, $($arg)*) };
}
macro_rules! log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::logger::enabled($level) {
            $crate::logger::write($level, format_args!($($arg)*))
        }
    };
}
pub(crate) use {debug, error, info, log, warning};
