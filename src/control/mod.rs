//! Control and observability: the wire formats, pure and testable.
//!
//! - this module: the control protocol spoken over the Unix socket;
//! - [`http`]: just enough of HTTP/1.1 to serve GET requests;
//! - [`report`]: status tables, JSON and Prometheus text, from [`report::View`]s;
//! - [`client`]: the `warden status|start|...` verbs, a thin pipe to the socket.
//!
//! The supervisor serves both sockets inside its loop (`supervisor::serve`).
//!
//! Protocol `warden/1`: the client sends one line, at most
//! [`MAX_REQUEST`] bytes: `warden/1 VERB [WORD...]\n`, words separated by
//! single spaces. The server answers with a header line, `ok` or
//! `error MESSAGE`, then a body, and closes the connection (`logs -f` keeps
//! streaming until the client goes away).

pub mod client;
pub mod http;
pub mod report;

/// The protocol's name and version: the first word of every request.
pub const PROTOCOL: &str = "warden/1";
/// A request longer than this is refused.
pub const MAX_REQUEST: usize = 4096;
/// Lines `logs` returns at most (what a service's tail keeps).
pub const MAX_LOG_LINES: usize = crate::output::TAIL_LINES;
/// Lines `logs` without a name returns at most (every service's, merged).
pub const MAX_MERGED_LINES: usize = 1000;

/// Where the control socket goes when the default path cannot be made (a
/// read-only root, a non-root user, an image with no /run): an abstract
/// socket, which needs no file system. Its name carries warden's PID
/// namespace, so `docker exec` finds its own container's warden and never a
/// neighbour's sharing the network namespace. Peers are still checked by uid.
pub fn fallback_address() -> std::io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    let namespace = std::fs::read_link("/proc/self/ns/pid")?;
    std::os::unix::net::SocketAddr::from_abstract_name(format!("warden/{}", namespace.display()).as_bytes())
}

/// How a fallback address reads in messages: `@warden/pid:[4026532210]`.
pub fn describe_address(address: &std::os::unix::net::SocketAddr) -> String {
    use std::os::linux::net::SocketAddrExt;
    match (address.as_pathname(), address.as_abstract_name()) {
        (Some(path), _) => path.display().to_string(),
        (None, Some(name)) => format!("@{}", String::from_utf8_lossy(name)),
        (None, None) => "(unnamed)".into(),
    }
}

/// The services a `start`, `stop` or `restart` acts on, and how long the
/// client waits for them (`--timeout`; 5 minutes when not given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    pub names: Vec<String>,
    pub timeout: Option<std::time::Duration>,
}

/// The longest a client may ask to wait for `start`, `stop` or `restart`.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status {
        json: bool,
        color: bool,
        /// The reason column whole, not cut to fit 80 columns.
        wide: bool,
        names: Vec<String>,
    },
    Start(Targets),
    Stop(Targets),
    Restart(Targets),
    /// Recent lines of one service, or of every service merged in time
    /// order (`name` None), at most `lines`, only those read within `since`.
    Logs {
        name: Option<String>,
        lines: usize,
        follow: bool,
        since: Option<std::time::Duration>,
    },
    /// Re-read the config; with names, reload those services only (their
    /// `reload_signal`, else a restart).
    Reload {
        names: Vec<String>,
    },
    /// Send `signal` to a running service: its process group (and cgroup),
    /// or with `main_pid` its program only.
    Signal {
        name: String,
        signal: i32,
        main_pid: bool,
    },
    /// Run `count` copies of the replicated service `name` for this run.
    Scale {
        name: String,
        count: u32,
    },
    /// `ready` false: liveness.
    Check {
        ready: bool,
        name: Option<String>,
    },
}

impl Request {
    /// The request line, newline included.
    pub fn encode(&self) -> String {
        let mut words = vec![PROTOCOL.to_string()];
        let mut add = |verb: &str, flags: &[(bool, &str)], names: &[String]| {
            words.push(verb.to_string());
            words.extend(flags.iter().filter(|(on, _)| *on).map(|(_, flag)| flag.to_string()));
            words.extend(names.iter().cloned());
        };
        match self {
            Request::Status { json, color, wide, names } => {
                add("status", &[(*json, "--json"), (*color, "--color"), (*wide, "--wide")], names)
            }
            Request::Start(t) | Request::Stop(t) | Request::Restart(t) => {
                let verb = match self {
                    Request::Start(_) => "start",
                    Request::Stop(_) => "stop",
                    _ => "restart",
                };
                words.push(verb.to_string());
                if let Some(timeout) = t.timeout {
                    words.push(format!("--timeout={}", crate::duration::format(timeout)));
                }
                words.extend(t.names.iter().cloned());
            }
            Request::Logs { name, lines, follow, since } => {
                let mut words = vec![format!("-n{lines}")];
                words.extend(since.map(|s| format!("--since={}", crate::duration::format(s))));
                words.extend(name.iter().cloned());
                add("logs", &[(*follow, "-f")], &words)
            }
            Request::Reload { names } => add("reload", &[], names),
            Request::Signal { name, signal, main_pid } => {
                add("signal", &[(*main_pid, "--main-pid")], &[name.clone(), signal.to_string()])
            }
            Request::Scale { name, count } => add("scale", &[], &[name.clone(), count.to_string()]),
            Request::Check { ready, name } => {
                add("check", &[(*ready, "--ready"), (!*ready, "--live")], name.as_slice())
            }
        }
        let mut line = words.join(" ");
        line.push('\n');
        line
    }

