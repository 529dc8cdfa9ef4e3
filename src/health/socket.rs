//! TCP and HTTP checks as small non-blocking state machines: connect, then (HTTP)
//! send one GET, read the status line, and read (and discard) the rest of the
//! answer until the server closes: closing with an answer unread would make
//! the kernel reset the connection, and the server log a ConnectionResetError.
//! Each step does what the socket allows now and says what to wait for next;
//! the caller's epoll does the waiting and its timer enforces the timeout (at
//! which a check that already has its verdict gives that, not a timeout).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use super::Outcome;
use crate::reactor::Interest;
use crate::sys::Reason;

/// Bytes of the answer read: enough for "HTTP/1.1 503" and a reason phrase.
const MAX_STATUS_LINE: usize = 64;
/// Bytes of the answer read and dropped after the status line, at most: a
/// larger answer is cut off (and reset) rather than read for ever.
const MAX_DRAIN: usize = 64 * 1024;

pub enum Step {
    Done(Outcome),
    Wait(Interest),
}

enum Phase {
    Connecting,
    Sending {
        sent: usize,
    },
    Receiving {
        received: usize,
    },
    /// The verdict is known; reading the rest until the server closes.
    Draining {
        verdict: Option<Outcome>,
        drained: usize,
    },
}

pub struct SocketCheck {
    stream: TcpStream,
    phase: Phase,
    /// The GET request for an HTTP check; None for a plain TCP connect.
    request: Option<Vec<u8>>,
    response: [u8; MAX_STATUS_LINE],
}

impl SocketCheck {
    /// Starts connecting; `request` is the HTTP request to send once connected.
    pub fn start(address: SocketAddr, request: Option<Vec<u8>>) -> Result<(SocketCheck, Step), String> {
        let (stream, connected) = crate::sys::net::connect(address)
            .map_err(|e| format!("cannot connect to {address}: {}", Reason(&e)))?;
        let mut check =
            SocketCheck { stream, phase: Phase::Connecting, request, response: [0; MAX_STATUS_LINE] };
        let step = if connected { check.connected() } else { Step::Wait(Interest::Write) };
        Ok((check, step))
    }

    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Goes as far as the socket allows now.
    pub fn advance(&mut self) -> Step {
        match self.phase {
            Phase::Connecting => match self.stream.take_error() {
                Ok(None) => self.connected(),
                Ok(Some(e)) | Err(e) => Step::Done(Err(format!("cannot connect: {}", Reason(&e)))),
            },
            Phase::Sending { .. } => self.send(),
            Phase::Receiving { .. } => self.receive(),
            Phase::Draining { .. } => self.drain(),
        }
    }

    /// The verdict, if it is known while the rest of the answer is read.
    pub fn verdict(&self) -> Option<Outcome> {
        match &self.phase {
            Phase::Draining { verdict, .. } => verdict.clone(),
            _ => None,
        }
    }

    /// The status line is in: keep the verdict, say we send nothing more,
    /// and read the rest of the answer.
    fn judged(&mut self, verdict: Outcome) -> Step {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        self.phase = Phase::Draining { verdict: Some(verdict), drained: 0 };
        self.drain()
    }

    fn drain(&mut self) -> Step {
        let Phase::Draining { verdict, drained } = &mut self.phase else { return self.advance() };
        let mut scrap = [0u8; 4096];
        loop {
            match self.stream.read(&mut scrap) {
                // The server closed: a clean end, no reset.
                Ok(0) => return Step::Done(verdict.take().unwrap_or(Ok(()))),
                Ok(n) => {
                    *drained += n;
                    if *drained > MAX_DRAIN {
                        return Step::Done(verdict.take().unwrap_or(Ok(())));
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Step::Wait(Interest::Read),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // The server reset it: the verdict stands.
                Err(_) => return Step::Done(verdict.take().unwrap_or(Ok(()))),
            }
        }
    }

    fn connected(&mut self) -> Step {
        if self.request.is_none() {
            return Step::Done(Ok(()));
        }
        self.phase = Phase::Sending { sent: 0 };
        self.send()
    }

    fn send(&mut self) -> Step {
        let Phase::Sending { mut sent } = self.phase else { return self.advance() };
        let Some(request) = &self.request else { return Step::Done(Ok(())) };
        while let Some(rest) = request.get(sent..).filter(|r| !r.is_empty()) {
            match self.stream.write(rest) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.phase = Phase::Sending { sent };
                    return Step::Wait(Interest::Write);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Step::Done(Err(format!("cannot send the request: {}", Reason(&e)))),
            }
        }
        self.phase = Phase::Receiving { received: 0 };
        self.receive()
    }

    fn receive(&mut self) -> Step {
        let Phase::Receiving { mut received } = self.phase else { return self.advance() };
        loop {
            let Some(space) = self.response.get_mut(received..).filter(|s| !s.is_empty()) else {
                let verdict = status(&self.response);
                return self.judged(verdict);
            };
            match self.stream.read(space) {
                Ok(0) => return Step::Done(status(self.response.get(..received).unwrap_or_default())),
                Ok(n) => {
                    received += n;
                    let got = self.response.get(..received).unwrap_or_default();
                    if got.contains(&b'\n') {
                        let verdict = status(got);
                        return self.judged(verdict);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.phase = Phase::Receiving { received };
                    return Step::Wait(Interest::Read);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Step::Done(Err(format!("cannot read the response: {}", Reason(&e)))),
            }
        }
    }
}

/// The request an HTTP probe sends: the connection closes after one answer.
pub fn request(host: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: warden-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Success for a 2xx or 3xx status line (Kubernetes' rule).
fn status(response: &[u8]) -> Outcome {
    let line = response.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let code = match (words.next(), words.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => code.parse::<u16>().ok(),
        _ => None,
    };
    match code {
        Some(code) if (200..400).contains(&code) => Ok(()),
        Some(code) => Err(format!("HTTP status {code}")),
        None if response.is_empty() => Err("the connection closed without an answer".into()),
        None => Err(format!("not an HTTP answer: {:?}", line.chars().take(60).collect::<String>())),
    }
}

#[cfg(test)]
mod tests;
