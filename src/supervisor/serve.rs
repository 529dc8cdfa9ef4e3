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
use std::time::{Duration, Instant, SystemTime};

use super::command::{Answer, Command};
use super::core::Unit;
use super::machine::State;
use super::{Phase, Slot, Supervisor, Timer};
use crate::config::Kind;
use crate::control::report::{self, ProbeView, View, Warden};
use crate::control::{self, Request, http};
use crate::logger::{info, warning};
use crate::reactor::{Interest, Ready, deadline_after};
use crate::sys::{Reason, net, process};

pub const CONTROL_TOKEN: u64 = 3;
pub const HTTP_TOKEN: u64 = 4;
/// Connections open at once, both sockets together; more are closed at once.
const MAX_CONNECTIONS: usize = 512;
/// Time a client has to send its request and take its answer.
const REQUEST_TIME: Duration = Duration::from_secs(5);
/// How long `start`, `stop` and `restart` wait for the outcome at most.
const WAIT_LIMIT: Duration = Duration::from_secs(300);
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
    http: Option<TcpListener>,
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

enum Stage {
    Reading,
    /// Sending the answer, then closing.
    Answering,
    /// Waiting for services to carry out a command: (unit, unit id, name,
    /// from when a run counts).
    Waiting {
        command: Command,
        units: Vec<(usize, u64, String, Instant)>,
    },
    /// `logs -f`: output of the unit is appended as it comes.
    Following {
        index: usize,
        id: u64,
        dropped: u64,
    },
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
                Ok(listener) => self.server.control = Some((listener, Some(path))),
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
            (self.server.control.as_ref().map(|(l, _)| l.as_raw_fd()), CONTROL_TOKEN),
            (self.server.http.as_ref().map(AsRawFd::as_raw_fd), HTTP_TOKEN),
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

    /// The control socket goes with warden.
    pub(super) fn close_listeners(&mut self) {
        if let Some((_, Some(path))) = self.server.control.take() {
            let _ = std::fs::remove_file(path);
        }
        self.server.http = None;
        self.server.conns.clear();
    }

    pub(super) fn owns_token(&self, token: u64) -> bool {
        token == CONTROL_TOKEN || token == HTTP_TOKEN || self.server.conns.contains_key(&token)
    }

    pub(super) fn on_server_io(&mut self, ready: Ready) {
        match ready.token {
            CONTROL_TOKEN => self.accept(false),
            HTTP_TOKEN => self.accept(true),
            token => self.on_connection(token, ready),
        }
    }

