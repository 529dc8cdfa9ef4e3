//! The core against a simulated world: processes that end on their stop
//! signal or only on SIGKILL, timers on a virtual clock, reaps that say what
//! is left. Case by case (start order, shutdown order, reload restarts,
//! commands), then properties over random sequences of events.

use std::collections::BTreeMap;

use super::*;
use crate::config::{Backoff, Condition, Dependency, RestartPolicy};

const SECOND: Duration = Duration::from_secs(1);

fn service(name: &str, deps: &[(&str, Condition)]) -> Service {
    Service {
        depends_on: deps
            .iter()
            .map(|(n, c)| Dependency { name: n.to_string(), condition: *c, any: false })
            .collect(),
        stop_timeout: SECOND,
        backoff: Backoff { initial: SECOND, max: SECOND, multiplier: 1.0, jitter: 0.0 },
        ..Service::new(name, vec!["x".into()])
    }
}

#[derive(Debug, Clone, Copy)]
struct Process {
    unit: usize,
    /// Ends on its stop signal; otherwise only SIGKILL ends it.
    ends_on_stop: bool,
}

/// What the runtime and the kernel would do with the core's actions.
struct World {
    core: Core,
    now: Instant,
    timers: Vec<(Instant, Timer)>,
    processes: BTreeMap<i32, Process>,
    next_pid: i32,
    /// Whether a new process ends on its stop signal.
    obedient: bool,
    /// Spawn actions per unit.
    spawns: Vec<u64>,
    /// Every action, in order, with the time.
    log: Vec<(Instant, Action)>,
    /// Things the world saw that must never happen.
    violations: Vec<String>,
    /// Events the actions caused: the next batch, as the runtime's loop has it.
    inbox: std::collections::VecDeque<Event>,
}

impl World {
    fn new(services: Vec<Service>, drain: Duration) -> World {
        let count = services.len();
        let units =
            services.into_iter().enumerate().map(|(i, s)| Unit::new(i as u64, Rc::new(s), false)).collect();
        let core = Core::new(units, None, MainSettings::default(), 9 * SECOND, drain, true, 7);
        World {
            core,
            now: Instant::now(),
            timers: Vec::new(),
            processes: BTreeMap::new(),
            next_pid: 100,
            obedient: true,
            spawns: vec![0; count],
            log: Vec::new(),
            violations: Vec::new(),
            inbox: std::collections::VecDeque::new(),
        }
    }

    fn boot(mut self) -> World {
        let actions = self.core.boot(self.now);
        self.perform(actions);
        self.settle();
        self
    }

    /// One event, then what it causes, batch by batch, each followed by the
    /// settle that ends every turn of the runtime's loop.
    fn send(&mut self, event: Event) {
        self.inbox.push_back(event);
        self.settle();
    }

    fn settle(&mut self) {
        for _ in 0..1000 {
            let batch: Vec<Event> = self.inbox.drain(..).collect();
            for event in batch {
                let actions = self.core.handle(self.now, event);
                self.perform(actions);
            }
            let actions = self.core.handle(self.now, Event::Settle { hooks_running: false });
            self.perform(actions);
            if self.inbox.is_empty() {
                return;
            }
        }
        self.violations.push("events never settle".into());
    }

    fn perform(&mut self, actions: Vec<Action>) {
        let mut events = Vec::new();
        for action in actions {
            self.log.push((self.now, action.clone()));
            match action {
                Action::Spawn(unit) => {
                    if self.processes.values().any(|p| p.unit == unit) {
                        self.violations.push(format!("unit {unit} spawned while its process lives"));
                    }
                    if let Some(count) = self.spawns.get_mut(unit) {
                        *count += 1;
                    }
                    let pid = self.next_pid;
                    self.next_pid += 1;
                    self.processes.insert(pid, Process { unit, ends_on_stop: self.obedient });
                    events.push(Event::Spawned { index: unit, pid });
                }
                Action::Signal { pid, signal } => {
                    let pid = pid.abs();
                    let stop = signal != libc::SIGCONT;
                    if stop && self.core.phase == Phase::Stopping {
                        self.check_stop_order(pid);
                    }
                    if let Some(p) = self.processes.get(&pid).copied()
                        && stop
                        && p.ends_on_stop
                    {
                        events.extend(self.end(pid, signal));
                    }
                }
                Action::KillGroup(pid) => events.extend(self.end(pid, libc::SIGKILL)),
                Action::SetTimer { after, timer } => self.timers.push((self.now + after, timer)),
                Action::CancelGraceTimer => self.timers.retain(|(_, t)| *t != Timer::GraceOver),
                Action::ArmSchedule(index) => {
                    let id = self.core.units.get(index).map_or(0, |u| u.id);
                    self.timers.push((self.now + 2 * SECOND, Timer::Schedule(UnitId { index, serial: id })));
                }
                Action::SignalAll(signals) => {
                    let pids: Vec<i32> = self.processes.keys().copied().collect();
                    for pid in pids {
                        let ends = self.processes.get(&pid).is_some_and(|p| p.ends_on_stop);
                        if signals.contains(&libc::SIGKILL) || ends && signals.contains(&libc::SIGTERM) {
                            events.extend(self.end(pid, signals[0]));
                        }
                    }
                }
                Action::Reap => events.push(Event::ChildrenLeft(!self.processes.is_empty())),
                _ => {}
            }
        }
        self.inbox.extend(events);
    }

