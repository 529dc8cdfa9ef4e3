//! Event lines: one per state change, as text or as a JSON object, on stderr.

use std::time::{Duration, SystemTime};

use crate::output::json::{quote, timestamp};

use super::machine::Transition;
use crate::config::LogFormat;
use crate::sys::reap::ExitStatus;

/// Writes the line for `service`'s transition in `format`.
pub fn emit(format: LogFormat, service: &str, t: &Transition) {
    let line = match format {
        LogFormat::Text => text(service, t),
        LogFormat::Json => json(service, t),
    };
    crate::logger::write_line(&line);
}

/// Writes a line about warden itself (shutdown, sweep) in `format`.
pub fn emit_warden(format: LogFormat, message: &str) {
    crate::logger::write_line(&warden_line(format)(message));
}

/// How a line about warden itself is made in `format`.
pub fn warden_line(format: LogFormat) -> fn(&str) -> String {
    match format {
        LogFormat::Text => |message| format!("{}warden: {message}", crate::logger::stamp()),
        LogFormat::Json => |message| {
            format!(
                "{{\"time\":\"{}\",\"service\":null,\"message\":{}}}",
                timestamp(SystemTime::now()),
                quote(message)
            )
        },
    }
}

/// `0.2s`, `4s`, `12.5s` (to a tenth, a whole number without one: 0 ms and
/// 3 ms read alike); from a minute on as the status table has it (`5m00s`,
/// `2h05m`), not `86400s`.
fn seconds(d: Duration) -> String {
    if d.as_secs() >= 60 {
        return crate::control::report::short_duration(d);
    }
    let tenths = (d.as_millis() + 50) / 100;
    if tenths.is_multiple_of(10) {
        format!("{}s", tenths / 10)
    } else {
        format!("{}.{}s", tenths / 10, tenths % 10)
    }
}

fn text(service: &str, t: &Transition) -> String {
    let mut details = Vec::new();
    if let Some(pid) = t.pid {
        details.push(format!("pid {pid}"));
    }
    if let Some(uptime) = t.uptime {
        details.push(format!("uptime {}", seconds(uptime)));
    }
    if t.restarts > 0 {
        details.push(format!("restarts {}", t.restarts));
    }
    if let Some(next) = t.next_delay {
        details.push(format!("next in {}", seconds(next)));
    }
    let details = if details.is_empty() { String::new() } else { format!(" ({})", details.join(", ")) };
    format!(
        "{}warden: {service}: {} -> {}: {}{details}",
        crate::logger::stamp(),
        t.from.name(),
        t.to.name(),
        t.reason
    )
}

fn json(service: &str, t: &Transition) -> String {
    let (code, signal) = match t.status {
        Some(ExitStatus::Exited(c)) => (c.to_string(), "null".to_string()),
        Some(ExitStatus::Signaled { signal, .. }) => {
            ("null".to_string(), quote(&crate::sys::signals::name(signal)))
        }
        None => ("null".to_string(), "null".to_string()),
    };
    let opt = |v: Option<String>| v.unwrap_or_else(|| "null".into());
    format!(
        "{{\"time\":\"{}\",\"service\":{},\"pid\":{},\"from\":\"{}\",\"to\":\"{}\",\"reason\":{},\"exit_code\":{},\"signal\":{},\"uptime_s\":{},\"restarts\":{},\"next_delay_s\":{}}}",
        timestamp(SystemTime::now()),
        quote(service),
        opt(t.pid.map(|p| p.to_string())),
        t.from.name(),
        t.to.name(),
        quote(&t.reason.to_string()),
        code,
        signal,
        opt(t.uptime.map(|u| format!("{:.3}", u.as_secs_f64()))),
        t.restarts,
        opt(t.next_delay.map(|d| format!("{:.3}", d.as_secs_f64()))),
    )
}

#[cfg(test)]
mod tests;