    fn accept(&mut self, is_http: bool) {
        for _ in 0..ACCEPTS_PER_WAKE {
            let accepted = if is_http {
                let Some(listener) = &self.server.http else { return };
                listener.accept().map(|(s, _)| PeerSocket::Tcp(s))
            } else {
                let Some((listener, _)) = &self.server.control else { return };
                listener.accept().map(|(s, _)| PeerSocket::Unix(s))
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
        let token = self.take_token();
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

    fn on_connection(&mut self, token: u64, ready: Ready) {
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

    fn http_answer(&self, request: &http::Request) -> Vec<u8> {
        let (warden, views) = (self.warden_view(), self.views());
        let text = |ok: bool, body: String| {
            http::response(if ok { 200 } else { 503 }, http::TEXT, &body, request.head)
        };
        let one = |name: &str| views.iter().find(|v| v.name == name);
        match request.path.trim_end_matches('/') {
            "/livez" | "/healthz" => text(true, report::livez(request.verbose)),
            "/readyz" => {
                let (ok, body) = report::readyz(&warden, &views, request.verbose);
                text(ok, body)
            }
            "/startupz" => text(warden.started, if warden.started { "ok\n" } else { "starting\n" }.into()),
            "/metrics" => http::response(200, http::METRICS, &report::metrics(&warden, &views), request.head),
            "/status" => http::response(200, http::JSON, &report::json_status(&warden, &views), request.head),
            path => {
                let service = path
                    .strip_prefix("/livez/")
                    .or_else(|| path.strip_prefix("/healthz/"))
                    .map(|name| (name, false))
                    .or_else(|| path.strip_prefix("/readyz/").map(|name| (name, true)));
                match service.and_then(|(name, ready)| one(name).map(|v| (v, ready))) {
                    Some((v, ready)) => {
                        let ok = if ready { v.ready && !warden.shutting_down } else { v.live };
                        let mut body = String::new();
                        report::check_line(&mut body, &v.name, ok, &format!("{} ({})", v.state, v.reason));
                        text(ok, body)
                    }
                    None => http::response(
                        404,
                        http::TEXT,
                        "not found: try /livez, /readyz, /startupz, /metrics, /status, /livez/NAME, /readyz/NAME\n",
                        request.head,
                    ),
                }
            }
        }
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

    fn on_request(&mut self, token: u64, request: Request) {
        let answer = match request {
            Request::Status { json, color, names } => match self.pick(&names) {
                Ok(picked) => {
                    let views: Vec<View> = self
                        .views()
                        .into_iter()
                        .filter(|v| picked.is_empty() || picked.contains(&v.name))
                        .collect();
                    let mut body =
                        if json { report::json_list(&views) } else { report::table(&views, color) };
                    let dropped = crate::output::sink::own_dropped();
                    if !json && dropped > 0 {
                        body.push_str(&report::own_lines_dropped_note(dropped));
                    }
                    format!("{}{body}", control::header(Ok(())))
                }
                Err(why) => control::header(Err(&why)),
            },
            Request::Check { ready, name } => {
                let (warden, views) = (self.warden_view(), self.views());
                let result = match &name {
                    Some(name) => match views.iter().find(|v| &v.name == name) {
                        None => Err(format!("no service named \"{name}\"")),
                        Some(v) if ready && (warden.shutting_down || !v.ready) => {
                            Err(format!("{} is not ready: {} ({})", v.name, v.state, v.reason))
                        }
                        Some(v) if !ready && !v.live => {
                            Err(format!("{} is not live: {} ({})", v.name, v.state, v.reason))
                        }
                        Some(v) => Ok(format!("{}: {}\n", v.name, v.state)),
                    },
                    None if !ready => Ok(report::livez(false)),
                    None => {
                        let (ok, body) = report::readyz(&warden, &views, true);
                        if ok { Ok(body) } else { Err(format!("not ready\n{body}")) }
                    }
                };
                match result {
                    Ok(body) => format!("{}{body}", control::header(Ok(()))),
                    Err(why) => {
                        let (first, rest) = why.split_once('\n').unwrap_or((&why, ""));
                        format!("{}{rest}", control::header(Err(first)))
                    }
                }
            }
            Request::Reload => match self.reload() {
                Ok(summary) => format!("{}{summary}\n", control::header(Ok(()))),
                Err(why) => {
                    // Said in warden's own output too, as a SIGHUP reload's failure is.
                    let sep = if why.contains('\n') { ":\n" } else { ": " };
                    self.note(&format!("reload failed, nothing was changed{sep}{why}"));
                    format!("{}{why}\n", control::header(Err("reload failed, nothing was changed")))
                }
            },
            Request::Logs { name, lines, follow } => {
                let Some(index) = self.unit_named(&name) else {
                    return self.answer(token, control::header(Err(&self.unknown(&name))).into_bytes());
                };
                let Some(unit) = self.slots.get(index) else { return };
                if !unit.service.logs.captured() {
                    let why = format!(
                        "{name}'s output is not captured (logs: {}), so warden keeps none of it",
                        unit.service.logs.name()
                    );
                    return self.answer(token, control::header(Err(&why)).into_bytes());
                }
                let mut body = control::header(Ok(()));
                let tail = unit.tail.lines();
                for (_, text) in tail.iter().skip(tail.len().saturating_sub(lines)) {
                    body.push_str(text);
                    body.push('\n');
                }
                if follow {
                    let id = unit.id;
                    return self.follow(token, index, id, body.into_bytes());
                }
                body
            }
            Request::Start(names) => return self.command(token, &names, Command::Start),
            Request::Restart(names) => return self.command(token, &names, Command::Restart),
            Request::Stop(names) => return self.command(token, &names, Command::Stop),
        };
        self.answer(token, answer.into_bytes());
    }

    /// The names asked for, checked; empty means all.
    fn pick(&self, names: &[String]) -> Result<Vec<String>, String> {
        for name in names {
            if self.unit_named(name).is_none() {
                return Err(self.unknown(name));
            }
        }
        Ok(names.to_vec())
    }

    fn unit_named(&self, name: &str) -> Option<usize> {
        self.core.unit_named(name)
    }

    fn unknown(&self, name: &str) -> String {
        let known: Vec<&str> = self
            .core
            .units
            .iter()
            .filter(|u| !u.retired && !u.is_main)
            .map(|u| u.service.name.as_str())
            .collect();
        format!("no service named \"{name}\" (services: {})", known.join(", "))
    }

    /// start, stop, restart: given to each service's machine, then waited for.
    fn command(&mut self, token: u64, names: &[String], command: Command) {
        if self.core.phase != Phase::Running {
            return self.answer(token, control::header(Err("warden is shutting down")).into_bytes());
        }
        let mut indexes = Vec::new();
        for name in names {
            match self.unit_named(name) {
                Some(index) if self.core.units.get(index).is_some_and(|u| u.is_main) => {
                    let why = "the main program is controlled with signals to warden, not by name";
                    return self.answer(token, control::header(Err(why)).into_bytes());
                }
                Some(index) => indexes.push(index),
                None => return self.answer(token, control::header(Err(&self.unknown(name))).into_bytes()),
            }
        }
        // What the loop still has for the core goes first.
        self.drain_pending();
        let mut refused = Vec::new();
        let mut waits = Vec::new();
        for index in indexes {
            let Some(unit) = self.core.units.get(index) else { continue };
            let (id, name) = (unit.id, unit.service.name.clone());
            match self.core.command(Instant::now(), index, command) {
                Ok(since) => waits.push((index, id, name, since)),
                Err(refusal) => refused.push(format!("{name}: {refusal}")),
            }
            let actions = self.core.take_actions();
            self.perform(actions);
        }
        self.drain_pending();
        if !refused.is_empty() && waits.is_empty() {
            let body = refused.join("\n") + "\n";
            return self
                .answer(token, format!("{}{body}", control::header(Err("nothing was done"))).into_bytes());
        }
        if let Some(conn) = self.server.conns.get_mut(&token) {
            conn.stage = Stage::Waiting { command, units: waits };
            // The request's deadline no longer applies: the wait has its own.
            if let Some(timer) = conn.timer.take() {
                self.init.reactor.cancel_timer(timer);
            }
            let timer = self.init.reactor.add_timer(deadline_after(WAIT_LIMIT), Timer::Connection { token });
            conn.timer = Some(timer);
            conn.output = refused.iter().map(|r| format!("{r}\n")).collect::<String>().into_bytes();
        }
        self.settle_waits();
    }

    /// Answers the clients whose services have carried out their command.
    pub(super) fn settle_waits(&mut self) {
        let waiting: Vec<u64> = self
            .server
            .conns
            .iter()
            .filter(|(_, c)| matches!(c.stage, Stage::Waiting { .. }))
            .map(|(t, _)| *t)
            .collect();
        for token in waiting {
            let Some(Stage::Waiting { command, units }) = self.server.conns.get(&token).map(|c| &c.stage)
            else {
                continue;
            };
            let answers: Vec<Answer> = units
                .iter()
                .map(|(index, id, _, since)| self.answer_of(*index, *id, *command, *since))
                .collect();
            if answers.contains(&Answer::Pending) {
                continue;
            }
            let failed = answers.iter().any(|a| matches!(a, Answer::Failed(_)));
            let mut body = String::new();
            for (answer, (_, _, name, _)) in answers.into_iter().zip(units) {
                if let Answer::Done(line) | Answer::Failed(line) = answer {
                    body.push_str(&format!("{name}: {line}\n"));
                }
            }
            self.finish_wait(token, failed, &body);
        }
    }

    fn finish_wait(&mut self, token: u64, failed: bool, body: &str) {
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

    /// Where a unit stands against a command (its machine says), unless a
    /// reload removed it.
    fn answer_of(&self, index: usize, id: u64, command: Command, since: Instant) -> Answer {
        match self.core.units.get(index).filter(|u| u.id == id && !u.retired) {
            Some(unit) => unit.machine.answer(&unit.service, command, since, &unit.reason),
            None => Answer::Failed("removed by a reload".into()),
        }
    }

    fn follow(&mut self, token: u64, index: usize, id: u64, first: Vec<u8>) {
        let Some(conn) = self.server.conns.get_mut(&token) else { return };
        conn.stage = Stage::Following { index, id, dropped: 0 };
        if let Some(timer) = conn.timer.take() {
            self.init.reactor.cancel_timer(timer);
        }
        conn.output = first;
        conn.sent = 0;
        self.server.followers += 1;
        self.flush(token);
    }

    /// Whether anyone follows this unit's output (so that lines are copied).
    pub(super) fn followed(&self, index: usize, id: u64) -> bool {
        self.server.followers > 0
            && self
                .server
                .conns
                .values()
                .any(|c| matches!(c.stage, Stage::Following { index: i, id: d, .. } if i == index && d == id))
    }

    /// New output lines of a unit, for its followers.
    pub(super) fn deliver(&mut self, index: usize, id: u64, lines: &[u8], count: u64) {
        let tokens: Vec<u64> = self
            .server
            .conns
            .iter_mut()
            .filter_map(|(token, c)| {
                let Stage::Following { index: i, id: d, dropped } = &mut c.stage else { return None };
                if *i != index || *d != id {
                    return None;
                }
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
    fn answer(&mut self, token: u64, bytes: Vec<u8>) {
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
            Stage::Waiting { units, .. } => {
                let names: Vec<&str> = units.iter().map(|(_, _, n, _)| n.as_str()).collect();
                let body = format!(
                    "{}: still on the way after {}; not waiting any longer\n",
                    names.join(", "),
                    crate::duration::format(WAIT_LIMIT)
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

    /// What `/readyz` and friends need to know about warden.
    fn warden_view(&self) -> Warden {
        Warden {
            shutting_down: self.core.phase != Phase::Running,
            started: self.server.started,
            orphans_reaped: self.server.orphans_reaped,
            own_lines_dropped: crate::output::sink::own_dropped(),
            process: process_stats(),
        }
    }

    /// Latches `started` once every required service has been ready. Runs
    /// every turn of the loop until then, so it builds no views.
    pub(super) fn note_started(&mut self) {
        if !self.server.started && self.core.phase == Phase::Running {
            self.server.started =
                self.core.units.iter().filter(|u| !u.retired).all(|u| optional(u) || counts_ready(u));
        }
    }

    /// Every unit, as reported.
    pub(super) fn views(&self) -> Vec<View> {
        self.core.units.iter().zip(&self.slots).filter(|(u, _)| !u.retired).map(|(u, s)| view(u, s)).collect()
    }
}

/// Ready as `/readyz` counts it: a ready longrun, a completed oneshot, a
/// periodic job that has not failed.
fn counts_ready(unit: &Unit) -> bool {
    let machine = &unit.machine;
    match unit.service.kind {
        Kind::Oneshot => machine.completed,
        Kind::Periodic(_) => machine.state != State::Failed,
        Kind::Longrun => machine.ready && machine.is_up(),
    }
}

/// Left out of `/readyz`: marked optional, or a periodic job.
fn optional(unit: &Unit) -> bool {
    unit.service.optional || matches!(unit.service.kind, Kind::Periodic(_))
}

fn view(unit: &Unit, slot: &Slot) -> View {
    let machine = &unit.machine;
    let kind = match unit.service.kind {
        _ if unit.is_main => "main",
        Kind::Longrun => "longrun",
        Kind::Oneshot => "oneshot",
        Kind::Periodic(_) => "periodic",
    };
    let ready = counts_ready(unit);
    let probes = crate::config::ProbeKind::ALL
        .iter()
        .filter_map(|&kind| {
            let probe = slot.watch.slot(kind)?;
            unit.service.probe(kind)?;
            Some(ProbeView {
                kind: kind.name(),
                passing: probe.tracker.passing,
                successes: probe.tracker.successes,
                failures: probe.tracker.failures,
                last_error: probe.tracker.last_error.clone(),
            })
        })
        .collect();
    // Not ready because of a failing readiness probe: that says more than
    // the last state change.
    let failing = slot
        .watch
        .slot(crate::config::ProbeKind::Readiness)
        .filter(|probe| !ready && probe.tracker.last_ok == Some(false))
        .and_then(|probe| probe.tracker.last_error.as_ref());
    let reason = match failing {
        Some(error) => format!("readiness: {error}"),
        None => unit.reason.clone(),
    };
    View {
        name: unit.service.name.clone(),
        kind,
        state: machine.state.name(),
        pid: machine.state.pid(),
        uptime: machine.state.since().map(|s| s.elapsed()),
        restarts: machine.restarts,
        last_exit: machine.last_exit,
        ready,
        optional: optional(unit),
        live: !matches!(machine.state, State::Failed | State::Unhealthy { .. }),
        reason,
        notice: slot.watch.status.clone(),
        started_at: unit.machine.last_start.map(|start| {
            let wall = SystemTime::now().checked_sub(start.elapsed()).unwrap_or(SystemTime::UNIX_EPOCH);
            wall.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
        }),
        exits: unit.exits,
        probes,
        lines_dropped: slot.lines_dropped + slot.file_log.as_ref().map_or(0, |f| f.dropped_lines),
        stop_kills: unit.machine.stop_kills,
    }
}

/// Binds the control socket, mode 0600. A socket file left by a warden that
/// is gone is replaced; one a live warden answers on is left alone.
fn bind_control(path: &std::path::Path) -> Result<UnixListener, String> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
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
    Ok(listener)
}

/// The abstract socket of [`control::fallback_address`], and its name.
fn bind_fallback() -> Result<(UnixListener, String), String> {
    let address = control::fallback_address().map_err(|e| Reason(&e).to_string())?;
    let listener = UnixListener::bind_addr(&address).map_err(|e| Reason(&e).to_string())?;
    listener.set_nonblocking(true).map_err(|e| Reason(&e).to_string())?;
    Ok((listener, control::describe_address(&address)))
}

/// warden's own figures for `process_*`, from /proc (zero where unreadable).
fn process_stats() -> report::ProcessStats {
    process::own_usage()
}