    fn end(&mut self, pid: i32, signal: i32) -> Vec<Event> {
        match self.processes.remove(&pid) {
            Some(p) => vec![
                Event::Exited {
                    index: p.unit,
                    status: ExitStatus::Signaled { signal, core_dumped: false },
                    out_of_memory: None,
                },
                Event::ChildrenLeft(!self.processes.is_empty()),
            ],
            None => Vec::new(),
        }
    }

    /// A shutdown's stop signal to `pid`: no unit that depends on its unit,
    /// directly or through others, may still have a process.
    fn check_stop_order(&mut self, pid: i32) {
        let Some(target) = self.processes.get(&pid).map(|p| p.unit) else { return };
        let units = &self.core.units;
        let depends_on = |a: usize, b: usize| units[a].service.depends_on_service(&units[b].service);
        // Every unit that depends on target, directly or not.
        let mut dependents: Vec<usize> = vec![target];
        let mut next = 0;
        while let Some(&unit) = dependents.get(next) {
            next += 1;
            for other in 0..units.len() {
                if !dependents.contains(&other) && depends_on(other, unit) {
                    dependents.push(other);
                }
            }
        }
        for p in self.processes.values() {
            if p.unit != target && dependents.contains(&p.unit) {
                self.violations
                    .push(format!("unit {target} stopped while unit {} depending on it runs", p.unit));
            }
        }
    }

    /// The program of `unit` exits by itself with `code`.
    fn exit(&mut self, unit: usize, code: i32) {
        let Some(pid) = self.processes.iter().find(|(_, p)| p.unit == unit).map(|(pid, _)| *pid) else {
            return;
        };
        self.processes.remove(&pid);
        self.inbox.push_back(Event::Exited {
            index: unit,
            status: ExitStatus::Exited(code),
            out_of_memory: None,
        });
        self.send(Event::ChildrenLeft(!self.processes.is_empty()));
    }

    /// Lets `span` of virtual time pass, firing the timers due in order.
    fn pass(&mut self, span: Duration) {
        let end = self.now + span;
        for _ in 0..10_000 {
            self.timers.sort_by_key(|(at, _)| *at);
            let Some(&(at, timer)) = self.timers.first() else { break };
            if at > end {
                break;
            }
            self.timers.remove(0);
            self.now = self.now.max(at);
            self.send(Event::Timer(timer));
        }
        self.now = end;
    }

    fn state(&self, unit: usize) -> State {
        self.core.units[unit].machine.state
    }

    /// Units in the order their stop signal went out.
    fn stop_order(&self) -> Vec<usize> {
        let mut order = Vec::new();
        for (_, action) in &self.log {
            if let Action::Signal { pid, signal: libc::SIGTERM } = action
                && let Some(unit) = self.pid_owner(pid.abs())
                && !order.contains(&unit)
            {
                order.push(unit);
            }
        }
        order
    }

    fn pid_owner(&self, pid: i32) -> Option<usize> {
        // Pids are handed out in order: the n-th Spawn got 100 + n.
        let spawned: Vec<usize> = self
            .log
            .iter()
            .filter_map(|(_, a)| if let Action::Spawn(u) = a { Some(*u) } else { None })
            .collect();
        spawned.get(usize::try_from(pid - 100).ok()?).copied()
    }
}

#[test]
fn boot_starts_in_dependency_order() {
    let mut world = World::new(
        vec![service("web", &[("db", Condition::Ready)]), service("db", &[]), service("cron", &[])],
        Duration::ZERO,
    )
    .boot();
    // db and cron start at once; web only once db is ready (no check: running).
    let first: Vec<usize> = world
        .log
        .iter()
        .filter_map(|(_, a)| if let Action::Spawn(u) = a { Some(*u) } else { None })
        .collect();
    assert_eq!(first, [1, 2, 0], "db, cron, then web once db runs");
    assert!(matches!(world.state(0), State::Running { .. }));
    world.send(Event::Settle { hooks_running: false });
    assert_eq!(world.spawns, [1, 1, 1]);
}

