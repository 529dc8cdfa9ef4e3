//! What warden says about itself: the `status` table, JSON, the health
//! answers and Prometheus metrics, all rendered from plain [`View`]s that the
//! supervisor fills in. Nothing here touches a process or a socket.

use std::fmt::Write;
use std::time::Duration;

use crate::sys::reap::ExitStatus;

/// Why a run ended, for `warden_service_exits_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// It exited by itself.
    Exit,
    /// A signal warden did not send killed it.
    Signal,
    /// A liveness, startup or watchdog check stopped it.
    Health,
    /// warden stopped it: by hand, on reload or at shutdown.
    Stop,
    /// The kernel's OOM killer ended it (its cgroup's or the container's limit).
    OutOfMemory,
}

impl ExitReason {
    pub const ALL: [ExitReason; 5] =
        [ExitReason::Exit, ExitReason::Signal, ExitReason::Health, ExitReason::Stop, ExitReason::OutOfMemory];

    pub fn name(self) -> &'static str {
        match self {
            ExitReason::Exit => "exit",
            ExitReason::Signal => "signal",
            ExitReason::Health => "health",
            ExitReason::Stop => "stop",
            ExitReason::OutOfMemory => "oom",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One probe of a service, as reported.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeView {
    pub kind: &'static str,
    pub passing: bool,
    pub successes: u64,
    pub failures: u64,
    pub last_error: Option<String>,
}

/// One service (or the main program), as reported.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub name: String,
    /// longrun, oneshot, periodic or main.
    pub kind: &'static str,
    pub state: &'static str,
    pub pid: Option<i32>,
    pub uptime: Option<Duration>,
    pub restarts: u32,
    pub last_exit: Option<ExitStatus>,
    /// Counts as ready for `/readyz`: a ready longrun, a completed oneshot.
    pub ready: bool,
    pub optional: bool,
    /// For `/livez/NAME`: not failed, not being stopped by a check.
    pub live: bool,
    /// The reason of its last state change.
    pub reason: String,
    /// The last STATUS= it sent over sd_notify.
    pub notice: Option<String>,
    /// When its current (or last) run started, in seconds since the epoch.
    pub started_at: Option<f64>,
    pub exits: [u64; 5],
    pub probes: Vec<ProbeView>,
    pub lines_dropped: u64,
    /// Stops that ended in SIGKILL: the program outlived its stop timeout.
    pub stop_kills: u64,
    /// What it uses now (its cgroup's figures, or its tree's in /proc).
    pub usage: Option<crate::cgroups::Usage>,
    /// Its cgroup limits and how each is enforced.
    pub limits: Vec<LimitView>,
    /// A copy of a replicated service: the service's name and its index.
    pub instance: Option<(String, u32)>,
}

/// One cgroup limit of a service, as reported.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitView {
    /// memory, memory_high, cpus or pids.
    pub key: &'static str,
    /// Bytes, thousandths of a CPU, or processes.
    pub value: u64,
    /// `cgroup v2`, `cgroup v1`, `watched` or `not enforced`.
    pub enforced: &'static str,
}

impl LimitView {
    /// The value as written in the config: `500M`, `1.5`, `256`.
    pub fn value_text(&self) -> String {
        match self.key {
            "memory" | "memory_high" => crate::cgroups::size_text(self.value),
            "cpus" => crate::cgroups::cpus_text(u32::try_from(self.value).unwrap_or(u32::MAX)),
            _ => self.value.to_string(),
        }
    }
}

/// Bytes for people: `812K`, `12.3M`, `1.5G`.
pub fn bytes_text(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1024 => format!("{bytes}B"),
        1024..1_048_576 => format!("{:.0}K", b / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1}M", b / 1_048_576.0),
        _ => format!("{:.1}G", b / 1_073_741_824.0),
    }
}

/// CPU time for people: `0.42s`, `12.3s`, `3m05s`.
pub fn cpu_text(seconds: f64) -> String {
    if seconds < 10.0 {
        format!("{seconds:.2}s")
    } else if seconds < 600.0 {
        format!("{seconds:.1}s")
    } else {
        let whole = seconds as u64;
        if whole < 36_000 {
            format!("{}m{:02}s", whole / 60, whole % 60)
        } else {
            format!("{}h{:02}m", whole / 3600, whole / 60 % 60)
        }
    }
}

