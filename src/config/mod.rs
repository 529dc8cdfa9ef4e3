//! The YAML configuration: its typed form, and `load`, which reads a file, checks
//! all of it and reports *every* problem at once, each with file, line, column,
//! key path and, where one is likely, a suggestion. Nothing is started from a
//! config that has any error.
//!
//! Reading is in three steps: `yaml` turns text into positioned nodes; `Reader`
//! converts nodes into typed values, collecting errors instead of stopping at the
//! first; `validate` checks what needs the whole picture (dependencies, cycles).

pub mod users;
mod yaml;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use users::Credentials;
use yaml::{Node, Position, Value};

use crate::{duration, sys::signals};

/// A config file larger than this is refused before parsing.
const MAX_FILE_SIZE: u64 = 1024 * 1024;

pub const DEFAULT_GRACE: Duration = Duration::from_secs(9);

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub grace: Duration,
    pub drain: Duration,
    pub log_format: LogFormat,
    /// Prefix captured lines (and file lines) with the time they were read.
    pub log_timestamps: bool,
    pub crash_reports: Option<CrashReports>,
    pub on_crash: Option<Hook>,
    /// The control socket's path; None when turned off (`control: off`).
    pub control: Option<PathBuf>,
    /// Where the HTTP endpoints listen; off when absent.
    pub http: Option<std::net::SocketAddr>,
    pub services: Vec<Service>,
}

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

/// Where crash reports go, and how many are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashReports {
    pub dir: PathBuf,
    pub keep: usize,
}

/// A command run on each crash.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub command: Vec<OsString>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    /// argv; a string command becomes `/bin/sh -c STRING`.
    pub command: Vec<OsString>,
    pub kind: Kind,
    pub credentials: Option<Credentials>,
    pub workdir: Option<PathBuf>,
    /// Overrides on top of warden's own environment.
    pub env: Vec<(String, String)>,
    pub umask: Option<u32>,
    /// (resource, soft, hard) for setrlimit.
    pub limits: Vec<Limit>,
    pub depends_on: Vec<Dependency>,
    pub restart: RestartPolicy,
    pub success_codes: Vec<i32>,
    /// None: unlimited.
    pub max_restarts: Option<u32>,
    pub restart_window: Duration,
    pub backoff: Backoff,
    pub min_uptime: Duration,
    pub cooldown: Option<Duration>,
    pub stop_signal: i32,
    pub stop_timeout: Duration,
    pub critical: bool,
    pub optional: bool,
    /// The service and its exec probes cannot gain privileges through execve.
    pub no_new_privs: bool,
    /// The service, not the main program, gets the descriptors warden inherited.
    pub inherit_fds: bool,
    pub logs: Logs,
    /// Gates liveness and readiness until it first succeeds; failing, restarts.
    pub startup: Option<Box<Probe>>,
    /// Failing `failure_threshold` times in a row, restarts the service.
    pub liveness: Option<Box<Probe>>,
    /// Decides whether the service is ready; never restarts it.
    pub readiness: Option<Box<Probe>>,
    /// sd_notify: the service gets its own NOTIFY_SOCKET; READY=1 marks it ready.
    pub notify: bool,
    /// s6 style: the service writes a newline on this fd when it is ready.
    pub notify_fd: Option<i32>,
    /// With `notify`: no WATCHDOG=1 for this long means the service hangs.
    pub watchdog: Option<Duration>,
}

/// Defaults of the service keys (docs/services.md lists them all).
pub const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(600);
pub const DEFAULT_MIN_UPTIME: Duration = Duration::from_secs(10);
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

impl Service {
    /// A longrun service running `command`, every other key at its default.
    pub fn new(name: &str, command: Vec<OsString>) -> Service {
        Service {
            name: name.to_string(),
            command,
            kind: Kind::Longrun,
            credentials: None,
            workdir: None,
            env: Vec::new(),
            umask: None,
            limits: Vec::new(),
            depends_on: Vec::new(),
            restart: RestartPolicy::OnFailure,
            success_codes: vec![0],
            max_restarts: None,
            restart_window: DEFAULT_RESTART_WINDOW,
            backoff: DEFAULT_BACKOFF,
            min_uptime: DEFAULT_MIN_UPTIME,
            cooldown: None,
            stop_signal: libc::SIGTERM,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            critical: false,
            optional: false,
            no_new_privs: false,
            inherit_fds: false,
            logs: Logs::Prefix,
            startup: None,
            liveness: None,
            readiness: None,
            notify: false,
            notify_fd: None,
            watchdog: None,
        }
    }

