//! Services mode, `warden -c FILE [-- CMD]`: the runtime around the pure
//! [`core::Core`], which decides everything.
//!
//! The runtime owns the reactor, the descriptors, the timers and the child
//! processes. It turns what the kernel says (signals, exits, exec statuses,
//! probe sockets, timers) into `core::Event`s, hands each to
//! `Core::handle` with the time, and performs the `core::Action`s that come
//! back (spawn, signal, arm a timer, print an event). After every batch it
//! sends `Event::Settle`, when the core starts what its gates allow, notices
//! that nothing is left to run, and stops services in reverse dependency
//! order during a shutdown. The runtime owns every pid: a pid is in its table
//! from spawn until it is reaped, never longer, so no signal can reach a
//! reused pid.
//!
//! Per unit, the core holds the decisions (`core::Unit`: the service, its
//! machine, its counters) and the runtime a `Slot` at the same index: what
//! spawning needs, probes, captured output. Both share the service's
//! settings (`Rc<Service>`). `docs/architecture.md` follows one child's exit
//! and one control request through both.

mod capture;
mod command;
mod core;
pub mod events;
mod files;
mod gates;
mod limits;
pub mod machine;
pub mod policy;
mod reason;
mod reconfigure;
mod registry;
mod reload;
mod requests;
mod schedules;
mod serve;
mod spawning;
mod views;
mod watch;

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::rc::Rc;
use std::time::Instant;

use self::core::{Action, Core, Event, MainSettings};
use crate::shutdown::Phase;
use spawning::{base_environment, new_slot};

use crate::config::{Condition, Config, Kind, LogFormat, Logs, ProbeKind, RestartPolicy, Service};
use crate::inherited::Inherited;
use crate::init::Base;
use crate::logger::{debug, error, warning};
use crate::notify::Outer;
use crate::reactor::{Event as Ready, Interest, TimerId, deadline_after};
use crate::sys::reap::ExitStatus;
use crate::sys::signals::Received;
use crate::sys::spawn::{Environment, Pending, Placement, Program, Setup};
use crate::sys::{Reason, process};
use capture::{Capture, Outputs, RunningHook};
use registry::{Child, Registry, Token};
use watch::Watch;

/// Spawns waiting for their exec at once: each holds a pipe.
const MAX_IN_FLIGHT: usize = 128;
/// Events one batch may cause in turn (each spawn causes at most one more).
const EVENT_BUDGET: usize = 100_000;
/// Pids said to be left running by a daemonizing service that are kept, so
/// that another service's exit does not claim them again.
const LEFT_BEHIND_KEPT: usize = 64;
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
    /// One of the core's: handed back to it.
    Core(core::Timer),
    /// A probe is due (`round`: the probing round it was set in).
    Probe {
        unit: core::UnitId,
        kind: ProbeKind,
        round: u64,
    },
    ProbeTimeout {
        unit: core::UnitId,
        kind: ProbeKind,
        round: u64,
    },
    Watchdog {
        unit: core::UnitId,
        round: u64,
    },
    /// An on_crash hook's time is up.
    /// A crash report is still not saved: its hook runs without it.
    ReportWait {
        ticket: u64,
    },
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
    /// Time to measure the services whose memory limit warden watches.
    Limits,
    /// Time to look again at trees that outlived their program.
    DrainCheck,
    /// Less than a batch waited for the disk thread long enough.
    DiskBatch,
    /// A watched file's debounce is over.
    FilesChanged(files::Owner),
    /// A capture pipe that trickles is read again (`capture::COALESCE`).
    CaptureHeld {
        token: u64,
    },
}

/// A reload whose config the disk thread is reading (`reconfigure`).
#[derive(Default)]
struct Reloading {
    /// The read's ticket, while one is under way.
    ticket: Option<u64>,
    /// Control connections told its outcome.
    answer_to: Vec<u64>,
    /// Asked again meanwhile (by these connections, if any): read once more after.
    again: Option<Vec<u64>>,
}

/// A `warden scale` whose copies the disk thread is reading.
struct Scaling {
    /// The control connection told the outcome.
    answer_to: u64,
    name: String,
    count: u32,
    /// The config text the copies are read from: a reload meanwhile voids them.
    text: String,
}

