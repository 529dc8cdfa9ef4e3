//! Every service key, described once: its name, its type and default as the
//! reference (`docs/configuration.md`) states them, a one-line summary, and
//! the function that reads it into a `Service` that starts from the
//! defaults (`Service::new`). The reader loops over this table; the
//! "unknown key, did you mean" list and the reference check come from it.
//!
//! Keys are read in the table's order (`env` before `command`, whose
//! `${VAR}` see the service's own variables); problems are reported in the
//! order of their place in the file. A key's reader may look at
//! keys read before it (`watchdog` at `notify`) or at the raw fields (`user`
//! takes `group`); checks across keys that need the whole service run after
//! the table (`reader::Reader::service`).

use super::reader::{Fields, Reader};
use super::*;

/// One service key.
pub(super) struct Key {
    pub name: &'static str,
    /// The type as the reference's "type" column says it (checked against
    /// it by the config tests; named in the error for a value of the wrong
    /// shape).
    pub kind: &'static str,
    /// The default as the reference's "default" column says it.
    pub default: &'static str,
    pub summary: &'static str,
    pub read: Read,
}

/// Reads one key's node (at `path`) into the service being built.
pub(super) type Read = fn(&mut Reader<'_>, &Fields<'_>, &Node, &str, &mut Service);

pub(super) const SERVICE: &[Key] = &[
    Key {
        name: "env_file",
        kind: "path, or a list of paths",
        default: "–",
        summary: "dotenv files over the top level's env_file and env (relative to the config; `PATH?` may be missing)",
        read: |r, _, n, p, s| r.env_files(n, p, &mut s.env),
    },
    Key {
        name: "env",
        kind: "mapping",
        default: "–",
        summary: "added to (or replacing) warden's environment, over every env_file",
        read: |r, _, n, p, s| {
            // `${VAR}` in a value sees what the env files set.
            let own = r.seeing(&s.env, |r| r.env_map(n, p));
            super::reader::merge(&mut s.env, own);
        },
    },
    Key {
        name: "command",
        kind: "command",
        default: "required",
        summary: "what the service runs: a list of arguments, or a string for `sh -c`",
        read: |r, _, n, p, s| {
            // `${VAR}` in the command sees the service's own env first (read
            // before it, above), then warden's environment.
            if let Some(command) = r.seeing(&s.env, |r| r.command(n, p)) {
                s.command = command;
            }
        },
    },
    Key {
        name: "type",
        kind: "`longrun` \\| `oneshot`",
        default: "`longrun`",
        summary: "a oneshot runs to completion; `completed` dependents wait for its success",
        read: |r, _, n, p, s| {
            s.kind =
                r.choice(n, p, &[("longrun", Kind::Longrun), ("oneshot", Kind::Oneshot)]).unwrap_or(s.kind);
        },
    },
    Key {
        name: "schedule",
        kind: "duration, a 5-field cron line (UTC) or an @ shortcut",
        default: "–",
        summary: "makes a periodic job; a run still going when the next is due is skipped",
        read: |r, f, n, p, s| {
            if f.get("type").is_some() {
                r.problem(n.at, p, "a periodic job has no \"type\": remove one of the two");
            }
            if let Some(schedule) = r.parsed(n, p, parse_schedule) {
                s.kind = Kind::Periodic(schedule);
            }
        },
    },
    Key {
        name: "group",
        kind: "name or gid",
        default: "the user's",
        summary: "primary group, with `user`",
        read: |r, f, n, p, _| {
            // Read with `user`; alone, it is a mistake.
            let group = r.text(n, p);
            if group.is_some() && f.get("user").is_none() {
                r.problem(n.at, p, "\"group\" needs a \"user\"");
            }
        },
    },
    Key {
        name: "user",
        kind: "`name`, `uid`, `uid:gid`, `name:group`",
        default: "warden's",
        summary: "the user (and group) the service runs as; needs warden to run as root",
        read: |r, f, n, p, s| {
            let group = f.get("group").and_then(|(node, _)| r.quiet_text(node));
            let Some(user) = r.text(n, p) else { return };
            match users::split(&user, group.as_deref()) {
                Ok((user, Some(group))) => s.user_as_written = Some(format!("{user}:{group}")),
                Ok((user, None)) => s.user_as_written = Some(user.to_string()),
                Err(message) => return r.problem(n.at, p, message),
            }
            if r.root == super::users_as_written() {
                return;
            }
            match users::resolve(&user, group.as_deref(), r.root) {
                Ok(c) => s.credentials = Some(c),
                Err(message) => r.problem(n.at, p, message),
            }
        },
    },
    Key {
        name: "workdir",
        kind: "path",
        default: "warden's",
        summary: "the directory the service starts in",
        read: |r, _, n, p, s| s.workdir = r.text(n, p).map(PathBuf::from),
    },
    Key {
        name: "umask",
        kind: "octal string",
        default: "warden's",
        summary: "the service's umask; quote it, as YAML reads `027` as a number",
        read: |r, _, n, p, s| {
            s.umask = r.parsed(n, p, |t| {
                u32::from_str_radix(t, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| format!("\"{t}\" is not an octal umask like \"027\" (quote it in YAML)"))
            })
        },
    },
    Key {
        name: "limits",
        kind: "mapping",
        default: "–",
        summary: "resource limits: rlimits (`nofile`, `nproc`, `core`, `stack`, `memlock`, `as`) and cgroup caps (`memory`, `memory_high`, `cpus`, `pids`)",
        read: |r, _, n, p, s| (s.limits, s.resources) = r.limits(n, p),
    },
    Key {
        name: "depends_on",
        kind: "list, or mapping name → `started` \\| `ready` \\| `completed`",
        default: "–",
        summary: "services to wait for, and for what; a plain list means `started`",
        read: |r, _, n, p, s| s.depends_on = r.dependencies(n, p),
    },
    Key {
        name: "restart",
        kind: "`always` \\| `on-failure` \\| `never`",
        default: "`on-failure`",
        summary: "what follows an exit",
        read: |r, _, n, p, s| {
            let policies = [
                ("always", RestartPolicy::Always),
                ("on-failure", RestartPolicy::OnFailure),
                ("never", RestartPolicy::Never),
            ];
            s.restart = r.choice(n, p, &policies).unwrap_or(s.restart);
        },
    },
    Key {
        name: "success_codes",
        kind: "list of exit codes",
        default: "`[0]`",
        summary: "exit codes that count as success",
        read: |r, _, n, p, s| {
            let Some(items) = r.list(n, p) else { return };
            s.success_codes = items
                .iter()
                .filter_map(|item| {
                    r.parsed(item, p, |t| {
                        t.parse::<i32>()
                            .ok()
                            .filter(|c| (0..=255).contains(c))
                            .ok_or_else(|| format!("\"{t}\" is not an exit code from 0 to 255"))
                    })
                })
                .collect();
        },
    },
    Key {
        name: "max_restarts",
        kind: "count or `unlimited`",
        default: "`unlimited`",
        summary: "restarts allowed within `restart_window`; then the service is `failed`",
        read: |r, _, n, p, s| {
            s.max_restarts = r
                .parsed(n, p, |t| match t {
                    "unlimited" => Ok(None),
                    _ => t.parse::<u32>().map(Some).map_err(|e| match e.kind() {
                        std::num::IntErrorKind::PosOverflow => {
                            format!("\"{t}\" is too large (max {}, or \"unlimited\")", u32::MAX)
                        }
                        _ => format!("\"{t}\" is not a count or \"unlimited\""),
                    }),
                })
                .flatten();
        },
    },
    Key {
        name: "restart_window",
        kind: "duration",
        default: "`10m`",
        summary: "the span `max_restarts` counts over",
        read: |r, _, n, p, s| s.restart_window = r.duration(n, p).unwrap_or(s.restart_window),
    },
    Key {
        name: "backoff",
        kind: "`{initial, max, multiplier, jitter}`",
        default: "`{1s, 60s, 2, 10%}`",
        summary: "delay before restart n: initial × multiplier^n ± jitter, at most max",
        read: |r, _, n, p, s| s.backoff = r.backoff(n, p),
    },
    Key {
        name: "min_uptime",
        kind: "duration",
        default: "`10s`",
        summary: "a shorter run is a failed start (the delay grows); a longer one resets it",
        read: |r, _, n, p, s| s.min_uptime = r.duration(n, p).unwrap_or(s.min_uptime),
    },
    Key {
        name: "cooldown",
        kind: "duration",
        default: "off",
        summary: "after failing for good, try again this much later",
        read: |r, _, n, p, s| s.cooldown = r.duration(n, p),
    },
    Key {
        name: "stop_signal",
        kind: "signal",
        default: "`TERM`",
        summary: "sent to the service's process group to stop it",
        read: |r, _, n, p, s| s.stop_signal = r.signal(n, p).unwrap_or(s.stop_signal),
    },
    Key {
        name: "replicas",
        kind: "count (1–100)",
        default: "–",
        summary: "run N copies NAME-0 … NAME-(N-1), each with WARDEN_INSTANCE and WARDEN_REPLICAS (longrun only)",
        // Read before the table: every copy is read with its own
        // `${WARDEN_INSTANCE}` (`Reader::instances`).
        read: |_, _, _, _, _| {},
    },
    Key {
        name: "enabled",
        kind: "boolean",
        default: "`true`",
        summary: "false: validated, shown as disabled, not started until `warden start` (`${VAR:-false}` works)",
        read: |r, _, n, p, s| s.enabled = r.boolean(n, p).unwrap_or(s.enabled),
    },
    Key {
        name: "watch",
        kind: "`{paths, action, debounce}`",
        default: "–",
        summary: "restart (or reload, or signal) the service when a watched file changes",
        read: |r, _, n, p, s| s.watch = r.file_watch(n, p),
    },
    Key {
        name: "reload_signal",
        kind: "signal",
        default: "off",
        summary: "what `warden reload NAME` sends the service's process group instead of restarting it",
        read: |r, _, n, p, s| s.reload_signal = r.signal(n, p),
    },
    Key {
        name: "stop_timeout",
        kind: "duration",
        default: "`5s`",
        summary: "then SIGKILL to its process group; never beyond `grace`",
        read: |r, _, n, p, s| s.stop_timeout = r.duration(n, p).unwrap_or(s.stop_timeout),
    },
    Key {
        name: "critical",
        kind: "boolean",
        default: "`false`",
        summary: "when it fails for good, everything stops and warden exits with its code",
        read: |r, _, n, p, s| s.critical = r.boolean(n, p).unwrap_or(false),
    },
    Key {
        name: "optional",
        kind: "boolean",
        default: "`false`",
        summary: "left out of `/readyz`, `warden check` and the main program's start gate",
        read: |r, _, n, p, s| s.optional = r.boolean(n, p).unwrap_or(false),
    },
    Key {
        name: "logs",
        kind: "`prefix` \\| `inherit` \\| `null` \\| `{file, max_size, keep}`",
        default: "`prefix`",
        summary: "where the service's output goes",
        read: |r, _, n, p, s| s.logs = r.logs(n, p).unwrap_or(Logs::Prefix),
    },
    Key {
        name: "no_new_privs",
        kind: "boolean",
        default: "`false`",
        summary: "the service and its exec probes can never gain privileges through `execve`",
        read: |r, _, n, p, s| s.no_new_privs = r.boolean(n, p).unwrap_or(false),
    },
    Key {
        name: "inherit_fds",
        kind: "boolean",
        default: "`false`",
        summary: "this service, not the main program, gets the descriptors warden inherited",
        read: |r, _, n, p, s| s.inherit_fds = r.boolean(n, p).unwrap_or(false),
    },
    Key {
        name: "forward_signals",
        kind: "list of signals",
        default: "–",
        summary: "signals sent to warden that go on to this service (when there is no main program)",
        read: |r, _, n, p, s| {
            let Some(items) = r.list(n, p) else { return };
            for item in items {
                let Some(signal) = r.signal(item, p) else { continue };
                let refused = match signal {
                    libc::SIGTERM | libc::SIGINT | libc::SIGQUIT | libc::SIGHUP => Some(
                        "is warden's own (TERM, INT and QUIT stop it, HUP reloads it): it is never forwarded",
                    ),
                    libc::SIGCHLD => Some("tells warden that a child ended: it is never forwarded"),
                    libc::SIGKILL | libc::SIGSTOP => {
                        Some("cannot be caught, so warden never receives it to forward")
                    }
                    _ => None,
                };
                if let Some(why) = refused {
                    r.problem(item.at, p, format!("{} {why}", signals::name(signal)));
                    continue;
                }
                if !s.forward_signals.contains(&signal) {
                    s.forward_signals.push(signal);
                }
            }
        },
    },
    Key {
        name: "startup",
        kind: "probe",
        default: "–",
        summary: "liveness and readiness wait for it; failing, it restarts the service",
        read: |r, _, n, p, s| s.startup = r.probe(n, p, ProbeKind::Startup).map(Box::new),
    },
    Key {
        name: "liveness",
        kind: "probe",
        default: "–",
        summary: "failing, the service is restarted by its policy",
        read: |r, _, n, p, s| s.liveness = r.probe(n, p, ProbeKind::Liveness).map(Box::new),
    },
    Key {
        name: "readiness",
        kind: "probe",
        default: "–",
        summary: "decides `ready`; never restarts (longruns only)",
        read: |r, _, n, p, s| s.readiness = r.probe(n, p, ProbeKind::Readiness).map(Box::new),
    },
    Key {
        name: "notify",
        kind: "boolean",
        default: "`false`",
        summary: "sd_notify: READY=1, WATCHDOG=1, STATUS= on a socket of its own (longruns only)",
        read: |r, _, n, p, s| s.notify = r.boolean(n, p).unwrap_or(false),
    },
    Key {
        name: "notify_fd",
        kind: "3–1023",
        default: "–",
        summary: "a newline written to this descriptor means ready (s6 style; longruns only)",
        read: |r, _, n, p, s| {
            s.notify_fd = r.parsed(n, p, |t| {
                t.parse::<i32>().ok().filter(|fd| (3..=1023).contains(fd)).ok_or_else(|| {
                    format!("\"{t}\" is not a descriptor number from 3 to 1023 (0, 1 and 2 are stdio)")
                })
            })
        },
    },
    Key {
        name: "watchdog",
        kind: "duration",
        default: "off",
        summary: "with `notify`: no WATCHDOG=1 for this long means hung",
        read: |r, _, n, p, s| {
            let Some(limit) = r.duration(n, p) else { return };
            if !s.notify {
                r.problem(
                    n.at,
                    p,
                    "the watchdog needs \"notify: true\": WATCHDOG=1 pings come over sd_notify",
                );
            }
            if limit < Duration::from_millis(10) {
                r.problem(n.at, p, "a watchdog shorter than 10ms cannot be kept");
            }
            s.watchdog = Some(limit);
        },
    },
];

