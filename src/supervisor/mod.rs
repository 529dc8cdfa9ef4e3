//! Services mode, `warden -c FILE [-- CMD]`: the imperative shell around one
//! pure [`machine::Machine`] per service.
//!
//! The loop reads signals and timers, reaps, feeds each event to the machine it
//! concerns and performs what the machine asks for (spawn, signal, arm a timer,
//! print an event). After every batch, `progress` starts the services whose
//! dependencies are met, and during shutdown stops the services that nothing
//! running depends on any more. The supervisor owns every pid: a pid is in the
//! table from spawn until it is reaped, never longer, so no signal can reach a
//! reused pid.
//!
//! Shutdown (stop signal, critical failure, main program exit, nothing left to
//! run): readiness goes false, `drain` elapses, services stop in reverse
//! dependency order (independent ones in parallel, each with its stop signal
//! and, after `stop_timeout`, SIGKILL to its process group), then every other
//! process gets SIGTERM; when `grace` runs out, SIGKILL for all. A second stop
//! signal skips the waiting. The phases and what moves them are a pure table
//! in [`shutdown`], tested cell by cell; this module performs its actions.

mod capture;
mod command;
pub mod events;
mod gates;
pub mod machine;
pub mod policy;
mod reload;
mod serve;
mod shutdown;
mod watch;

use std::collections::{HashMap, VecDeque};
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use gates::Gate;
use machine::{AfterStop, Input, Machine, Output, State, TimerKind};
use shutdown::Phase;

use crate::config::{Condition, Config, Kind, LogFormat, Logs, ProbeKind, RestartPolicy, Service};
use crate::inherited::{Inherited, LISTEN_VARIABLES};
use crate::init::{AFTER_KILL, Base, KILL_AGAIN, SIGNALS};
use crate::logger::{debug, error, warning};
use crate::notify::{NotifySocket, Outer};
use crate::reactor::{Event, Interest, TimerId, deadline_after};
use crate::sys::reap::ExitStatus;
use crate::sys::signals::{self, Received};
use crate::sys::spawn::{Environment, Pending, Placement, Program, Setup, SpawnError, start};
use crate::sys::{Reason, process};
use capture::{Capture, Outputs, RunningHook, SINK_TOKENS};
use watch::{Watch, Watched};

/// Tokens from here on are exec-status pipes of spawns in flight.
const SPAWNS: u64 = 1 << 32;
/// Spawns waiting for their exec at once: each holds a pipe.
const MAX_IN_FLIGHT: usize = 128;
/// Name of the main program in events; not a valid service name, so no clash.
const MAIN: &str = "(main)";
/// Services run in a session of their own: own process group, no terminal.
const SERVICE_PLACEMENT: Placement =
    Placement { own_process_group: true, take_terminal: false, new_session: true };

/// How the main program (`-- CMD` after `-c FILE`) is run.
#[derive(Debug, Clone)]
pub struct MainProgram {
    pub command: Vec<OsString>,
    pub restart: RestartPolicy,
    pub max_restarts: Option<u32>,
    pub backoff: Option<crate::config::Backoff>,
    pub exit_map: Vec<(i32, i32)>,
    pub rewrites: Vec<(i32, i32)>,
    pub group: bool,
}

#[derive(Debug)]
enum Timer {
    Service {
        index: usize,
        id: u64,
        kind: TimerKind,
        generation: u64,
    },
    Schedule {
        index: usize,
        id: u64,
    },
    /// A probe is due (`round`: the probing round it was set in).
    Probe {
        index: usize,
        id: u64,
        kind: ProbeKind,
        round: u64,
    },
    ProbeTimeout {
        index: usize,
        id: u64,
        kind: ProbeKind,
        round: u64,
    },
    Watchdog {
        index: usize,
        id: u64,
        round: u64,
    },
    /// An on_crash hook's time is up.
    HookTimeout {
        pid: i32,
    },
    /// A control or HTTP connection's deadline.
    Connection {
        token: u64,
    },
    /// Listeners back into the loop after accept ran out of descriptors.
    Relisten,
    /// Time for warden's own WATCHDOG=1 to the service manager.
    OuterWatchdog,
    DrainOver,
    GraceOver,
    KillAgain,
    GiveUp,
}

/// One supervised program: its config, its machine, and what spawning needs.
struct Unit {
    /// Unique for the life of warden: timers name it, so a timer set for a unit
    /// that was since removed or replaced (on reload) acts on nothing.
    id: u64,
    /// Removed by a reload: stopping or stopped, never started again; its slot is
    /// reused by the next added service.
    retired: bool,
    service: Service,
    machine: Machine,
    program: Program,
    setup: Setup,
    placement: Placement,
    is_main: bool,
    /// Told to stop during shutdown.
    stop_sent: bool,
    /// Reported once that its dependencies can never be met.
    stuck_reported: bool,
    /// A reload restarts it (with this stop timeout) once its dependents
    /// that restart too are down; until it is back, nothing waiting for it
    /// may start.
    reload_restart: Option<Duration>,
    /// Probes, notifications and watchdog.
    watch: Watch,
    /// The last lines of its output (captured modes only).
    tail: crate::output::Tail,
    /// Its log file, with `logs: { file: ... }`.
    file_log: Option<crate::output::rotate::RotatingFile>,
    /// Ends of its runs, by `ExitReason`.
    exits: [u64; 4],
    /// Reason of its last state change, for status and control answers.
    reason: String,
    /// Lines of its output lost on warden's stdout or stderr.
    lines_dropped: u64,
}

