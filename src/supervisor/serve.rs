//! The control socket and the HTTP endpoints, served inside the loop.
//!
//! Every connection is non-blocking, bounded (request size, time to send it,
//! number of connections, bytes queued for it) and owned by one entry of
//! `Server::conns`; a slow or hostile client costs a descriptor and a few
//! kilobytes until its deadline, never a wait. Listeners are level-triggered:
//! when accept runs out of descriptors they leave the loop for a moment
//! instead of waking it forever.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::command::Command;
use super::core::UnitId;
use super::{Supervisor, Timer, registry};
use crate::control::{self, Request, http};
use crate::logger::{info, warning};
use crate::reactor::{Interest, Ready, deadline_after};
use crate::sys::{Reason, net};

/// Connections open at once, both sockets together; more are closed at once.
const MAX_CONNECTIONS: usize = 512;
/// Time a client has to send its request and take its answer.
const REQUEST_TIME: Duration = Duration::from_secs(5);
/// How long `start`, `stop` and `restart` wait for the outcome at most.
pub(super) const WAIT_LIMIT: Duration = Duration::from_secs(300);
/// Bytes queued for a `logs -f` reader; beyond, lines are dropped and counted.
const FOLLOW_LIMIT: usize = 256 * 1024;
/// Accepts per wake-up, so that a flood of clients cannot starve the rest.
const ACCEPTS_PER_WAKE: usize = 64;
/// Pause of the listeners after accept ran out of descriptors.
const RELISTEN_AFTER: Duration = Duration::from_millis(250);

#[derive(Default)]
pub struct Server {
    /// The listener, and its path when it has one to remove at exit.
    control: Option<(UnixListener, Option<PathBuf>)>,
    /// The socket file's device and inode as bound: removed at exit only if
    /// the path still is that file, not one a later warden bound there.
    control_file: Option<(u64, u64)>,
    http: Option<TcpListener>,
    /// The abstract control socket, opened when a reload moved `control:`
    /// so that clients reading the edited file still find this warden.
    fallback: Option<UnixListener>,
    conns: HashMap<u64, Conn>,
    /// Connections following a service's output.
    followers: usize,
    /// Every required service has been ready once.
    pub started: bool,
    pub orphans_reaped: u64,
    listening: bool,
}

enum PeerSocket {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

impl Server {
    /// Connections waiting for a command to be carried out.
    pub(super) fn waiting(&self) -> Vec<u64> {
        self.conns.iter().filter(|(_, c)| matches!(c.stage, Stage::Waiting { .. })).map(|(t, _)| *t).collect()
    }

    pub(super) fn stage(&self, token: u64) -> Option<&Stage> {
        self.conns.get(&token).map(|c| &c.stage)
    }
}

impl PeerSocket {
    fn fd(&self) -> RawFd {
        match self {
            PeerSocket::Unix(s) => s.as_raw_fd(),
            PeerSocket::Tcp(s) => s.as_raw_fd(),
        }
    }

    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            PeerSocket::Unix(s) => s.read(buffer),
            PeerSocket::Tcp(s) => s.read(buffer),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            PeerSocket::Unix(s) => s.write(bytes),
            PeerSocket::Tcp(s) => s.write(bytes),
        }
    }
}

pub(super) enum Stage {
    Reading,
    /// Sending the answer, then closing.
    Answering,
    /// Waiting for services to carry out a command: (unit, its name, from
    /// when a run counts).
    Waiting {
        command: Command,
        units: Vec<(UnitId, String, Instant)>,
        /// How long the client waits (`--timeout`).
        limit: Duration,
    },
    /// `logs -f`: output of what is followed is appended as it comes.
    Following {
        whose: Followed,
        dropped: u64,
    },
}

/// Whose output a `logs -f` client follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Followed {
    /// One unit: its lines as they are.
    Unit(UnitId),
    /// Every copy of a replicated service (those a scale adds too), labelled.
    Group(String),
    /// Every unit, labelled.
    All,
}

impl Followed {
    /// Whether this takes the lines of `unit` (a copy of `group`, if
    /// any): None not at all, Some(true) labelled, Some(false) as they are.
    fn takes(&self, unit: UnitId, group: Option<&str>) -> Option<bool> {
        match self {
            Followed::All => Some(true),
            Followed::Unit(u) => (*u == unit).then_some(false),
            Followed::Group(g) => (group == Some(g.as_str())).then_some(true),
        }
    }
}