#[test]
fn a_dependency_that_fails_for_good_leaves_its_dependent_stuck_and_ends_warden() {
    let db = Service { restart: RestartPolicy::Never, ..service("db", &[]) };
    let mut world =
        World::new(vec![service("web", &[("db", Condition::Completed)]), db], Duration::ZERO).boot();
    world.exit(1, 3);
    assert_eq!(world.state(1), State::Failed);
    let notes: Vec<&String> =
        world.log.iter().filter_map(|(_, a)| if let Action::Note(n) = a { Some(n) } else { None }).collect();
    assert!(notes.iter().any(|n| n.starts_with("web: cannot start: db is failed")), "{notes:?}");
    assert!(notes.iter().any(|n| n.starts_with("shutting down: no service is left to run")), "{notes:?}");
    world.pass(SECOND);
    assert!(world.core.finished());
    assert_eq!(world.core.exit_code(), 1);
}

/// The shutdown table played through the core: dependents stop before what
/// they depend on, the drain comes first, everything ends within the grace.
#[test]
fn shutdown_stops_in_reverse_dependency_order_after_the_drain() {
    let services = vec![
        service("db", &[]),
        service("api", &[("db", Condition::Started)]),
        service("web", &[("api", Condition::Started)]),
    ];
    let mut world = World::new(services, 2 * SECOND).boot();
    world.send(Event::Signal(libc::SIGTERM));
    assert_eq!(world.core.phase, Phase::Draining);
    assert!(world.stop_order().is_empty(), "nothing stops during the drain");
    world.pass(2 * SECOND);
    assert_eq!(world.stop_order(), [2, 1, 0]);
    assert!(world.core.finished());
    assert_eq!(world.core.exit_code(), 0);
}

/// The reverse order holds through a service that no longer runs: `web`
/// started after the oneshot `seed` completed, which started once `db` was
/// up, so `db` stops only once `web` is down (found with nginx, a seeding
/// oneshot and PostgreSQL: the database stopped under the web server).
#[test]
fn shutdown_order_passes_through_a_completed_oneshot() {
    let seed =
        Service { kind: crate::config::Kind::Oneshot, ..service("seed", &[("db", Condition::Started)]) };
    let services = vec![service("db", &[]), seed, service("web", &[("seed", Condition::Completed)])];
    let mut world = World::new(services, Duration::ZERO);
    world.obedient = false;
    let mut world = world.boot();
    world.exit(1, 0);
    assert_eq!(world.state(1), State::Exited);
    assert!(matches!(world.state(2), State::Running { .. }), "web runs once seed completed");
    world.send(Event::Signal(libc::SIGTERM));
    assert_eq!(world.stop_order(), [2], "web first; db waits for it");
    world.pass(SECOND);
    assert_eq!(world.stop_order(), [2, 0], "db once web was killed at its stop_timeout");
    world.pass(SECOND);
    assert!(world.core.finished());
}

#[test]
fn a_second_stop_signal_kills_everything_at_once() {
    let mut world = World::new(vec![service("a", &[]), service("b", &[])], Duration::ZERO);
    world.obedient = false;
    let mut world = world.boot();
    world.send(Event::Signal(libc::SIGTERM));
    assert_eq!(world.core.phase, Phase::Stopping);
    assert_eq!(world.processes.len(), 2, "they ignore SIGTERM");
    world.send(Event::Signal(libc::SIGINT));
    assert!(world.processes.is_empty());
    assert_eq!(world.core.phase, Phase::Killed);
    assert!(world.core.finished());
}

#[test]
fn what_ignores_its_stop_signal_is_killed_at_its_stop_timeout() {
    let mut world = World::new(vec![service("a", &[])], Duration::ZERO);
    world.obedient = false;
    let mut world = world.boot();
    world.send(Event::Signal(libc::SIGTERM));
    world.pass(SECOND - Duration::from_millis(1));
    assert_eq!(world.processes.len(), 1);
    world.pass(Duration::from_millis(1));
    assert!(world.processes.is_empty(), "SIGKILL at stop_timeout");
    assert!(world.core.finished());
}