/// What the runtime keeps of one unit, at the core unit's index.
struct Slot {
    /// The core unit's id: what a timer, probe or capture of this slot names.
    id: u64,
    service: Rc<Service>,
    program: Program,
    setup: Setup,
    placement: Placement,
    /// Probes, notifications and watchdog.
    watch: Watch,
    /// The last lines of its output (captured modes only).
    tail: crate::output::Tail,
    /// Its log file, with `logs: { file: ... }`.
    file_log: Option<crate::disk::LogFile>,
    /// Lines of its output lost on warden's stdout or stderr.
    lines_dropped: u64,
    /// When its current run was started, in boot clock ticks (to tell the
    /// processes it started from others).
    started_ticks: u64,
    /// Said once that it seems to have put itself in the background.
    daemon_warned: bool,
    /// A periodic job's next run.
    schedule_timer: Option<TimerId>,
    /// Its cgroup and how its limits are enforced.
    limits: limits::SlotLimits,
}

pub struct Supervisor {
    /// Global settings (its services are the units').
    config: Config,
    format: LogFormat,
    init: Base<Timer>,
    core: Core,
    slots: Vec<Slot>,
    /// Events for the core that actions caused, handled in order.
    pending: VecDeque<Event>,
    /// Where the config came from, for reload; None for a lone supervised program.
    config_path: Option<std::path::PathBuf>,
    /// Whose each token and each child is.
    registry: Registry,
    /// Processes a service was said to have left running (the last
    /// `LEFT_BEHIND_KEPT`).
    left_behind: Vec<i32>,
    grace_timer: Option<TimerId>,
    /// Makes notification socket names unique.
    seed: u64,
    received: Vec<Received>,
    ended: Vec<(i32, ExitStatus)>,
    /// Units whose program is to be forked, in order.
    spawn_queue: VecDeque<usize>,
    /// Forked, exec not yet confirmed: token → (unit, child).
    in_flight: HashMap<u64, (usize, Pending)>,
    /// File probes on the helper thread: ticket → (unit, probe).
    file_checks: HashMap<u64, (core::UnitId, ProbeKind)>,
    /// The helper thread that runs file probes' `stat`s.
    paths: crate::health::paths::PathChecks,
    /// The thread that writes services' log files, saves crash reports and
    /// reads the config for a reload.
    disk: crate::disk::Disk,
    /// A reload whose config the disk thread is reading.
    reloading: Reloading,
    /// Scales under way, by the ticket of their read.
    scaling: HashMap<u64, Scaling>,
    /// The service manager warden reports to (its own NOTIFY_SOCKET).
    outer: Option<Outer>,
    /// The code of the start wave was given back once everything was ready.
    start_wave_released: bool,
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
    /// Cgroups, watched memory, trees being ended.
    limits: limits::Limits,
    /// Watched files (`watch:`, `watch_config`).
    files: files::FileWatches,
    /// Jumps of the wall clock, heard once a cron job is scheduled.
    clock_jumps: Option<crate::sys::clock::ClockJumps>,
}

/// Runs the services of `config` (and `main`, if given) until shutdown; returns
/// warden's exit code.
pub fn run(
    config: Config,
    config_path: Option<std::path::PathBuf>,
    main: Option<MainProgram>,
    inherited: Inherited,
    stop_signals: Vec<i32>,
) -> i32 {
    match Supervisor::new(config, config_path, main, inherited, stop_signals) {
        Ok(mut supervisor) => supervisor.run(),
        Err(code) => code,
    }
}

impl Slot {
    /// How timers, probes and captures name this slot's unit.
    fn unit_id(&self, index: usize) -> core::UnitId {
        core::UnitId { index, serial: self.id }
    }

    fn new(id: u64, service: Rc<Service>, program: Program, setup: Setup, placement: Placement) -> Slot {
        Slot {
            id,
            service,
            program,
            setup,
            placement,
            watch: Watch::default(),
            tail: crate::output::Tail::default(),
            file_log: None,
            lines_dropped: 0,
            started_ticks: 0,
            daemon_warned: false,
            schedule_timer: None,
            limits: limits::SlotLimits::default(),
        }
    }
}

