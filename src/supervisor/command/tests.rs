use std::time::{Duration, Instant};

use super::*;
use crate::config::{RestartPolicy, Schedule};
use crate::sys::reap::ExitStatus;

fn service(kind: Kind) -> Service {
    Service { kind, restart: RestartPolicy::Always, ..Service::new("s", vec!["x".into()]) }
}

fn machine(state: State) -> Machine {
    let mut m = Machine::default();
    m.state = state;
    m
}

/// The table in the module docs, cell by cell: what each command becomes in
/// each state.
#[test]
fn every_state_and_command() {
    let t = Instant::now();
    let s = service(Kind::Longrun);
    let stop = Some(Input::Stop { then: AfterStop::Stay, timeout: s.stop_timeout });
    let restart = Some(Input::Stop { then: AfterStop::Restart, timeout: s.stop_timeout });
    for state in State::every(t) {
        let m = machine(state);
        let expected = match state {
            State::Waiting => [Err(Refusal::WaitingForDependencies), Ok(Some(Input::Start))],
            State::Stopped => [Ok(Some(Input::Start)), Ok(Some(Input::Start))],
            State::Starting => [Ok(None), Ok(None)],
            State::Running { .. } | State::Ready { .. } => [Ok(None), Ok(restart.clone())],
            State::Unhealthy { .. } | State::Stopping { .. } => {
                [Err(Refusal::BeingStopped), Err(Refusal::BeingStopped)]
            }
            State::Scheduled | State::Backoff | State::Exited | State::Failed => {
                [Ok(restart.clone()), Ok(restart.clone())]
            }
        };
        assert_eq!(m.admit(&s, Command::Start), expected[0], "start in {state:?}");
        assert_eq!(m.admit(&s, Command::Restart), expected[1], "restart in {state:?}");
        assert_eq!(m.admit(&s, Command::Stop), Ok(stop.clone()), "stop in {state:?}");
    }
}

/// A stop holds the service; a schedule or a gate then cannot start it; an
/// accepted start releases it; a refused one leaves everything as it was.
#[test]
fn stop_holds_and_start_by_hand_releases() {
    let t = Instant::now();
    let s = service(Kind::Periodic(Schedule::Every(Duration::from_secs(60))));
    let mut m = machine(State::Scheduled);
    let accepted = m.command(&s, Command::Stop, t, 0.5).unwrap();
    assert_eq!(m.state, State::Stopped);
    assert!(m.held);
    assert!(accepted.outputs.iter().any(|o| matches!(o, Output::Transition(_))));
    // The schedule's tick (and a gate) feed Start: ignored while held.
    assert!(m.handle(&s, Input::Start, t, 0.5).is_empty());
    assert_eq!(m.state, State::Stopped);
    let accepted = m.command(&s, Command::Start, t, 0.5).unwrap();
    assert!(!m.held);
    assert_eq!(m.state, State::Starting);
    assert!(accepted.outputs.contains(&Output::Spawn));

    let mut stopping = machine(State::Stopping { pid: 7, then: AfterStop::Stay });
    stopping.held = true;
    assert_eq!(stopping.command(&s, Command::Start, t, 0.5).unwrap_err(), Refusal::BeingStopped);
    assert!(stopping.held, "a refused start must not release the hold");
}

/// A start of a failed service gets a fresh restart budget: with one restart
/// allowed and spent, the next crash backs off instead of failing for good.
#[test]
fn start_of_a_failed_service_gets_a_fresh_budget() {
    let t = Instant::now();
    let s = Service { max_restarts: Some(1), ..service(Kind::Longrun) };
    let mut m = Machine::default();
    let crash = Input::Exited { status: ExitStatus::Exited(1) };
    m.handle(&s, Input::Start, t, 0.5);
    m.handle(&s, Input::Spawned { pid: 7 }, t, 0.5);
    m.handle(&s, crash.clone(), t, 0.5);
    assert_eq!(m.state, State::Backoff);
    m.handle(&s, Input::Stop { then: AfterStop::Restart, timeout: Duration::ZERO }, t, 0.5);
    m.handle(&s, Input::Spawned { pid: 8 }, t, 0.5);
    m.handle(&s, crash.clone(), t, 0.5);
    assert_eq!(m.state, State::Failed);
    m.command(&s, Command::Start, t, 0.5).unwrap();
    m.handle(&s, Input::Spawned { pid: 9 }, t, 0.5);
    m.handle(&s, crash, t, 0.5);
    assert_eq!(m.state, State::Backoff, "the budget was not renewed");
}

