//! The reader: positioned YAML nodes in, typed values out, every problem
//! collected on the way instead of stopping at the first. The top level and
//! services are here; the compound values (logs, probes, limits...) in `parts`.

use super::*;

pub(super) const GLOBAL_KEYS: &[&str] = &[
    "grace",
    "drain",
    "control",
    "http",
    "log_format",
    "log_timestamps",
    "crash_reports",
    "on_crash",
    "env_file",
    "env",
    "cgroups",
    "limits_period",
    "watch_config",
    "services",
];

pub(super) const PROBE_KEYS: &[&str] = &[
    "exec",
    "http",
    "tcp",
    "file",
    "log",
    "initial_delay",
    "period",
    "timeout",
    "success_threshold",
    "failure_threshold",
];

pub(super) struct Reader<'a> {
    pub(super) problems: Vec<Diagnostic>,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) root: &'a Path,
    /// The config's directory: where relative `env_file` paths start.
    pub(super) dir: PathBuf,
    /// Key lists an unknown key had no close match in, to be listed once.
    pub(super) key_lists: Vec<Vec<String>>,
    /// While a service's command is read: its `env`, which `${VAR}` sees
    /// before warden's environment.
    pub(super) service_env: Vec<(String, String)>,
    /// The top level's `env_file` and `env`, which every service starts from.
    pub(super) global_env: Vec<(String, String)>,
    /// While a replicated service's copy is read: its index and the count.
    pub(super) instance: Option<(u32, u32)>,
    /// Counts that replace a service's `replicas:` (`warden scale`).
    pub(super) scale: Vec<(String, u32)>,
}

/// `WARDEN_INSTANCE` and `WARDEN_REPLICAS` while a copy is read.
fn instance_variable(instance: Option<(u32, u32)>, name: &str) -> Option<String> {
    let (index, count) = instance?;
    match name {
        "WARDEN_INSTANCE" => Some(index.to_string()),
        "WARDEN_REPLICAS" => Some(count.to_string()),
        _ => None,
    }
}

/// The entries of one mapping, checked against its known keys.
pub(super) struct Fields<'n> {
    entries: BTreeMap<&'n str, &'n Node>,
    path: String,
}

impl<'n> Fields<'n> {
    pub(super) fn get(&self, key: &str) -> Option<(&'n Node, String)> {
        self.entries.get(key).map(|node| (*node, join(&self.path, key)))
    }
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

impl Reader<'_> {
    pub(super) fn problem(&mut self, at: Position, path: &str, message: impl Into<String>) {
        self.problems.push(Diagnostic { at: Some(at), path: path.to_string(), message: message.into() });
    }