impl Supervisor {
    fn new(
        config: Config,
        config_path: Option<std::path::PathBuf>,
        main: Option<MainProgram>,
        inherited: Inherited,
        stop_signals: Vec<i32>,
    ) -> Result<Supervisor, i32> {
        crate::output::sink::install();
        crate::output::sink::set_notice_format(events::warden_line(config.log_format));
        crate::logger::set_timestamps(config.log_timestamps);
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
        let mut slots = Vec::new();
        let mut limits = limits::Limits::set_up(&config);
        let mut disk = crate::disk::Disk::default();
        for service in &config.services {
            let id = slots.len() as u64;
            let service = Rc::new(service.clone());
            let mut slot =
                new_slot(id, service.clone(), &base, seed, &inherited, &mut disk).map_err(|why| {
                    error!("service {}: {why}", service.name);
                    2
                })?;
            slot.limits = limits.attach(&service, true);
            units.push(core::Unit::new(id, service, false));
            slots.push(slot);
        }
        let mut main_index = None;
        let mut main_holds_fds = false;
        let mut settings = MainSettings { stop_signals, ..MainSettings::default() };
        if let Some(main) = main {
            // The main program waits for every service that is not optional
            // (all copies of a replicated one, however many it has then).
            let mut depends_on: Vec<crate::config::Dependency> = Vec::new();
            for s in &config.services {
                if s.optional || !s.enabled || matches!(s.kind, Kind::Periodic(_)) {
                    continue;
                }
                let name = s.source_name();
                if depends_on.last().is_some_and(|d| d.name == name) {
                    continue;
                }
                depends_on.push(crate::config::Dependency {
                    name: name.to_string(),
                    condition: if s.kind == Kind::Oneshot { Condition::Completed } else { Condition::Ready },
                    any: false,
                });
            }
            let service = Rc::new(Service {
                depends_on,
                restart: main.restart,
                max_restarts: main.max_restarts,
                backoff: main.backoff.unwrap_or(crate::config::DEFAULT_BACKOFF),
                stop_timeout: config.grace,
                critical: true,
                // It keeps warden's own streams, as in the one-program mode.
                logs: Logs::Inherit,
                ..Service::new(MAIN, main.command.clone())
            });
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
            let id = slots.len() as u64;
            main_index = Some(slots.len());
            let placement = Placement { own_process_group: true, take_terminal: true, new_session: false };
            units.push(core::Unit::new(id, service.clone(), true));
            slots.push(Slot::new(id, service, program, setup, placement));
            settings = MainSettings {
                exit_map: main.exit_map,
                rewrites: main.rewrites,
                group: main.group,
                ..settings
            };
        }
        let core =
            Core::new(units, main_index, settings, config.grace, config.drain, config_path.is_some(), seed);
        // The units hold the services from here on; keep one copy only.
        let config = Config { services: Vec::new(), ..config };
        Ok(Supervisor {
            format: config.log_format,
            config,
            init,
            core,
            slots,
            pending: VecDeque::new(),
            config_path,
            registry: Registry::default(),
            left_behind: Vec::new(),
            grace_timer: None,
            seed,
            received: Vec::with_capacity(16),
            ended: Vec::new(),
            spawn_queue: VecDeque::new(),
            in_flight: HashMap::new(),
            file_checks: HashMap::new(),
            paths: Default::default(),
            disk,
            reloading: Reloading::default(),
            scaling: HashMap::new(),
            outer: Outer::from_environment(),
            start_wave_released: false,
            captures: HashMap::new(),
            outputs: Outputs::new(),
            hooks: HashMap::new(),
            server: serve::Server::default(),
            base_env: base,
            inherited,
            main_holds_fds,
            limits,
            files: files::FileWatches::default(),
            clock_jumps: None,
        })
    }

    /// Puts a unit's notification socket into the loop.
    fn watch_notify_socket(&mut self, index: usize) {
        let token = self.take_token();
        let Some(slot) = self.slots.get_mut(index) else { return };
        let Some((socket, registered)) = &mut slot.watch.notify else { return };
        *registered = token;
        if let Err(e) = self.init.reactor.register(socket.fd(), token, Interest::Read) {
            warning!("{}: cannot watch its NOTIFY_SOCKET: {}", slot.service.name, Reason(&e));
            return;
        }
        self.registry.add_token(token, Token::Notify(core::UnitId { index, serial: slot.id }));
    }

    /// Root without CAP_KILL (a container run with `--cap-drop ALL`) may
    /// not signal another user's processes: said at start, since stopping
    /// such a service would fail.
    fn check_kill_capability(&self) {
        let own = process::effective_uid();
        let others: Vec<&str> = self
            .slots
            .iter()
            .filter(|s| s.service.credentials.as_ref().is_some_and(|c| c.uid != own))
            .map(|s| s.service.name.as_str())
            .collect();
        if !others.is_empty() && process::has_capability(process::CAP_KILL) == Some(false) {
            warning!(
                "{} run{} as another user, and warden lacks CAP_KILL, which signalling them needs: \
                 stopping or reloading them will fail (docker run --cap-add KILL; Kubernetes: \
                 securityContext.capabilities.add: [KILL])",
                others.join(", "),
                if others.len() == 1 { "s" } else { "" }
            );
        }
    }

