use super::*;
use crate::config::{Backoff, RestartPolicy};

fn service(kind: Kind, restart: RestartPolicy, max_restarts: Option<u32>) -> Service {
    Service {
        kind,
        restart,
        max_restarts,
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(8),
            multiplier: 2.0,
            jitter: 0.0,
        },
        ..Service::new("s", vec!["x".into()])
    }
}

fn run(m: &mut Machine, s: &Service, t: Instant, pid: i32) {
    assert!(m.handle(s, Input::Start, t, 0.5).contains(&Output::Spawn) || m.state == State::Starting);
    m.handle(s, Input::Spawned { pid }, t, 0.5);
}

fn delay_of(out: &[Output]) -> Option<Duration> {
    out.iter().find_map(|o| match o {
        Output::SetTimer { kind: TimerKind::Backoff, after, .. } => Some(*after),
        _ => None,
    })
}

#[test]
fn crash_loop_backs_off_then_fails() {
    let s = service(Kind::Longrun, RestartPolicy::OnFailure, Some(3));
    let mut m = Machine::default();
    let t = Instant::now();
    run(&mut m, &s, t, 10);
    let mut delays = Vec::new();
    for i in 0..3 {
        let out = m.handle(&s, Input::Exited { status: ExitStatus::Exited(1) }, t, 0.5);
        assert_eq!(m.state, State::Backoff);
        delays.extend(delay_of(&out));
        let generation = m.generation;
        let out = m.handle(&s, Input::Timer { kind: TimerKind::Backoff, generation }, t, 0.5);
        assert!(out.contains(&Output::Spawn));
        m.handle(&s, Input::Spawned { pid: 11 + i }, t, 0.5);
    }
    assert_eq!(delays, [1, 2, 4].map(Duration::from_secs));
    let out = m.handle(&s, Input::Exited { status: ExitStatus::Exited(3) }, t, 0.5);
    assert_eq!(m.state, State::Failed);
    assert!(out.contains(&Output::FailedForGood { code: 3 }));
    assert_eq!((m.restarts, m.starts), (3, 4));
}

#[test]
fn long_run_resets_backoff() {
    let s = service(Kind::Longrun, RestartPolicy::Always, None);
    let mut m = Machine::default();
    let t = Instant::now();
    run(&mut m, &s, t, 10);
    m.handle(&s, Input::Exited { status: ExitStatus::Exited(1) }, t, 0.5);
    m.handle(&s, Input::Timer { kind: TimerKind::Backoff, generation: m.generation }, t, 0.5);
    m.handle(&s, Input::Spawned { pid: 11 }, t, 0.5);
    let out = m.handle(&s, Input::Exited { status: ExitStatus::Exited(1) }, t, 0.5);
    assert_eq!(delay_of(&out), Some(Duration::from_secs(2)));
    m.handle(&s, Input::Timer { kind: TimerKind::Backoff, generation: m.generation }, t, 0.5);
    m.handle(&s, Input::Spawned { pid: 12 }, t, 0.5);
    let later = t + Duration::from_secs(60);
    let out = m.handle(&s, Input::Exited { status: ExitStatus::Exited(0) }, later, 0.5);
    assert_eq!(delay_of(&out), Some(Duration::from_secs(1)), "a run longer than min_uptime resets the delay");
}

#[test]
fn policies_decide_what_follows_an_exit() {
    let t = Instant::now();
    let cases = [
        (RestartPolicy::Never, 0, State::Exited),
        (RestartPolicy::Never, 1, State::Failed),
        (RestartPolicy::OnFailure, 0, State::Exited),
        (RestartPolicy::OnFailure, 1, State::Backoff),
        (RestartPolicy::Always, 0, State::Backoff),
    ];
    for (policy, code, expected) in cases {
        let s = service(Kind::Longrun, policy, None);
        let mut m = Machine::default();
        run(&mut m, &s, t, 10);
        m.handle(&s, Input::Exited { status: ExitStatus::Exited(code) }, t, 0.5);
        assert_eq!(m.state, expected, "{policy:?} exit {code}");
    }
}