struct Conn {
    stream: PeerSocket,
    is_http: bool,
    input: Vec<u8>,
    output: Vec<u8>,
    sent: usize,
    stage: Stage,
    interest: Interest,
    timer: Option<crate::reactor::TimerId>,
}

impl Supervisor {
    /// Opens the control socket and the HTTP listener the config asks for.
    /// Either may fail: one warning each, and warden goes on without it.
    pub(super) fn open_listeners(&mut self) {
        if let Some(path) = self.config.control.clone() {
            match bind_control(&path) {
                Ok((listener, file)) => {
                    self.server.control = Some((listener, Some(path)));
                    self.server.control_file = Some(file);
                }
                Err(why) if path.as_os_str() == crate::config::DEFAULT_CONTROL => match bind_fallback() {
                    Ok((listener, name)) => {
                        // Expected in read-only and non-root containers: not worth a warning.
                        info!("control socket {name} ({} cannot be made: {why})", path.display());
                        self.server.control = Some((listener, None));
                    }
                    Err(e) => {
                        warning!("no control socket at {} ({why}) nor at the fallback ({e})", path.display())
                    }
                },
                Err(why) => warning!("no control socket at {}: {why}", path.display()),
            }
        }
        if let Some(address) = self.config.http {
            match TcpListener::bind(address).and_then(|l| l.set_nonblocking(true).map(|()| l)) {
                Ok(listener) => self.server.http = Some(listener),
                Err(e) => warning!("no HTTP endpoints on {address}: {}", Reason(&e)),
            }
        }
        self.listen(true);
    }

    /// Puts the listeners into the loop, or takes them out.
    fn listen(&mut self, on: bool) {
        if self.server.listening == on {
            return;
        }
        self.server.listening = on;
        let fds = [
            (self.server.control.as_ref().map(|(l, _)| l.as_raw_fd()), registry::CONTROL),
            (self.server.http.as_ref().map(AsRawFd::as_raw_fd), registry::HTTP),
            (self.server.fallback.as_ref().map(AsRawFd::as_raw_fd), registry::FALLBACK),
        ];
        for (fd, token) in fds {
            let Some(fd) = fd else { continue };
            let result = if on {
                self.init.reactor.register(fd, token, Interest::Read)
            } else {
                self.init.reactor.deregister(fd)
            };
            if let Err(e) = result {
                warning!("cannot {} a listener: {}", if on { "watch" } else { "pause" }, Reason(&e));
            }
        }
    }

    /// The control socket goes with warden, unless its path was taken over.
    pub(super) fn close_listeners(&mut self) {
        use std::os::unix::fs::MetadataExt;
        if let (Some((_, Some(path))), Some(file)) =
            (self.server.control.take(), self.server.control_file.take())
            && std::fs::symlink_metadata(&path).is_ok_and(|meta| (meta.dev(), meta.ino()) == file)
        {
            let _ = std::fs::remove_file(path);
        }
        self.server.http = None;
        self.server.fallback = None;
        self.server.conns.clear();
    }

    /// Where the control socket (and HTTP) listen now, for messages.
    pub(super) fn listening_at(&self) -> String {
        let control = match &self.server.control {
            Some((_, Some(path))) => path.display().to_string(),
            Some((_, None)) => {
                control::fallback_address().map(|a| control::describe_address(&a)).unwrap_or_default()
            }
            None => "no control socket".into(),
        };
        match self.server.http.as_ref().and_then(|l| l.local_addr().ok()) {
            Some(address) => format!("{control} and {address}"),
            None => control,
        }
    }

    /// A reload moved `control:`: the abstract socket too, so that a client
    /// reading the edited file (a path nothing listens on yet) finds this
    /// warden there. Nothing if the control socket is that one already.
    pub(super) fn open_fallback_listener(&mut self) {
        if self.server.fallback.is_some() || matches!(self.server.control, Some((_, None)) | None) {
            return;
        }
        match bind_fallback() {
            Ok((listener, name)) => {
                if self.server.listening
                    && let Err(e) =
                        self.init.reactor.register(listener.as_raw_fd(), registry::FALLBACK, Interest::Read)
                {
                    warning!("cannot watch the control socket {name}: {}", Reason(&e));
                    return;
                }
                info!("control socket {name} as well, until the next start");
                self.server.fallback = Some(listener);
            }
            Err(e) => warning!("no abstract control socket for clients of the edited config: {e}"),
        }
    }