    /// Whether becoming ready takes more than having started.
    pub fn has_readiness_check(&self) -> bool {
        self.readiness.is_some() || self.startup.is_some() || self.notify || self.notify_fd.is_some()
    }
}

/// One health check and its schedule; fields and defaults are Kubernetes' own.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub check: Check,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Runs a program; exit code 0 is success.
    Exec(Vec<OsString>),
    /// GET `path` from `address`; a 2xx or 3xx status is success.
    Http { address: std::net::SocketAddr, host: String, path: String },
    /// A TCP connection to `address` is accepted.
    Tcp(std::net::SocketAddr),
    /// The file exists.
    File(PathBuf),
}

/// Which of a service's probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 3] = [ProbeKind::Startup, ProbeKind::Liveness, ProbeKind::Readiness];

    /// Position in per-probe arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Startup => "startup",
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
        }
    }
}

impl Service {
    pub fn probe(&self, kind: ProbeKind) -> Option<&Probe> {
        match kind {
            ProbeKind::Startup => self.startup.as_deref(),
            ProbeKind::Liveness => self.liveness.as_deref(),
            ProbeKind::Readiness => self.readiness.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Runs until stopped; restarted by policy.
    Longrun,
    /// Runs to completion; dependents wait for its success.
    Oneshot,
    /// Started on a schedule; a run still going when the next is due is skipped.
    Periodic(Schedule),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    Every(Duration),
    Cron(crate::cron::Cron),
}

impl Schedule {
    /// Time from now until the next run; None when a cron line never fires again.
    pub fn next_delay(&self) -> Option<Duration> {
        match self {
            Schedule::Every(every) => Some(*every),
            Schedule::Cron(cron) => {
                let now = std::time::SystemTime::now();
                cron.next_after(now).map(|at| at.duration_since(now).unwrap_or_default())
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub resource: i32,
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    pub condition: Condition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The dependency has been started (its program is running).
    Started,
    /// The dependency is ready (started, and ready by its readiness rule).
    Ready,
    /// The dependency ran to completion with a success code.
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
    /// Fraction (0 to 1) by which each delay is randomly shortened or lengthened.
    pub jitter: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logs {
    /// Each line goes to warden's stdout or stderr (the same stream) as
    /// `name | line`, or as a JSON object with `log_format: json`.
    Prefix,
    /// The service writes to warden's own stdout and stderr directly.
    Inherit,
    /// Output goes to /dev/null.
    Null,
    /// Lines go to a file, rotated by size.
    File(FileLog),
}

impl Logs {
    /// Whether warden reads the output (and so keeps its last lines).
    pub fn captured(&self) -> bool {
        matches!(self, Logs::Prefix | Logs::File(_))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Logs::Prefix => "prefix",
            Logs::Inherit => "inherit",
            Logs::Null => "null",
            Logs::File(_) => "file",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLog {
    pub path: PathBuf,
    pub max_size: u64,
    /// Rotated files kept besides the current one.
    pub keep: u32,
}

/// The smallest `max_size`: a whole record (16 KiB) must always fit.
pub const MIN_LOG_FILE: u64 = 64 * 1024;

/// One problem in a config, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub at: Option<Position>,
    /// `services.web.restart`, or an environment variable's name.
    pub path: String,
    pub message: String,
}

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Diagnostic>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match p.at {
                Some(at) => write!(f, "{}:{}:{}: ", self.file, at.line, at.column)?,
                None => write!(f, "{}: ", self.file)?,
            }
            if !p.path.is_empty() {
                write!(f, "{}: ", p.path)?;
            }
            f.write_str(&p.message)?;
        }
        Ok(())
    }
}

/// Reads and checks the config at `path`. `env` looks up variables for `${VAR}`
/// and the `WARDEN_*` overrides; `root` is where /etc/passwd and /etc/group live.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>, root: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let fail = |message: String| ConfigError {
        file: file.clone(),
        problems: vec![Diagnostic { at: None, path: String::new(), message }],
    };
    let size =
        std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {}", crate::sys::Reason(&e))))?.len();
    if size > MAX_FILE_SIZE {
        return Err(fail(format!("{size} bytes is larger than the {MAX_FILE_SIZE}-byte limit for a config")));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read: {}", crate::sys::Reason(&e))))?;
    parse(&text, &file, env, root)
}

/// Checks config `text`, named `file` in messages.
pub fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
    root: &Path,
) -> Result<Config, ConfigError> {
    let node = yaml::parse(text).map_err(|e| ConfigError {
        file: file.to_string(),
        problems: vec![Diagnostic {
            at: Some(e.at),
            path: String::new(),
            message: format!("invalid YAML: {}", e.message),
        }],
    })?;
    let mut reader = Reader { problems: Vec::new(), env, root };
    let config = reader.config(&node);
    let mut problems = reader.problems;
    if let Some(config) = &config {
        validate(config, &node, &mut problems);
    }
    match config {
        Some(config) if problems.is_empty() => Ok(config),
        _ => Err(ConfigError { file: file.to_string(), problems }),
    }
}

const GLOBAL_KEYS: &[&str] = &[
    "grace",
    "drain",
    "control",
    "http",
    "log_format",
    "log_timestamps",
    "crash_reports",
    "on_crash",
    "services",
];

const SERVICE_KEYS: &[&str] = &[
    "command",
    "type",
    "schedule",
    "user",
    "group",
    "workdir",
    "env",
    "umask",
    "limits",
    "depends_on",
    "restart",
    "success_codes",
    "max_restarts",
    "restart_window",
    "backoff",
    "min_uptime",
    "cooldown",
    "stop_signal",
    "stop_timeout",
    "critical",
    "optional",
    "no_new_privs",
    "inherit_fds",
    "logs",
    "startup",
    "liveness",
    "readiness",
    "notify",
    "notify_fd",
    "watchdog",
];

const PROBE_KEYS: &[&str] = &[
    "exec",
    "http",
    "tcp",
    "file",
    "initial_delay",
    "period",
    "timeout",
    "success_threshold",
    "failure_threshold",
];

struct Reader<'a> {
    problems: Vec<Diagnostic>,
    env: &'a dyn Fn(&str) -> Option<String>,
    root: &'a Path,
}

/// The entries of one mapping, checked against its known keys.
struct Fields<'n> {
    entries: BTreeMap<&'n str, &'n Node>,
    path: String,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<(&'n Node, String)> {
        self.entries.get(key).map(|node| (*node, join(&self.path, key)))
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

impl Reader<'_> {
    fn problem(&mut self, at: Position, path: &str, message: impl Into<String>) {
        self.problems.push(Diagnostic { at: Some(at), path: path.to_string(), message: message.into() });
    }

    /// Checks `node` is a mapping whose keys are all in `known`.
    fn fields<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Fields<'n>> {
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
            } else {
                let hint = suggest(name, known)
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_else(|| format!(" (known keys: {})", known.join(", ")));
                self.problem(key.at, &join(path, name), format!("unknown key{hint}"));
            }
        }
        Some(fields)
    }

    /// A scalar's text with `${VAR}` and `${VAR:-default}` expanded.
    fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => match expand(text, self.env) {
                Ok(expanded) => Some(expanded),
                Err(message) => {
                    self.problem(node.at, path, message);
                    None
                }
            },
            other => {
                self.problem(node.at, path, format!("expected a single value, found {}", other.kind()));
                None
            }
        }
    }

    fn parsed<T>(
        &mut self,
        node: &Node,
        path: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(node, path)?;
        parse(&text).map_err(|message| self.problem(node.at, path, message)).ok()
    }

    fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        self.parsed(node, path, duration::parse)
    }

    /// A whole number from `low` to `high`.
    fn count(&mut self, node: &Node, path: &str, low: u32, high: u32) -> Option<u32> {
        self.parsed(node, path, |t| {
            t.parse::<u32>()
                .ok()
                .filter(|c| (low..=high).contains(c))
                .ok_or_else(|| format!("\"{t}\" is not a count from {low} to {high}"))
        })
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        self.parsed(node, path, |t| match t {
            "true" | "yes" | "on" => Ok(true),
            "false" | "no" | "off" => Ok(false),
            _ => Err(format!("\"{t}\" is not true or false")),
        })
    }

    fn signal(&mut self, node: &Node, path: &str) -> Option<i32> {
        self.parsed(node, path, |t| {
            signals::parse(t)
                .ok_or_else(|| format!("unknown signal \"{t}\" (write e.g. TERM, SIGINT, 15 or RTMIN+3)"))
        })
    }

    fn choice<T: Copy>(&mut self, node: &Node, path: &str, choices: &[(&str, T)]) -> Option<T> {
        self.parsed(node, path, |t| {
            choices.iter().find(|(name, _)| *name == t).map(|(_, v)| *v).ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                let hint = suggest(t, &names).map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default();
                format!("\"{t}\" is not one of {}{hint}", names.join(", "))
            })
        })
    }

    fn list<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::List(items) => Some(items),
            other => {
                self.problem(node.at, path, format!("expected a list, found {}", other.kind()));
                None
            }
        }
    }

    fn config(&mut self, node: &Node) -> Option<Config> {
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
                        if let Some(service) = self.service(name, value, &join(&path, name)) {
                            services.push(service);
                        }
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
            services,
        })
    }

    /// WARDEN_CONTROL and WARDEN_HTTP win over the file.
    fn network_overrides(
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

    fn service(&mut self, name: &str, node: &Node, path: &str) -> Option<Service> {
        let fields = self.fields(node, path, SERVICE_KEYS);
        let Some(fields) = fields else {
            if node.value == Value::Null {
                self.problem(node.at, path, "empty service: it needs at least a \"command\"");
            }
            return None;
        };
        let command = match fields.get("command") {
            None => {
                self.problem(node.at, &join(path, "command"), "missing: what should this service run?");
                None
            }
            Some((n, p)) => self.command(n, &p),
        };

        let mut kind = Kind::Longrun;
        if let Some((n, p)) = fields.get("type") {
            kind =
                self.choice(n, &p, &[("longrun", Kind::Longrun), ("oneshot", Kind::Oneshot)]).unwrap_or(kind);
        }
        if let Some((n, p)) = fields.get("schedule") {
            if fields.get("type").is_some() {
                self.problem(n.at, &p, "a periodic job has no \"type\": remove one of the two");
            }
            if let Some(schedule) = self.parsed(n, &p, |t| {
                if t.split_whitespace().count() > 1 {
                    crate::cron::Cron::parse(t).map(Schedule::Cron)
                } else {
                    duration::parse(t).and_then(|d| {
                        if d.is_zero() {
                            Err("the interval must be longer than 0".into())
                        } else {
                            Ok(Schedule::Every(d))
                        }
                    })
                }
            }) {
                kind = Kind::Periodic(schedule);
            }
        }

        let mut credentials = None;
        let group = fields.get("group").and_then(|(n, p)| self.text(n, &p).map(|g| (g, n.at, p)));
        if let Some((n, p)) = fields.get("user") {
            if let Some(user) = self.text(n, &p) {
                match users::resolve(&user, group.as_ref().map(|(g, _, _)| g.as_str()), self.root) {
                    Ok(c) => credentials = Some(c),
                    Err(message) => self.problem(n.at, &p, message),
                }
            }
        } else if let Some((_, at, p)) = &group {
            self.problem(*at, p, "\"group\" needs a \"user\"");
        }

        let workdir = fields.get("workdir").and_then(|(n, p)| self.text(n, &p)).map(PathBuf::from);
        let env = fields.get("env").map(|(n, p)| self.env_map(n, &p)).unwrap_or_default();
        let umask = fields.get("umask").and_then(|(n, p)| {
            self.parsed(n, &p, |t| {
                u32::from_str_radix(t, 8)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| format!("\"{t}\" is not an octal umask like \"027\" (quote it in YAML)"))
            })
        });
        let limits = fields.get("limits").map(|(n, p)| self.limits(n, &p)).unwrap_or_default();
        let depends_on = fields.get("depends_on").map(|(n, p)| self.dependencies(n, &p)).unwrap_or_default();

        let mut restart = RestartPolicy::OnFailure;
        if let Some((n, p)) = fields.get("restart") {
            let policies = [
                ("always", RestartPolicy::Always),
                ("on-failure", RestartPolicy::OnFailure),
                ("never", RestartPolicy::Never),
            ];
            restart = self.choice(n, &p, &policies).unwrap_or(restart);
        }
        let mut success_codes = vec![0];
        if let Some((n, p)) = fields.get("success_codes")
            && let Some(items) = self.list(n, &p)
        {
            success_codes = items
                .iter()
                .filter_map(|item| {
                    self.parsed(item, &p, |t| {
                        t.parse::<i32>()
                            .ok()
                            .filter(|c| (0..=255).contains(c))
                            .ok_or_else(|| format!("\"{t}\" is not an exit code from 0 to 255"))
                    })
                })
                .collect();
        }
        let mut max_restarts = None;
        if let Some((n, p)) = fields.get("max_restarts") {
            max_restarts = self
                .parsed(n, &p, |t| match t {
                    "unlimited" => Ok(None),
                    _ => t
                        .parse::<u32>()
                        .map(Some)
                        .map_err(|_| format!("\"{t}\" is not a count or \"unlimited\"")),
                })
                .flatten();
        }
        let mut restart_window = DEFAULT_RESTART_WINDOW;
        if let Some((n, p)) = fields.get("restart_window") {
            restart_window = self.duration(n, &p).unwrap_or(restart_window);
        }
        let backoff = fields.get("backoff").map(|(n, p)| self.backoff(n, &p)).unwrap_or(DEFAULT_BACKOFF);
        let mut min_uptime = DEFAULT_MIN_UPTIME;
        if let Some((n, p)) = fields.get("min_uptime") {
            min_uptime = self.duration(n, &p).unwrap_or(min_uptime);
        }
        let cooldown = fields.get("cooldown").and_then(|(n, p)| self.duration(n, &p));
        let mut stop_signal = libc::SIGTERM;
        if let Some((n, p)) = fields.get("stop_signal") {
            stop_signal = self.signal(n, &p).unwrap_or(stop_signal);
        }
        let mut stop_timeout = DEFAULT_STOP_TIMEOUT;
        if let Some((n, p)) = fields.get("stop_timeout") {
            stop_timeout = self.duration(n, &p).unwrap_or(stop_timeout);
        }
        let critical = fields.get("critical").and_then(|(n, p)| self.boolean(n, &p)).unwrap_or(false);
        let optional = fields.get("optional").and_then(|(n, p)| self.boolean(n, &p)).unwrap_or(false);
        let logs = fields.get("logs").and_then(|(n, p)| self.logs(n, &p)).unwrap_or(Logs::Prefix);
        let no_new_privs = fields.get("no_new_privs").and_then(|(n, p)| self.boolean(n, &p)).unwrap_or(false);
        let inherit_fds = fields.get("inherit_fds").and_then(|(n, p)| self.boolean(n, &p)).unwrap_or(false);

        let [startup, liveness, readiness] = ProbeKind::ALL
            .map(|kind| fields.get(kind.name()).and_then(|(n, p)| self.probe(n, &p, kind)).map(Box::new));
        let notify = fields.get("notify").and_then(|(n, p)| self.boolean(n, &p)).unwrap_or(false);
        let notify_fd = fields.get("notify_fd").and_then(|(n, p)| {
            self.parsed(n, &p, |t| {
                t.parse::<i32>().ok().filter(|fd| (3..=1023).contains(fd)).ok_or_else(|| {
                    format!("\"{t}\" is not a descriptor number from 3 to 1023 (0, 1 and 2 are stdio)")
                })
            })
        });
        let watchdog = fields.get("watchdog").and_then(|(n, p)| {
            let limit = self.duration(n, &p)?;
            if !notify {
                self.problem(
                    n.at,
                    &p,
                    "the watchdog needs \"notify: true\": WATCHDOG=1 pings come over sd_notify",
                );
            }
            if limit < Duration::from_millis(10) {
                self.problem(n.at, &p, "a watchdog shorter than 10ms cannot be kept");
            }
            Some(limit)
        });
        if kind != Kind::Longrun {
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

        Some(Service {
            name: name.to_string(),
            command: command?,
            kind,
            credentials,
            workdir,
            env,
            umask,
            limits,
            depends_on,
            restart,
            success_codes,
            max_restarts,
            restart_window,
            backoff,
            min_uptime,
            cooldown,
            stop_signal,
            stop_timeout,
            critical,
            optional,
            no_new_privs,
            inherit_fds,
            logs,
            startup,
            liveness,
            readiness,
            notify,
            notify_fd,
            watchdog,
        })
    }

    /// `prefix`, `inherit`, `null`, or `{ file: PATH, max_size: 10M, keep: 5 }`.
    fn logs(&mut self, node: &Node, path: &str) -> Option<Logs> {
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
    fn crash_reports(&mut self, node: &Node, path: &str) -> Option<CrashReports> {
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
    fn hook(&mut self, node: &Node, path: &str) -> Option<Hook> {
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
    fn probe(&mut self, node: &Node, path: &str, kind: ProbeKind) -> Option<Probe> {
        const CHECKS: [&str; 4] = ["exec", "http", "tcp", "file"];
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
                    _ => self.text(n, &p).map(|f| Check::File(PathBuf::from(f))),
                }
            }
            [] => {
                self.problem(node.at, path, "which check? give one of exec, http, tcp or file");
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

    fn command(&mut self, node: &Node, path: &str) -> Option<Vec<OsString>> {
        match &node.value {
            Value::Scalar { .. } => {
                let line = self.text(node, path)?;
                if line.trim().is_empty() {
                    self.problem(node.at, path, "empty command");
                    return None;
                }
                Some(vec!["/bin/sh".into(), "-c".into(), line.into()])
            }
            Value::List(items) if !items.is_empty() => {
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

    fn env_map(&mut self, node: &Node, path: &str) -> Vec<(String, String)> {
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

    fn limits(&mut self, node: &Node, path: &str) -> Vec<Limit> {
        const RESOURCES: &[(&str, i32)] = &[
            ("nofile", libc::RLIMIT_NOFILE as i32),
            ("nproc", libc::RLIMIT_NPROC as i32),
            ("core", libc::RLIMIT_CORE as i32),
            ("stack", libc::RLIMIT_STACK as i32),
            ("memlock", libc::RLIMIT_MEMLOCK as i32),
            ("as", libc::RLIMIT_AS as i32),
        ];
        let mut known: Vec<&str> = RESOURCES.iter().map(|(n, _)| *n).collect();
        known.extend(["memory", "cpus", "pids"]);
        let Some(fields) = self.fields(node, path, &known) else { return Vec::new() };
        for key in ["memory", "cpus", "pids"] {
            if let Some((n, p)) = fields.get(key) {
                self.problem(
                    n.at,
                    &p,
                    "cgroup limits (memory, cpus, pids) are not supported by this version of warden yet",
                );
            }
        }
        let mut limits = Vec::new();
        for (name, resource) in RESOURCES {
            let Some((n, p)) = fields.get(name) else { continue };
            if let Some(value) = self.parsed(n, &p, |t| match t {
                "unlimited" | "infinity" => Ok(libc::RLIM_INFINITY),
                _ => parse_size(t),
            }) {
                limits.push(Limit { resource: *resource, name, soft: value, hard: value });
            }
        }
        limits
    }

    fn dependencies(&mut self, node: &Node, path: &str) -> Vec<Dependency> {
        let conditions = [
            ("started", Condition::Started),
            ("ready", Condition::Ready),
            ("completed", Condition::Completed),
        ];
        match &node.value {
            Value::List(items) => items
                .iter()
                .filter_map(|item| self.text(item, path))
                .map(|name| Dependency { name, condition: Condition::Started })
                .collect(),
            Value::Map(entries) => entries
                .iter()
                .filter_map(|(key, value)| {
                    let name = key.value.as_text()?.to_string();
                    let condition = self.choice(value, &join(path, &name), &conditions)?;
                    Some(Dependency { name, condition })
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

    fn backoff(&mut self, node: &Node, path: &str) -> Backoff {
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

/// `5432`, `127.0.0.1:5432`, `[::1]:5432` or `localhost:5432`. Names are not
/// resolved: a DNS lookup would block PID 1's loop.
fn parse_address(text: &str) -> Result<std::net::SocketAddr, String> {
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
fn parse_http(text: &str) -> Result<Check, String> {
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

pub const DEFAULT_BACKOFF: Backoff =
    Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(60), multiplier: 2.0, jitter: 0.1 };

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
fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
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
fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
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

/// Checks that need every service: unknown dependencies, cycles, contradictions.
fn validate(config: &Config, root: &Node, problems: &mut Vec<Diagnostic>) {
    let position_of = |service: &str, key: Option<&str>| -> Option<Position> {
        let Value::Map(top) = &root.value else { return None };
        let (_, services) = top.iter().find(|(k, _)| k.value.as_text() == Some("services"))?;
        let Value::Map(entries) = &services.value else { return None };
        let (service_key, service_node) = entries.iter().find(|(k, _)| k.value.as_text() == Some(service))?;
        let Some(key) = key else { return Some(service_key.at) };
        let Value::Map(fields) = &service_node.value else { return Some(service_key.at) };
        fields
            .iter()
            .find(|(k, _)| k.value.as_text() == Some(key))
            .map(|(k, _)| k.at)
            .or(Some(service_key.at))
    };
    let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
    for service in &config.services {
        let path = format!("services.{}", service.name);
        for dependency in &service.depends_on {
            let at = position_of(&service.name, Some("depends_on"));
            let dep_path = format!("{path}.depends_on");
            let Some(target) = config.services.iter().find(|s| s.name == dependency.name) else {
                let others: Vec<&str> = names.iter().copied().filter(|n| *n != service.name).collect();
                let hint = suggest(&dependency.name, &others)
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                problems.push(Diagnostic {
                    at,
                    path: dep_path,
                    message: format!("no service \"{}\"{hint}", dependency.name),
                });
                continue;
            };
            if dependency.name == service.name {
                problems.push(Diagnostic {
                    at,
                    path: dep_path,
                    message: "a service cannot depend on itself".into(),
                });
            } else if dependency.condition == Condition::Completed && target.kind != Kind::Oneshot {
                problems.push(Diagnostic {
                    at,
                    path: dep_path,
                    message: format!(
                        "\"{}\" is not a oneshot, so it never completes: use started or ready",
                        dependency.name
                    ),
                });
            }
        }
        if matches!(service.kind, Kind::Periodic(_)) && service.critical {
            problems.push(Diagnostic {
                at: position_of(&service.name, Some("critical")),
                path: format!("{path}.critical"),
                message: "a periodic job cannot be critical".into(),
            });
        }
    }
    let claimants: Vec<&Service> = config.services.iter().filter(|s| s.inherit_fds).collect();
    if let [first, others @ ..] = claimants.as_slice() {
        for other in others {
            problems.push(Diagnostic {
                at: position_of(&other.name, Some("inherit_fds")),
                path: format!("services.{}.inherit_fds", other.name),
                message: format!(
                    "\"{}\" already takes the inherited descriptors: only one service may (or the main program, by default)",
                    first.name
                ),
            });
        }
    }
    if let Some(cycle) = find_cycle(config) {
        // Pointed at the first service's entry that leads around the cycle.
        let (first, next) =
            (cycle.first().map_or("", String::as_str), cycle.get(1).map_or("", String::as_str));
        problems.push(Diagnostic {
            at: entry_position(root, first, next).or_else(|| position_of(first, Some("depends_on"))),
            path: format!("services.{first}.depends_on"),
            message: format!("dependency cycle: {}", cycle.join(" -> ")),
        });
    }
}

/// Where `service`'s `depends_on` names `dependency` (a list item or a map key).
fn entry_position(root: &Node, service: &str, dependency: &str) -> Option<Position> {
    fn field<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
        let Value::Map(entries) = &node.value else { return None };
        entries.iter().find(|(k, _)| k.value.as_text() == Some(key)).map(|(_, v)| v)
    }
    let depends_on = field(field(field(root, "services")?, service)?, "depends_on")?;
    match &depends_on.value {
        Value::List(items) => items.iter().find(|i| i.value.as_text() == Some(dependency)).map(|i| i.at),
        Value::Map(entries) => {
            entries.iter().find(|(k, _)| k.value.as_text() == Some(dependency)).map(|(k, _)| k.at)
        }
        _ => None,
    }
}

/// A dependency cycle, as the names along it (first repeated at the end).
fn find_cycle(config: &Config) -> Option<Vec<String>> {
    fn visit<'a>(
        name: &'a str,
        config: &'a Config,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| *n == name) {
            let mut cycle: Vec<String> =
                path.get(start..).unwrap_or_default().iter().map(|s| s.to_string()).collect();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if done.contains(&name) {
            return None;
        }
        path.push(name);
        let service = config.services.iter().find(|s| s.name == name)?;
        for dependency in &service.depends_on {
            if dependency.name != name
                && let Some(cycle) = visit(&dependency.name, config, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(name);
        None
    }
    let mut done = Vec::new();
    config.services.iter().find_map(|s| visit(&s.name, config, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests;
