//! The supervisor's decisions, pure: `Core::handle(now, Event) -> Vec<Action>`.
//!
//! The core owns what decides: each unit's service and machine, the flags
//! around it (retired by a reload, told to stop in the shutdown, restarting
//! for a reload, reported stuck), the shutdown phase and warden's exit code.
//! It makes no system call and reads no clock: the runtime (`super`) passes
//! the time with each event, performs the actions, and turns what the kernel
//! says back into events. Its pieces are tables of their own, each tested on
//! its own: `machine` (one service), `command` (control commands),
//! `gates` (dependencies, "nothing left"), `shutdown` (the phases),
//! `reload` (the difference between two configs), `policy` (restarts).
//!
//! After each batch of events the runtime sends `Event::Settle`: that is when
//! waiting units whose gates opened start, when "nothing left to run" is
//! noticed, and, during a shutdown, when units are stopped in reverse
//! dependency order.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

#[path = "core/reloading.rs"]
mod reloading;
#[path = "core/stopping.rs"]
mod stopping;

pub use reloading::Placed;

use super::command::{Accepted, Command, Refusal};
use super::gates::{self, Gate};
use super::machine::{AfterStop, Crash, Input, Machine, Output, State, TimerKind, Transition};
use super::reason::Reason;
use crate::config::{Kind, Service};
use crate::control::report::ExitReason;
use crate::shutdown::{self, Phase};
use crate::sys::reap::ExitStatus;
use crate::sys::signals;

/// A unit as the runtime names it in timers, probes, captures and waits:
/// its place in the tables and the serial of the unit there. A reload
/// reuses places, so a name whose serial no longer matches names nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnitId {
    pub index: usize,
    pub serial: u64,
}

/// One supervised program, as far as decisions go.
#[derive(Debug)]
pub struct Unit {
    /// Unique for the life of warden: timers and waits name it, so one set
    /// for a unit that was since removed or replaced acts on nothing.
    pub id: u64,
    /// Removed by a reload: stopping or stopped, never started again; its
    /// slot is reused by the next added service.
    pub retired: bool,
    /// `enabled: false` and not started by hand this run.
    pub disabled: bool,
    pub service: Rc<Service>,
    pub machine: Machine,
    pub is_main: bool,
    /// Told to stop during shutdown.
    stop_sent: bool,
    /// Reported once that its dependencies can never be met.
    stuck_reported: bool,
    /// A reload restarts it (with this stop timeout) once its dependents
    /// that restart too are down; until it is back, nothing waiting for it
    /// may start.
    pub reload_restart: Option<Duration>,
    /// Ends of its runs, by `ExitReason`.
    pub exits: [u64; 5],
    /// Reason of its last state change, for status and control answers.
    pub reason: Option<Reason>,
}

impl Unit {
    /// Its last change's reason as text ("" before the first).
    pub fn reason_text(&self) -> String {
        self.reason.as_ref().map(Reason::to_string).unwrap_or_default()
    }

    pub fn new(id: u64, service: Rc<Service>, is_main: bool) -> Unit {
        // A disabled service waits, stopped, for a start by hand.
        let disabled = !service.enabled && !is_main;
        let mut machine = Machine::default();
        if disabled {
            machine.state = State::Stopped;
        }
        Unit {
            id,
            retired: false,
            disabled,
            service,
            machine,
            is_main,
            stop_sent: false,
            stuck_reported: false,
            reload_restart: None,
            exits: [0; 5],
            reason: None,
        }
    }
}

/// Timers the core sets; the runtime hands them back as `Event::Timer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    Service {
        unit: UnitId,
        kind: TimerKind,
        generation: u64,
    },
    /// A periodic job's next run is due.
    Schedule(UnitId),
    DrainOver,
    GraceOver,
    KillAgain,
    GiveUp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The runtime handled a batch of events: start what may start, notice
    /// the end, and during a shutdown stop what may stop. `hooks_running`:
    /// on_crash hooks still going (the shutdown waits for them).
    Settle {
        hooks_running: bool,
    },
    /// A signal warden received (SIGCHLD excepted: that is `Exited`).
    Signal(i32),
    Spawned {
        index: usize,
        pid: i32,
    },
    SpawnFailed {
        index: usize,
        code: i32,
        why: String,
    },
    /// A unit's program ended (and, with a cgroup, everything it started).
    Exited {
        index: usize,
        status: ExitStatus,
        /// The kernel's OOM killer ended it.
        out_of_memory: Option<OomKill>,
    },
    Timer(Timer),
    /// A probe, notification or watchdog says something of a unit's health
    /// (`Input::Readiness` or `Input::Unhealthy`).
    Health {
        index: usize,
        input: Input,
    },
    /// A reap is over: whether any child at all is left.
    ChildrenLeft(bool),
}