    pub(super) fn accept(&mut self, which: registry::Listener) {
        let is_http = which == registry::Listener::Http;
        for _ in 0..ACCEPTS_PER_WAKE {
            let accepted = match which {
                registry::Listener::Http => {
                    let Some(listener) = &self.server.http else { return };
                    listener.accept().map(|(s, _)| PeerSocket::Tcp(s))
                }
                registry::Listener::Control => {
                    let Some((listener, _)) = &self.server.control else { return };
                    listener.accept().map(|(s, _)| PeerSocket::Unix(s))
                }
                registry::Listener::Fallback => {
                    let Some(listener) = &self.server.fallback else { return };
                    listener.accept().map(|(s, _)| PeerSocket::Unix(s))
                }
            };
            let stream = match accepted {
                Ok(stream) => stream,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::ConnectionAborted) => {
                    continue;
                }
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: try again in a moment.
                    warning!("cannot accept a connection: {}; pausing the listeners", Reason(&e));
                    self.listen(false);
                    self.init.reactor.add_timer(deadline_after(RELISTEN_AFTER), Timer::Relisten);
                    return;
                }
            };
            if self.server.conns.len() >= MAX_CONNECTIONS {
                continue; // dropped: closed at once
            }
            self.admit(stream, is_http);
        }
    }

    fn admit(&mut self, mut stream: PeerSocket, is_http: bool) {
        let nonblocking = match &stream {
            PeerSocket::Unix(s) => s.set_nonblocking(true),
            PeerSocket::Tcp(s) => s.set_nonblocking(true),
        };
        if nonblocking.is_err() {
            return;
        }
        if let PeerSocket::Unix(s) = &stream {
            let own = net::effective_uid();
            match net::peer_uid(s.as_fd()) {
                Ok(uid) if uid == 0 || uid == own => {}
                Ok(uid) => {
                    let _ = stream.write(
                        control::header(Err(&format!(
                            "permission denied: uid {uid} may not control warden (only root and uid {own})"
                        )))
                        .as_bytes(),
                    );
                    return;
                }
                Err(e) => {
                    warning!("control socket: cannot identify a client: {}", Reason(&e));
                    return;
                }
            }
        }
        let token = self.registry.take(registry::Kind::Connection);
        if let Err(e) = self.init.reactor.register(stream.fd(), token, Interest::Read) {
            warning!("cannot watch a connection: {}", Reason(&e));
            return;
        }
        let timer = self.init.reactor.add_timer(deadline_after(REQUEST_TIME), Timer::Connection { token });
        let conn = Conn {
            stream,
            is_http,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            stage: Stage::Reading,
            interest: Interest::Read,
            timer: Some(timer),
        };
        self.server.conns.insert(token, conn);
    }

    pub(super) fn on_connection(&mut self, token: u64, ready: Ready) {
        let Some(conn) = self.server.conns.get_mut(&token) else { return };
        if conn.interest == Interest::Write {
            self.flush(token);
            return;
        }
        let limit = if conn.is_http { http::MAX_REQUEST } else { control::MAX_REQUEST };
        let mut buffer = [0u8; 1024];
        loop {
            match conn.stream.read(&mut buffer) {
                Ok(0) => return self.close(token),
                Ok(n) => {
                    if matches!(conn.stage, Stage::Reading) {
                        conn.input.extend_from_slice(buffer.get(..n).unwrap_or_default());
                        if conn.input.len() > limit {
                            break;
                        }
                    }
                    // Anything sent after the request is ignored.
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return self.close(token),
            }
        }
        if ready.closed && !matches!(conn.stage, Stage::Reading) {
            return self.close(token);
        }
        if matches!(conn.stage, Stage::Reading) {
            if conn.is_http {
                self.on_http_input(token);
            } else {
                self.on_control_input(token);
            }
        }
    }

    fn on_http_input(&mut self, token: u64) {
        let Some(conn) = self.server.conns.get(&token) else { return };
        let input = conn.input.clone();
        let answer = match http::parse(&input) {
            http::Parse::Incomplete => return,
            http::Parse::Refuse(status) => http::refusal(status),
            http::Parse::Done(request) => self.http_answer(&request),
        };
        self.answer(token, answer);
    }

    fn on_control_input(&mut self, token: u64) {
        let Some(conn) = self.server.conns.get(&token) else { return };
        let Some(end) = conn.input.iter().position(|&b| b == b'\n') else {
            if conn.input.len() > control::MAX_REQUEST {
                let answer =
                    control::header(Err(&format!("request longer than {} bytes", control::MAX_REQUEST)));
                self.answer(token, answer.into_bytes());
            }
            return;
        };
        let line = conn.input.get(..end).unwrap_or_default().to_vec();
        match Request::parse(&line) {
            Ok(request) => self.on_request(token, request),
            Err(why) => self.answer(token, control::header(Err(&why)).into_bytes()),
        }
    }

    /// The connection waits for a command to be carried out (`requests`
    /// settles it); `refused` goes before its answer.
    pub(super) fn wait(&mut self, token: u64, stage: Stage, refused: Vec<u8>) {
        let Some(conn) = self.server.conns.get_mut(&token) else { return };
        conn.stage = stage;
        // The request's deadline no longer applies: the wait has its own.
        if let Some(timer) = conn.timer.take() {
            self.init.reactor.cancel_timer(timer);
        }
        let limit = if let Stage::Waiting { limit, .. } = conn.stage { limit } else { WAIT_LIMIT };
        let timer = self.init.reactor.add_timer(deadline_after(limit), Timer::Connection { token });
        conn.timer = Some(timer);
        conn.output = refused;
    }

    pub(super) fn finish_wait(&mut self, token: u64, failed: bool, body: &str) {
        let Some(conn) = self.server.conns.get_mut(&token) else { return };
        let refused = std::mem::take(&mut conn.output);
        let header = control::header(if failed || !refused.is_empty() {
            Err("not everything went as asked")
        } else {
            Ok(())
        });
        let mut answer = header.into_bytes();
        answer.extend_from_slice(&refused);
        answer.extend_from_slice(body.as_bytes());
        self.answer(token, answer);
    }

    pub(super) fn follow(&mut self, token: u64, whose: Followed, first: Vec<u8>) {
        let Some(conn) = self.server.conns.get_mut(&token) else { return };
        conn.stage = Stage::Following { whose, dropped: 0 };
        if let Some(timer) = conn.timer.take() {
            self.init.reactor.cancel_timer(timer);
        }
        conn.output = first;
        conn.sent = 0;
        self.server.followers += 1;
        self.flush(token);
    }

    /// Whether anyone follows this unit's output (so that lines are copied).
    pub(super) fn followed(&self, unit: UnitId) -> bool {
        self.server.followers > 0
            && self.server.conns.values().any(|c| match &c.stage {
                Stage::Following { whose, .. } => whose.takes(unit, self.group_of(unit)).is_some(),
                _ => false,
            })
    }

    /// The replicated service `unit` is a copy of, if it is one.
    fn group_of(&self, unit: UnitId) -> Option<&str> {
        self.slots.get(unit.index).and_then(|s| s.service.instance.as_ref()).map(|i| i.group.as_str())
    }

    /// New output lines of a unit, for its followers.
    pub(super) fn deliver(&mut self, unit: UnitId, lines: &[u8], count: u64) {
        // For those who follow several services: each line labelled.
        let mut labelled = Vec::new();
        let group = self.group_of(unit).map(str::to_string);
        let group = group.as_deref();
        let labels = self.server.conns.values().any(|c| match &c.stage {
            Stage::Following { whose, .. } => whose.takes(unit, group) == Some(true),
            _ => false,
        });
        if labels && let Some(slot) = self.slots.get(unit.index) {
            crate::output::for_each_line(lines, |line| {
                labelled.extend_from_slice(slot.service.name.as_bytes());
                labelled.extend_from_slice(b" | ");
                labelled.extend_from_slice(line);
                labelled.push(b'\n');
            });
        }
        let tokens: Vec<u64> = self
            .server
            .conns
            .iter_mut()
            .filter_map(|(token, c)| {
                let Stage::Following { whose, dropped } = &mut c.stage else { return None };
                let lines = if whose.takes(unit, group)? { labelled.as_slice() } else { lines };
                if c.output.len() + lines.len() > FOLLOW_LIMIT {
                    *dropped += count;
                    return None;
                }
                if *dropped > 0 {
                    c.output.extend_from_slice(
                        format!("warden: {dropped} lines dropped (reading too slowly)\n").as_bytes(),
                    );
                    *dropped = 0;
                }
                c.output.extend_from_slice(lines);
                Some(*token)
            })
            .collect();
        for token in tokens {
            self.flush(token);
        }
    }

    /// Queues a whole answer; the connection closes once it is sent.
    pub(super) fn answer(&mut self, token: u64, bytes: Vec<u8>) {
        let Some(conn) = self.server.conns.get_mut(&token) else { return };
        conn.stage = Stage::Answering;
        conn.output = bytes;
        conn.sent = 0;
        self.flush(token);
    }

    /// Writes what is queued; closes an answered connection when done.
    fn flush(&mut self, token: u64) {
        let Some(conn) = self.server.conns.get_mut(&token) else { return };
        while conn.sent < conn.output.len() {
            match conn.stream.write(conn.output.get(conn.sent..).unwrap_or_default()) {
                Ok(0) => return self.close(token),
                Ok(n) => conn.sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if conn.interest != Interest::Write {
                        conn.interest = Interest::Write;
                        let _ = self.init.reactor.reregister(conn.stream.fd(), token, Interest::Write);
                    }
                    return;
                }
                Err(_) => return self.close(token),
            }
        }
        if matches!(conn.stage, Stage::Answering) {
            return self.close(token);
        }
        conn.output.clear();
        conn.sent = 0;
        if conn.interest != Interest::Read {
            conn.interest = Interest::Read;
            let _ = self.init.reactor.reregister(conn.stream.fd(), token, Interest::Read);
        }
    }

    fn close(&mut self, token: u64) {
        if let Some(conn) = self.server.conns.remove(&token) {
            if let Some(timer) = conn.timer {
                self.init.reactor.cancel_timer(timer);
            }
            if matches!(conn.stage, Stage::Following { .. }) {
                self.server.followers = self.server.followers.saturating_sub(1);
            }
            if let PeerSocket::Tcp(s) = &conn.stream {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
            // Dropping the stream closes it and takes it out of epoll.
        }
    }

    /// A connection's deadline: too slow to ask, or a wait that lasted too long.
    pub(super) fn on_connection_timer(&mut self, token: u64) {
        let Some(conn) = self.server.conns.get_mut(&token) else { return };
        conn.timer = None;
        match &conn.stage {
            Stage::Waiting { units, limit, .. } => {
                let names: Vec<&str> = units.iter().map(|(_, n, _)| n.as_str()).collect();
                let body = format!(
                    "{}: still on the way after {}; not waiting any longer\n",
                    names.join(", "),
                    crate::duration::format(*limit)
                );
                self.finish_wait(token, true, &body);
            }
            Stage::Reading if conn.is_http => self.answer(token, http::refusal(408)),
            _ => self.close(token),
        }
    }

    pub(super) fn on_relisten(&mut self) {
        self.listen(true);
    }
}

/// Binds the control socket, mode 0600, and says which file it is (device
/// and inode). A socket file left by a warden that is gone is replaced; one
/// a live warden answers on is left alone.
fn bind_control(path: &std::path::Path) -> Result<(UnixListener, (u64, u64)), String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err("the path exists and is not a socket".into());
        }
        if UnixStream::connect(path).is_ok() {
            return Err("another warden answers there".into());
        }
        std::fs::remove_file(path).map_err(|e| format!("cannot remove the old socket: {}", Reason(&e)))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| Reason(&e).to_string())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot make it private: {}", Reason(&e)))?;
    listener.set_nonblocking(true).map_err(|e| Reason(&e).to_string())?;
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot look at it: {}", Reason(&e)))?;
    Ok((listener, (meta.dev(), meta.ino())))
}

/// The abstract socket of [`control::fallback_address`], and its name.
fn bind_fallback() -> Result<(UnixListener, String), String> {
    let address = control::fallback_address().map_err(|e| Reason(&e).to_string())?;
    let listener = UnixListener::bind_addr(&address).map_err(|e| Reason(&e).to_string())?;
    listener.set_nonblocking(true).map_err(|e| Reason(&e).to_string())?;
    Ok((listener, control::describe_address(&address)))
}