#[test]
fn stop_is_satisfied_when_no_process_is_left() {
    let t = Instant::now();
    let s = service(Kind::Longrun);
    for state in State::every(t) {
        let m = machine(state);
        let answer = m.answer(&s, Command::Stop, t, "why");
        if m.is_live() {
            assert_eq!(answer, Answer::Pending, "{state:?}");
        } else {
            assert_eq!(answer, Answer::Done(state.name().into()), "{state:?}");
        }
    }
}

#[test]
fn start_is_satisfied_when_up_and_ready() {
    let t = Instant::now();
    let plain = service(Kind::Longrun);
    let probed = Service { notify: true, ..service(Kind::Longrun) };
    let mut m = Machine::default();
    assert_eq!(m.command(&probed, Command::Start, t, 0.5).unwrap_err(), Refusal::WaitingForDependencies);
    m.handle(&probed, Input::Start, t, 0.5);
    assert_eq!(m.answer(&probed, Command::Start, t, ""), Answer::Pending, "starting");
    m.handle(&probed, Input::Spawned { pid: 7 }, t, 0.5);
    assert_eq!(m.answer(&probed, Command::Start, t, ""), Answer::Pending, "running, not ready");
    m.handle(&probed, Input::Readiness { ready: true, reason: "probe".into() }, t, 0.5);
    assert_eq!(m.answer(&probed, Command::Start, t, ""), Answer::Done("ready (pid 7)".into()));

    let mut m = Machine::default();
    m.handle(&plain, Input::Start, t, 0.5);
    m.handle(&plain, Input::Spawned { pid: 8 }, t, 0.5);
    assert_eq!(m.answer(&plain, Command::Restart, t, ""), Answer::Done("running (pid 8)".into()));

    // Ended somewhere else: failed, with the reason.
    let m = machine(State::Failed);
    assert_eq!(
        m.answer(&plain, Command::Start, t, "exited with code 1"),
        Answer::Failed("failed: exited with code 1".into())
    );
    let m = machine(State::Backoff);
    assert!(matches!(m.answer(&plain, Command::Start, t, "x"), Answer::Failed(_)));
    let mut m = machine(State::Exited);
    m.completed = true;
    assert_eq!(m.answer(&service(Kind::Oneshot), Command::Start, t, ""), Answer::Done("completed".into()));
}

/// `start` of a periodic job waits for its run to end, as documented; a run
/// already going when the command came counts.
#[test]
fn a_periodic_job_is_started_when_its_run_is_over() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(1);
    let t2 = t0 + Duration::from_secs(2);
    let job = service(Kind::Periodic(Schedule::Every(Duration::from_secs(60))));
    let mut m = machine(State::Scheduled);
    let accepted = m.command(&job, Command::Start, t0, 0.5).unwrap();
    assert_eq!(accepted.since, t0);
    m.handle(&job, Input::Spawned { pid: 7 }, t1, 0.5);
    assert_eq!(m.answer(&job, Command::Start, accepted.since, ""), Answer::Pending, "running");
    m.handle(&job, Input::Exited { status: ExitStatus::Exited(0) }, t2, 0.5);
    assert_eq!(m.state, State::Scheduled);
    assert_eq!(
        m.answer(&job, Command::Start, accepted.since, ""),
        Answer::Done("ran, next run scheduled".into())
    );

    // Started while a run goes: nothing new starts, and that run counts.
    let mut m = machine(State::Scheduled);
    m.handle(&job, Input::Start, t0, 0.5);
    m.handle(&job, Input::Spawned { pid: 8 }, t0, 0.5);
    let accepted = m.command(&job, Command::Start, t1, 0.5).unwrap();
    assert!(accepted.outputs.is_empty());
    assert_eq!(accepted.since, t0);
    m.handle(&job, Input::Exited { status: ExitStatus::Exited(0) }, t2, 0.5);
    assert_eq!(
        m.answer(&job, Command::Start, accepted.since, ""),
        Answer::Done("ran, next run scheduled".into())
    );

    // Before any run of its own, a scheduled job has not been started.
    let mut m = machine(State::Scheduled);
    (m.starts, m.last_start) = (1, Some(t0));
    assert_eq!(m.answer(&job, Command::Start, t1, ""), Answer::Pending);
}