/// An OOM kill, with the memory cap that was reached where warden knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OomKill {
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start the unit's program (its machine is `starting`).
    Spawn(usize),
    /// `kill(pid, signal)`; a negative pid is a process group.
    Signal {
        pid: i32,
        signal: i32,
    },
    /// SIGKILL to the process group led by `pid`, and to `pid` itself.
    KillGroup(i32),
    /// Say that processes outlived SIGKILL, naming them; warden exits.
    GiveUp,
    SetTimer {
        after: Duration,
        timer: Timer,
    },
    CancelGraceTimer,
    /// Put a periodic job's next run on the calendar (the runtime reads the
    /// wall clock for cron lines) and set `Timer::Schedule`.
    ArmSchedule(usize),
    /// One state change of a unit, to print (boxed, as is a crash: actions
    /// are moved often, and starting 1000 services returns thousands).
    Transition {
        index: usize,
        transition: Box<Transition>,
    },
    /// A run ended unexpectedly: crash report and hook.
    Crash {
        index: usize,
        crash: Box<Crash>,
    },
    /// The unit's state changed: probing follows it.
    Changed(usize),
    /// A line in warden's own output.
    Note(String),
    /// The shutdown began: tell the service manager and stop probing.
    ShutdownBegun {
        reason: String,
    },
    /// Signals to every process in warden's scope, in order.
    SignalAll(&'static [i32]),
    /// Reap now (the next `ChildrenLeft` says whether anything is left).
    Reap,
    /// SIGHUP with a config file: read it again.
    Reload,
}

/// The main program's settings that are warden's, not a service's, and the
/// signals that begin the shutdown.
#[derive(Debug, Clone)]
pub struct MainSettings {
    pub exit_map: Vec<(i32, i32)>,
    pub rewrites: Vec<(i32, i32)>,
    /// Forwarded signals go to its process group (`-g`).
    pub group: bool,
    /// `--stop-signals`: the others go on as any signal does.
    pub stop_signals: Vec<i32>,
}

impl Default for MainSettings {
    fn default() -> MainSettings {
        MainSettings {
            exit_map: Vec::new(),
            rewrites: Vec::new(),
            group: false,
            stop_signals: crate::cli::STOP_SIGNALS.to_vec(),
        }
    }
}

pub struct Core {
    pub units: Vec<Unit>,
    pub main: Option<usize>,
    main_settings: MainSettings,
    pub grace: Duration,
    pub drain: Duration,
    /// A config file to reload on SIGHUP.
    reloadable: bool,
    pub phase: Phase,
    exit_code: Option<i32>,
    grace_deadline: Option<Instant>,
    no_children: bool,
    /// Stopping: every unit is down; the next `ChildrenLeft` moves on.
    services_down: bool,
    gave_up: bool,
    random_state: u64,
    next_unit_id: u64,
    inputs: VecDeque<(usize, Input)>,
    out: Vec<Action>,
}

/// Bound on inputs one event may cause (each input spawns at most once, and
/// a spawn's outcome is another event).
const INPUT_BUDGET: usize = 10_000;

impl Core {
    pub fn new(
        units: Vec<Unit>,
        main: Option<usize>,
        settings: MainSettings,
        grace: Duration,
        drain: Duration,
        reloadable: bool,
        seed: u64,
    ) -> Core {
        Core {
            next_unit_id: units.len() as u64,
            units,
            main,
            main_settings: settings,
            grace,
            drain,
            reloadable,
            phase: Phase::Running,
            exit_code: None,
            grace_deadline: None,
            no_children: false,
            services_down: false,
            gave_up: false,
            random_state: seed | 1,
            inputs: VecDeque::new(),
            out: Vec::new(),
        }
    }