    /// Parses a request line (without its newline).
    pub fn parse(line: &[u8]) -> Result<Request, String> {
        let line = std::str::from_utf8(line).map_err(|_| "the request is not UTF-8".to_string())?;
        let mut words = line.split(' ');
        match words.next() {
            Some(PROTOCOL) => {}
            Some(other) if other.starts_with("warden/") => {
                return Err(format!("protocol {other} is not spoken here (this warden speaks {PROTOCOL})"));
            }
            _ => return Err(format!("not a {PROTOCOL} request")),
        }
        let verb = words.next().unwrap_or_default();
        let (mut flags, mut names) = (Vec::new(), Vec::new());
        for word in words {
            if word.starts_with('-') {
                flags.push(word);
            } else if crate::config::valid_name(word) {
                names.push(word.to_string());
            } else {
                return Err(format!("\"{}\" is not a service name", word.escape_debug()));
            }
        }
        let known = |allowed: &[&str]| match flags.iter().find(|f| !allowed.contains(f)) {
            Some(flag) => Err(format!("{verb}: unknown option \"{}\"", flag.escape_debug())),
            None => Ok(()),
        };
        let some = |names: Vec<String>| {
            if names.is_empty() { Err(format!("{verb}: name at least one service")) } else { Ok(names) }
        };
        match verb {
            "status" => {
                known(&["--json", "--color", "--wide"])?;
                Ok(Request::Status {
                    json: flags.contains(&"--json"),
                    color: flags.contains(&"--color"),
                    wide: flags.contains(&"--wide"),
                    names,
                })
            }
            "start" | "stop" | "restart" => {
                let mut timeout = None;
                for flag in &flags {
                    let Some(value) = flag.strip_prefix("--timeout=") else {
                        return Err(format!("{verb}: unknown option \"{}\"", flag.escape_debug()));
                    };
                    timeout = Some(parse_wait(value).map_err(|why| format!("{verb}: --timeout: {why}"))?);
                }
                let targets = Targets { names: some(names)?, timeout };
                Ok(match verb {
                    "start" => Request::Start(targets),
                    "stop" => Request::Stop(targets),
                    _ => Request::Restart(targets),
                })
            }
            "reload" => {
                known(&[])?;
                Ok(Request::Reload { names })
            }
            "signal" => {
                known(&["--main-pid"])?;
                let main_pid = flags.contains(&"--main-pid");
                match <[String; 2]>::try_from(names) {
                    Ok([name, number]) => match number.parse::<i32>() {
                        Ok(signal) if (1..=64).contains(&signal) => {
                            Ok(Request::Signal { name, signal, main_pid })
                        }
                        _ => Err(format!("signal: \"{number}\" is not a signal number")),
                    },
                    Err(_) => Err("signal: name one service and one signal".into()),
                }
            }
            "scale" => {
                known(&[])?;
                match <[String; 2]>::try_from(names) {
                    Ok([name, count]) => match count.parse::<u32>() {
                        Ok(count) => Ok(Request::Scale { name, count }),
                        Err(_) => Err(format!("scale: \"{count}\" is not a count")),
                    },
                    Err(_) => Err("scale: name one service and a count".into()),
                }
            }
            "check" => {
                known(&["--ready", "--live"])?;
                if names.len() > 1 {
                    return Err("check: one service at most".into());
                }
                Ok(Request::Check { ready: !flags.contains(&"--live"), name: names.pop() })
            }
            "logs" => {
                let mut lines = MAX_LOG_LINES;
                let mut follow = false;
                let mut since = None;
                for flag in &flags {
                    if *flag == "-f" {
                        follow = true;
                    } else if let Some(n) = flag.strip_prefix("-n").and_then(|n| n.parse::<usize>().ok()) {
                        lines = n.min(MAX_MERGED_LINES);
                    } else if let Some(text) = flag.strip_prefix("--since=") {
                        since = Some(
                            crate::duration::parse(text).map_err(|why| format!("logs: --since: {why}"))?,
                        );
                    } else {
                        return Err(format!("logs: unknown option \"{}\"", flag.escape_debug()));
                    }
                }
                if names.len() > 1 {
                    return Err("logs: one service, or none for all".into());
                }
                // One service keeps MAX_LOG_LINES.
                let lines = if names.is_empty() { lines } else { lines.min(MAX_LOG_LINES) };
                Ok(Request::Logs { name: names.pop(), lines, follow, since })
            }
            "" => Err("the request names no verb".into()),
            other => Err(format!(
                "unknown verb \"{}\" (status, start, stop, restart, logs, reload, signal, check)",
                other.escape_debug()
            )),
        }
    }
}

/// The header line of an answer.
pub fn header(result: Result<(), &str>) -> String {
    match result {
        Ok(()) => "ok\n".to_string(),
        // One line: a message never breaks the framing.
        Err(message) => format!("error {}\n", message.replace('\n', " ")),
    }
}

#[cfg(test)]
mod tests;

/// A `--timeout` value: a duration from 1s to `MAX_WAIT`.
pub fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    let wait = crate::duration::parse(text)?;
    if wait < std::time::Duration::from_secs(1) || wait > MAX_WAIT {
        return Err(format!("\"{text}\" is not from 1s to {}", crate::duration::format(MAX_WAIT)));
    }
    Ok(wait)
}