pub struct Supervisor {
    config: Config,
    format: LogFormat,
    init: Base<Timer>,
    units: Vec<Unit>,
    next_unit_id: u64,
    /// Where the config came from, for reload; None for a lone supervised program.
    config_path: Option<std::path::PathBuf>,
    pids: HashMap<i32, usize>,
    main: Option<usize>,
    main_group: bool,
    exit_map: Vec<(i32, i32)>,
    rewrites: Vec<(i32, i32)>,
    phase: Phase,
    exit_code: Option<i32>,
    grace_deadline: Option<Instant>,
    grace_timer: Option<TimerId>,
    no_children: bool,
    random_state: u64,
    received: Vec<Received>,
    ended: Vec<(i32, ExitStatus)>,
    /// (unit, input) still to be fed to machines, in order.
    inputs: VecDeque<(usize, Input)>,
    /// Units whose program is to be forked, in order.
    spawn_queue: VecDeque<usize>,
    /// Forked, exec not yet confirmed: token → (unit, child).
    in_flight: HashMap<u64, (usize, Pending)>,
    next_token: u64,
    /// Probe sockets and notification fds in epoll: token → what it is.
    watched: HashMap<u64, Watched>,
    /// Exec probes running: pid → (unit, unit id, probe).
    probe_pids: HashMap<i32, (usize, u64, ProbeKind)>,
    /// File probes on the helper thread: ticket → (unit, unit id, probe).
    file_checks: HashMap<u64, (usize, u64, ProbeKind)>,
    /// The helper thread that runs file probes' `stat`s.
    paths: crate::health::paths::PathChecks,
    /// The service manager warden reports to (its own NOTIFY_SOCKET).
    outer: Option<Outer>,
    /// Capture pipes of services' runs: token → capture.
    captures: HashMap<u64, Capture>,
    outputs: Outputs,
    /// on_crash hooks running: pid → hook.
    hooks: HashMap<i32, RunningHook>,
    /// The control socket and HTTP endpoints, with their connections.
    server: serve::Server,
    /// The environment hooks start from.
    base_env: Environment,
    /// What warden was given to pass on, for the one child that receives it.
    inherited: Inherited,
    /// The main program receives the inherited descriptors (decided at start).
    main_holds_fds: bool,
}

/// Runs the services of `config` (and `main`, if given) until shutdown; returns
/// warden's exit code.
pub fn run(
    config: Config,
    config_path: Option<std::path::PathBuf>,
    main: Option<MainProgram>,
    inherited: Inherited,
) -> i32 {
    match Supervisor::new(config, config_path, main, inherited) {
        Ok(mut supervisor) => supervisor.run(),
        Err(code) => code,
    }
}

/// The environment every service starts from: warden's own, without the
/// variables addressed to warden itself.
fn base_environment() -> Result<Environment, String> {
    // The LISTEN_* variables go to the one child that receives the inherited
    // descriptors, as overrides of its own (`Inherited`).
    const WARDENS_OWN: &[&str] = &["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];
    let vars: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !WARDENS_OWN.iter().chain(&LISTEN_VARIABLES).any(|own| k == own))
        .collect();
    Environment::new(&vars).map_err(|e| e.to_string())
}

/// A service's programs, ready to spawn.
struct Prepared {
    program: Program,
    setup: Setup,
    probes: [Option<Program>; 3],
}

/// Builds what spawning `service` needs; `notify` is its NOTIFY_SOCKET value.
fn prepare(
    service: &Service,
    base: &Environment,
    notify: Option<&str>,
    inherited: &Inherited,
) -> Result<Prepared, String> {
    // What this service changes on top of the shared environment; later wins.
    let mut overrides: Vec<(OsString, OsString)> = Vec::new();
    if let Some(c) = &service.credentials {
        if let Some(name) = &c.name {
            overrides.push(("USER".into(), name.into()));
            overrides.push(("LOGNAME".into(), name.into()));
        }
        overrides.push(("HOME".into(), c.home.clone().unwrap_or_else(|| "/".into()).into()));
    }
    if let Some(address) = notify {
        overrides.push(("NOTIFY_SOCKET".into(), address.into()));
        if let Some(limit) = service.watchdog {
            overrides.push(("WATCHDOG_USEC".into(), limit.as_micros().to_string().into()));
        }
    }
    for (key, value) in &service.env {
        overrides.retain(|(k, _)| k != key.as_str());
        overrides.push((key.into(), value.into()));
    }
    let probes = watch::prepare_probes(service, base, &overrides)?;
    // The LISTEN_* variables are for the service itself, never its probes.
    if service.inherit_fds {
        let listen =
            inherited.variables.iter().filter(|(k, _)| !service.env.iter().any(|(key, _)| k == key.as_str()));
        overrides.extend(listen.cloned());
    }
    let program = Program::new(&service.command, base, &overrides).map_err(|e| e.to_string())?;
    let workdir = match &service.workdir {
        Some(dir) => {
            Some(CString::new(dir.as_os_str().as_bytes()).map_err(|_| "workdir contains a NUL byte")?)
        }
        None => None,
    };
    let mut setup = Setup {
        null_stdin: true,
        null_output: service.logs == Logs::Null,
        workdir,
        umask: service.umask,
        limits: service.limits.iter().map(|l| (l.resource, l.soft, l.hard)).collect(),
        credentials: service.credentials.as_ref().map(|c| (c.uid, c.gid, c.groups.clone())),
        no_new_privs: service.no_new_privs,
        ..Setup::default()
    };
    if service.inherit_fds {
        inherited.give(&mut setup);
    }
    Ok(Prepared { program, setup, probes })
}

/// A unit for `service`, with its notification socket if it has `notify`
/// (`nonce` keeps the socket's name unique).
fn new_unit(
    id: u64,
    service: &Service,
    base: &Environment,
    nonce: u64,
    inherited: &Inherited,
) -> Result<Unit, String> {
    let notify = notify_socket(service, nonce ^ id.wrapping_mul(0x2545_f491_4f6c_dd1d))?;
    let prepared = prepare(service, base, notify.as_ref().map(|s| s.address.as_str()), inherited)?;
    let mut unit = Unit::new(id, service.clone(), prepared.program, prepared.setup, SERVICE_PLACEMENT, false);
    unit.watch.set_probes(service, prepared.probes);
    unit.file_log = capture::file_log(&service.logs);
    unit.watch.notify = notify.map(|socket| (socket, 0));
    Ok(unit)
}

fn notify_socket(service: &Service, nonce: u64) -> Result<Option<NotifySocket>, String> {
    if !service.notify {
        return Ok(None);
    }
    NotifySocket::bind(nonce).map(Some).map_err(|e| format!("cannot make its NOTIFY_SOCKET: {}", Reason(&e)))
}

impl Unit {
    fn new(
        id: u64,
        service: Service,
        program: Program,
        setup: Setup,
        placement: Placement,
        is_main: bool,
    ) -> Unit {
        Unit {
            id,
            retired: false,
            service,
            machine: Machine::default(),
            program,
            setup,
            placement,
            is_main,
            stop_sent: false,
            stuck_reported: false,
            reload_restart: None,
            watch: Watch::default(),
            tail: crate::output::Tail::default(),
            file_log: None,
            exits: [0; 4],
            reason: String::new(),
            lines_dropped: 0,
        }
    }
}

