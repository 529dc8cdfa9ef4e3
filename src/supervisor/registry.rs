//! Who owns what the loop waits on: every token in epoll and every child
//! warden started, each in one table with an `enum` owner, so the loop
//! dispatches a wake-up with one `match` and a reaped pid is settled by one
//! look-up. The owners keep their own data (a capture's buffers, a spawn's
//! status pipe, a connection, a hook); the registry only says whose a token
//! or pid is, from the moment it is made until it is closed or reaped.
//!
//! The owners there are many of (two capture pipes per running service, an
//! exec-status pipe per start in flight, connections) are written in the
//! token itself, a kind in its top bits (`Registry::take`), so the table
//! holds only the tokens that must name a unit.

use std::collections::HashMap;

use super::core::UnitId;
use crate::config::ProbeKind;

/// Tokens that always mean the same thing.
pub const SIGNALS: u64 = crate::init::SIGNALS;
/// warden's stdout and stderr, while they are full.
pub const SINKS: [u64; 2] = super::capture::SINK_TOKENS;
pub const CONTROL: u64 = 3;
pub const HTTP: u64 = 4;
pub const FILE_CHECKS: u64 = super::watch::FILE_CHECKS;
/// The abstract control socket opened when a reload moved `control:`.
pub const FALLBACK: u64 = 6;
/// The inotify watch of services' `memory.events` (cgroup v2).
pub const OOM_EVENTS: u64 = 7;
/// The inotify watch of files (`watch:`, `watch_config`).
pub const FILE_WATCH: u64 = 8;
/// The disk thread made room or has warnings.
pub const DISK: u64 = 9;
/// The wall clock was set (cron jobs follow it).
pub const CLOCK: u64 = 10;

/// What a token in epoll belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Signals,
    /// warden's stdout (0) or stderr (1) has room again.
    Sink(usize),
    /// A listener: the control socket, the HTTP port, or the abstract
    /// control socket a reload that moved `control:` opened.
    Listener(Listener),
    /// A control or HTTP connection (`serve`).
    Connection,
    /// The file-probe thread has results.
    FileChecks,
    /// The disk thread made room or has warnings.
    Disk,
    /// A capture pipe of a unit's run (`capture`).
    Capture,
    /// The exec-status pipe of a start in flight (`spawning`).
    SpawnStatus,
    /// A probe's socket.
    Probe {
        unit: UnitId,
        kind: ProbeKind,
    },
    /// A unit's NOTIFY_SOCKET.
    Notify(UnitId),
    /// A unit's readiness pipe (`notify_fd`).
    Pipe(UnitId),
    /// The kernel changed a service's `memory.events`.
    OomEvents,
    /// A watched directory changed.
    FileWatch,
    /// The wall clock was set, or the machine woke up.
    ClockJump,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Control,
    Http,
    Fallback,
}

/// What a child warden started is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    /// A unit's program.
    Program(usize),
    /// An exec probe.
    Probe { unit: UnitId, kind: ProbeKind },
    /// An on_crash hook.
    Hook,
}

#[derive(Default)]
pub struct Registry {
    tokens: HashMap<u64, Token>,
    children: HashMap<i32, Child>,
    next: u64,
}

/// Kinds written in a token's top bits; below them, a counter.
const KIND_SHIFT: u32 = 56;
const KIND_TABLE: u64 = 1;
const KIND_CAPTURE: u64 = 2;
const KIND_SPAWN: u64 = 3;
const KIND_CONNECTION: u64 = 4;

/// What a token is taken for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Its owner is looked up in the table (`add_token`): it names a unit.
    Table,
    Capture,
    SpawnStatus,
    Connection,
}

impl Registry {
    /// A new token for `kind` (never 0 to 9, never reused within a kind).
    pub fn take(&mut self, kind: Kind) -> u64 {
        let bits = match kind {
            Kind::Table => KIND_TABLE,
            Kind::Capture => KIND_CAPTURE,
            Kind::SpawnStatus => KIND_SPAWN,
            Kind::Connection => KIND_CONNECTION,
        };
        self.next += 1;
        (bits << KIND_SHIFT) | (self.next & ((1 << KIND_SHIFT) - 1))
    }

    /// Whose `token` is. The owner of a kind written in the token may have
    /// closed it already: its own table says (a late wake-up finds nothing).
    /// None for a table token already removed.
    pub fn token(&self, token: u64) -> Option<Token> {
        match token {
            SIGNALS => Some(Token::Signals),
            CONTROL => Some(Token::Listener(Listener::Control)),
            HTTP => Some(Token::Listener(Listener::Http)),
            FALLBACK => Some(Token::Listener(Listener::Fallback)),
            FILE_CHECKS => Some(Token::FileChecks),
            OOM_EVENTS => Some(Token::OomEvents),
            FILE_WATCH => Some(Token::FileWatch),
            DISK => Some(Token::Disk),
            CLOCK => Some(Token::ClockJump),
            _ if SINKS.contains(&token) => Some(Token::Sink(usize::from(token == SINKS[1]))),
            _ => match token >> KIND_SHIFT {
                KIND_CAPTURE => Some(Token::Capture),
                KIND_SPAWN => Some(Token::SpawnStatus),
                KIND_CONNECTION => Some(Token::Connection),
                _ => self.tokens.get(&token).copied(),
            },
        }
    }

    pub fn add_token(&mut self, token: u64, owner: Token) {
        self.tokens.insert(token, owner);
    }

    pub fn remove_token(&mut self, token: u64) -> Option<Token> {
        self.tokens.remove(&token)
    }

    pub fn add_child(&mut self, pid: i32, owner: Child) {
        self.children.insert(pid, owner);
    }

    /// Gives back what a wave of starts grew the tables to (hash maps keep
    /// their peak capacity): called when no start is in flight any more.
    pub fn trim(&mut self) {
        if self.tokens.capacity() > 2 * self.tokens.len() + 64 {
            self.tokens.shrink_to_fit();
        }
        if self.children.capacity() > 2 * self.children.len() + 64 {
            self.children.shrink_to_fit();
        }
    }

    /// Whose `pid` is, if warden started it.
    pub fn owner_of_child(&self, pid: i32) -> Option<Child> {
        self.children.get(&pid).copied()
    }

    /// Whose `pid` was, forgotten (it was reaped, or is no longer watched).
    pub fn remove_child(&mut self, pid: i32) -> Option<Child> {
        self.children.remove(&pid)
    }
}