#[test]
fn oneshot_completes_and_periodic_goes_back_to_schedule() {
    let t = Instant::now();
    let s = service(Kind::Oneshot, RestartPolicy::Always, None);
    let mut m = Machine::default();
    run(&mut m, &s, t, 10);
    assert!(!m.ready_once, "a oneshot is ready when it has completed");
    m.handle(&s, Input::Exited { status: ExitStatus::Exited(0) }, t, 0.5);
    assert_eq!((m.state, m.completed, m.ready_once), (State::Exited, true, true));

    let s = service(
        Kind::Periodic(crate::config::Schedule::Every(Duration::from_secs(1))),
        RestartPolicy::OnFailure,
        None,
    );
    let mut m = Machine::default();
    run(&mut m, &s, t, 10);
    m.handle(&s, Input::Start, t, 0.5);
    assert_eq!(m.skipped_runs, 1);
    m.handle(&s, Input::Exited { status: ExitStatus::Exited(1) }, t, 0.5);
    assert_eq!(m.state, State::Scheduled);
}

#[test]
fn stop_signals_then_kills_and_stale_timers_are_ignored() {
    let t = Instant::now();
    let s = service(Kind::Longrun, RestartPolicy::Always, None);
    let mut m = Machine::default();
    run(&mut m, &s, t, 10);
    let out = m.handle(&s, Input::Stop { then: AfterStop::Stay, timeout: Duration::from_secs(2) }, t, 0.5);
    assert!(out.contains(&Output::Signal(libc::SIGTERM)));
    let generation = m.generation;
    assert_eq!(
        m.handle(&s, Input::Timer { kind: TimerKind::StopTimeout, generation }, t, 0.5),
        [Output::KillGroup]
    );
    assert!(m.handle(&s, Input::Timer { kind: TimerKind::Backoff, generation: 0 }, t, 0.5).is_empty());
    m.handle(&s, Input::Exited { status: ExitStatus::Signaled { signal: 9, core_dumped: false } }, t, 0.5);
    assert_eq!(m.state, State::Stopped);
    assert!(m.handle(&s, Input::Timer { kind: TimerKind::StopTimeout, generation }, t, 0.5).is_empty());
}

#[test]
fn spawn_failure_is_a_failed_start() {
    let t = Instant::now();
    let s = service(Kind::Longrun, RestartPolicy::OnFailure, Some(1));
    let mut m = Machine::default();
    m.handle(&s, Input::Start, t, 0.5);
    let out = m.handle(&s, Input::SpawnFailed { code: 127, why: "not found".into() }, t, 0.5);
    assert_eq!(m.state, State::Backoff);
    assert_eq!(delay_of(&out), Some(Duration::from_secs(1)));
    m.handle(&s, Input::Timer { kind: TimerKind::Backoff, generation: m.generation }, t, 0.5);
    let out = m.handle(&s, Input::SpawnFailed { code: 127, why: "not found".into() }, t, 0.5);
    assert_eq!(m.state, State::Failed);
    assert!(out.contains(&Output::FailedForGood { code: 127 }));
}

#[test]
fn cooldown_retries_a_failed_service() {
    let t = Instant::now();
    let mut s = service(Kind::Longrun, RestartPolicy::Never, None);
    s.cooldown = Some(Duration::from_secs(300));
    let mut m = Machine::default();
    run(&mut m, &s, t, 10);
    let out = m.handle(&s, Input::Exited { status: ExitStatus::Exited(2) }, t, 0.5);
    assert!(out.iter().any(|o| matches!(o, Output::SetTimer { kind: TimerKind::Cooldown, .. })));
    let out = m.handle(&s, Input::Timer { kind: TimerKind::Cooldown, generation: m.generation }, t, 0.5);
    assert!(out.contains(&Output::Spawn));
}