impl Supervisor {
    fn new(
        config: Config,
        config_path: Option<std::path::PathBuf>,
        main: Option<MainProgram>,
        inherited: Inherited,
    ) -> Result<Supervisor, i32> {
        crate::output::sink::install();
        crate::output::sink::set_notice_format(events::warden_line(config.log_format));
        let init = Base::new()?;

        let base = base_environment().map_err(|why| {
            error!("{why}");
            2
        })?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
            ^ (u64::from(process::pid().unsigned_abs()) << 32);
        let mut units = Vec::new();
        for service in &config.services {
            let unit = new_unit(units.len() as u64, service, &base, seed, &inherited).map_err(|why| {
                error!("service {}: {why}", service.name);
                2
            })?;
            units.push(unit);
        }
        let mut main_index = None;
        let mut main_holds_fds = false;
        let (mut exit_map, mut rewrites, mut main_group) = (Vec::new(), Vec::new(), false);
        if let Some(main) = main {
            // The main program waits for every service that is not optional.
            let depends_on = config
                .services
                .iter()
                .filter(|s| !s.optional && !matches!(s.kind, Kind::Periodic(_)))
                .map(|s| crate::config::Dependency {
                    name: s.name.clone(),
                    condition: if s.kind == Kind::Oneshot { Condition::Completed } else { Condition::Ready },
                })
                .collect();
            let service = Service {
                depends_on,
                restart: main.restart,
                max_restarts: main.max_restarts,
                backoff: main.backoff.unwrap_or(crate::config::DEFAULT_BACKOFF),
                stop_timeout: config.grace,
                critical: true,
                // It keeps warden's own streams, as in the one-program mode.
                logs: Logs::Inherit,
                ..Service::new(MAIN, main.command.clone())
            };
            // It receives the inherited descriptors unless a service takes them.
            let receives = !config.services.iter().any(|s| s.inherit_fds);
            let mut setup = Setup::default();
            let mut overrides = Vec::new();
            if receives {
                inherited.give(&mut setup);
                overrides.extend(inherited.variables.iter().cloned());
            }
            main_holds_fds = receives && !inherited.is_empty();
            // The main program keeps warden's stdin and, with a terminal, owns it.
            let program = Program::new(&main.command, &base, &overrides).map_err(|e| {
                error!("cannot run the main program: {e}");
                2
            })?;
            main_index = Some(units.len());
            let placement = Placement { own_process_group: true, take_terminal: true, new_session: false };
            units.push(Unit::new(units.len() as u64, service, program, setup, placement, true));
            exit_map = main.exit_map;
            rewrites = main.rewrites;
            main_group = main.group;
        }
        // The units hold the services from here on; keep one copy only.
        let config = Config { services: Vec::new(), ..config };
        Ok(Supervisor {
            format: config.log_format,
            config,
            init,
            next_unit_id: units.len() as u64,
            units,
            config_path,
            pids: HashMap::new(),
            main: main_index,
            main_group,
            exit_map,
            rewrites,
            phase: Phase::Running,
            exit_code: None,
            grace_deadline: None,
            grace_timer: None,
            no_children: false,
            random_state: seed | 1,
            received: Vec::with_capacity(16),
            ended: Vec::new(),
            inputs: VecDeque::new(),
            spawn_queue: VecDeque::new(),
            in_flight: HashMap::new(),
            next_token: SPAWNS,
            watched: HashMap::new(),
            probe_pids: HashMap::new(),
            file_checks: HashMap::new(),
            paths: Default::default(),
            outer: Outer::from_environment(),
            captures: HashMap::new(),
            outputs: Outputs::new(),
            hooks: HashMap::new(),
            server: serve::Server::default(),
            base_env: base,
            inherited,
            main_holds_fds,
        })
    }

    /// Puts a unit's notification socket into the loop.
    fn watch_notify_socket(&mut self, index: usize) {
        let token = self.take_token();
        let Some(unit) = self.units.get_mut(index) else { return };
        let Some((socket, slot)) = &mut unit.watch.notify else { return };
        *slot = token;
        if let Err(e) = self.init.reactor.register(socket.fd(), token, Interest::Read) {
            warning!("{}: cannot watch its NOTIFY_SOCKET: {}", unit.service.name, Reason(&e));
            return;
        }
        self.watched.insert(token, Watched::Notify { index, id: unit.id });
    }