    /// Checks `node` is a mapping whose keys are all in `known`.
    pub(super) fn fields<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            if node.value != Value::Null {
                self.problem(
                    node.at,
                    path,
                    format!("expected a mapping of keys, found {}", node.value.kind()),
                );
            }
            return None;
        };
        let mut fields = Fields { entries: BTreeMap::new(), path: path.to_string() };
        for (key, value) in entries {
            let Some(name) = key.value.as_text() else {
                self.problem(key.at, path, "keys must be plain words");
                continue;
            };
            if known.contains(&name) {
                fields.entries.insert(name, value);
            } else if name.starts_with("x-") {
                // An extension field, as Compose has them: a place for the
                // anchors that `<<` merges, ignored.
            } else {
                let foreign = foreign_key(name).filter(|(key, _)| key.is_empty() || known.contains(key));
                let hint = foreign
                    .map(|(key, origin)| match key {
                        "" => format!(" ({origin})"),
                        key => format!(" ({origin}); warden's key is \"{key}\""),
                    })
                    .or_else(|| suggest(name, known).map(|s| format!("; did you mean \"{s}\"?")))
                    .unwrap_or_else(|| {
                        if !self
                            .key_lists
                            .iter()
                            .any(|list| list.iter().map(String::as_str).eq(known.iter().copied()))
                        {
                            self.key_lists.push(known.iter().map(|k| k.to_string()).collect());
                        }
                        " (the known keys are listed below)".to_string()
                    });
                self.problem(key.at, &join(path, name), format!("unknown key{hint}"));
            }
        }
        Some(fields)
    }

    /// A scalar's text, expanded, without reporting what is wrong with it
    /// (for a key that another key's reader consults; it reports its own).
    pub(super) fn quiet_text(&self, node: &Node) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => {
                let instance = self.instance;
                expand(text, &|name: &str| instance_variable(instance, name).or_else(|| (self.env)(name)))
                    .ok()
            }
            _ => None,
        }
    }

    /// A scalar's text with `${VAR}` and `${VAR:-default}` expanded.
    pub(super) fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => {
                let (outer, own, instance) = (self.env, &self.service_env, self.instance);
                let lookup = |name: &str| {
                    instance_variable(instance, name)
                        .or_else(|| own.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
                        .or_else(|| outer(name))
                };
                match expand(text, &lookup) {
                    Ok(expanded) => Some(expanded),
                    Err(message) => {
                        self.problem(node.at, path, message);
                        None
                    }
                }
            }
            other => {
                let takes = keys::what_it_takes(path).map(|what| format!(" ({what})")).unwrap_or_default();
                self.problem(
                    node.at,
                    path,
                    format!("expected a single value{takes}, found {}", other.kind()),
                );
                None
            }
        }
    }

    pub(super) fn parsed<T>(
        &mut self,
        node: &Node,
        path: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(node, path)?;
        parse(&text).map_err(|message| self.problem(node.at, path, message)).ok()
    }

    pub(super) fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        self.parsed(node, path, duration::parse)
    }

    /// A whole number from `low` to `high`.
    pub(super) fn count(&mut self, node: &Node, path: &str, low: u32, high: u32) -> Option<u32> {
        self.parsed(node, path, |t| match t.parse::<u64>() {
            Ok(c) if c > u64::from(high) => Err(format!("\"{t}\" is too large (max {high})")),
            Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => {
                Err(format!("\"{t}\" is too large (max {high})"))
            }
            Ok(c) if c >= u64::from(low) => {
                u32::try_from(c).map_err(|_| format!("\"{t}\" is too large (max {high})"))
            }
            _ => Err(format!("\"{t}\" is not a count from {low} to {high}")),
        })
    }

    pub(super) fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        self.parsed(node, path, |t| match t {
            "true" | "yes" | "on" => Ok(true),
            "false" | "no" | "off" => Ok(false),
            _ => Err(format!("\"{t}\" is not true or false")),
        })
    }

    pub(super) fn signal(&mut self, node: &Node, path: &str) -> Option<i32> {
        self.parsed(node, path, |t| {
            signals::parse(t)
                .ok_or_else(|| format!("unknown signal \"{t}\" (write e.g. TERM, SIGINT, 15 or RTMIN+3)"))
        })
    }

    pub(super) fn choice<T: Copy>(&mut self, node: &Node, path: &str, choices: &[(&str, T)]) -> Option<T> {
        self.parsed(node, path, |t| {
            choices.iter().find(|(name, _)| *name == t).map(|(_, v)| *v).ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                let hint = suggest(t, &names).map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default();
                format!("\"{t}\" is not one of {}{hint}", names.join(", "))
            })
        })
    }

    pub(super) fn list<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::List(items) => Some(items),
            other => {
                self.problem(node.at, path, format!("expected a list, found {}", other.kind()));
                None
            }
        }
    }

    pub(super) fn config(&mut self, node: &Node) -> Option<Config> {
        if node.value == Value::Null {
            self.problem(node.at, "", "the file is empty: it needs at least a \"services\" mapping");
            return None;
        }
        let fields = self.fields(node, "", GLOBAL_KEYS)?;
        let mut grace = DEFAULT_GRACE;
        if let Some((n, path)) = fields.get("grace") {
            grace = self.duration(n, &path).unwrap_or(grace);
        }
        let mut drain = Duration::ZERO;
        if let Some((n, path)) = fields.get("drain") {
            drain = self.duration(n, &path).unwrap_or(drain);
        }
        let formats = [("text", LogFormat::Text), ("json", LogFormat::Json)];
        let mut log_format = LogFormat::Text;
        if let Some((n, path)) = fields.get("log_format") {
            log_format = self.choice(n, &path, &formats).unwrap_or(log_format);
        }
        // Environment overrides of the global keys win over the file.
        let env_at = None;
        for (variable, key) in
            [("WARDEN_GRACE", "grace"), ("WARDEN_DRAIN", "drain"), ("WARDEN_LOG_FORMAT", "log_format")]
        {
            let Some(value) = (self.env)(variable) else { continue };
            let result = match key {
                "grace" => duration::parse(&value).map(|d| grace = d),
                "drain" => duration::parse(&value).map(|d| drain = d),
                _ => match value.as_str() {
                    "text" => Ok(LogFormat::Text),
                    "json" => Ok(LogFormat::Json),
                    other => Err(format!("\"{other}\" is not one of text, json")),
                }
                .map(|f| log_format = f),
            };
            if let Err(message) = result {
                self.problems.push(Diagnostic { at: env_at, path: variable.to_string(), message });
            }
        }
        let log_timestamps =
            fields.get("log_timestamps").and_then(|(n, p)| self.boolean(n, &p)).unwrap_or(false);
        let crash_reports = fields.get("crash_reports").and_then(|(n, p)| self.crash_reports(n, &p));
        let on_crash = fields.get("on_crash").and_then(|(n, p)| self.hook(n, &p));
        let mut control = Some(PathBuf::from(DEFAULT_CONTROL));
        if let Some((n, path)) = fields.get("control") {
            control = self.parsed(n, &path, parse_control).unwrap_or(control);
        }
        let http = fields.get("http").and_then(|(n, path)| self.parsed(n, &path, parse_listen));
        // Every service's environment starts from these (a service's own
        // env_file, then env, win over them).
        let mut global = Vec::new();
        if let Some((n, path)) = fields.get("env_file") {
            self.env_files(n, &path, &mut global);
        }
        if let Some((n, path)) = fields.get("env") {
            let own = self.seeing(&global, |r| r.env_map(n, &path));
            merge(&mut global, own);
        }
        self.global_env = global;
        let cgroup_modes = [("auto", CgroupMode::Auto), ("off", CgroupMode::Off)];
        let cgroups =
            fields.get("cgroups").and_then(|(n, p)| self.choice(n, &p, &cgroup_modes)).unwrap_or_default();
        let mut limits_period = DEFAULT_LIMITS_PERIOD;
        if let Some((n, path)) = fields.get("limits_period") {
            match self.duration(n, &path) {
                Some(period) if period < Duration::from_millis(100) => {
                    self.problem(n.at, &path, "below 100ms: reading every process's memory that often costs more than it guards; use 1s")
                }
                Some(period) => limits_period = period,
                None => {}
            }
        }
        let (control, http) = self.network_overrides(control, http);
        let mut services = Vec::new();
        match fields.get("services") {
            None => {
                self.problem(node.at, "services", "missing: list the programs to run under \"services:\"")
            }
            Some((n, path)) => {
                if let Value::Map(entries) = &n.value {
                    for (key, value) in entries {
                        let Some(name) = key.value.as_text() else {
                            self.problem(key.at, &path, "service names must be plain words");
                            continue;
                        };
                        if !valid_name(name) {
                            self.problem(
                                key.at,
                                &join(&path, name),
                                "a service name may use only letters, digits, '-', '_' and '.'",
                            );
                        }
                        services.extend(self.instances(name, value, &join(&path, name)));
                    }
                    if entries.is_empty() {
                        self.problem(n.at, &path, "no services listed");
                    }
                } else {
                    self.problem(
                        n.at,
                        &path,
                        format!("expected a mapping of service names, found {}", n.value.kind()),
                    );
                }
            }
        }
        Some(Config {
            grace,
            drain,
            log_format,
            log_timestamps,
            crash_reports,
            on_crash,
            control,
            http,
            cgroups,
            limits_period,
            watch_config: fields.get("watch_config").and_then(|(n, p)| self.boolean(n, &p)).unwrap_or(false),
            services,
            text: String::new(),
        })
    }

    /// WARDEN_CONTROL and WARDEN_HTTP win over the file.
    pub(super) fn network_overrides(
        &mut self,
        mut control: Option<PathBuf>,
        mut http: Option<std::net::SocketAddr>,
    ) -> (Option<PathBuf>, Option<std::net::SocketAddr>) {
        if let Some(value) = (self.env)("WARDEN_CONTROL") {
            match parse_control(&value) {
                Ok(c) => control = c,
                Err(message) => {
                    self.problems.push(Diagnostic { at: None, path: "WARDEN_CONTROL".into(), message })
                }
            }
        }
        if let Some(value) = (self.env)("WARDEN_HTTP") {
            match value.as_str() {
                "off" | "" => http = None,
                text => match parse_listen(text) {
                    Ok(address) => http = Some(address),
                    Err(message) => {
                        self.problems.push(Diagnostic { at: None, path: "WARDEN_HTTP".into(), message })
                    }
                },
            }
        }
        (control, http)
    }

    /// A service as it runs: itself, or with `replicas: N` its N copies,
    /// each read with its own `WARDEN_INSTANCE` (so `${WARDEN_INSTANCE}` in
    /// its command, env, probes and log path is the copy's number).
    pub(super) fn instances(&mut self, name: &str, node: &Node, path: &str) -> Vec<Service> {
        let replicas = match &node.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.value.as_text() == Some("replicas")),
            _ => None,
        };
        let Some((key, value)) = replicas else {
            return self.service(name, node, path).into_iter().collect();
        };
        let replicas_path = join(path, "replicas");
        let Some(mut count) = self.count(value, &replicas_path, 1, MAX_REPLICAS) else {
            return Vec::new();
        };
        if let Some((_, scaled)) = self.scale.iter().find(|(group, _)| group == name) {
            count = *scaled;
        }
        let mut services = Vec::new();
        for index in 0..count {
            let before = self.problems.len();
            self.instance = Some((index, count));
            let service = self.service(&format!("{name}-{index}"), node, path);
            self.instance = None;
            if let Some(mut service) = service {
                let variables = [("WARDEN_INSTANCE", index), ("WARDEN_REPLICAS", count)];
                merge(
                    &mut service.env,
                    variables.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                );
                service.instance = Some(Instance { group: name.to_string(), index, count });
                if service.kind != Kind::Longrun {
                    self.problem(
                        key.at,
                        &replicas_path,
                        "only a longrun service runs copies: a oneshot or a periodic job runs once",
                    );
                }
                services.push(service);
            }
            // The first copy's problems are every copy's: said once. The
            // first copy stays, so that what depends on it finds it.
            if self.problems.len() > before && index == 0 {
                break;
            }
        }
        services
    }

    /// One service: every key of `keys::SERVICE` in its order, then the
    /// checks that need the whole service.
    pub(super) fn service(&mut self, name: &str, node: &Node, path: &str) -> Option<Service> {
        let known: Vec<&str> = keys::service_key_names().collect();
        let Some(fields) = self.fields(node, path, &known) else {
            if node.value == Value::Null {
                self.problem(node.at, path, "empty service: it needs at least a \"command\"");
            }
            return None;
        };
        let mut service = Service::new(name, Vec::new());
        service.env = self.global_env.clone();
        for key in keys::SERVICE {
            if let Some((n, p)) = fields.get(key.name) {
                (key.read)(self, &fields, n, &p, &mut service);
            }
        }
        if fields.get("command").is_none() {
            self.problem(node.at, &join(path, "command"), "missing: what should this service run?");
        }
        if service.kind != Kind::Longrun {
            for key in ["readiness", "notify", "notify_fd"] {
                if let Some((n, p)) = fields.get(key) {
                    self.problem(
                        n.at,
                        &p,
                        "only a longrun service becomes ready (dependents of a oneshot wait for its completion)",
                    );
                }
            }
        }
        if !service.logs.captured() {
            for kind in [ProbeKind::Startup, ProbeKind::Readiness] {
                if let (Some(Check::Log(_)), Some((n, p))) =
                    (service.probe(kind).map(|p| &p.check), fields.get(kind.name()))
                {
                    self.problem(
                        n.at,
                        &p,
                        format!(
                            "a log probe reads the service's captured lines, and logs: {} captures none: use logs: prefix or a file",
                            service.logs.name()
                        ),
                    );
                }
            }
        }
        // A command that could not be read is reported; nothing runs then.
        (!service.command.is_empty()).then_some(service)
    }
}

