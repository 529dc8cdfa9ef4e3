//! The reader's compound values: logs, crash reports, hooks, probes,
//! commands, environments, limits, dependencies and backoff.

use super::*;

impl Reader<'_> {
    /// `prefix`, `inherit`, `null`, or `{ file: PATH, max_size: 10M, keep: 5 }`.
    pub(super) fn logs(&mut self, node: &Node, path: &str) -> Option<Logs> {
        // `logs: null` as written is YAML's null, not the word: it means discard.
        if node.value == Value::Null {
            return Some(Logs::Null);
        }
        if let Value::Scalar { .. } = node.value {
            let modes = [("prefix", Logs::Prefix), ("inherit", Logs::Inherit), ("null", Logs::Null)];
            let names: Vec<&str> = modes.iter().map(|(n, _)| *n).collect();
            return self.parsed(node, path, |t| {
                modes.iter().find(|(n, _)| *n == t).map(|(_, l)| l.clone()).ok_or_else(|| {
                    let hint =
                        suggest(t, &names).map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default();
                    format!("\"{t}\" is not one of prefix, inherit, null or {{ file: PATH }}{hint}")
                })
            });
        }
        let fields = self.fields(node, path, &["file", "max_size", "keep"])?;
        let Some((n, p)) = fields.get("file") else {
            self.problem(node.at, path, "missing \"file\": the path of the log file");
            return None;
        };
        let file = self.text(n, &p).map(PathBuf::from);
        let mut max_size = 10 * 1024 * 1024;
        if let Some((n, p)) = fields.get("max_size") {
            max_size = self
                .parsed(n, &p, |t| {
                    parse_size(t).and_then(|size| {
                        if size < MIN_LOG_FILE {
                            Err(format!("\"{t}\" is less than the smallest size, 64K"))
                        } else {
                            Ok(size)
                        }
                    })
                })
                .unwrap_or(max_size);
        }
        let mut keep = 5;
        if let Some((n, p)) = fields.get("keep") {
            keep = self.count(n, &p, 0, 1000).unwrap_or(keep);
        }
        Some(Logs::File(FileLog { path: file?, max_size, keep }))
    }

    /// `DIR` or `{ dir: DIR, keep: 20 }`.
    pub(super) fn crash_reports(&mut self, node: &Node, path: &str) -> Option<CrashReports> {
        if let Value::Scalar { .. } = node.value {
            return self.text(node, path).map(|dir| CrashReports { dir: dir.into(), keep: 20 });
        }
        let fields = self.fields(node, path, &["dir", "keep"])?;
        let Some((n, p)) = fields.get("dir") else {
            self.problem(node.at, path, "missing \"dir\": the directory for the reports");
            return None;
        };
        let dir = self.text(n, &p).map(PathBuf::from);
        let mut keep = 20;
        if let Some((n, p)) = fields.get("keep") {
            keep = self.count(n, &p, 1, 10_000).map_or(keep, |k| k as usize);
        }
        Some(CrashReports { dir: dir?, keep })
    }

    /// A command (list or string), or `{ command: ..., timeout: 30s }`.
    pub(super) fn hook(&mut self, node: &Node, path: &str) -> Option<Hook> {
        let timeout = Duration::from_secs(30);
        if !matches!(node.value, Value::Map(_)) {
            return self.command(node, path).map(|command| Hook { command, timeout });
        }
        let fields = self.fields(node, path, &["command", "timeout"])?;
        let Some((n, p)) = fields.get("command") else {
            self.problem(node.at, path, "missing \"command\": what to run on a crash");
            return None;
        };
        let command = self.command(n, &p);
        let timeout = fields.get("timeout").and_then(|(n, p)| self.duration(n, &p)).unwrap_or(timeout);
        Some(Hook { command: command?, timeout })
    }

    /// `{ tcp: 5432, period: 1s, ... }`: exactly one check plus Kubernetes' fields.
    pub(super) fn probe(&mut self, node: &Node, path: &str, kind: ProbeKind) -> Option<Probe> {
        const CHECKS: [&str; 5] = ["exec", "http", "tcp", "file", "log"];
        if let Value::Scalar { .. } = node.value {
            self.problem(node.at, path, "a probe is a mapping like { tcp: 8080, period: 5s }");
            return None;
        }
        let fields = self.fields(node, path, PROBE_KEYS)?;
        let given: Vec<&str> = CHECKS.into_iter().filter(|c| fields.get(c).is_some()).collect();
        let check = match given.as_slice() {
            [one] => {
                let (n, p) = fields.get(one)?;
                match *one {
                    "exec" => self.command(n, &p).map(Check::Exec),
                    "http" => self.parsed(n, &p, parse_http),
                    "tcp" => self.parsed(n, &p, |t| parse_address(t).map(Check::Tcp)),
                    "log" if kind == ProbeKind::Liveness => {
                        self.problem(
                            n.at,
                            &p,
                            "a line once written cannot tell that a service still lives: use exec, http, tcp or file",
                        );
                        None
                    }
                    "log" => self.parsed(n, &p, |t| {
                        if t.is_empty() || t.contains('\n') {
                            Err("the text to wait for: one line's worth, not empty".to_string())
                        } else {
                            Ok(Check::Log(t.to_string()))
                        }
                    }),
                    _ => self.text(n, &p).map(|f| Check::File(PathBuf::from(f))),
                }
            }
            [] => {
                self.problem(node.at, path, "which check? give one of exec, http, tcp, file or log");
                None
            }
            _ => {
                self.problem(node.at, path, format!("one check per probe, found {}", given.join(" and ")));
                None
            }
        };
        let mut probe = Probe {
            check: Check::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            success_threshold: 1,
            failure_threshold: 3,
        };
        if let Some((n, p)) = fields.get("initial_delay") {
            probe.initial_delay = self.duration(n, &p).unwrap_or(probe.initial_delay);
        }
        for (key, slot) in [("period", &mut probe.period), ("timeout", &mut probe.timeout)] {
            let Some((n, p)) = fields.get(key) else { continue };
            match self.duration(n, &p) {
                Some(d) if d < Duration::from_millis(10) => {
                    self.problem(n.at, &p, "must be at least 10ms");
                }
                Some(d) => *slot = d,
                None => {}
            }
        }
        for (key, slot) in [
            ("success_threshold", &mut probe.success_threshold),
            ("failure_threshold", &mut probe.failure_threshold),
        ] {
            let Some((n, p)) = fields.get(key) else { continue };
            *slot = self.count(n, &p, 1, 10_000).unwrap_or(*slot);
        }
        if kind != ProbeKind::Readiness
            && probe.success_threshold != 1
            && let Some((n, p)) = fields.get("success_threshold")
        {
            self.problem(
                n.at,
                &p,
                format!("must be 1 for a {} probe (as in Kubernetes): one success is enough", kind.name()),
            );
        }
        probe.check = check?;
        Some(probe)
    }

    pub(super) fn command(&mut self, node: &Node, path: &str) -> Option<Vec<OsString>> {
        match &node.value {
            Value::Scalar { .. } => {
                let line = self.text(node, path)?;
                if line.trim().is_empty() {
                    self.problem(node.at, path, "empty command");
                    return None;
                }
                Some(vec!["/bin/sh".into(), "-c".into(), line.into()])
            }
            Value::List(items) if items.is_empty() => {
                self.problem(
                    node.at,
                    path,
                    "empty command: give the program and its arguments, e.g. [nginx, -g, \"daemon off;\"]",
                );
                None
            }
            Value::List(items) => {
                let argv: Vec<OsString> = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| self.text(n, &format!("{path}[{i}]")))
                    .map(OsString::from)
                    .collect();
                (argv.len() == items.len()).then_some(argv)
            }
            _ => {
                self.problem(
                    node.at,
                    path,
                    "expected a command line (run by /bin/sh -c) or a list of arguments",
                );
                None
            }
        }
    }

    pub(super) fn env_map(&mut self, node: &Node, path: &str) -> Vec<(String, String)> {
        let Value::Map(entries) = &node.value else {
            self.problem(
                node.at,
                path,
                format!("expected a mapping of NAME: value, found {}", node.value.kind()),
            );
            return Vec::new();
        };
        let mut env = Vec::new();
        for (key, value) in entries {
            let Some(name) = key.value.as_text() else { continue };
            let p = join(path, name);
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                self.problem(key.at, &p, "not a valid variable name");
                continue;
            }
            if value.value == Value::Null {
                self.problem(value.at, &p, "no value: write \"\" for an empty one");
                continue;
            }
            if let Some(text) = self.text(value, &p) {
                env.push((name.to_string(), text));
            }
        }
        env
    }

    /// The rlimits and the cgroup caps of a service's `limits:`.
    pub(super) fn limits(&mut self, node: &Node, path: &str) -> (Vec<Limit>, Resources) {
        const RESOURCES: &[(&str, i32)] = &[
            ("nofile", libc::RLIMIT_NOFILE as i32),
            ("nproc", libc::RLIMIT_NPROC as i32),
            ("core", libc::RLIMIT_CORE as i32),
            ("stack", libc::RLIMIT_STACK as i32),
            ("memlock", libc::RLIMIT_MEMLOCK as i32),
            ("as", libc::RLIMIT_AS as i32),
        ];
        const CAPS: [&str; 4] = ["memory", "memory_high", "cpus", "pids"];
        let mut known: Vec<&str> = RESOURCES.iter().map(|(n, _)| *n).collect();
        known.extend(CAPS);
        let Some(fields) = self.fields(node, path, &known) else { return (Vec::new(), Resources::default()) };
        let mut limits = Vec::new();
        for (name, resource) in RESOURCES {
            let Some((n, p)) = fields.get(name) else { continue };
            if let Some(value) = self.parsed(n, &p, |t| match t {
                "unlimited" | "infinity" => Ok(libc::RLIM_INFINITY),
                _ => parse_size(t),
            }) {
                if let Some(why) = above_ceiling(*resource, value) {
                    self.problem(n.at, &p, why);
                    continue;
                }
                limits.push(Limit { resource: *resource, name, soft: value, hard: value });
            }
        }
        let mut resources = Resources::default();
        let memory = |t: &str| {
            let bytes = parse_size(t)?;
            if bytes < 1 << 20 {
                return Err(format!("{t} is below 1M: no program starts in less; write a size like 64M"));
            }
            Ok(bytes)
        };
        if let Some((n, p)) = fields.get("memory") {
            resources.memory = self.parsed(n, &p, memory);
        }
        if let Some((n, p)) = fields.get("memory_high") {
            resources.memory_high = self.parsed(n, &p, memory);
            if let (Some(high), Some(max)) = (resources.memory_high, resources.memory)
                && high > max
            {
                self.problem(
                    n.at,
                    &p,
                    "above `memory`: the hard cap comes first; make memory_high the lower one",
                );
            }
        }
        if let Some((n, p)) = fields.get("cpus") {
            resources.cpus = self.parsed(n, &p, |t| parse_cpus(t, crate::sys::process::cpu_count()));
        }
        if let Some((n, p)) = fields.get("pids") {
            resources.pids = self.parsed(n, &p, |t| match t.parse::<u64>() {
                Ok(0) => {
                    Err("0 would let the service start nothing, not even itself; write at least 1".into())
                }
                Ok(count) => Ok(count),
                Err(_) => Err(format!("\"{t}\" is not a number of processes like 256")),
            });
        }
        (limits, resources)
    }

    pub(super) fn dependencies(&mut self, node: &Node, path: &str) -> Vec<Dependency> {
        let conditions = [
            ("started", Condition::Started),
            ("ready", Condition::Ready),
            ("completed", Condition::Completed),
        ];
        match &node.value {
            Value::List(items) => items
                .iter()
                .filter_map(|item| self.text(item, path))
                .map(|name| Dependency { name, condition: Condition::Started, any: false })
                .collect(),
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(key, value)| {
                    let name = key.value.as_text()?.to_string();
                    let path = join(path, &name);
                    let (condition, instances) = match &value.value {
                        Value::Map(_) => {
                            let fields = self.fields(value, &path, &["condition", "instances"])?;
                            (fields.get("condition"), fields.get("instances"))
                        }
                        _ => (Some((value, path.clone())), None),
                    };
                    // Compose's spelling: `db: {condition: service_healthy}` or the bare word.
                    let compose = condition
                        .as_ref()
                        .and_then(|(n, _)| n.value.as_text())
                        .filter(|t| t.starts_with("service_"));
                    if let Some(compose) = compose {
                        let ours = match compose {
                            "service_started" => "started",
                            "service_completed_successfully" => "completed",
                            _ => "ready",
                        };
                        self.problem(
                            value.at,
                            &path,
                            format!(
                                "write \"{name}: {ours}\" (Compose's {compose}): warden's conditions are started, ready and completed"
                            ),
                        );
                        return None;
                    }
                    let condition = match condition {
                        Some((n, p)) => self.choice(n, &p, &conditions)?,
                        None => Condition::Started,
                    };
                    let any = match instances {
                        Some((n, p)) => self.choice(n, &p, &[("all", false), ("any", true)])?,
                        None => false,
                    };
                    Some(Dependency { name, condition, any })
                })
                .collect(),
            other => {
                self.problem(
                    node.at,
                    path,
                    format!("expected a list of names or a mapping name: condition, found {}", other.kind()),
                );
                Vec::new()
            }
        }
    }

    pub(super) fn backoff(&mut self, node: &Node, path: &str) -> Backoff {
        let mut backoff = DEFAULT_BACKOFF;
        let Some(fields) = self.fields(node, path, &["initial", "max", "multiplier", "jitter"]) else {
            return backoff;
        };
        if let Some((n, p)) = fields.get("initial") {
            backoff.initial = self.duration(n, &p).unwrap_or(backoff.initial);
        }
        if let Some((n, p)) = fields.get("max") {
            backoff.max = self.duration(n, &p).unwrap_or(backoff.max);
        }
        if let Some((n, p)) = fields.get("multiplier") {
            backoff.multiplier = self
                .parsed(n, &p, |t| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|m| (1.0..=100.0).contains(m))
                        .ok_or_else(|| format!("\"{t}\" is not a number from 1 to 100"))
                })
                .unwrap_or(backoff.multiplier);
        }
        if let Some((n, p)) = fields.get("jitter") {
            backoff.jitter = self
                .parsed(n, &p, |t| {
                    t.strip_suffix('%')
                        .and_then(|n| n.trim().parse::<f64>().ok())
                        .filter(|j| (0.0..=100.0).contains(j))
                        .map(|j| j / 100.0)
                        .ok_or_else(|| format!("\"{t}\" is not a percentage like \"10%\""))
                })
                .unwrap_or(backoff.jitter);
        }
        if backoff.max < backoff.initial {
            self.problem(node.at, path, "max is shorter than initial");
        }
        backoff
    }
}

