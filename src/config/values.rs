//! Parsers of single values (addresses, sizes, names, `${VAR}` expansion)
//! and the "did you mean" suggestion: text in, a value or a message out.

use std::path::PathBuf;

use super::Check;

/// Where the control socket is when nothing says otherwise.
pub const DEFAULT_CONTROL: &str = "/run/warden.sock";

/// `control:`: a path, or off.
pub fn parse_control(text: &str) -> Result<Option<PathBuf>, String> {
    match text {
        "off" | "false" | "none" => Ok(None),
        path if path.starts_with('/') => Ok(Some(PathBuf::from(path))),
        other => Err(format!("\"{other}\" is not an absolute path (or off)")),
    }
}

/// `http:`: `HOST:PORT`, `[V6]:PORT` or `:PORT` (every IPv4 address).
pub fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    let full = if text.starts_with(':') { format!("0.0.0.0{text}") } else { text.to_string() };
    full.parse().map_err(|_| {
        format!("\"{text}\" is not an address to listen on (like 127.0.0.1:9400, [::]:9400 or :9400)")
    })
}

/// `5432`, `127.0.0.1:5432`, `[::1]:5432` or `localhost:5432`. Names are not
/// resolved: a DNS lookup would block PID 1's loop.
pub fn parse_address(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::{Ipv4Addr, SocketAddr};
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Some(port) = text.strip_prefix("localhost:").and_then(|p| p.parse::<u16>().ok()) {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    Err(format!("\"{text}\" is not a port or an IP:port like 127.0.0.1:5432 (host names are not resolved)"))
}

/// `8000` (meaning http://127.0.0.1:8000/) or `http://HOST[:PORT][/PATH]` with
/// HOST an IP address or localhost.
pub fn parse_http(text: &str) -> Result<Check, String> {
    if let Ok(port) = text.parse::<u16>() {
        let address = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
        return Ok(Check::Http { address, host: format!("127.0.0.1:{port}"), path: "/".into() });
    }
    let Some(rest) = text.strip_prefix("http://") else {
        return Err(if text.starts_with("https://") {
            format!("\"{text}\": https is not supported (probe the plain-HTTP port, or use exec)")
        } else {
            format!("\"{text}\" is not a port or a URL like http://127.0.0.1:8000/health")
        });
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let with_port = if authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:80")
    } else {
        authority.to_string()
    };
    let address = parse_address(&with_port).map_err(|_| {
        format!("\"{text}\": the host must be an IP address or localhost (host names are not resolved)")
    })?;
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(format!("\"{text}\": the path may not contain spaces or control characters"));
    }
    Ok(Check::Http { address, host: authority.to_string(), path: path.to_string() })
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `512K`, `10M`, `1G` (powers of 1024) or a plain number.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let multiplier: u64 = match unit {
        "" => 1,
        "K" | "k" => 1 << 10,
        "M" | "m" => 1 << 20,
        "G" | "g" => 1 << 30,
        _ => return Err(format!("\"{text}\" is not a size like 512K, 10M, 1G or a number")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("\"{text}\" is not a size like 512K, 10M, 1G or a number"))
}

/// Expands `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.
pub(super) fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let after = rest.get(i + 1..).unwrap_or_default();
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').ok_or_else(|| format!("unclosed \"${{\" in \"{text}\""))?;
            let expression = inner.get(..end).unwrap_or_default();
            let (name, default) = match expression.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expression, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("\"${{{expression}}}\" is not ${{VAR}} or ${{VAR:-default}}"));
            }
            match (env(name).filter(|v| !v.is_empty() || default.is_none()), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(format!("${{{name}}} is not set; set it, or write ${{{name}:-default}}"));
                }
            }
            rest = inner.get(end + 1..).unwrap_or_default();
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The closest of `known` to `word`, if it is close enough to be a typo.
pub(super) fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let deletion = previous.get(j + 1).copied().unwrap_or(0) + 1;
            let insertion = current.get(j).copied().unwrap_or(0) + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

/// Keys that users bring from Compose, supervisord and process-compose, and
/// warden's key for the same thing (with where the foreign key comes from).
pub(super) fn foreign_key(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "working_dir" => ("workdir", "Compose, process-compose"),
        "directory" => ("workdir", "supervisord"),
        "environment" => ("env", "Compose, supervisord, process-compose"),
        "readiness_probe" => ("readiness", "process-compose, Kubernetes"),
        "liveness_probe" => ("liveness", "process-compose, Kubernetes"),
        "startup_probe" => ("startup", "Kubernetes"),
        "healthcheck" => ("readiness", "Compose; a probe with exec, http, tcp or file"),
        "autorestart" => ("restart", "supervisord; always, on-failure or never"),
        "availability" => ("restart", "process-compose; always, on-failure or never"),
        "stop_grace_period" => ("stop_timeout", "Compose"),
        "stopwaitsecs" => ("stop_timeout", "supervisord"),
        "stopsignal" => ("stop_signal", "supervisord"),
        "startsecs" => ("min_uptime", "supervisord; a shorter run is a failed start"),
        "startretries" => ("max_restarts", "supervisord"),
        "depends" | "dependencies" | "requires" | "after" => ("depends_on", "started, ready or completed"),
        "cmd" | "entrypoint" => ("command", "a list, or a string for sh -c"),
        // No counterpart (the empty key): the origin says what to do instead.
        "numprocs" | "replicas" | "scale" => {
            ("", "supervisord, Compose: warden runs one process per service; declare one service for each")
        }
        _ => return None,
    })
}