#[test]
fn readiness_comes_and_goes_and_unhealthy_restarts_by_policy() {
    let t = Instant::now();
    let mut s = service(Kind::Longrun, RestartPolicy::OnFailure, Some(5));
    s.readiness = Some(Box::new(crate::config::Probe {
        check: crate::config::Check::File("/x".into()),
        initial_delay: Duration::ZERO,
        period: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        success_threshold: 1,
        failure_threshold: 3,
    }));
    let mut m = Machine::default();
    run(&mut m, &s, t, 10);
    assert!(!m.ready && !m.ready_once, "a checked service is not ready by running");
    m.handle(&s, Input::Readiness { ready: true, reason: "readiness probe passed".into() }, t, 0.5);
    assert_eq!((m.state.name(), m.ready, m.ready_once), ("ready", true, true));
    m.handle(&s, Input::Readiness { ready: false, reason: "failed".into() }, t, 0.5);
    assert_eq!((m.state.name(), m.ready, m.ready_once), ("running", false, true));
    let out = m.handle(&s, Input::Unhealthy { cause: "liveness", reason: "liveness failed".into() }, t, 0.5);
    assert_eq!(m.state.name(), "unhealthy");
    assert!(out.contains(&Output::Signal(libc::SIGTERM)));
    // It exits 0 on SIGTERM, yet the run failed: on-failure restarts it.
    let later = t + Duration::from_secs(30);
    let out = m.handle(&s, Input::Exited { status: ExitStatus::Exited(0) }, later, 0.5);
    assert_eq!(m.state, State::Backoff);
    let Some(Output::Transition(transition)) = out.first() else { panic!("{out:?}") };
    assert_eq!(transition.reason.to_string(), "liveness: exited with code 0");
    assert_eq!(transition.from.name(), "unhealthy");
    // A service that ignores its stop signal is killed at stop_timeout.
    m.handle(&s, Input::Timer { kind: TimerKind::Backoff, generation: m.generation }, later, 0.5);
    m.handle(&s, Input::Spawned { pid: 11 }, later, 0.5);
    m.handle(&s, Input::Unhealthy { cause: "watchdog", reason: "no ping".into() }, later, 0.5);
    let generation = m.generation;
    let out = m.handle(&s, Input::Timer { kind: TimerKind::StopTimeout, generation }, later, 0.5);
    assert_eq!(out, [Output::KillGroup]);
    // Shutdown during unhealthy: it stays stopped after the exit.
    m.handle(&s, Input::Stop { then: AfterStop::Stay, timeout: Duration::ZERO }, later, 0.5);
    m.handle(&s, Input::Exited { status: ExitStatus::Exited(0) }, later, 0.5);
    assert_eq!(m.state, State::Stopped);
}

#[test]
fn a_budget_of_one_restart_is_said_in_the_singular() {
    let t = Instant::now();
    let s = service(Kind::Longrun, RestartPolicy::Always, Some(1));
    let mut m = Machine::default();
    let mut reasons = Vec::new();
    m.handle(&s, Input::Start, t, 0.5);
    for pid in [1, 2, 3] {
        m.handle(&s, Input::Spawned { pid }, t, 0.5);
        for out in m.handle(&s, Input::Exited { status: ExitStatus::Exited(1) }, t, 0.5) {
            if let Output::Transition(tr) = out {
                reasons.push(tr.reason.to_string());
            }
        }
        if m.state == State::Failed {
            break;
        }
        let generation = m.generation;
        m.handle(&s, Input::Timer { kind: TimerKind::Backoff, generation }, t, 0.5);
    }
    assert!(reasons.iter().any(|r| r.ends_with("; 1 restart within 10m used up")), "{reasons:?}");
}