/// warden itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Warden {
    pub shutting_down: bool,
    /// Every required service has been ready once (the start is over).
    pub started: bool,
    pub orphans_reaped: u64,
    /// warden's own lines (events, warnings) dropped while its stdout or
    /// stderr was not read.
    pub own_lines_dropped: u64,
    pub process: ProcessStats,
}

/// The `process_*` metrics: warden's own use of the machine, read from /proc.
pub type ProcessStats = crate::sys::process::Usage;

/// Whether everything required is ready and no shutdown has begun.
pub fn ready(warden: &Warden, views: &[View]) -> bool {
    !warden.shutting_down && views.iter().all(|v| v.optional || v.ready)
}

/// `3d4h`, `2h5m`, `4m12s`, `9s`: the two largest units.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m{seconds:02}s"),
        (0, _, _) => format!("{hours}h{minutes:02}m"),
        _ => format!("{days}d{hours:02}h"),
    }
}

pub fn exit_text(status: Option<ExitStatus>) -> String {
    match status {
        None => "-".into(),
        Some(ExitStatus::Exited(code)) => format!("code {code}"),
        Some(ExitStatus::Signaled { signal, .. }) => crate::sys::signals::name(signal),
    }
}

/// The symbol and ANSI colour of a state in the table.
/// The mark before a service's state: ● running and ready (or done), ◐ on
/// its way (starting, running but not ready yet, stopping, backing off), ✗
/// failed, ○ not running.
fn mark_of(v: &View) -> &'static str {
    match v.state {
        "ready" | "running" if v.ready || v.kind == "main" => "●",
        "ready" | "running" | "starting" | "stopping" | "backoff" | "unhealthy" => "◐",
        "failed" => "✗",
        _ => "○",
    }
}

fn colour_of(mark: &str) -> &'static str {
    match mark {
        "●" => "32",
        "◐" => "33",
        "✗" => "31",
        _ => "2",
    }
}

/// A replicated service's own line: how many copies are in each state,
/// their restarts, CPU time and memory summed.
fn group_row(group: &str, copies: &[&View], wide: bool) -> Vec<String> {
    let mut states: Vec<(&str, usize)> = Vec::new();
    for copy in copies {
        match states.iter_mut().find(|(state, _)| *state == copy.state) {
            Some((_, count)) => *count += 1,
            None => states.push((copy.state, 1)),
        }
    }
    let ready = copies.iter().filter(|c| c.ready).count();
    let usage: Vec<crate::cgroups::Usage> = copies.iter().filter_map(|c| c.usage).collect();
    let cpu: f64 = usage.iter().map(|u| u.cpu_seconds).sum();
    let memory: u64 = usage.iter().filter(|u| u.processes > 0).map(|u| u.memory).sum();
    let mut row = vec![
        group.to_string(),
        format!("{ready}/{} ready", copies.len()),
        String::new(),
        String::new(),
        copies.iter().map(|c| c.restarts).sum::<u32>().to_string(),
        if usage.is_empty() { "-".into() } else { cpu_text(cpu) },
        if memory == 0 { "-".into() } else { bytes_text(memory) },
    ];
    if wide {
        row.extend([String::new(), String::new()]);
    }
    let counts: Vec<String> = states.iter().map(|(state, count)| format!("{count} {state}")).collect();
    row.push(format!("{} copies: {}", copies.len(), counts.join(", ")));
    row
}