/// A reload that changes a service restarts what depends on it around it:
/// dependents down first, the service back, then the dependents.
#[test]
fn reload_restarts_dependents_around_a_changed_service() {
    let services = vec![service("db", &[]), service("web", &[("db", Condition::Started)])];
    let mut world = World::new(services.clone(), Duration::ZERO).boot();
    let mut changed = services;
    changed[0].stop_timeout = 2 * SECOND;
    let first = world.log.len();
    let built = vec![(Rc::new(changed[0].clone()), world.core.reserve_ids(1))];
    let difference = world.core.difference(&changed);
    let reloaded = world.core.reload(world.now, &changed, &difference, built);
    assert_eq!(reloaded.placed, [(0, Placed::Kept)]);
    // web is unchanged in the file, yet restarts: it is not counted as unchanged.
    assert_eq!((reloaded.dependents.as_slice(), reloaded.unchanged), (&[1][..], 0));
    let actions = world.core.take_actions();
    world.perform(actions);
    world.settle();
    world.pass(SECOND);
    let after: Vec<&Action> = world.log[first..].iter().map(|(_, a)| a).collect();
    let term = |unit: usize| {
        after.iter().position(|a| matches!(a, Action::Signal { signal: libc::SIGTERM, pid } if world.pid_owner(pid.abs()) == Some(unit)))
    };
    let spawn = |unit: usize| after.iter().position(|a| **a == Action::Spawn(unit));
    let (web_down, db_down) = (term(1).unwrap(), term(0).unwrap());
    let (db_up, web_up) = (spawn(0).unwrap(), spawn(1).unwrap());
    assert!(web_down < db_down && db_down < db_up && db_up < web_up, "{after:?}");
    assert_eq!(world.spawns, [2, 2]);
}

/// The same with programs that take their time to stop (here: until their
/// SIGKILL): the dependency's stop waits for the dependent to be down, not
/// only for its stop to be sent (found reloading memcached under nginx:
/// both got SIGTERM at once).
#[test]
fn a_reload_stops_a_dependency_once_its_dependent_is_down() {
    let services = vec![service("db", &[]), service("web", &[("db", Condition::Started)])];
    let mut world = World::new(services.clone(), Duration::ZERO);
    world.obedient = false;
    let mut world = world.boot();
    let mut changed = services;
    changed[0].stop_timeout = 2 * SECOND;
    let first = world.log.len();
    let built = vec![(Rc::new(changed[0].clone()), world.core.reserve_ids(1))];
    let difference = world.core.difference(&changed);
    world.core.reload(world.now, &changed, &difference, built);
    let actions = world.core.take_actions();
    world.perform(actions);
    world.settle();
    // Other turns of the loop while web takes its time (its output, probes).
    for _ in 0..3 {
        world.pass(SECOND / 4);
        world.send(Event::Settle { hooks_running: false });
    }
    world.pass(4 * SECOND);
    let after: Vec<&Action> = world.log[first..].iter().map(|(_, a)| a).collect();
    let web_killed = after
        .iter()
        .position(|a| matches!(a, Action::KillGroup(pid) if world.pid_owner(*pid) == Some(1)))
        .unwrap_or_else(|| panic!("{after:?}"));
    let db_term = after
        .iter()
        .position(|a| matches!(a, Action::Signal { signal: libc::SIGTERM, pid } if world.pid_owner(pid.abs()) == Some(0)))
        .unwrap_or_else(|| panic!("{after:?}"));
    assert!(web_killed < db_term, "db was told to stop while web still ran: {after:?}");
}