/// A reload's restart: the service stops, then waits for its gates as at
/// boot, and what it had reached counts no more from the moment the stop
/// is asked (its dependents wait for the new run).
#[test]
fn stop_then_wait_goes_back_to_waiting_and_forgets_progress() {
    let t = Instant::now();
    let s = service(Kind::Longrun, RestartPolicy::Always, None);
    let mut m = Machine::default();
    m.handle(&s, Input::Start, t, 0.5);
    m.handle(&s, Input::Spawned { pid: 9 }, t, 0.5);
    assert!(m.started_once && m.ready_once);
    let out = m.handle(&s, Input::Stop { then: AfterStop::Wait, timeout: Duration::from_secs(1) }, t, 0.5);
    assert_eq!(m.state, State::Stopping { pid: 9, then: AfterStop::Wait });
    assert!(out.contains(&Output::Signal(libc::SIGTERM)));
    assert!(!m.started_once && !m.ready_once && !m.completed, "dependents would not wait");
    let out = m.handle(&s, Input::Exited { status: ExitStatus::Exited(0) }, t, 0.5);
    assert_eq!(m.state, State::Waiting);
    assert!(!out.contains(&Output::Spawn), "it must wait for its gates, not start at once");
    // A service not running goes straight back to waiting.
    for state in [State::Backoff, State::Exited, State::Failed, State::Waiting] {
        let mut m = Machine { state, ..Machine::default() };
        let out = m.handle(&s, Input::Stop { then: AfterStop::Wait, timeout: Duration::ZERO }, t, 0.5);
        assert_eq!(m.state, State::Waiting, "{state:?}");
        assert!(!out.contains(&Output::Spawn));
    }
}