    fn run(&mut self) -> i32 {
        self.check_kill_capability();
        self.open_listeners();
        self.watch_oom_events();
        self.watch_files();
        self.watch_disk();
        for index in 0..self.slots.len() {
            self.watch_notify_socket(index);
        }
        if let Some(every) = self.outer.as_ref().and_then(|o| o.watchdog) {
            self.init.reactor.add_timer(deadline_after(every / 2), Timer::OuterWatchdog);
        }
        let actions = self.core.boot(Instant::now());
        self.perform(actions);
        self.drain_pending();
        self.notify_outer_ready();
        release_start_up_code();
        let mut events = Vec::new();
        loop {
            if self.core.finished() {
                return self.finish();
            }
            self.watch_sinks();
            if self.disk.wake() && self.outputs.disk_timer.is_none() {
                let at = Instant::now() + crate::disk::BATCH_DELAY;
                self.outputs.disk_timer = Some(self.init.reactor.add_timer(at, Timer::DiskBatch));
            }
            self.init.wait(&mut events);
            for event in events.drain(..) {
                match event {
                    Ready::Io(ready) => match self.registry.token(ready.token) {
                        Some(Token::Signals) => self.drain_signals(),
                        Some(Token::Sink(index)) => self.on_sink(index),
                        Some(Token::Listener(listener)) => self.accept(listener),
                        Some(Token::Connection) => self.on_connection(ready.token, ready),
                        Some(Token::FileChecks) => self.on_file_checks(),
                        Some(Token::Disk) => self.on_disk(),
                        Some(Token::Capture) => self.on_capture(ready.token),
                        Some(Token::SpawnStatus) => self.on_spawn_status(ready.token),
                        Some(Token::Probe { unit, kind }) => self.on_probe_io(unit, kind, ready.token),
                        Some(Token::Notify(unit)) => self.on_notify(unit),
                        Some(Token::Pipe(unit)) => self.on_pipe(unit, ready.token),
                        Some(Token::OomEvents) => self.on_oom_events(),
                        Some(Token::FileWatch) => self.on_file_events(),
                        Some(Token::ClockJump) => self.on_clock_jump(),
                        None => {}
                    },
                    Ready::Timer(timer, late) => self.on_timer(timer, late),
                }
                self.drain_pending();
            }
            let hooks_running = !self.hooks.is_empty() || self.outputs.hooks_waiting();
            self.pending.push_back(Event::Settle { hooks_running });
            self.drain_pending();
            self.notify_outer_ready();
            self.note_started();
            self.settle_waits();
        }
    }

    /// Hands the events waiting for the core to it, in order, and performs
    /// what it answers (which may cause more events).
    fn drain_pending(&mut self) {
        let mut budget = EVENT_BUDGET;
        while let Some(event) = self.pending.pop_front() {
            budget -= 1;
            if budget == 0 {
                error!("internal: runaway event chain; dropping the rest");
                self.pending.clear();
                return;
            }
            let actions = self.core.handle(Instant::now(), event);
            self.perform(actions);
        }
    }

