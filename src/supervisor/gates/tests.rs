use super::*;
use crate::supervisor::machine::AfterStop;

fn running() -> State {
    State::Running { pid: 7, since: std::time::Instant::now() }
}

fn stopping() -> State {
    State::Stopping { pid: 7, then: AfterStop::Stay }
}

fn service(name: &str, state: State) -> Facts<'_> {
    Facts {
        name,
        group: None,
        state,
        started_once: false,
        ready_once: false,
        completed: false,
        comes_back: false,
        held: false,
        restarting: false,
        disabled: false,
    }
}

fn on(name: &str, condition: Condition) -> Vec<Dependency> {
    vec![Dependency { name: name.into(), condition, any: false }]
}

const CONDITIONS: [Condition; 3] = [Condition::Started, Condition::Ready, Condition::Completed];

#[test]
fn a_met_condition_opens_the_gate_whatever_the_state() {
    for state in [running(), State::Exited, State::Failed, State::Stopped, State::Backoff] {
        for condition in CONDITIONS {
            let mut db = service("db", state);
            db.started_once = condition == Condition::Started;
            db.ready_once = condition == Condition::Ready;
            db.completed = condition == Condition::Completed;
            assert_eq!(gate(&on("db", condition), &[db]), Gate::Open, "{state:?} {condition:?}");
        }
    }
}

#[test]
fn an_unmet_condition_closes_it_while_the_dependency_can_still_get_there() {
    for state in [State::Waiting, State::Starting, running(), State::Backoff, stopping()] {
        for condition in CONDITIONS {
            assert_eq!(gate(&on("db", condition), &[service("db", state)]), Gate::Closed, "{state:?}");
        }
    }
}

#[test]
fn a_dependency_that_ended_without_getting_there_closes_it_for_ever() {
    for state in [State::Exited, State::Stopped, State::Failed] {
        let Gate::Never(why) = gate(&on("db", Condition::Ready), &[service("db", state)]) else {
            panic!("{state:?} should close the gate for ever");
        };
        assert_eq!(why, format!("db is {} and never became ready", state.name()));
    }
}

#[test]
fn a_failed_dependency_with_a_cooldown_may_come_back() {
    let mut db = service("db", State::Failed);
    db.comes_back = true;
    assert_eq!(gate(&on("db", Condition::Started), &[db]), Gate::Closed);
}

#[test]
fn never_wins_over_closed_and_every_dependency_counts() {
    let dependencies = vec![
        Dependency { name: "a".into(), condition: Condition::Started, any: false },
        Dependency { name: "b".into(), condition: Condition::Completed, any: false },
    ];
    let mut a = service("a", running());
    let b = service("b", State::Exited);
    assert!(matches!(gate(&dependencies, &[a, b]), Gate::Never(_)));
    a.started_once = true;
    let mut b = service("b", running());
    assert_eq!(gate(&dependencies, &[a, b]), Gate::Closed);
    b.completed = true;
    assert_eq!(gate(&dependencies, &[a, b]), Gate::Open);
}

#[test]
fn an_unknown_dependency_is_no_obstacle() {
    assert_eq!(gate(&on("ghost", Condition::Ready), &[]), Gate::Open);
}

#[test]
fn nothing_left_when_everything_ended_or_waits_in_vain() {
    let open = |_| Gate::Open;
    let never = |_| Gate::Never("x".into());
    let ended = [service("a", State::Exited), service("b", State::Stopped), service("c", State::Failed)];
    assert!(nothing_left(&ended, open));
    // A running one, or one coming back from failure, keeps warden up.
    assert!(!nothing_left(&[service("a", State::Exited), service("b", running())], open));
    let mut cooling = service("c", State::Failed);
    cooling.comes_back = true;
    assert!(!nothing_left(&[cooling], open));
    // A waiting one counts as ended only when its gate can never open.
    assert!(!nothing_left(&[service("w", State::Waiting)], open));
    assert!(nothing_left(&[service("w", State::Waiting)], never));
    // Stopped by hand: it waits to be started by hand.
    let mut held = service("h", State::Stopped);
    held.held = true;
    assert!(!nothing_left(&[held], open));
}

#[test]
fn a_dependency_a_reload_restarts_closes_the_gate_until_it_is_back() {
    let mut db = service("db", running());
    db.started_once = true;
    db.ready_once = true;
    db.restarting = true;
    for condition in [Condition::Started, Condition::Ready] {
        assert_eq!(gate(&on("db", condition), &[db]), Gate::Closed, "{condition:?}");
    }
    // Even one that ended: it is about to run again.
    let mut done = service("db", State::Exited);
    done.restarting = true;
    assert_eq!(gate(&on("db", Condition::Started), &[done]), Gate::Closed);
}

/// A disabled dependency (optional, or the config is refused) is not waited for.
#[test]
fn a_disabled_dependency_is_not_waited_for() {
    let cron = Facts { disabled: true, ..service("cron", State::Stopped) };
    assert_eq!(gate(&on("cron", Condition::Ready), &[cron]), Gate::Open);
    let stopped = service("cron", State::Stopped);
    assert!(matches!(gate(&on("cron", Condition::Ready), &[stopped]), Gate::Never(_)));
}

fn copy<'a>(name: &'a str, group: &'a str, ready: bool, state: State) -> Facts<'a> {
    Facts { group: Some(group), ready_once: ready, started_once: true, ..service(name, state) }
}

#[test]
fn a_replicated_dependency_waits_for_every_copy_or_with_any_for_one() {
    let all = on("web", Condition::Ready);
    let any = vec![Dependency { name: "web".into(), condition: Condition::Ready, any: true }];
    let one_ready = [copy("web-0", "web", true, running()), copy("web-1", "web", false, running())];
    assert_eq!(gate(&all, &one_ready), Gate::Closed);
    assert_eq!(gate(&any, &one_ready), Gate::Open);
    assert_eq!(unmet(&all, &one_ready), vec!["web (ready)".to_string()]);
    let both = [copy("web-0", "web", true, running()), copy("web-1", "web", true, running())];
    assert_eq!(gate(&all, &both), Gate::Open);
    // A copy a dependency can name on its own.
    assert_eq!(gate(&on("web-1", Condition::Ready), &one_ready), Gate::Closed);
    assert_eq!(gate(&on("web-0", Condition::Ready), &one_ready), Gate::Open);
}

#[test]
fn a_lost_copy_closes_an_all_gate_for_good_and_an_any_gate_only_when_every_copy_is_lost() {
    let all = on("web", Condition::Ready);
    let any = vec![Dependency { name: "web".into(), condition: Condition::Ready, any: true }];
    let one_lost = [copy("web-0", "web", false, State::Failed), copy("web-1", "web", false, running())];
    assert_eq!(gate(&all, &one_lost), Gate::Never("web-0 is failed and never became ready".into()));
    assert_eq!(gate(&any, &one_lost), Gate::Closed);
    let all_lost = [copy("web-0", "web", false, State::Failed), copy("web-1", "web", false, State::Stopped)];
    assert_eq!(gate(&any, &all_lost), Gate::Never("web-0 is failed and never became ready".into()));
}