/// Every state × every input: nothing panics, and a live process is never
/// forgotten (a state with a pid only leaves for a pid-less state on Exited).
#[test]
fn every_state_and_input() {
    let t = Instant::now();
    let s = service(Kind::Longrun, RestartPolicy::Always, Some(2));
    let states = State::every(t);
    let inputs = [
        Input::Start,
        Input::Spawned { pid: 8 },
        Input::SpawnFailed { code: 127, why: "x".into() },
        Input::Exited { status: ExitStatus::Exited(1) },
        Input::Timer { kind: TimerKind::Backoff, generation: 0 },
        Input::Timer { kind: TimerKind::StopTimeout, generation: 0 },
        Input::Timer { kind: TimerKind::Cooldown, generation: 0 },
        Input::Stop { then: AfterStop::Stay, timeout: Duration::from_secs(1) },
        Input::Stop { then: AfterStop::Restart, timeout: Duration::from_secs(1) },
        Input::Stop { then: AfterStop::Wait, timeout: Duration::from_secs(1) },
        Input::Kill,
        Input::Readiness { ready: true, reason: "x".into() },
        Input::Readiness { ready: false, reason: "x".into() },
        Input::Unhealthy { cause: "liveness", reason: "x".into() },
    ];
    for state in states {
        for input in inputs.clone() {
            let mut m = Machine { state, ..Machine::default() };
            let out = m.handle(&s, input.clone(), t, 0.5);
            if state.pid().is_some() && m.state.pid().is_none() {
                assert!(matches!(input, Input::Exited { .. }), "{state:?} + {input:?} lost its process");
            }
            if out.contains(&Output::Spawn) {
                assert_eq!(m.state, State::Starting, "{state:?} + {input:?}");
                assert!(state.pid().is_none(), "{state:?} + {input:?} spawned a second process");
            }
        }
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// What the world does next, chosen at random.
    #[derive(Debug, Clone)]
    enum Step {
        Start,
        SpawnFails,
        ExitWith(i32),
        Killed,
        FireLatestTimer(usize),
        FireStaleTimer,
        Stop(bool),
        Kill,
        Wait(u64),
        Readiness(bool),
        Unhealthy,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::Start),
            Just(Step::SpawnFails),
            (0..3i32).prop_map(Step::ExitWith),
            Just(Step::Killed),
            (0..3usize).prop_map(Step::FireLatestTimer),
            Just(Step::FireStaleTimer),
            any::<bool>().prop_map(Step::Stop),
            Just(Step::Kill),
            (0..20_000u64).prop_map(Step::Wait),
            any::<bool>().prop_map(Step::Readiness),
            Just(Step::Unhealthy),
        ]
    }

    fn policy() -> impl Strategy<Value = (RestartPolicy, Option<u32>, Kind)> {
        (
            prop_oneof![
                Just(RestartPolicy::Always),
                Just(RestartPolicy::OnFailure),
                Just(RestartPolicy::Never)
            ],
            prop_oneof![Just(None), (0..4u32).prop_map(Some)],
            prop_oneof![Just(Kind::Longrun), Just(Kind::Oneshot)],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        /// Never two live processes; a stop always ends in a reap; delays never
        /// exceed the maximum; the counters match the spawns.
        #[test]
        fn invariants_hold(steps in prop::collection::vec(step(), 1..60), (restart, max, kind) in policy(),
                           random in 0.0..1.0f64) {
            let mut s = service(kind, restart, max);
            s.cooldown = Some(Duration::from_secs(30));
            let mut m = Machine::default();
            let mut now = Instant::now();
            let mut live: Option<i32> = None; // the process the world knows to be alive
            let mut next_pid = 100;
            let mut timers: Vec<(TimerKind, u64)> = Vec::new();
            let mut spawns = 0u64;
            for step in steps {
                let input = match step {
                    Step::Start => Input::Start,
                    Step::SpawnFails => continue, // used below, when a spawn happens
                    Step::ExitWith(code) => match live {
                        Some(_) => Input::Exited { status: ExitStatus::Exited(code) },
                        None => continue,
                    },
                    Step::Killed => match live {
                        Some(_) => Input::Exited { status: ExitStatus::Signaled { signal: 9, core_dumped: false } },
                        None => continue,
                    },
                    Step::FireLatestTimer(back) => match timers.iter().rev().nth(back) {
                        Some(&(kind, generation)) => Input::Timer { kind, generation },
                        None => continue,
                    },
                    Step::FireStaleTimer => Input::Timer { kind: TimerKind::Backoff, generation: u64::MAX },
                    Step::Stop(restart) => Input::Stop {
                        then: if restart { AfterStop::Restart } else { AfterStop::Stay },
                        timeout: Duration::from_secs(1),
                    },
                    Step::Kill => Input::Kill,
                    Step::Readiness(ready) => Input::Readiness { ready, reason: "probe".into() },
                    Step::Unhealthy => Input::Unhealthy { cause: "liveness", reason: "probe".into() },
                    Step::Wait(ms) => {
                        now += Duration::from_millis(ms);
                        continue;
                    }
                };
                let was_stopping = matches!(m.state, State::Stopping { .. } | State::Unhealthy { .. });
                let is_exit = matches!(input, Input::Exited { .. });
                if is_exit {
                    live = None;
                }
                let mut queue = vec![input];
                while let Some(input) = queue.pop() {
                    let out = m.handle(&s, input, now, random);
                    for o in &out {
                        match o {
                            Output::Spawn => {
                                prop_assert!(live.is_none(), "a second process was spawned");
                                spawns += 1;
                                if next_pid % 5 == 0 {
                                    queue.push(Input::SpawnFailed { code: 127, why: "x".into() });
                                } else {
                                    live = Some(next_pid);
                                    queue.push(Input::Spawned { pid: next_pid });
                                }
                                next_pid += 1;
                            }
                            Output::SetTimer { kind, after, generation } => {
                                if *kind == TimerKind::Backoff {
                                    prop_assert!(*after <= s.backoff.max, "delay {after:?} above max");
                                }
                                timers.push((*kind, *generation));
                            }
                            _ => {}
                        }
                    }
                }
                if was_stopping && !is_exit {
                    prop_assert!(m.state.pid().is_some(), "left stopping without a reap: {:?}", m.state);
                }
                prop_assert_eq!(m.state.pid(), live.filter(|_| m.state.pid().is_some()));
                if live.is_some() {
                    prop_assert!(m.is_live(), "the machine forgot a live process");
                }
                prop_assert_eq!(m.ready, matches!(m.state, State::Ready { .. })
                    || (matches!(m.state, State::Running { .. }) && kind == Kind::Longrun));
            }
            prop_assert_eq!(m.starts, spawns);
            prop_assert_eq!(u64::from(m.restarts), spawns.saturating_sub(1));
        }
    }
}
