//! `warden check --http|--tcp|--file`: one probe, run once from the command
//! line, so that an image with warden in it needs no curl for a Docker
//! `HEALTHCHECK` or a Compose `healthcheck` (what `warden export compose`
//! writes). The checks are the ones services' probes use (`health::socket`),
//! driven here by poll(2) up to a deadline instead of the loop's epoll.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Check;
use crate::health::socket::{SocketCheck, Step, request};
use crate::reactor::Interest;

/// How long a check may take when `--timeout` is not given (Kubernetes'
/// default `timeoutSeconds`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// What to check, as the command line gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub check: Check,
    /// As written, for the answer line.
    pub text: String,
    pub timeout: Duration,
}

/// `--http URL`, `--http PORT[/PATH]`: a GET answered 2xx or 3xx.
pub fn http(text: &str) -> Result<Check, String> {
    match text.split_once('/') {
        Some((port, path)) if !text.contains("://") && port.parse::<u16>().is_ok() => {
            crate::config::parse_http(&format!("http://127.0.0.1:{port}/{path}"))
        }
        _ => crate::config::parse_http(text),
    }
}

/// `--tcp [HOST:]PORT`: a connection accepted.
pub fn tcp(text: &str) -> Result<Check, String> {
    crate::config::parse_address(text).map(Check::Tcp)
}

/// `--file PATH`: the file exists.
pub fn file(text: &str) -> Result<Check, String> {
    if text.is_empty() {
        return Err("--file: name a file".into());
    }
    Ok(Check::File(PathBuf::from(text)))
}

/// Runs the check: Ok with what passed, or Err with why not (one line each).
pub fn run(target: &Target) -> Result<String, String> {
    match &target.check {
        Check::File(path) => match std::fs::symlink_metadata(path) {
            Ok(_) => Ok(format!("{} exists", path.display())),
            Err(e) => Err(format!("{}: {}", path.display(), crate::sys::Reason(&e))),
        },
        Check::Tcp(address) => socket(*address, None, target.timeout)
            .map(|()| format!("{address} accepts connections"))
            .map_err(|why| format!("{address}: {why}")),
        Check::Http { address, host, path } => {
            let url = format!("http://{host}{path}");
            socket(*address, Some(request(host, path)), target.timeout)
                .map(|()| format!("GET {url}: success"))
                .map_err(|why| format!("GET {url}: {why}"))
        }
        Check::Exec(_) | Check::Log(_) => Err("only --http, --tcp and --file are checks of their own".into()),
    }
}

/// Drives one socket check until its verdict or the deadline.
fn socket(address: std::net::SocketAddr, request: Option<Vec<u8>>, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let (mut check, mut step) = SocketCheck::start(address, request)?;
    // Bounded: every round waits for the socket, and the deadline ends them.
    loop {
        match step {
            Step::Done(outcome) => return outcome,
            Step::Wait(interest) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let ready = crate::sys::fds::wait_for(check.fd(), interest == Interest::Read, left)
                    .map_err(|e| format!("cannot wait for {address}: {}", crate::sys::Reason(&e)))?;
                if !ready {
                    return check.verdict().unwrap_or_else(|| {
                        Err(format!("no answer within {}", crate::duration::format(timeout)))
                    });
                }
                step = check.advance();
            }
        }
    }
}

#[cfg(test)]
mod tests;