    /// xorshift64*: uniform in [0, 1), for backoff jitter. Not for secrets.
    fn random(&mut self) -> f64 {
        let mut x = self.random_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random_state = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn run(&mut self) -> i32 {
        self.open_listeners();
        for index in 0..self.units.len() {
            self.watch_notify_socket(index);
            self.schedule(index);
        }
        if let Some(every) = self.outer.as_ref().and_then(|o| o.watchdog) {
            self.init.reactor.add_timer(deadline_after(every / 2), Timer::OuterWatchdog);
        }
        self.progress();
        self.notify_outer_ready();
        release_start_up_code();
        let mut events = Vec::new();
        loop {
            if shutdown::may_exit(self.phase, self.no_children) {
                return self.finish();
            }
            self.watch_sinks();
            self.init.wait(&mut events);
            for event in events.drain(..) {
                match event {
                    Event::Io(ready) if ready.token == SIGNALS => self.drain_signals(),
                    Event::Io(ready) if ready.token == watch::FILE_CHECKS => self.on_file_checks(),
                    Event::Io(ready) if SINK_TOKENS.contains(&ready.token) => {
                        self.on_sink(usize::from(ready.token == SINK_TOKENS[1]))
                    }
                    Event::Io(ready) if self.captures.contains_key(&ready.token) => {
                        self.on_capture(ready.token)
                    }
                    Event::Io(ready) if self.in_flight.contains_key(&ready.token) => {
                        self.on_spawn_status(ready.token)
                    }
                    Event::Io(ready) if self.owns_token(ready.token) => self.on_server_io(ready),
                    Event::Io(ready) => match self.watched.get(&ready.token).copied() {
                        Some(Watched::Probe { index, id, kind }) => {
                            self.on_probe_io(index, id, kind, ready.token)
                        }
                        Some(Watched::Notify { index, id }) => self.on_notify(index, id),
                        Some(Watched::Pipe { index, id }) => self.on_pipe(index, id, ready.token),
                        None => {}
                    },
                    Event::Timer(timer) => {
                        if let Some(code) = self.on_timer(timer) {
                            return code;
                        }
                    }
                }
                self.feed_inputs();
            }
            self.progress();
            self.notify_outer_ready();
            self.note_started();
            self.settle_waits();
        }
    }

    /// Puts a periodic job on its schedule (no-op for other kinds).
    fn schedule(&mut self, index: usize) {
        let Some(unit) = self.units.get_mut(index) else { return };
        if let Kind::Periodic(schedule) = unit.service.kind {
            unit.machine.state = State::Scheduled;
            let (id, name) = (unit.id, unit.service.name.clone());
            self.arm_schedule(index, id, &name, schedule);
        }
    }

    fn arm_schedule(&mut self, index: usize, id: u64, name: &str, schedule: crate::config::Schedule) {
        match schedule.next_delay() {
            Some(delay) => {
                self.init.reactor.add_timer(deadline_after(delay), Timer::Schedule { index, id });
            }
            None => self.note(&format!("{name}: its cron line never fires again")),
        }
    }

    fn drain_signals(&mut self) {
        let mut batch = std::mem::take(&mut self.received);
        let child_ended = self.init.read_signals(&mut batch);
        for received in batch.drain(..) {
            self.on_signal(received.signal);
        }
        self.received = batch;
        if child_ended {
            self.reap();
        }
    }

    fn on_signal(&mut self, signal: i32) {
        match signal {
            libc::SIGTERM | libc::SIGINT | libc::SIGQUIT => {
                // The main program is stopped with the signal that was received.
                let forwarded = self.rewrite(signal);
                if let (Some(main), Some(forwarded)) = (self.main, forwarded)
                    && let Some(unit) = self.units.get_mut(main)
                {
                    unit.service.stop_signal = forwarded;
                }
                if forwarded.is_none() {
                    debug!("dropping {} (--rewrite)", signals::name(signal));
                } else {
                    // A second one kills; the first begins the shutdown.
                    self.advance(shutdown::Event::StopSignal, &signals::name(signal));
                    self.shutdown(None, &format!("{} received", signals::name(signal)));
                }
            }
            libc::SIGHUP if self.config_path.is_some() => self.reload_on_signal(),
            _ => {
                let Some(signal) = self.rewrite(signal) else { return };
                // Other signals go to the main program, or else to every service.
                let targets: Vec<(i32, bool)> = match self.main {
                    Some(main) => self
                        .units
                        .get(main)
                        .and_then(|u| u.machine.state.pid())
                        .map(|pid| vec![(pid, self.main_group)])
                        .unwrap_or_default(),
                    None => self
                        .units
                        .iter()
                        .filter_map(|u| u.machine.state.pid())
                        .map(|pid| (pid, true))
                        .collect(),
                };
                for (pid, group) in targets {
                    debug!("forwarding {} to {pid}", signals::name(signal));
                    let _ = process::send(if group { -pid } else { pid }, signal);
                }
            }
        }
    }

    /// The signal to forward for `received`; None drops it (`--rewrite SIG:0`).
    fn rewrite(&self, received: i32) -> Option<i32> {
        crate::cli::rewrite(&self.rewrites, received)
    }

    fn reap(&mut self) {
        let mut ended = std::mem::take(&mut self.ended);
        self.no_children = self.init.reap_all(&mut ended);
        for (pid, status) in ended.drain(..) {
            if self.on_probe_exit(pid, status) || self.on_hook_exit(pid, status) {
                continue;
            }
            // What it wrote before dying comes before its end (and into its crash report).
            self.drain_output_of(pid);
            // A child can end before its exec was confirmed: settle that first,
            // so that its machine hears "spawned" before "exited".
            let token = self.in_flight.iter().find(|(_, (_, p))| p.pid == pid).map(|(t, _)| *t);
            if let Some(token) = token {
                self.on_spawn_status(token);
            }
            match self.pids.remove(&pid) {
                Some(index) => {
                    if let Some(unit) = self.units.get_mut(index) {
                        let reason = serve::exit_reason(unit.machine.state, status);
                        if let Some(count) = unit.exits.get_mut(reason.index()) {
                            *count += 1;
                        }
                    }
                    self.inputs.push_back((index, Input::Exited { status }))
                }
                None => {
                    self.server.orphans_reaped += 1;
                    debug!("reaped pid {pid} ({status:?})")
                }
            }
        }
        self.ended = ended;
        self.feed_inputs();
    }

    fn on_timer(&mut self, timer: Timer) -> Option<i32> {
        match timer {
            Timer::Service { index, id, kind, generation } => {
                if self.units.get(index).is_some_and(|u| u.id == id) {
                    self.inputs.push_back((index, Input::Timer { kind, generation }));
                }
            }
            Timer::Schedule { index, id } => {
                if let Some((Kind::Periodic(schedule), name)) = self
                    .units
                    .get(index)
                    .filter(|u| u.id == id && !u.retired)
                    .map(|u| (u.service.kind, u.service.name.clone()))
                    && self.phase == Phase::Running
                {
                    self.arm_schedule(index, id, &name, schedule);
                    // (Stopped by hand, its machine ignores the start.)
                    if self.units.get(index).is_some_and(|u| u.machine.is_live() && !u.machine.held) {
                        self.note(&format!(
                            "{}: run skipped: the previous one is still going",
                            self.units.get(index).map_or("", |u| u.service.name.as_str())
                        ));
                    }
                    self.inputs.push_back((index, Input::Start));
                }
            }
            Timer::Probe { index, id, kind, round } => {
                if self.current_round(index, id, round) {
                    self.run_probe(index, kind);
                }
            }
            Timer::ProbeTimeout { index, id, kind, round } => {
                if self.current_round(index, id, round) {
                    self.on_probe_timeout(index, kind);
                }
            }
            Timer::HookTimeout { pid } => self.on_hook_timeout(pid),
            Timer::Connection { token } => self.on_connection_timer(token),
            Timer::Relisten => self.on_relisten(),
            Timer::Watchdog { index, id, round } => {
                if self.current_round(index, id, round) {
                    self.on_watchdog(index);
                }
            }
            Timer::OuterWatchdog => {
                if let Some(outer) = &self.outer
                    && let Some(every) = outer.watchdog
                {
                    outer.send("WATCHDOG=1");
                    self.init.reactor.add_timer(deadline_after(every / 2), Timer::OuterWatchdog);
                }
            }
            Timer::DrainOver => return self.advance(shutdown::Event::DrainOver, ""),
            Timer::GraceOver => {
                self.grace_timer = None;
                return self.advance(shutdown::Event::GraceOver, "");
            }
            Timer::KillAgain => return self.advance(shutdown::Event::KillAgain, ""),
            Timer::GiveUp => return self.advance(shutdown::Event::GiveUp, ""),
        }
        None
    }

    /// Forks queued programs while fewer than MAX_IN_FLIGHT await their exec.
    /// warden does not wait for each exec: the status pipe tells the loop later,
    /// so a hundred services start as fast as a plain fork loop.
    fn launch_queued(&mut self) {
        while self.in_flight.len() < MAX_IN_FLIGHT {
            let Some(index) = self.spawn_queue.pop_front() else { return };
            let Some(unit) = self.units.get(index) else { continue };
            if unit.machine.state != State::Starting {
                continue;
            }
            let name = unit.service.name.clone();
            // Held open until the child has its copies of the pipes.
            let notify_pipe = self.before_spawn(index);
            let output_pipes = match self.before_spawn_output(index) {
                Ok(pipes) => pipes,
                Err(why) => {
                    drop(notify_pipe);
                    self.inputs.push_back((index, Input::SpawnFailed { code: 126, why }));
                    continue;
                }
            };
            let Some(unit) = self.units.get(index) else { continue };
            let started = start(&unit.program, unit.placement, &unit.setup);
            drop(notify_pipe);
            let output_reads = output_pipes.map(|(writes, reads)| {
                drop(writes);
                reads
            });
            match started {
                Ok(pending) => {
                    if let Some(reads) = output_reads {
                        self.watch_output(index, pending.pid, reads);
                    }
                    let token = self.next_token;
                    self.next_token += 1;
                    self.pids.insert(pending.pid, index);
                    if let Err(e) = self.init.reactor.register(pending.fd(), token, Interest::Read) {
                        // Cannot watch it: learn the outcome when the child is reaped.
                        warning!("{name}: unable to watch the start: {}", Reason(&e));
                    }
                    self.in_flight.insert(token, (index, pending));
                }
                // A failed fork (EAGAIN, EMFILE for the pipe) is retried with backoff.
                Err(e) => {
                    if let SpawnError::Fork(err) = &e {
                        warning!("{name}: unable to fork: {}", Reason(err));
                    }
                    let why = format!("cannot run: {e}");
                    self.inputs.push_back((index, Input::SpawnFailed { code: e.exit_code(), why }));
                }
            }
        }
    }

    /// The exec-status pipe of a spawn in flight has news.
    fn on_spawn_status(&mut self, token: u64) {
        let Some((_, pending)) = self.in_flight.get(&token) else { return };
        let Some(outcome) = pending.outcome() else { return };
        // Dropping `pending` closes the pipe, which also takes it out of epoll.
        let Some((index, pending)) = self.in_flight.remove(&token) else { return };
        match outcome {
            Ok(pid) => self.inputs.push_back((index, Input::Spawned { pid })),
            Err(e) => {
                // The child exits 127 by itself; its reap is no concern of the machine.
                self.pids.remove(&pending.pid);
                let why = format!("cannot run: {e}");
                self.inputs.push_back((index, Input::SpawnFailed { code: e.exit_code(), why }));
            }
        }
        self.feed_inputs();
        self.launch_queued();
    }

    /// Feeds queued inputs to their machines and performs what they ask for.
    fn feed_inputs(&mut self) {
        // Bounded: each input produces at most one spawn, which feeds at most one input.
        let mut budget = 10_000;
        while let Some((index, input)) = self.inputs.pop_front() {
            budget -= 1;
            if budget == 0 {
                error!("internal: runaway event chain; dropping the rest");
                self.inputs.clear();
                return;
            }
            self.feed(index, input);
        }
    }

    fn feed(&mut self, index: usize, input: Input) {
        let now = Instant::now();
        let random = self.random();
        let Some(unit) = self.units.get_mut(index) else { return };
        let outputs = unit.machine.handle(&unit.service, input, now, random);
        self.perform_all(index, outputs);
    }

    /// A command by hand for one unit's machine; from when a run counts for
    /// its answer, or why it was refused.
    fn feed_command(&mut self, index: usize, command: command::Command) -> Result<Instant, command::Refusal> {
        let now = Instant::now();
        let random = self.random();
        let Some(unit) = self.units.get_mut(index) else { return Ok(now) };
        let accepted = unit.machine.command(&unit.service, command, now, random)?;
        self.perform_all(index, accepted.outputs);
        Ok(accepted.since)
    }

    fn perform_all(&mut self, index: usize, outputs: Vec<Output>) {
        for output in outputs {
            self.perform(index, output);
        }
        self.after_change(index);
    }

    fn perform(&mut self, index: usize, output: Output) {
        let Some(unit) = self.units.get(index) else { return };
        let name = unit.service.name.clone();
        match output {
            Output::Spawn => {
                self.spawn_queue.push_back(index);
                self.launch_queued();
            }
            Output::Signal(signal) => {
                if let Some(pid) = unit.machine.state.pid() {
                    // The main program gets it like a forwarded signal (its group only
                    // with -g); a service's whole process group gets it.
                    let group = !unit.is_main || self.main_group;
                    let _ = process::send(if group { -pid } else { pid }, signal);
                    // A stopped process cannot act on the signal until continued.
                    let _ = process::send(if group { -pid } else { pid }, libc::SIGCONT);
                }
            }
            Output::KillGroup => {
                if let Some(pid) = unit.machine.state.pid() {
                    process::kill_group_and_leader(pid);
                }
            }
            Output::SetTimer { kind, after, generation } => {
                let id = unit.id;
                self.init
                    .reactor
                    .add_timer(deadline_after(after), Timer::Service { index, id, kind, generation });
            }
            Output::Transition(t) => {
                events::emit(self.format, &name, &t);
                if let Some(unit) = self.units.get_mut(index) {
                    unit.reason = t.reason;
                }
            }
            Output::Crash(crash) => self.on_crash(index, &crash),
            Output::FailedForGood { code } => {
                if unit.is_main {
                    // Handled in after_change: the main program's end is the container's.
                } else if unit.service.critical && self.phase == Phase::Running {
                    self.shutdown(Some(code), &format!("critical service {name} failed"));
                }
            }
        }
    }

    /// Consequences of a machine's new state that concern more than the machine.
    fn after_change(&mut self, index: usize) {
        self.watch_follow(index);
        let Some(unit) = self.units.get(index) else { return };
        if unit.is_main
            && matches!(unit.machine.state, State::Exited | State::Failed)
            && self.phase == Phase::Running
        {
            let code = unit.machine.last_exit.map_or(0, ExitStatus::code);
            let mapped = crate::cli::map_exit(&self.exit_map, code);
            self.shutdown(Some(mapped), "the main program ended");
        }
    }

    /// Starts what can start; during shutdown, stops what may stop.
    fn progress(&mut self) {
        match self.phase {
            Phase::Running => {
                self.stop_for_reload();
                // Starting one service may open the gate of the next: repeat until
                // nothing more starts (at most once per service).
                for _ in 0..=self.units.len() {
                    let mut started = false;
                    // The gates of every waiting unit, from one look at all of
                    // them (not one per unit: 1000 services start at once).
                    for (index, gate) in self.waiting_gates() {
                        if !self.units.get(index).is_some_and(|u| u.machine.state == State::Waiting) {
                            continue;
                        }
                        match gate {
                            Gate::Open => {
                                self.inputs.push_back((index, Input::Start));
                                self.feed_inputs();
                                started = true;
                            }
                            Gate::Closed => {}
                            Gate::Never(why) => self.report_stuck(index, &why),
                        }
                    }
                    if !started || self.phase != Phase::Running {
                        break;
                    }
                }
                if self.phase == Phase::Running && self.nothing_left() {
                    let failed = self.units.iter().any(|u| u.machine.state == State::Failed);
                    self.shutdown(Some(i32::from(failed)), "no service is left to run");
                }
                if self.phase != Phase::Running {
                    self.progress();
                }
            }
            Phase::Draining => {}
            Phase::Stopping => {
                let grace_left = self
                    .grace_deadline
                    .map_or(Duration::ZERO, |d| d.saturating_duration_since(Instant::now()));
                for index in 0..self.units.len() {
                    let Some(unit) = self.units.get(index) else { continue };
                    if unit.stop_sent || self.has_live_dependents(index) {
                        continue;
                    }
                    if matches!(unit.machine.state, State::Stopped | State::Exited | State::Failed) {
                        // Already ended: it keeps the state that says how.
                        if let Some(u) = self.units.get_mut(index) {
                            u.stop_sent = true;
                        }
                        continue;
                    }
                    let timeout = unit.service.stop_timeout.min(grace_left);
                    if let Some(u) = self.units.get_mut(index) {
                        u.stop_sent = true;
                    }
                    self.inputs.push_back((index, Input::Stop { then: AfterStop::Stay, timeout }));
                    self.feed_inputs();
                }
                // on_crash hooks of the last crashes may finish (within the grace).
                if self.units.iter().all(|u| !u.machine.is_live()) && self.hooks.is_empty() {
                    // The services are down: now whatever they left behind
                    // (reaped first, to know whether anything is).
                    self.reap();
                    self.advance(shutdown::Event::ServicesDown, "");
                }
            }
            Phase::Sweeping | Phase::Killed => {}
        }
    }

    /// Whether a unit still running depends on `index` (so it must wait to stop).
    fn has_live_dependents(&self, index: usize) -> bool {
        let Some(name) = self.units.get(index).map(|u| &u.service.name) else { return false };
        self.units.iter().any(|u| {
            !u.retired && u.machine.is_live() && u.service.depends_on.iter().any(|d| &d.name == name)
        })
    }

    /// A reload restarts `restarting`: what runs and depends on them, directly
    /// or not, restarts with them (the main program excepted: it is the
    /// container's, and reloads never touch it), so that it waits for them
    /// again as at boot.
    fn restart_dependents_of(&mut self, mut restarting: Vec<usize>) {
        let mut next = 0;
        // Bounded: every unit joins at most once.
        while let Some(&index) = restarting.get(next) {
            next += 1;
            let Some(name) = self.units.get(index).map(|u| u.service.name.clone()) else { continue };
            for (dependent, unit) in self.units.iter_mut().enumerate() {
                if unit.retired
                    || unit.is_main
                    || unit.reload_restart.is_some()
                    || !unit.machine.is_live()
                    || matches!(unit.service.kind, Kind::Periodic(_))
                    || !unit.service.depends_on.iter().any(|d| d.name == name)
                {
                    continue;
                }
                unit.reload_restart = Some(unit.service.stop_timeout);
                restarting.push(dependent);
            }
        }
    }

    /// Reload restarts, dependents first: a unit marked by a reload stops
    /// once no marked unit that depends on it still runs.
    fn stop_for_reload(&mut self) {
        for index in 0..self.units.len() {
            let Some(unit) = self.units.get(index) else { continue };
            let Some(timeout) = unit.reload_restart else { continue };
            let name = &unit.service.name;
            let dependents_up = self.units.iter().any(|u| {
                u.reload_restart.is_some()
                    && u.machine.is_live()
                    && u.service.depends_on.iter().any(|d| &d.name == name)
            });
            if dependents_up {
                continue;
            }
            let held = self.units.get_mut(index).is_some_and(|unit| {
                unit.reload_restart = None;
                unit.machine.held
            });
            // Stopped by hand meanwhile: it stays down, with its new settings.
            if !held {
                self.inputs.push_back((index, Input::Stop { then: AfterStop::Wait, timeout }));
            }
            self.feed_inputs();
        }
    }

    /// What the gates know of every service that is not retired.
    fn live_facts(&self) -> Vec<gates::Facts<'_>> {
        self.units.iter().filter(|u| !u.retired).map(facts).collect()
    }