    /// The first actions: periodic jobs on their schedule, then what may start.
    pub fn boot(&mut self, now: Instant) -> Vec<Action> {
        for index in 0..self.units.len() {
            self.schedule(index);
        }
        self.handle(now, Event::Settle { hooks_running: false })
    }

    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        match event {
            Event::Settle { hooks_running } => self.settle(now, hooks_running),
            Event::Signal(signal) => self.on_signal(now, signal),
            Event::Spawned { index, pid } => self.inputs.push_back((index, Input::Spawned { pid })),
            Event::SpawnFailed { index, code, why } => {
                self.inputs.push_back((index, Input::SpawnFailed { code, why }))
            }
            Event::Exited { index, status, out_of_memory } => {
                if let Some(unit) = self.units.get_mut(index) {
                    let reason = match out_of_memory {
                        Some(_) => ExitReason::OutOfMemory,
                        None => exit_reason(unit.machine.state, status),
                    };
                    if let Some(count) = unit.exits.get_mut(reason.index()) {
                        *count += 1;
                    }
                }
                let input = match out_of_memory {
                    Some(OomKill { limit }) => Input::OutOfMemory { status, limit },
                    None => Input::Exited { status },
                };
                self.inputs.push_back((index, input));
            }
            Event::Timer(timer) => self.on_timer(now, timer),
            Event::Health { index, input } => self.inputs.push_back((index, input)),
            Event::ChildrenLeft(any) => {
                self.no_children = !any;
                if std::mem::take(&mut self.services_down) {
                    self.advance(now, shutdown::Event::ServicesDown, "");
                }
            }
        }
        self.feed_inputs(now);
        std::mem::take(&mut self.out)
    }

    /// A command by hand for one unit (see `command`).
    /// Returns from when a run counts for `Machine::answer`; the actions
    /// are collected with `take_actions`.
    pub fn command(&mut self, now: Instant, index: usize, command: Command) -> Result<Instant, Refusal> {
        if let Some(refusal) = self.refuses_commands() {
            return Err(refusal);
        }
        self.feed_inputs(now);
        let random = self.random();
        let Some(unit) = self.units.get_mut(index) else { return Ok(now) };
        let Accepted { outputs, since } = unit.machine.command(&unit.service, command, now, random)?;
        if command != Command::Stop {
            // Started by hand: enabled for this run.
            unit.disabled = false;
        }
        self.perform_all(now, index, outputs);
        self.feed_inputs(now);
        Ok(since)
    }

    /// Why no command is taken now (the shutdown has begun), if so.
    pub fn refuses_commands(&self) -> Option<Refusal> {
        (self.phase != Phase::Running).then_some(Refusal::ShuttingDown)
    }

    /// Gives back what a burst of events grew the input queue to.
    pub fn trim(&mut self) {
        if self.inputs.capacity() > 64 {
            self.inputs.shrink_to(64);
        }
    }

    /// Actions left by `command` (or anything else outside `handle`).
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    /// warden may exit: the shutdown is over and nothing is left, or it
    /// gave up on processes that survive SIGKILL.
    pub fn finished(&self) -> bool {
        self.gave_up || shutdown::may_exit(self.phase, self.no_children)
    }

    /// warden's exit code: the first one decided (critical failure, main
    /// program's end); else the main program's last exit; else 0.
    pub fn exit_code(&self) -> i32 {
        if let Some(code) = self.exit_code {
            return code;
        }
        let main = self.main.and_then(|m| self.units.get(m));
        match main.and_then(|u| u.machine.last_exit) {
            Some(status) => crate::cli::map_exit(&self.main_settings.exit_map, status.code()),
            // The main program was killed at the end of the grace and not yet reaped.
            None if main.is_some_and(|u| u.machine.is_live()) => 128 + libc::SIGKILL,
            None => 0,
        }
    }

    /// The unit `id` names, if it is still that one.
    pub fn unit(&self, id: UnitId) -> Option<&Unit> {
        self.units.get(id.index).filter(|u| u.id == id.serial)
    }

    /// What each waiting unit waits for ("waiting for db (ready)"), for
    /// status, by unit index; None for one that does not wait. Computed when
    /// asked, never per event.
    pub fn waiting_for(&self) -> Vec<Option<String>> {
        let live = self.live_facts();
        self.units
            .iter()
            .map(|unit| {
                if unit.machine.state != State::Waiting || unit.retired {
                    return None;
                }
                let unmet = gates::unmet(&unit.service.depends_on, &live);
                (!unmet.is_empty()).then(|| format!("waiting for {}", unmet.join(", ")))
            })
            .collect()
    }

    /// The unit that runs `name`, if any (retired ones excepted).
    pub fn unit_named(&self, name: &str) -> Option<usize> {
        self.units.iter().position(|u| !u.retired && u.service.name == name)
    }

    /// The units `name` means: the one so named, or every copy of the
    /// replicated service so named (retired ones excepted), in order.
    pub fn units_answering(&self, name: &str) -> Vec<usize> {
        match self.unit_named(name) {
            Some(index) => vec![index],
            None => (0..self.units.len())
                .filter(|&i| self.units.get(i).is_some_and(|u| !u.retired && u.service.answers_to(name)))
                .collect(),
        }
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

    fn note(&mut self, message: String) {
        self.out.push(Action::Note(message));
    }

    fn on_signal(&mut self, now: Instant, signal: i32) {
        match signal {
            signal if self.main_settings.stop_signals.contains(&signal) => {
                let Some(forwarded) = crate::cli::rewrite(&self.main_settings.rewrites, signal) else {
                    return; // dropped (--rewrite SIG:0)
                };
                // The main program is stopped with the signal that was received.
                if let Some(unit) = self.main.and_then(|m| self.units.get_mut(m)) {
                    unit.machine.stop_signal = Some(forwarded);
                }
                // A second one kills; the first begins the shutdown.
                self.advance(now, shutdown::Event::StopSignal, &signals::name(signal));
                self.shutdown(now, None, &format!("{} received", signals::name(signal)));
            }
            libc::SIGHUP if self.reloadable => self.out.push(Action::Reload),
            _ => {
                let Some(signal) = crate::cli::rewrite(&self.main_settings.rewrites, signal) else { return };
                // Other signals go to the main program, or else to the
                // services that ask for them (`forward_signals`).
                let targets: Vec<i32> = match self.main {
                    Some(main) => self
                        .units
                        .get(main)
                        .and_then(|u| u.machine.state.pid())
                        .map(|pid| if self.main_settings.group { -pid } else { pid })
                        .into_iter()
                        .collect(),
                    None => self
                        .units
                        .iter()
                        .filter(|u| u.service.forward_signals.contains(&signal))
                        .filter_map(|u| u.machine.state.pid())
                        .map(|pid| -pid)
                        .collect(),
                };
                for pid in targets {
                    self.out.push(Action::Signal { pid, signal });
                }
            }
        }
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Service { unit, kind, generation } => {
                if self.unit(unit).is_some() {
                    self.inputs.push_back((unit.index, Input::Timer { kind, generation }));
                }
            }
            Timer::Schedule(id) => {
                let index = id.index;
                let Some(unit) = self.unit(id).filter(|u| !u.retired) else { return };
                if self.phase != Phase::Running {
                    return;
                }
                // (Stopped by hand, its machine ignores the start.)
                let skipped =
                    (unit.machine.is_live() && !unit.machine.held).then(|| unit.service.name.clone());
                self.out.push(Action::ArmSchedule(index));
                if let Some(name) = skipped {
                    self.note(format!("{name}: run skipped: the previous one is still going"));
                }
                self.inputs.push_back((index, Input::Start));
            }
            Timer::DrainOver => self.advance(now, shutdown::Event::DrainOver, ""),
            Timer::GraceOver => self.advance(now, shutdown::Event::GraceOver, ""),
            Timer::KillAgain => self.advance(now, shutdown::Event::KillAgain, ""),
            Timer::GiveUp => self.advance(now, shutdown::Event::GiveUp, ""),
        }
    }

    /// Puts a periodic job on its schedule (no-op for other kinds, and for
    /// a disabled one).
    fn schedule(&mut self, index: usize) {
        let Some(unit) = self.units.get_mut(index).filter(|u| !u.disabled) else { return };
        if let Kind::Periodic(_) = unit.service.kind {
            unit.machine.state = State::Scheduled;
            self.out.push(Action::ArmSchedule(index));
        }
    }

    /// Feeds queued inputs to their machines and performs what they ask for.
    fn feed_inputs(&mut self, now: Instant) {
        let mut budget = INPUT_BUDGET;
        while let Some((index, input)) = self.inputs.pop_front() {
            budget -= 1;
            if budget == 0 {
                self.note("internal: runaway event chain; dropping the rest".into());
                self.inputs.clear();
                return;
            }
            let random = self.random();
            let Some(unit) = self.units.get_mut(index) else { continue };
            let outputs = unit.machine.handle(&unit.service, input, now, random);
            self.perform_all(now, index, outputs);
        }
    }

    fn perform_all(&mut self, now: Instant, index: usize, outputs: Vec<Output>) {
        for output in outputs {
            self.perform(now, index, output);
        }
        self.after_change(now, index);
    }

    /// A machine's output as actions (or as consequences for the others).
    fn perform(&mut self, now: Instant, index: usize, output: Output) {
        let Some(unit) = self.units.get_mut(index) else { return };
        match output {
            Output::Spawn => self.out.push(Action::Spawn(index)),
            Output::Signal(signal) => {
                if let Some(pid) = unit.machine.state.pid() {
                    // The main program gets it like a forwarded signal (its group only
                    // with -g); a service's whole process group gets it.
                    let pid = if !unit.is_main || self.main_settings.group { -pid } else { pid };
                    self.out.push(Action::Signal { pid, signal });
                    // A stopped process cannot act on the signal until continued.
                    self.out.push(Action::Signal { pid, signal: libc::SIGCONT });
                }
            }
            Output::KillGroup => {
                if let Some(pid) = unit.machine.state.pid() {
                    self.out.push(Action::KillGroup(pid));
                }
            }
            Output::SetTimer { kind, after, generation } => {
                let timer = Timer::Service { unit: UnitId { index, serial: unit.id }, kind, generation };
                self.out.push(Action::SetTimer { after, timer });
            }
            Output::Transition(transition) => {
                unit.reason = Some(transition.reason.clone());
                self.out.push(Action::Transition { index, transition: Box::new(transition) });
            }
            Output::Crash(crash) => self.out.push(Action::Crash { index, crash: Box::new(crash) }),
            Output::FailedForGood { code } => {
                // The main program's end is the container's: see after_change.
                if !unit.is_main && unit.service.critical && self.phase == Phase::Running {
                    let reason = format!("critical service {} failed", unit.service.name);
                    self.shutdown(now, Some(code), &reason);
                }
            }
        }
    }

    /// Consequences of a machine's new state that concern more than the machine.
    fn after_change(&mut self, now: Instant, index: usize) {
        self.out.push(Action::Changed(index));
        let Some(unit) = self.units.get(index) else { return };
        if unit.is_main
            && matches!(unit.machine.state, State::Exited | State::Failed)
            && self.phase == Phase::Running
        {
            let code = unit.machine.last_exit.map_or(0, ExitStatus::code);
            let mapped = crate::cli::map_exit(&self.main_settings.exit_map, code);
            self.shutdown(now, Some(mapped), "the main program ended");
        }
    }

    /// Starts what can start; during shutdown, stops what may stop.
    fn settle(&mut self, now: Instant, hooks_running: bool) {
        match self.phase {
            Phase::Running => {
                self.stop_for_reload(now);
                // Starting one service may open the gate of the next: repeat until
                // nothing more starts (at most once per service).
                for _ in 0..=self.units.len() {
                    let mut started = false;
                    for (index, gate) in self.waiting_gates() {
                        if !self.units.get(index).is_some_and(|u| u.machine.state == State::Waiting) {
                            continue;
                        }
                        match gate {
                            Gate::Open => {
                                self.inputs.push_back((index, Input::Start));
                                self.feed_inputs(now);
                                started = true;
                            }
                            Gate::Closed => {}
                            Gate::Never(why) => self.report_stuck(now, index, &why),
                        }
                    }
                    if !started || self.phase != Phase::Running {
                        break;
                    }
                }
                if self.phase == Phase::Running && self.nothing_left() {
                    let failed = self.units.iter().any(|u| u.machine.state == State::Failed);
                    self.shutdown(now, Some(i32::from(failed)), "no service is left to run");
                }
                if self.phase != Phase::Running {
                    self.settle(now, hooks_running);
                }
            }
            Phase::Stopping => {
                self.stop_the_unneeded(now);
                // on_crash hooks of the last crashes may finish (within the grace).
                if self.units.iter().all(|u| !u.machine.is_live()) && !hooks_running && !self.services_down {
                    // The services are down: now whatever they left behind
                    // (reaped first, to know whether anything is).
                    self.services_down = true;
                    self.out.push(Action::Reap);
                }
            }
            Phase::Draining | Phase::Sweeping | Phase::Killed => {}
        }
    }

    /// Sends its stop to every unit that no running unit needs any more; again
    /// while that frees more at once (a stop that ends a unit on the spot).
    fn stop_the_unneeded(&mut self, now: Instant) {
        let grace_left = self.grace_deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(now));
        // Bounded: every pass but the last sends at least one stop.
        for _ in 0..=self.units.len() {
            if self.units.iter().all(|u| u.stop_sent) {
                return;
            }
            let needed = self.needed_by_live();
            let mut sent = false;
            for index in 0..self.units.len() {
                let Some(unit) = self.units.get_mut(index) else { continue };
                if unit.stop_sent || needed.get(index).copied().unwrap_or(false) {
                    continue;
                }
                unit.stop_sent = true;
                sent = true;
                // Already ended: it keeps the state that says how.
                if !matches!(unit.machine.state, State::Stopped | State::Exited | State::Failed) {
                    let timeout = unit.service.stop_timeout.min(grace_left);
                    self.inputs.push_back((index, Input::Stop { then: AfterStop::Stay, timeout }));
                    self.feed_inputs(now);
                }
            }
            if !sent {
                return;
            }
        }
    }

    /// For each unit, whether a unit still running depends on it, directly or
    /// through units that do not run (so it must wait to stop): with `web`
    /// after a completed oneshot `seed` after `db`, `db` stops after `web`,
    /// whose run began once `db` was there.
    fn needed_by_live(&self) -> Vec<bool> {
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, unit) in self.units.iter().enumerate().filter(|(_, u)| !u.retired) {
            by_name.entry(unit.service.name.as_str()).or_default().push(index);
            if let Some(instance) = &unit.service.instance {
                by_name.entry(instance.group.as_str()).or_default().push(index);
            }
        }
        let mut needed = vec![false; self.units.len()];
        let mut walk: Vec<usize> = (0..self.units.len())
            .filter(|&i| self.units.get(i).is_some_and(|u| !u.retired && u.machine.is_live()))
            .collect();
        // Bounded: a unit is walked from once as live and once as needed.
        while let Some(index) = walk.pop() {
            let Some(unit) = self.units.get(index) else { continue };
            for dependency in &unit.service.depends_on {
                for &target in by_name.get(dependency.name.as_str()).map_or(&[][..], Vec::as_slice) {
                    if let Some(slot) = needed.get_mut(target)
                        && !*slot
                    {
                        *slot = true;
                        walk.push(target);
                    }
                }
            }
        }
        needed
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

    fn report_stuck(&mut self, now: Instant, index: usize, why: &str) {
        let Some(unit) = self.units.get_mut(index) else { return };
        if unit.stuck_reported {
            return;
        }
        unit.stuck_reported = true;
        let is_main = unit.is_main;
        let message = format!("{}: cannot start: {why}", unit.service.name);
        self.note(message);
        if is_main && self.phase == Phase::Running {
            // The main program will never run: the container has nothing to do.
            let code = self
                .units
                .iter()
                .filter(|u| u.machine.state == State::Failed)
                .find_map(|u| u.machine.last_exit.map(ExitStatus::code))
                .unwrap_or(1);
            self.shutdown(now, Some(code), "the main program cannot start");
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
}

/// What the gates (`gates`) know of a unit.
fn facts(unit: &Unit) -> gates::Facts<'_> {
    let m = &unit.machine;
    gates::Facts {
        name: &unit.service.name,
        group: unit.service.instance.as_ref().map(|i| i.group.as_str()),
        state: m.state,
        started_once: m.started_once,
        ready_once: m.ready_once,
        completed: m.completed,
        comes_back: unit.service.cooldown.is_some() && !unit.service.critical,
        held: m.held && !unit.retired,
        restarting: unit.reload_restart.is_some(),
        disabled: unit.disabled,
    }
}

/// How a run ended, for the exit counters: by a failed check, by a stop,
/// by a signal, or by exiting.
pub fn exit_reason(state: State, status: ExitStatus) -> ExitReason {
    match (state, status) {
        (State::Unhealthy { .. }, _) => ExitReason::Health,
        (State::Stopping { .. }, _) => ExitReason::Stop,
        (_, ExitStatus::Signaled { .. }) => ExitReason::Signal,
        _ => ExitReason::Exit,
    }
}

#[cfg(test)]
#[path = "core/tests.rs"]
mod tests;
