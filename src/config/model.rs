//! The configuration's typed form and the defaults of its keys: what the rest
//! of warden reads. Nothing here parses; `reader` builds these values.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub use super::users::Credentials;

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
    /// Whether warden puts services in cgroups of their own where it can.
    pub cgroups: CgroupMode,
    /// How often a watched memory limit is checked (no writable cgroup).
    pub limits_period: Duration,
    /// Reload when the config file changes.
    pub watch_config: bool,
    pub services: Vec<Service>,
    /// The file's text, kept to read a replicated service's new copies
    /// from what is running (`warden scale`), not from a file edited since.
    pub text: String,
}

/// `cgroups:`: `auto` gives services cgroups where warden can write them;
/// `off` never touches cgroups (memory limits are then watched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CgroupMode {
    #[default]
    Auto,
    Off,
}

pub const DEFAULT_LIMITS_PERIOD: Duration = Duration::from_secs(1);

/// A service's caps on memory, CPU and processes, enforced through its
/// cgroup (or, for memory without one, by warden watching it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// Hard cap in bytes (`memory.max`): above it the kernel reclaims, then kills.
    pub memory: Option<u64>,
    /// Throttle point in bytes (`memory.high`).
    pub memory_high: Option<u64>,
    /// Thousandths of a CPU (`cpu.max`): 1500 is one and a half CPUs.
    pub cpus: Option<u32>,
    /// Most processes (and threads) at once (`pids.max`).
    pub pids: Option<u64>,
}

impl Resources {
    pub fn any(&self) -> bool {
        *self != Resources::default()
    }
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
    /// `user` as written, with `:GROUP` from `group`: what the exports say.
    pub user_as_written: Option<String>,
    pub workdir: Option<PathBuf>,
    /// Overrides on top of warden's own environment.
    pub env: Vec<(String, String)>,
    pub umask: Option<u32>,
    /// (resource, soft, hard) for setrlimit.
    pub limits: Vec<Limit>,
    /// memory, memory_high, cpus, pids: the cgroup limits.
    pub resources: Resources,
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
    /// What `warden reload NAME` sends instead of restarting the service.
    pub reload_signal: Option<i32>,
    pub stop_timeout: Duration,
    pub critical: bool,
    pub optional: bool,
    /// false: validated, not started (until `warden start`).
    pub enabled: bool,
    /// The service and its exec probes cannot gain privileges through execve.
    pub no_new_privs: bool,
    /// The service, not the main program, gets the descriptors warden inherited.
    pub inherit_fds: bool,
    /// Signals warden receives that go to this service's process group
    /// (services mode without a main program; see `forward_signals`).
    pub forward_signals: Vec<i32>,
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
    /// Files whose change restarts, reloads or signals the service.
    pub watch: Option<FileWatch>,
    /// One of the copies `replicas: N` runs (named `GROUP-INDEX`).
    pub instance: Option<Instance>,
}

/// Which copy of a replicated service this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The name in the file (and what `depends_on`, `warden stop` and
    /// `warden scale` call all copies).
    pub group: String,
    /// `WARDEN_INSTANCE`: 0 to count-1.
    pub index: u32,
    /// `WARDEN_REPLICAS`: how many copies there were when this one was read.
    pub count: u32,
}

/// The most copies `replicas:` (and `warden scale`) may run of one service.
pub const MAX_REPLICAS: u32 = 100;

/// `watch:` of a service: paths (files, directories, or a glob in the last
/// component), and what a change (after `debounce` of quiet) does.
#[derive(Debug, Clone, PartialEq)]
pub struct FileWatch {
    pub paths: Vec<PathBuf>,
    pub action: WatchAction,
    pub debounce: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchAction {
    Restart,
    /// Its `reload_signal`, or a restart without one.
    Reload,
    Signal(i32),
}

pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(500);

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
            user_as_written: None,
            workdir: None,
            env: Vec::new(),
            umask: None,
            limits: Vec::new(),
            resources: Resources::default(),
            depends_on: Vec::new(),
            restart: RestartPolicy::OnFailure,
            success_codes: vec![0],
            max_restarts: None,
            restart_window: DEFAULT_RESTART_WINDOW,
            backoff: DEFAULT_BACKOFF,
            min_uptime: DEFAULT_MIN_UPTIME,
            cooldown: None,
            stop_signal: libc::SIGTERM,
            reload_signal: None,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            critical: false,
            optional: false,
            enabled: true,
            no_new_privs: false,
            inherit_fds: false,
            forward_signals: Vec::new(),
            logs: Logs::Prefix,
            startup: None,
            liveness: None,
            readiness: None,
            notify: false,
            notify_fd: None,
            watch: None,
            watchdog: None,
            instance: None,
        }
    }

    /// The service's name as the file writes it: its group for an instance.
    pub fn source_name(&self) -> &str {
        self.instance.as_ref().map_or(&self.name, |i| &i.group)
    }

    /// Whether this service waits for `other` (by its name or its group's).
    pub fn depends_on_service(&self, other: &Service) -> bool {
        self.depends_on.iter().any(|d| other.answers_to(&d.name))
    }

    /// Whether `name` (in `depends_on`, or a request) means this service:
    /// its own name, or its group's.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.instance.as_ref().is_some_and(|i| i.group == name)
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
    /// A line of the service's captured output since its start contains this text.
    Log(String),
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
    /// A service, or a replicated service's group (all its instances).
    pub name: String,
    pub condition: Condition,
    /// `instances: any`: one instance of a replicated service meeting the
    /// condition is enough (by default all of them must).
    pub any: bool,
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

pub const DEFAULT_BACKOFF: Backoff =
    Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(60), multiplier: 2.0, jitter: 0.1 };
