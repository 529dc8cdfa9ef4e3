//! Event lines: one per state change, as text or as a JSON object, on stderr.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        LogFormat::Text => |message| format!("warden: {message}"),
        LogFormat::Json => |message| {
            format!(
                "{{\"time\":\"{}\",\"service\":null,\"message\":{}}}",
                timestamp(SystemTime::now()),
                quote(message)
            )
        },
    }
}

fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{:.1}s", d.as_secs_f64()) }
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
    format!("warden: {service}: {} -> {}: {}{details}", t.from, t.to, t.reason)
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
        t.from,
        t.to,
        quote(&t.reason),
        code,
        signal,
        opt(t.uptime.map(|u| format!("{:.3}", u.as_secs_f64()))),
        t.restarts,
        opt(t.next_delay.map(|d| format!("{:.3}", d.as_secs_f64()))),
    )
}

/// A JSON string literal.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// RFC 3339 UTC time with milliseconds: `2026-11-23T18:00:00.123Z`.
pub fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let days = (since.as_secs() / 86_400) as i64;
    let secs = since.as_secs() % 86_400;
    let (year, month, day) = crate::cron::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_time() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_457_045_123);
        assert_eq!(timestamp(t), "2026-11-23T18:04:05.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn lines_carry_every_field() {
        let t = Transition {
            from: "running",
            to: "backoff",
            pid: Some(12),
            reason: "exited with code 1".into(),
            status: Some(ExitStatus::Exited(1)),
            uptime: Some(Duration::from_millis(200)),
            restarts: 3,
            next_delay: Some(Duration::from_secs(4)),
        };
        assert_eq!(
            text("web", &t),
            "warden: web: running -> backoff: exited with code 1 (pid 12, uptime 0.2s, restarts 3, next in 4s)"
        );
        let j = json("we\"b", &t);
        assert!(
            j.contains("\"service\":\"we\\\"b\",\"pid\":12,\"from\":\"running\",\"to\":\"backoff\""),
            "{j}"
        );
        assert!(
            j.contains(
                "\"exit_code\":1,\"signal\":null,\"uptime_s\":0.200,\"restarts\":3,\"next_delay_s\":4.000}"
            ),
            "{j}"
        );
    }
}