    /// The gate of every unit that waits (and is not retired).
    fn waiting_gates(&self) -> Vec<(usize, Gate)> {
        let waiting = |u: &Unit| !u.retired && u.machine.state == State::Waiting;
        if !self.units.iter().any(waiting) {
            return Vec::new();
        }
        let live = self.live_facts();
        self.units
            .iter()
            .enumerate()
            .filter(|(_, u)| waiting(u))
            .map(|(index, u)| (index, gates::gate(&u.service.depends_on, &live)))
            .collect()
    }

    fn report_stuck(&mut self, index: usize, why: &str) {
        let Some(unit) = self.units.get_mut(index) else { return };
        if unit.stuck_reported {
            return;
        }
        unit.stuck_reported = true;
        let name = unit.service.name.clone();
        let is_main = unit.is_main;
        self.note(&format!("{name}: cannot start: {why}"));
        if is_main && self.phase == Phase::Running {
            // The main program will never run: the container has nothing to do.
            let code = self
                .units
                .iter()
                .filter(|u| u.machine.state == State::Failed)
                .find_map(|u| u.machine.last_exit.map(ExitStatus::code))
                .unwrap_or(1);
            self.shutdown(Some(code), "the main program cannot start");
        }
    }

    /// No service runs or can run again (`gates::nothing_left`).
    fn nothing_left(&self) -> bool {
        // The common case, without building anything: something runs, or
        // waits for a gate, or is held.
        let may_end = |u: &Unit| {
            matches!(u.machine.state, State::Exited | State::Stopped | State::Failed | State::Waiting)
                && (!u.machine.held || u.retired)
        };
        if !self.units.iter().all(may_end) {
            return false;
        }
        let live = self.live_facts();
        let all: Vec<gates::Facts> = self.units.iter().map(facts).collect();
        gates::nothing_left(&all, |index| {
            self.units.get(index).map_or(Gate::Closed, |u| gates::gate(&u.service.depends_on, &live))
        })
    }