/// The names of the service keys, in the table's order.
pub(super) fn service_key_names() -> impl Iterator<Item = &'static str> {
    SERVICE.iter().map(|k| k.name)
}

/// The types of the global keys that take one value, as the reference's
/// "type" column says them (checked against it by the config tests).
pub(super) const GLOBAL_KINDS: &[(&str, &str)] = &[
    ("grace", "duration"),
    ("drain", "duration"),
    ("control", "path or `off`"),
    ("http", "listen address or `off`"),
    ("log_format", "`text` \\| `json`"),
    ("log_timestamps", "boolean"),
    ("watch_config", "boolean"),
    ("cgroups", "`auto` \\| `off`"),
    ("limits_period", "duration, at least `100ms`"),
];

/// What the key at `path` takes, in words, for an error about a value of
/// the wrong shape: a service key's or a global key's type
/// (`services.web.restart`: "always | on-failure | never").
pub(super) fn what_it_takes(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    let text = match parts.as_slice() {
        ["services", _, key] => SERVICE.iter().find(|k| k.name == *key)?.kind,
        [key] => GLOBAL_KINDS.iter().find(|(name, _)| name == key)?.1,
        _ => return None,
    };
    Some(text.replace("\\|", "|").replace('`', ""))
}

fn parse_schedule(t: &str) -> Result<Schedule, String> {
    let interval = |t: &str| {
        duration::parse(t).and_then(|d| {
            if d.is_zero() {
                Err("the interval must be longer than 0".into())
            } else {
                Ok(Schedule::Every(d))
            }
        })
    };
    // `@every 10m`, as Go's cron libraries (and supercronic, ofelia) write an interval.
    if let Some(every) = t.trim().strip_prefix("@every ") {
        interval(every.trim())
    } else if t.split_whitespace().count() > 1 || t.starts_with('@') {
        crate::cron::Cron::parse(t).map(Schedule::Cron)
    } else {
        interval(t)
    }
}