/// `from`'s variables over `into`'s: a name set again keeps the later value,
/// placed last.
pub(super) fn merge(into: &mut Vec<(String, String)>, from: Vec<(String, String)>) {
    for (key, value) in from {
        into.retain(|(k, _)| *k != key);
        into.push((key, value));
    }
}

/// A dotenv file larger than this is refused.
const MAX_ENV_FILE: u64 = 1024 * 1024;

impl Reader<'_> {
    /// Runs `read` with `env` as what `${VAR}` sees before warden's own
    /// environment (a service's variables read so far).
    pub(super) fn seeing<T>(&mut self, env: &[(String, String)], read: impl FnOnce(&mut Self) -> T) -> T {
        self.service_env = env.to_vec();
        let value = read(self);
        self.service_env.clear();
        value
    }

    /// `env_file`: a path or a list of paths (relative to the config's
    /// directory; `PATH?` may be missing), read in order over `env`.
    pub(super) fn env_files(&mut self, node: &Node, path: &str, env: &mut Vec<(String, String)>) {
        let items: Vec<&Node> = match &node.value {
            Value::List(items) => items.iter().collect(),
            _ => vec![node],
        };
        for item in items {
            let Some(text) = self.text(item, path) else { continue };
            let (name, optional) = match text.strip_suffix('?') {
                Some(name) => (name.to_string(), true),
                None => (text, false),
            };
            if name.is_empty() {
                self.problem(item.at, path, "an empty path: name a dotenv file");
                continue;
            }
            let file = self.dir.join(&name);
            let read = std::fs::metadata(&file).and_then(|m| {
                if m.is_dir() {
                    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "it is a directory"))
                } else if m.len() > MAX_ENV_FILE {
                    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "larger than 1 MiB"))
                } else {
                    std::fs::read_to_string(&file)
                }
            });
            let contents = match read {
                Ok(contents) => contents,
                Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    let hint = if e.kind() == std::io::ErrorKind::NotFound {
                        format!(" (write \"{name}?\" to skip it when missing)")
                    } else {
                        String::new()
                    };
                    self.problem(
                        item.at,
                        path,
                        format!("cannot read {}: {}{hint}", file.display(), crate::sys::Reason(&e)),
                    );
                    continue;
                }
            };
            let outer = self.env;
            let layers: &[(String, String)] = env;
            let lookup = |name: &str, so_far: &[(String, String)]| {
                so_far
                    .iter()
                    .chain(layers.iter())
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .or_else(|| outer(name))
            };
            match dotenv::parse(&contents, &lookup) {
                Ok(found) => merge(env, found),
                Err((line, why)) => self.problem(item.at, path, format!("{}:{line}: {why}", file.display())),
            }
        }
    }
}