#[test]
fn a_held_service_keeps_warden_up_until_started_by_hand() {
    let oneshot = Service { kind: crate::config::Kind::Oneshot, ..service("job", &[]) };
    let mut world = World::new(vec![service("a", &[]), oneshot], Duration::ZERO).boot();
    assert!(world.core.command(world.now, 0, Command::Stop).is_ok());
    let actions = world.core.take_actions();
    world.perform(actions);
    world.settle();
    world.exit(1, 0);
    world.send(Event::Settle { hooks_running: false });
    assert_eq!(world.core.phase, Phase::Running, "held: not 'nothing left'");
    assert!(world.core.command(world.now, 0, Command::Start).is_ok());
    let actions = world.core.take_actions();
    world.perform(actions);
    world.settle();
    assert!(matches!(world.state(0), State::Running { .. }));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Exit { unit: usize, code: i32 },
        Pass { millis: u64 },
        Command { unit: usize, command: Command },
        Ready { unit: usize, ready: bool },
        Unhealthy { unit: usize },
        Signal(i32),
    }

    fn step(units: usize) -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..units, 0..3i32).prop_map(|(unit, code)| Step::Exit { unit, code }),
            (1..3000u64).prop_map(|millis| Step::Pass { millis }),
            (0..units, prop_oneof![Just(Command::Start), Just(Command::Restart), Just(Command::Stop)])
                .prop_map(|(unit, command)| Step::Command { unit, command }),
            (0..units, any::<bool>()).prop_map(|(unit, ready)| Step::Ready { unit, ready }),
            (0..units).prop_map(|unit| Step::Unhealthy { unit }),
            prop_oneof![Just(libc::SIGUSR1), Just(libc::SIGHUP)].prop_map(Step::Signal),
        ]
    }

    /// Up to four services, each depending on earlier ones, with random
    /// kinds and policies.
    fn services() -> impl Strategy<Value = Vec<Service>> {
        let one = (0..3u8, 0..3u8, any::<bool>(), prop::option::of(0..3u32), 0..4usize, 0..3u8);
        prop::collection::vec(one, 1..5).prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (kind, restart, notify, max, dep, condition))| {
                    let kind = match kind {
                        0 => crate::config::Kind::Longrun,
                        1 => crate::config::Kind::Oneshot,
                        _ => crate::config::Kind::Periodic(crate::config::Schedule::Every(60 * SECOND)),
                    };
                    let restart = [RestartPolicy::Always, RestartPolicy::OnFailure, RestartPolicy::Never]
                        [usize::from(restart)];
                    let condition =
                        [Condition::Started, Condition::Ready, Condition::Completed][usize::from(condition)];
                    let deps: Vec<(String, Condition)> =
                        if i > 0 && dep < i { vec![(format!("s{dep}"), condition)] } else { Vec::new() };
                    let deps: Vec<(&str, Condition)> = deps.iter().map(|(n, c)| (n.as_str(), *c)).collect();
                    Service {
                        kind,
                        restart,
                        max_restarts: max,
                        notify: notify && kind == crate::config::Kind::Longrun,
                        ..service(&format!("s{i}"), &deps)
                    }
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Whatever happens: never two processes of one unit; a machine's
        /// starts are the spawns it asked for; every command is answered by
        /// the time its stop could have taken; and a stop signal ends in
        /// warden finishing within the grace, with nothing left alive.
        #[test]
        fn invariants_hold(
            services in services(),
            steps in prop::collection::vec(step(4), 0..40),
            obedient in any::<bool>(),
        ) {
            let count = services.len();
            let mut world = World::new(services, Duration::ZERO);
            world.obedient = obedient;
            let mut world = world.boot();
            for step in steps {
                match step {
                    Step::Exit { unit, code } => world.exit(unit % count, code),
                    Step::Pass { millis } => world.pass(Duration::from_millis(millis)),
                    Step::Command { unit, command } => {
                        let unit = unit % count;
                        if world.core.command(world.now, unit, command).is_ok() {
                            let actions = world.core.take_actions();
                            world.perform(actions);
                            world.settle();
                            if command == Command::Stop {
                                let since = world.now;
                                world.pass(SECOND + Duration::from_millis(1));
                                let u = &world.core.units[unit];
                                let answer = u.machine.answer(&u.service, command, since, &u.reason_text());
                                prop_assert!(!matches!(answer, super::super::super::command::Answer::Pending),
                                    "a stop of unit {unit} still pending after its stop timeout");
                            }
                        }
                    }
                    Step::Ready { unit, ready } => {
                        world.send(Event::Health { index: unit % count, input: Input::Readiness { ready, reason: "r".into() } })
                    }
                    Step::Unhealthy { unit } => world.send(Event::Health {
                        index: unit % count,
                        input: Input::Unhealthy { cause: "liveness", reason: "r".into() },
                    }),
                    Step::Signal(signal) => world.send(Event::Signal(signal)),
                }
                prop_assert!(world.violations.is_empty(), "{:?}", world.violations);
                for (unit, u) in world.core.units.iter().enumerate() {
                    prop_assert_eq!(u.machine.starts, world.spawns[unit], "unit {}", unit);
                }
            }
            if world.core.phase == Phase::Running {
                world.send(Event::Signal(libc::SIGTERM));
            }
            world.pass(9 * SECOND);
            prop_assert!(world.core.finished(), "not finished within the grace: {:?}", world.core.phase);
            prop_assert!(world.processes.is_empty());
            prop_assert!(world.core.units.iter().all(|u| !u.machine.is_live()));
            prop_assert!(world.violations.is_empty(), "{:?}", world.violations);
        }
    }
}
