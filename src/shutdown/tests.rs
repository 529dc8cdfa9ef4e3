use super::Action::*;
use super::Phase::*;
use super::*;

const PHASES: [Phase; 5] = [Running, Draining, Stopping, Sweeping, Killed];
const EVENTS: [Event; 8] = [
    Event::Begin { drain: true },
    Event::Begin { drain: false },
    Event::StopSignal,
    Event::DrainOver,
    Event::ServicesDown,
    Event::GraceOver,
    Event::KillAgain,
    Event::GiveUp,
];

/// The whole table, written out: (phase, event, no_children) → (next, actions).
fn expected(phase: Phase, event: Event, no_children: bool) -> (Phase, Vec<Action>) {
    match (phase, event) {
        (Running, Event::Begin { drain: true }) => (Draining, vec![Announce, ArmDrain]),
        (Running, Event::Begin { drain: false }) => (Stopping, vec![Announce]),
        (Running, Event::StopSignal) => (Running, vec![]),
        (Running, Event::GraceOver) => (Killed, vec![ReportGraceOver, KillEverything]),
        (Draining, Event::DrainOver) => (Stopping, vec![]),
        (Draining | Stopping | Sweeping, Event::StopSignal) => {
            (Killed, vec![ReportSecondSignal, KillEverything])
        }
        (Draining | Stopping | Sweeping, Event::GraceOver) => (Killed, vec![ReportGraceOver, KillEverything]),
        (Stopping, Event::ServicesDown) => (Sweeping, if no_children { vec![] } else { vec![Sweep] }),
        (Killed, Event::StopSignal) => (Killed, vec![ReportSecondSignal]),
        (Killed, Event::KillAgain) => (Killed, if no_children { vec![] } else { vec![KillAgain] }),
        (_, Event::GiveUp) => (phase, vec![GiveUp]),
        // Everything else changes nothing.
        _ => (phase, vec![]),
    }
}

#[test]
fn every_cell_of_the_table() {
    for phase in PHASES {
        for event in EVENTS {
            for no_children in [false, true] {
                assert_eq!(
                    next(phase, event, no_children),
                    expected(phase, event, no_children),
                    "{phase:?} × {event:?} (no children: {no_children})"
                );
            }
        }
    }
}

#[test]
fn exit_only_once_stopped_and_childless() {
    for phase in PHASES {
        for no_children in [false, true] {
            let want = no_children && matches!(phase, Sweeping | Killed);
            assert_eq!(may_exit(phase, no_children), want, "{phase:?}, no children: {no_children}");
        }
    }
}

/// xorshift64, for the random walks below.
fn random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// From anywhere, whatever else happens, the grace deadline ends in
/// `Killed`, and from there warden exits once no child is left or it gives
/// up: the shutdown always finishes by its deadline.
#[test]
fn any_sequence_ends_by_the_deadline() {
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        let mut phase = Running;
        let length = random(&mut seed) % 12;
        for _ in 0..length {
            let event = EVENTS[(random(&mut seed) % EVENTS.len() as u64) as usize];
            let before = phase;
            phase = next(phase, event, random(&mut seed).is_multiple_of(2)).0;
            // Never back: the phases only move forward.
            assert!(PHASES.iter().position(|p| *p == phase) >= PHASES.iter().position(|p| *p == before));
        }
        let (after_grace, actions) = next(phase, Event::GraceOver, false);
        assert_eq!(after_grace, Killed);
        assert!(phase == Killed || actions.contains(&KillEverything), "{phase:?}: {actions:?}");
        assert!(may_exit(after_grace, true));
        assert!(next(after_grace, Event::GiveUp, false).1.contains(&GiveUp));
    }
}

/// The first stop signal never kills; every later one does (once).
#[test]
fn only_a_second_stop_signal_kills() {
    let (phase, actions) = next(Running, Event::StopSignal, false);
    assert!(actions.is_empty());
    let (phase, _) = next(phase, Event::Begin { drain: true }, false);
    let (phase, actions) = next(phase, Event::StopSignal, false);
    assert_eq!((phase, actions), (Killed, vec![ReportSecondSignal, KillEverything]));
    assert!(!next(phase, Event::StopSignal, false).1.contains(&KillEverything));
}