impl Reader<'_> {
    /// `watch: { paths, action, debounce }`.
    pub(super) fn file_watch(&mut self, node: &Node, path: &str) -> Option<FileWatch> {
        let fields = self.fields(node, path, &["paths", "action", "debounce"])?;
        let Some((n, p)) = fields.get("paths") else {
            self.problem(node.at, path, "which files? give paths: [FILE, DIR or GLOB, ...]");
            return None;
        };
        let items: Vec<&Node> = match &n.value {
            Value::List(items) => items.iter().collect(),
            _ => vec![n],
        };
        let mut paths = Vec::new();
        for item in items {
            let Some(text) = self.text(item, &p) else { continue };
            let full = self.dir.join(&text);
            let name = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let parent = full.parent().map(Path::to_path_buf).unwrap_or_default();
            if text.is_empty() {
                self.problem(item.at, &p, "an empty path");
            } else if parent.to_string_lossy().contains(['*', '?']) {
                self.problem(
                    item.at,
                    &p,
                    format!("\"{text}\": a glob may only be in the last part of a path"),
                );
            } else if !parent.is_dir() {
                self.problem(
                    item.at,
                    &p,
                    format!(
                        "\"{text}\": the directory {} does not exist (warden watches a file's directory)",
                        parent.display()
                    ),
                );
            } else if text.ends_with('/') && full.exists() && !full.is_dir() {
                self.problem(item.at, &p, format!("\"{text}\" ends in / but is a file"));
            } else if name.is_empty() {
                self.problem(item.at, &p, format!("\"{text}\" names no file"));
            } else {
                paths.push(full);
            }
        }
        if paths.is_empty() {
            return None;
        }
        let mut action = WatchAction::Restart;
        if let Some((n, p)) = fields.get("action") {
            action = self.parsed(n, &p, |t| match t {
                "restart" => Ok(WatchAction::Restart),
                "reload" => Ok(WatchAction::Reload),
                other => match other.strip_prefix("signal:").map(str::trim) {
                    Some(signal) => crate::sys::signals::parse(signal)
                        .map(WatchAction::Signal)
                        .ok_or_else(|| format!("unknown signal \"{signal}\" (write e.g. HUP, USR2)")),
                    None => Err(format!("\"{other}\" is not restart, reload or \"signal: SIG\"")),
                },
            })?;
        }
        let mut debounce = DEFAULT_DEBOUNCE;
        if let Some((n, p)) = fields.get("debounce") {
            debounce = self.duration(n, &p)?;
        }
        Some(FileWatch { paths, action, debounce })
    }
}