/// Why `value` cannot be set for `resource` on this machine, when warden can
/// tell beforehand: no process may have more descriptors than
/// `/proc/sys/fs/nr_open` (nor an unlimited number), and a warden that is not
/// root cannot raise a limit above its own hard limit.
fn above_ceiling(resource: i32, value: u64) -> Option<String> {
    if resource == libc::RLIMIT_NOFILE as i32 {
        let nr_open =
            std::fs::read_to_string("/proc/sys/fs/nr_open").ok().and_then(|t| t.trim().parse::<u64>().ok());
        if let Some(max) = nr_open
            && value > max
        {
            let shown =
                if value == libc::RLIM_INFINITY { "unlimited".to_string() } else { value.to_string() };
            return Some(format!(
                "{shown} is above this system's maximum number of open files ({max}, /proc/sys/fs/nr_open)"
            ));
        }
    }
    if !crate::sys::process::is_root()
        && let Some(hard) = crate::sys::process::hard_limit(resource)
        && hard != libc::RLIM_INFINITY
        && value > hard
    {
        return Some(format!("{value} is above warden's own hard limit ({hard}), which only root may raise"));
    }
    None
}

/// `cpus`: a decimal number of CPUs (`1.5`) or a percentage of one (`150%`),
/// as thousandths of a CPU; above the machine's `available` CPUs is an error.
pub(super) fn parse_cpus(text: &str, available: u32) -> Result<u32, String> {
    let bad = || format!("\"{text}\" is not a number of CPUs like 0.5, 2 or 150%");
    let (number, scale) = match text.strip_suffix('%') {
        Some(percent) => (percent.trim(), 10u64),
        None => (text, 1000u64),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    // Thousandths of the unit: "0.5" is 500 of 1000, "12.5%" is 125 of 10 per CPU.
    let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(3).collect();
    let fraction: u64 = digits.parse().map_err(|_| bad())?;
    let thousandths = whole.checked_mul(1000).and_then(|w| w.checked_add(fraction)).ok_or_else(bad)?;
    let millis = if scale == 10 { thousandths / 100 } else { thousandths };
    if millis < 10 {
        return Err(format!("{text} is below 0.01 CPU, the kernel's smallest quota; write at least 0.01"));
    }
    if millis > u64::from(available) * 1000 {
        return Err(format!(
            "{text} is more than this machine's {available} CPU{}: the cap would never bind; write at most {available}",
            if available == 1 { "" } else { "s" }
        ));
    }
    u32::try_from(millis).map_err(|_| bad())
}
