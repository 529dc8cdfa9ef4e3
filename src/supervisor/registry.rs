//! Who owns what the loop waits on: every token in epoll and every child
//! warden started, each in one table with an `enum` owner, so the loop
//! dispatches a wake-up with one `match` and a reaped pid is settled by one
//! look-up. The owners keep their own data (a capture's buffers, a spawn's
//! status pipe, a connection, a hook); the registry only says whose a token
//! or pid is, from the moment it is made until it is closed or reaped.

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

/// What a token in epoll belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Signals,
    /// warden's stdout (0) or stderr (1) has room again.
    Sink(usize),
    /// The control socket's listener, or the HTTP one.
    Listener {
        http: bool,
    },
    /// A control or HTTP connection (`serve`).
    Connection,
    /// The file-probe thread has results.
    FileChecks,
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
}

impl Registry {
    /// Whose `token` is; None for one already closed (a late wake-up).
    pub fn token(&self, token: u64) -> Option<Token> {
        match token {
            SIGNALS => Some(Token::Signals),
            CONTROL => Some(Token::Listener { http: false }),
            HTTP => Some(Token::Listener { http: true }),
            FILE_CHECKS => Some(Token::FileChecks),
            _ if SINKS.contains(&token) => Some(Token::Sink(usize::from(token == SINKS[1]))),
            _ => self.tokens.get(&token).copied(),
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

    /// Whose `pid` was, forgotten (it was reaped, or is no longer watched).
    pub fn remove_child(&mut self, pid: i32) -> Option<Child> {
        self.children.remove(&pid)
    }
}