    /// Begins the shutdown sequence; `code` is warden's exit code if it is the
    /// first to be decided.
    fn shutdown(&mut self, code: Option<i32>, reason: &str) {
        if self.phase != Phase::Running {
            return;
        }
        if self.exit_code.is_none() {
            self.exit_code = code;
        }
        self.advance(shutdown::Event::Begin { drain: !self.config.drain.is_zero() }, reason);
    }

    /// Feeds the shutdown table (`shutdown`) and performs what it says;
    /// Some(code) when warden must exit now. `what` is the reason of a
    /// beginning, or the signal's name for a second stop signal.
    fn advance(&mut self, event: shutdown::Event, what: &str) -> Option<i32> {
        use shutdown::Action;
        let (phase, actions) = shutdown::next(self.phase, event, self.no_children);
        self.phase = phase;
        for action in actions {
            match action {
                Action::Announce => self.announce_shutdown(what),
                Action::ArmDrain => {
                    self.init.reactor.add_timer(deadline_after(self.config.drain), Timer::DrainOver);
                }
                Action::Sweep => {
                    self.note("stopping remaining processes");
                    self.init.scope.signal_all(&[libc::SIGTERM, libc::SIGCONT]);
                }
                Action::ReportSecondSignal => {
                    self.note(&format!("second stop signal ({what}): killing everything now"))
                }
                Action::ReportGraceOver => self.note(&format!(
                    "grace period of {} is over: killing what is left",
                    crate::duration::format(self.config.grace)
                )),
                Action::KillEverything => self.kill_everything(),
                Action::KillAgain => {
                    self.init.scope.signal_all(&[libc::SIGKILL]);
                    self.init.reactor.add_timer(deadline_after(KILL_AGAIN), Timer::KillAgain);
                }
                Action::GiveUp => {
                    self.note(&format!(
                        "processes survived SIGKILL for {}s; exiting anyway",
                        AFTER_KILL.as_secs()
                    ));
                    return Some(self.finish());
                }
            }
        }
        None
    }