/// The table `warden status` prints; `color` adds ANSI colours (the client
/// asks for them when its stdout is a terminal). The last column, REASON
/// (why a service is in its state: what it waits for, its last change, its
/// STATUS= text), is cut to keep lines within 80 columns unless `wide`, but
/// keeps at least 12 (with long names or pids a line may then pass 80).
/// The copies of a replicated service come together under a line of its
/// own (their count by state, restarts, CPU and memory summed). `wide` adds
/// the last exit and readiness, which the mark before the state already
/// tells (● ready, ◐ on its way); services with cgroup limits get a line
/// each under the table: the limits and how each is enforced.
pub fn table(views: &[View], color: bool, wide: bool) -> String {
    let mut header = vec!["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "MEM"];
    if wide {
        header.extend(["EXIT", "READY"]);
    }
    header.push("REASON");
    let last = header.len() - 1;
    let row_of = |v: &View, name: String| {
        let mut row = vec![
            name,
            v.state.to_string(),
            v.pid.map_or("-".into(), |p| p.to_string()),
            v.uptime.map_or("-".into(), short_duration),
            v.restarts.to_string(),
            v.usage.map_or("-".into(), |u| cpu_text(u.cpu_seconds)),
            v.usage.filter(|u| u.processes > 0).map_or("-".into(), |u| bytes_text(u.memory)),
        ];
        if wide {
            row.push(exit_text(v.last_exit));
            row.push(if v.ready { "yes" } else { "no" }.into());
        }
        row.push(match v.notice.clone().filter(|n| !n.is_empty()) {
            Some(notice) => notice,
            // The state column says "waiting" already.
            None if v.state == "waiting" => {
                v.reason.strip_prefix("waiting ").unwrap_or(&v.reason).to_string()
            }
            None => v.reason.clone(),
        });
        row
    };
    // Rows in order, each copy after its service's own line (None: no mark).
    let mut rows: Vec<(Vec<String>, Option<&'static str>)> = Vec::new();
    let mut grouped: Vec<&str> = Vec::new();
    for v in views {
        let Some((group, _)) = &v.instance else {
            rows.push((row_of(v, v.name.clone()), Some(mark_of(v))));
            continue;
        };
        if grouped.contains(&group.as_str()) {
            continue;
        }
        grouped.push(group);
        let mut copies: Vec<&View> =
            views.iter().filter(|c| c.instance.as_ref().is_some_and(|(g, _)| g == group)).collect();
        copies.sort_by_key(|c| c.instance.as_ref().map_or(0, |(_, index)| *index));
        rows.push((group_row(group, &copies, wide), None));
        for copy in copies {
            rows.push((row_of(copy, format!("  {}", copy.name)), Some(mark_of(copy))));
        }
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for (row, _) in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    if !wide {
        // Two spaces between columns, and the state's mark before it.
        let used: usize = widths.iter().take(last).map(|w| w + 2).sum::<usize>() + 2;
        let room = 80usize.saturating_sub(used).max(12);
        for (row, _) in &mut rows {
            if let Some(reason) = row.get_mut(last)
                && reason.chars().count() > room
            {
                *reason = reason.chars().take(room - 1).chain(std::iter::once('…')).collect();
            }
        }
        if let Some(width) = widths.get_mut(last) {
            *width = (*width).min(room);
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String], mark: Option<&str>| {
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            let pad = width.saturating_sub(cell.chars().count());
            if i == 1 {
                match mark.map(|m| (m, colour_of(m))) {
                    Some((symbol, code)) if color => {
                        let _ = write!(out, "\x1b[{code}m{symbol} {cell}\x1b[0m");
                    }
                    Some((symbol, _)) => {
                        let _ = write!(out, "{symbol} {cell}");
                    }
                    None => {
                        let _ = write!(out, "  {cell}");
                    }
                }
            } else {
                out.push_str(cell);
            }
            if i < last {
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        // A cut or empty last column leaves no blanks behind.
        let kept = out.trim_end_matches(' ').len();
        out.truncate(kept);
        out.push('\n');
    };
    line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>(), None);
    for (row, mark) in &rows {
        line(row, *mark);
    }
    for v in views.iter().filter(|v| !v.limits.is_empty()) {
        let limits: Vec<String> =
            v.limits.iter().map(|l| format!("{} {} ({})", l.key, l.value_text(), l.enforced)).collect();
        let _ = writeln!(out, "limits of {}: {}", v.name, limits.join(", "));
    }
    out
}

/// JSON string literal.
pub fn json_string(text: &str) -> String {
    crate::output::json::quote(text)
}

fn json_exit(status: Option<ExitStatus>) -> String {
    match status {
        None => "null".into(),
        Some(ExitStatus::Exited(code)) => format!("{{\"code\":{code}}}"),
        Some(ExitStatus::Signaled { signal, .. }) => format!(
            "{{\"code\":{},\"signal\":{}}}",
            128 + signal,
            json_string(&crate::sys::signals::name(signal))
        ),
    }
}

fn json_option<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or("null".into(), |v| v.to_string())
}

/// One service as a JSON object.
pub fn json_view(v: &View) -> String {
    let probes: Vec<String> = v
        .probes
        .iter()
        .map(|p| {
            format!(
                "{}:{{\"passing\":{},\"successes\":{},\"failures\":{},\"last_error\":{}}}",
                json_string(p.kind),
                p.passing,
                p.successes,
                p.failures,
                p.last_error.as_deref().map_or("null".into(), json_string)
            )
        })
        .collect();
    let limits: Vec<String> = v
        .limits
        .iter()
        .map(|l| format!("\"{}\":{{\"value\":{},\"enforced\":\"{}\"}}", l.key, l.value, l.enforced))
        .collect();
    let usage = match v.usage {
        Some(u) => format!(
            "{{\"cpu_seconds\":{:.3},\"memory_bytes\":{},\"memory_peak_bytes\":{},\"processes\":{}}}",
            u.cpu_seconds,
            u.memory,
            json_option(u.memory_peak),
            u.processes
        ),
        None => "null".into(),
    };
    let oom_kills = v.exits.get(ExitReason::OutOfMemory.index()).copied().unwrap_or(0);
    format!(
        "{{\"name\":{},\"kind\":\"{}\",\"state\":\"{}\",\"pid\":{},\"uptime_s\":{},\"restarts\":{},\
         \"last_exit\":{},\"stop_kills\":{},\"oom_kills\":{oom_kills},\"ready\":{},\"optional\":{},\"reason\":{},\"status\":{},\"probes\":{{{}}},\
         \"usage\":{usage},\"limits\":{{{}}},\"group\":{},\"instance\":{}}}",
        json_string(&v.name),
        v.kind,
        v.state,
        json_option(v.pid),
        json_option(v.uptime.map(|u| u.as_secs())),
        v.restarts,
        json_exit(v.last_exit),
        v.stop_kills,
        v.ready,
        v.optional,
        json_string(&v.reason),
        v.notice.as_deref().map_or("null".into(), json_string),
        probes.join(","),
        limits.join(","),
        v.instance.as_ref().map_or("null".into(), |(group, _)| json_string(group)),
        json_option(v.instance.as_ref().map(|(_, index)| *index)),
    )
}

/// `warden status --json`: an array of services.
pub fn json_list(views: &[View]) -> String {
    let items: Vec<String> = views.iter().map(json_view).collect();
    format!("[{}]\n", items.join(",\n "))
}

/// The footer of the status table when warden lost lines of its own.
pub fn own_lines_dropped_note(dropped: u64) -> String {
    format!(
        "warden: {dropped} line{} of its own dropped (stdout/stderr not read)\n",
        if dropped == 1 { "" } else { "s" }
    )
}

/// `GET /status`: warden and its services.
pub fn json_status(warden: &Warden, views: &[View]) -> String {
    format!(
        "{{\"version\":\"{}\",\"ready\":{},\"started\":{},\"shutting_down\":{},\"own_lines_dropped\":{},\"services\":{}}}\n",
        env!("CARGO_PKG_VERSION"),
        ready(warden, views),
        warden.started,
        warden.shutting_down,
        warden.own_lines_dropped,
        json_list(views).trim_end()
    )
}

/// `?verbose` lines for one check: `[+]name ok` or `[-]name failed: why`.
pub fn check_line(out: &mut String, name: &str, ok: bool, why: &str) {
    if ok {
        let _ = writeln!(out, "[+]{name} ok");
    } else {
        let _ = writeln!(out, "[-]{name} failed: {why}");
    }
}

/// The body of `/readyz` (with `?verbose`, each check) and whether it passes.
pub fn readyz(warden: &Warden, views: &[View], verbose: bool) -> (bool, String) {
    let ok = ready(warden, views);
    let mut out = String::new();
    if verbose {
        check_line(&mut out, "shutdown", !warden.shutting_down, "warden is shutting down");
        for v in views {
            let why = format!("{} ({})", v.state, v.reason);
            let name = if v.optional { format!("{} (optional)", v.name) } else { v.name.clone() };
            check_line(&mut out, &name, v.ready, &why);
        }
    }
    out.push_str(if ok { "readyz check passed\n" } else { "readyz check failed\n" });
    (ok, out)
}

/// The body of `/livez`: warden's loop answered, which is the check.
pub fn livez(verbose: bool) -> String {
    if verbose { "[+]loop ok\nlivez check passed\n".into() } else { "ok\n".into() }
}

/// Prometheus text format 0.0.4.
pub fn metrics(warden: &Warden, views: &[View]) -> String {
    let mut out = String::with_capacity(256 + views.len() * 1400);
    let mut family = |name: &str, kind: &str, help: &str, samples: &mut dyn FnMut(&mut String)| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        samples(&mut out);
    };
    let label = |v: &View| format!("service={}", json_string(&v.name));
    family("warden_build_info", "gauge", "warden's version; always 1.", &mut |o| {
        let _ = writeln!(o, "warden_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    });
    family("warden_ready", "gauge", "1 when /readyz passes.", &mut |o| {
        let _ = writeln!(o, "warden_ready {}", u8::from(ready(warden, views)));
    });
    family("warden_shutting_down", "gauge", "1 once a shutdown has begun.", &mut |o| {
        let _ = writeln!(o, "warden_shutting_down {}", u8::from(warden.shutting_down));
    });
    let per_service = |o: &mut String, metric: &str, value: &dyn Fn(&View) -> Option<String>| {
        for v in views {
            if let Some(value) = value(v) {
                let _ = writeln!(o, "{metric}{{{}}} {value}", label(v));
            }
        }
    };
    family("warden_service_up", "gauge", "1 while the service's process runs.", &mut |o| {
        per_service(o, "warden_service_up", &|v| Some(u8::from(v.pid.is_some()).to_string()))
    });
    family("warden_service_ready", "gauge", "1 while the service is ready.", &mut |o| {
        per_service(o, "warden_service_ready", &|v| Some(u8::from(v.ready).to_string()))
    });
    family(
        "warden_service_state",
        "gauge",
        "The service's state, one series per state (StateSet).",
        &mut |o| {
            for v in views {
                for state in STATES {
                    let _ = writeln!(
                        o,
                        "warden_service_state{{{},state=\"{state}\"}} {}",
                        label(v),
                        u8::from(v.state == state)
                    );
                }
            }
        },
    );
    family("warden_service_restarts_total", "counter", "Starts of the service after its first.", &mut |o| {
        per_service(o, "warden_service_restarts_total", &|v| Some(v.restarts.to_string()))
    });
    family(
        "warden_service_stop_kills_total",
        "counter",
        "Stops that ended in SIGKILL because the service outlived its stop timeout.",
        &mut |o| per_service(o, "warden_service_stop_kills_total", &|v| Some(v.stop_kills.to_string())),
    );
    family("warden_service_exits_total", "counter", "Ends of the service's runs, by reason.", &mut |o| {
        for v in views {
            for reason in ExitReason::ALL {
                let count = v.exits.get(reason.index()).copied().unwrap_or(0);
                let _ = writeln!(
                    o,
                    "warden_service_exits_total{{{},reason=\"{}\"}} {count}",
                    label(v),
                    reason.name()
                );
            }
        }
    });
    family(
        "warden_service_oom_kills_total",
        "counter",
        "Runs of the service the kernel's OOM killer ended.",
        &mut |o| {
            per_service(o, "warden_service_oom_kills_total", &|v| {
                v.exits.get(ExitReason::OutOfMemory.index()).map(u64::to_string)
            })
        },
    );
    family(
        "warden_service_cpu_seconds_total",
        "counter",
        "CPU time the service used (its cgroup's, or its running processes').",
        &mut |o| {
            per_service(o, "warden_service_cpu_seconds_total", &|v| {
                v.usage.map(|u| format!("{:.3}", u.cpu_seconds))
            })
        },
    );
    family(
        "warden_service_memory_bytes",
        "gauge",
        "Memory the service uses: its cgroup's charge, or its processes' resident memory.",
        &mut |o| per_service(o, "warden_service_memory_bytes", &|v| v.usage.map(|u| u.memory.to_string())),
    );
    family(
        "warden_service_memory_peak_bytes",
        "gauge",
        "The most memory the service was seen to use.",
        &mut |o| {
            per_service(o, "warden_service_memory_peak_bytes", &|v| {
                v.usage.and_then(|u| u.memory_peak).map(|p| p.to_string())
            })
        },
    );
    family("warden_service_processes", "gauge", "Processes of the service now.", &mut |o| {
        per_service(o, "warden_service_processes", &|v| v.usage.map(|u| u.processes.to_string()))
    });
    for (key, metric, help) in [
        ("memory", "warden_service_memory_limit_bytes", "The service's memory cap (limits.memory)."),
        (
            "memory_high",
            "warden_service_memory_high_bytes",
            "The service's memory throttle point (limits.memory_high).",
        ),
        ("cpus", "warden_service_cpu_limit", "The service's CPU cap in CPUs (limits.cpus)."),
        ("pids", "warden_service_pids_limit", "The service's cap on processes (limits.pids)."),
    ] {
        family(metric, "gauge", help, &mut |o| {
            for v in views {
                if let Some(l) = v.limits.iter().find(|l| l.key == key) {
                    let value = if key == "cpus" {
                        format!("{:.3}", l.value as f64 / 1000.0)
                    } else {
                        l.value.to_string()
                    };
                    let _ = writeln!(o, "{metric}{{{},enforced=\"{}\"}} {value}", label(v), l.enforced);
                }
            }
        });
    }
    family(
        "warden_service_last_exit_code",
        "gauge",
        "Exit code of the service's last run (128+N for signal N).",
        &mut |o| {
            per_service(o, "warden_service_last_exit_code", &|v| v.last_exit.map(|s| s.code().to_string()))
        },
    );
    family(
        "warden_service_start_timestamp_seconds",
        "gauge",
        "When the service's current or last run started.",
        &mut |o| {
            per_service(o, "warden_service_start_timestamp_seconds", &|v| {
                v.started_at.map(|t| format!("{t:.3}"))
            })
        },
    );
    family("warden_probe_results_total", "counter", "Probe runs by probe and result.", &mut |o| {
        for v in views {
            for p in &v.probes {
                for (result, count) in [("success", p.successes), ("failure", p.failures)] {
                    let _ = writeln!(
                        o,
                        "warden_probe_results_total{{{},probe=\"{}\",result=\"{result}\"}} {count}",
                        label(v),
                        p.kind
                    );
                }
            }
        }
    });
    family(
        "warden_log_lines_dropped_total",
        "counter",
        "Lines that could not be written: of a service's output, or warden's own.",
        &mut |o| {
            per_service(o, "warden_log_lines_dropped_total", &|v| Some(v.lines_dropped.to_string()));
            let _ = writeln!(
                o,
                "warden_log_lines_dropped_total{{source=\"warden\"}} {}",
                warden.own_lines_dropped
            );
        },
    );
    family("warden_orphans_reaped_total", "counter", "Processes reaped that were no service's.", &mut |o| {
        let _ = writeln!(o, "warden_orphans_reaped_total {}", warden.orphans_reaped);
    });
    let p = &warden.process;
    for (name, kind, help, value) in [
        (
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent in seconds.",
            format!("{:.2}", p.cpu_seconds),
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            p.resident_bytes.to_string(),
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            p.virtual_bytes.to_string(),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            format!("{:.2}", p.start_time_seconds),
        ),
        ("process_open_fds", "gauge", "Number of open file descriptors.", p.open_fds.to_string()),
        ("process_max_fds", "gauge", "Maximum number of open file descriptors.", p.max_fds.to_string()),
    ] {
        family(name, kind, help, &mut |o| {
            let _ = writeln!(o, "{name} {value}");
        });
    }
    out
}

/// Every state name, for the StateSet.
pub const STATES: [&str; 12] = [
    "waiting",
    "scheduled",
    "starting",
    "running",
    "ready",
    "unhealthy",
    "stopping",
    "backoff",
    "exited",
    "failed",
    "stopped",
    "disabled",
];

#[cfg(test)]
mod tests;