    /// Carries out the core's actions; events they cause go to `pending`.
    fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Spawn(index) => {
                    self.spawn_queue.push_back(index);
                    self.launch_queued();
                }
                // Only to a pid warden has not reaped: never to one the kernel may reuse.
                Action::Signal { pid, signal } if self.registry.owner_of_child(pid.abs()).is_some() => {
                    debug!("sending {} to {pid}", crate::sys::signals::name(signal));
                    // SIGCONT only follows another signal, which said it already.
                    if let Err(e) = process::send(pid, signal)
                        && signal != libc::SIGCONT
                    {
                        warning!(
                            "cannot send {} to pid {}: {}{}",
                            crate::sys::signals::name(signal),
                            pid.abs(),
                            Reason(&e),
                            if e.raw_os_error() == Some(libc::EPERM) { NO_CAP_KILL } else { "" }
                        );
                    }
                    self.signal_tree(pid, signal);
                }
                Action::KillGroup(pid) if self.registry.owner_of_child(pid).is_some() => {
                    process::kill_group_and_leader(pid);
                    self.signal_tree(pid, libc::SIGKILL);
                }
                Action::Signal { .. } | Action::KillGroup(_) => {}
                Action::SetTimer { after, timer } => {
                    let id = self.init.reactor.add_timer(deadline_after(after), Timer::Core(timer));
                    if timer == core::Timer::GraceOver {
                        self.grace_timer = Some(id);
                    }
                }
                Action::CancelGraceTimer => {
                    if let Some(timer) = self.grace_timer.take() {
                        self.init.reactor.cancel_timer(timer);
                    }
                }
                Action::ArmSchedule(index) => self.arm_schedule(index),
                Action::Transition { index, transition } => {
                    if let Some(slot) = self.slots.get(index) {
                        events::emit(self.format, &slot.service.name, &transition);
                    }
                }
                Action::Crash { index, crash } => self.on_crash(index, &crash),
                Action::Changed(index) => self.watch_follow(index),
                Action::Note(message) => self.note(&message),
                Action::GiveUp => self.note(&format!(
                    "{}: {}",
                    crate::shutdown::give_up_message(),
                    crate::leftovers::survivors()
                )),
                Action::ShutdownBegun { reason } => self.on_shutdown_begun(&reason),
                Action::SignalAll(signals) => self.init.scope.signal_all(signals),
                Action::Reap => self.reap(),
                Action::Reload => self.reload_on_signal(),
            }
        }
    }

    fn drain_signals(&mut self) {
        let mut batch = std::mem::take(&mut self.received);
        let child_ended = self.init.read_signals(&mut batch);
        for received in batch.drain(..) {
            self.pending.push_back(Event::Signal(received.signal));
        }
        self.received = batch;
        if child_ended {
            self.reap();
        }
    }

    /// Every ended child: probes and hooks are settled here; a unit's
    /// program becomes an `Exited` event for the core.
    fn reap(&mut self) {
        let mut ended = std::mem::take(&mut self.ended);
        let no_children = self.init.reap_all(&mut ended);
        for (pid, status) in ended.drain(..) {
            let owner = self.registry.remove_child(pid);
            match owner {
                Some(Child::Probe { unit, kind }) => self.on_probe_exit(pid, unit, kind, status),
                Some(Child::Hook) => self.on_hook_exit(pid, status),
                Some(Child::Program(_)) | None => {
                    // What it wrote before dying comes before its end (and into its crash report).
                    self.drain_output_of(pid);
                    // A child can end before its exec was confirmed: settle that first,
                    // so that its machine hears "spawned" before "exited". (One whose exec
                    // failed was forgotten by the registry then, and is no unit's any more.)
                    let token = self.in_flight.iter().find(|(_, (_, p))| p.pid == pid).map(|(t, _)| *t);
                    if let Some(token) = token {
                        self.on_spawn_status(token);
                    }
                }
            }
            match owner {
                Some(Child::Program(index)) => {
                    if status == ExitStatus::Exited(0) {
                        self.warn_if_daemonized(index, pid);
                    }
                    self.program_ended(index, pid, status);
                }
                Some(_) => {}
                None => {
                    self.server.orphans_reaped += 1;
                    debug!("reaped pid {pid} ({status:?})")
                }
            }
        }
        self.ended = ended;
        self.settle_draining(false);
        self.pending.push_back(Event::ChildrenLeft(!no_children));
    }

    /// A timer is due; `late`: how long after its deadline.
    fn on_timer(&mut self, timer: Timer, late: std::time::Duration) {
        match timer {
            Timer::Core(timer) => {
                if timer == core::Timer::GraceOver {
                    self.grace_timer = None;
                }
                self.pending.push_back(Event::Timer(timer));
            }
            Timer::Probe { unit, kind, round } => {
                if self.current_round(unit, round) {
                    self.run_probe(unit.index, kind);
                }
            }
            Timer::ProbeTimeout { unit, kind, round } => {
                if self.current_round(unit, round) {
                    self.on_probe_timeout(unit.index, kind, late);
                }
            }
            Timer::HookTimeout { pid } => self.on_hook_timeout(pid),
            Timer::ReportWait { ticket } => self.on_report_wait(ticket),
            Timer::Connection { token } => self.on_connection_timer(token),
            Timer::Relisten => self.on_relisten(),
            Timer::Watchdog { unit, round } => {
                if self.current_round(unit, round) {
                    self.on_watchdog(unit.index, late);
                }
            }
            Timer::Limits => self.on_limits_timer(),
            Timer::DrainCheck => self.settle_draining(true),
            Timer::DiskBatch => {
                self.outputs.disk_timer = None;
                self.disk.wake_now();
            }
            Timer::FilesChanged(owner) => self.on_files_changed(owner),
            Timer::CaptureHeld { token } => self.on_capture_held(token),
            Timer::OuterWatchdog => {
                if let Some(outer) = &self.outer
                    && let Some(every) = outer.watchdog
                {
                    outer.send("WATCHDOG=1");
                    self.init.reactor.add_timer(deadline_after(every / 2), Timer::OuterWatchdog);
                }
            }
        }
    }

    /// A long-running service's program (`pid`) exited 0: if processes it
    /// started keep running (reparented to warden, unknown to it), it has
    /// likely put itself in the background, and warden supervises nothing of
    /// it. Its processes: those still in its session (warden made it a
    /// session leader), and those that lead a session of their own (a
    /// daemon's `setsid`), started since it did, that no other service
    /// was said to have left. Said once per service, naming them and the fix.
    fn warn_if_daemonized(&mut self, index: usize, pid: i32) {
        let Some(slot) = self.slots.get(index).filter(|s| !s.daemon_warned) else { return };
        if slot.service.kind != Kind::Longrun
            || self.core.units.get(index).is_none_or(|u| u.is_main)
            || self.core.phase != Phase::Running
        {
            return;
        }
        let since = slot.started_ticks;
        let mut left: Vec<i32> = process::own_children()
            .into_iter()
            .filter(|child| self.registry.owner_of_child(*child).is_none())
            .filter(|child| match process::session_and_start(*child) {
                Some((session, _)) if session == pid => true,
                Some((session, start)) => {
                    session == *child && start >= since && !self.left_behind.contains(child)
                }
                None => false,
            })
            .collect();
        if left.is_empty() {
            return;
        }
        left.sort_unstable();
        let pids: Vec<String> = left.iter().map(i32::to_string).collect();
        let name = slot.service.name.clone();
        if let Some(slot) = self.slots.get_mut(index) {
            slot.daemon_warned = true;
        }
        self.left_behind.extend(&left);
        // Bounded: only recent ones can be claimed twice.
        let excess = self.left_behind.len().saturating_sub(LEFT_BEHIND_KEPT);
        self.left_behind.drain(..excess);
        warning!(
            "{name}: exited 0, but processes it started keep running (pid{} {}): it seems to have put itself \
             in the background, and warden cannot supervise that; run it in the foreground \
             (nginx: -g \"daemon off;\", redis: --daemonize no; see docs/recipes.md)",
            if left.len() == 1 { "" } else { "s" },
            pids.join(", ")
        );
    }

    /// The shutdown began: the service manager hears it, and nothing is
    /// probed any more, so no restart can race the shutdown.
    fn on_shutdown_begun(&mut self, reason: &str) {
        if let Some(outer) = &self.outer {
            outer.send(&format!("STOPPING=1\nSTATUS=shutting down: {reason}"));
        }
        for index in 0..self.slots.len() {
            if self.core.units.get(index).is_some_and(|u| u.machine.is_up()) {
                self.watch_end(index);
            }
        }
    }

    /// Last words before warden exits; returns its exit code.
    fn finish(&mut self) -> i32 {
        self.close_listeners();
        self.limits.remove();
        let unwritten = self.flush_output();
        let dropped = unwritten
            + self.outputs.dropped_lines()
            + self.slots.iter().filter_map(|s| s.file_log.as_ref()).map(|f| f.dropped_lines()).sum::<u64>();
        if dropped > 0 {
            self.note(&format!("{dropped} lines of services' output could not be written and were dropped"));
            crate::output::sink::flush_before_exit(std::time::Instant::now() + capture::EXIT_FLUSH);
        }
        self.core.exit_code()
    }

    fn note(&self, message: &str) {
        events::emit_warden(self.format, message);
    }
}

/// What an EPERM from kill means in a container.
const NO_CAP_KILL: &str = " (signalling another user's process needs CAP_KILL: docker run --cap-add KILL)";

/// Code that ran only to read the configuration (the YAML parser, the checks)
/// would otherwise stay resident for warden's whole life.
fn release_start_up_code() {
    match crate::sys::memory::release_clean_image() {
        Ok(bytes) => debug!("released {} KiB of code pages", bytes / 1024),
        Err(e) => debug!("unable to release code pages: {}", Reason(&e)),
    }
}