    /// The beginning of a shutdown: said, probing stopped, the grace
    /// deadline armed, and what is not running stopped at once.
    fn announce_shutdown(&mut self, reason: &str) {
        self.note(&format!(
            "shutting down: {reason} (grace {}, drain {})",
            crate::duration::format(self.config.grace),
            crate::duration::format(self.config.drain)
        ));
        if let Some(outer) = &self.outer {
            outer.send(&format!("STOPPING=1\nSTATUS=shutting down: {reason}"));
        }
        // Nothing is probed any more: no restart can race the shutdown.
        for index in 0..self.units.len() {
            if self.units.get(index).is_some_and(|u| u.machine.is_up()) {
                self.watch_end(index);
            }
        }
        let deadline = deadline_after(self.config.grace);
        self.grace_deadline = Some(deadline);
        self.grace_timer = Some(self.init.reactor.add_timer(deadline, Timer::GraceOver));
        // Nothing starts any more: what is not running now is stopped at once.
        for index in 0..self.units.len() {
            if self.units.get(index).is_some_and(|u| {
                !u.machine.is_live()
                    && !matches!(u.machine.state, State::Stopped | State::Exited | State::Failed)
            }) {
                self.inputs
                    .push_back((index, Input::Stop { then: AfterStop::Stay, timeout: Duration::ZERO }));
            }
        }
    }

    /// Last words before warden exits; returns its exit code.
    fn finish(&mut self) -> i32 {
        self.close_listeners();
        self.flush_output();
        let dropped = self.outputs.dropped_lines()
            + self.units.iter().filter_map(|u| u.file_log.as_ref()).map(|f| f.dropped_lines).sum::<u64>();
        if dropped > 0 {
            self.note(&format!("{dropped} lines of services' output could not be written and were dropped"));
            crate::output::sink::flush_before_exit(std::time::Instant::now() + capture::EXIT_FLUSH);
        }
        self.final_code()
    }

    /// warden's exit code: the first one decided (critical failure, main
    /// program's end); else the main program's last exit; else 0.
    fn final_code(&self) -> i32 {
        if let Some(code) = self.exit_code {
            return code;
        }
        let main = self.main.and_then(|m| self.units.get(m)).and_then(|u| u.machine.last_exit);
        match main {
            Some(status) => {
                let code = status.code();
                crate::cli::map_exit(&self.exit_map, code)
            }
            // The main program was killed at the end of the grace and not yet reaped.
            None if self.main.is_some_and(|m| self.units.get(m).is_some_and(|u| u.machine.is_live())) => {
                128 + libc::SIGKILL
            }
            None => 0,
        }
    }

    /// SIGKILL for everything (the shutdown table calls it once).
    fn kill_everything(&mut self) {
        for index in 0..self.units.len() {
            self.inputs.push_back((index, Input::Kill));
        }
        self.feed_inputs();
        self.init.scope.signal_all(&[libc::SIGKILL]);
        if let Some(timer) = self.grace_timer.take() {
            self.init.reactor.cancel_timer(timer);
        }
        self.init.reactor.add_timer(deadline_after(KILL_AGAIN), Timer::KillAgain);
        self.init.reactor.add_timer(deadline_after(AFTER_KILL), Timer::GiveUp);
        self.reap();
    }

    /// SIGHUP: re-reads the config and applies the difference: added services
    /// start, removed ones stop, changed ones restart with their new settings,
    /// unchanged ones keep running untouched (same pid). An invalid file, or one
    /// whose programs cannot be prepared, changes nothing.
    fn reload(&mut self) -> Result<String, String> {
        if self.phase != Phase::Running {
            return Err("not reloading: warden is shutting down".into());
        }
        let Some(path) = self.config_path.clone() else {
            return Err("not reloading: warden runs no config file".into());
        };
        let environment = |name: &str| std::env::var(name).ok();
        let loaded = crate::config::load(&path, &environment, std::path::Path::new("/"));
        // The parser ran again: its code need not stay resident until the next reload.
        release_start_up_code();
        let config = match loaded {
            Ok(config) => config,
            Err(e) => return Err(e.to_string()),
        };
        let base = base_environment()?;
        if self.main_holds_fds
            && let Some(claimant) = config.services.iter().find(|s| s.inherit_fds)
        {
            return Err(format!(
                "services.{}.inherit_fds: the main program holds the inherited descriptors for this run; \
                 restart warden to give them to a service",
                claimant.name
            ));
        }
        // New units for what is added or changed, all built before anything
        // changes: one that cannot be built leaves everything as it was.
        let running: Vec<&Service> =
            self.units.iter().filter(|u| !u.retired && !u.is_main).map(|u| &u.service).collect();
        let difference = reload::diff(&running, &config.services);
        let mut prepared = Vec::new();
        for index in reload::to_build(&difference) {
            let Some(service) = config.services.get(index) else { continue };
            let id = self.next_unit_id + prepared.len() as u64;
            let nonce = self.random_state;
            match new_unit(id, service, &base, nonce, &self.inherited) {
                Ok(unit) => prepared.push(unit),
                Err(why) => return Err(format!("service {}: {why}", service.name)),
            }
        }
        self.next_unit_id += prepared.len() as u64;
        let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
        let mut restarting = Vec::new();
        let unchanged = difference.unchanged.len();
        for index in 0..self.units.len() {
            let Some(unit) = self.units.get_mut(index) else { continue };
            if unit.retired || unit.is_main || config.services.iter().any(|s| s.name == unit.service.name) {
                continue;
            }
            unit.retired = true;
            removed.push(unit.service.name.clone());
            // Its notification socket goes now; the slot may wait long for reuse.
            if let Some((_, token)) = unit.watch.notify.take() {
                self.watched.remove(&token);
            }
            let timeout = unit.service.stop_timeout;
            // Fed at once, so that no pending input outlives the slot's reuse.
            self.feed(index, Input::Stop { then: AfterStop::Stay, timeout });
        }
        for mut new in prepared {
            let existing = self
                .units
                .iter()
                .position(|u| !u.retired && !u.is_main && u.service.name == new.service.name);
            let index = match existing {
                Some(index) => {
                    changed.push(new.service.name.clone());
                    let Some(unit) = self.units.get_mut(index) else { continue };
                    if let Some((_, token)) = &unit.watch.notify {
                        self.watched.remove(token);
                    }
                    if unit.machine.is_live() {
                        // Same unit, new settings. A service stops (after what
                        // depends on it), then waits for its gates and starts
                        // from them; a periodic job's run in progress stops and
                        // runs again from them at once.
                        let timeout = unit.service.stop_timeout;
                        let periodic = matches!(new.service.kind, Kind::Periodic(_));
                        unit.watch.set_probes(&new.service, new.watch.take_programs());
                        unit.service = new.service;
                        unit.program = new.program;
                        unit.setup = new.setup;
                        unit.watch.notify = new.watch.notify;
                        unit.stop_sent = false;
                        unit.stuck_reported = false;
                        if !periodic {
                            unit.reload_restart = Some(timeout);
                        }
                        self.watch_notify_socket(index);
                        if periodic {
                            self.feed(index, Input::Stop { then: AfterStop::Restart, timeout });
                        } else {
                            restarting.push(index);
                        }
                        continue;
                    }
                    // Not running: start over from the new settings.
                    *unit = new;
                    index
                }
                None => {
                    added.push(new.service.name.clone());
                    let free = self.units.iter().position(|u| u.retired && !u.machine.is_live());
                    match free.and_then(|slot| self.units.get_mut(slot).map(|u| (slot, u))) {
                        Some((slot, old)) => {
                            if let Some((_, token)) = &old.watch.notify {
                                self.watched.remove(token);
                            }
                            *old = new;
                            slot
                        }
                        None => {
                            self.units.push(new);
                            self.units.len() - 1
                        }
                    }
                }
            };
            self.watch_notify_socket(index);
            self.schedule(index);
        }
        self.restart_dependents_of(restarting);
        self.config.grace = config.grace;
        self.config.drain = config.drain;
        self.config.log_format = config.log_format;
        self.format = config.log_format;
        let list = |names: &[String]| if names.is_empty() { "none".to_string() } else { names.join(", ") };
        let summary = format!(
            "reloaded {}: added {}; removed {}; changed {}; {unchanged} unchanged",
            path.display(),
            list(&added),
            list(&removed),
            list(&changed)
        );
        self.note(&summary);
        self.feed_inputs();
        Ok(summary)
    }

    /// SIGHUP: reload, and say how it went in the event stream.
    fn reload_on_signal(&mut self) {
        if let Err(why) = self.reload() {
            let sep = if why.contains('\n') { ":\n" } else { ": " };
            self.note(&format!("reload failed, nothing was changed{sep}{why}"));
        }
    }

    fn note(&self, message: &str) {
        events::emit_warden(self.format, message);
    }
}

/// Code that ran only to read the configuration (the YAML parser, the checks)
/// would otherwise stay resident for warden's whole life.
fn release_start_up_code() {
    match crate::sys::memory::release_clean_image() {
        Ok(bytes) => debug!("released {} KiB of code pages", bytes / 1024),
        Err(e) => debug!("unable to release code pages: {}", Reason(&e)),
    }
}

/// What the gates (`gates`) know of a unit.
fn facts(unit: &Unit) -> gates::Facts<'_> {
    let m = &unit.machine;
    gates::Facts {
        name: &unit.service.name,
        state: m.state,
        started_once: m.started_once,
        ready_once: m.ready_once,
        completed: m.completed,
        comes_back: unit.service.cooldown.is_some() && !unit.service.critical,
        held: unit.machine.held && !unit.retired,
        restarting: unit.reload_restart.is_some(),
    }
}
