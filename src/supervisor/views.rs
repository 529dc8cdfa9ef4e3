//! Units as `warden status`, `/status`, `/metrics` and the probe endpoints
//! report them: built from the core's decisions and the runtime's slots.

use std::time::SystemTime;

use super::core::Unit;
use super::machine::State;
use super::{Slot, Supervisor};
use crate::config::Kind;
use crate::control::report::{self, ProbeView, View, Warden};
use crate::shutdown::Phase;
use crate::sys::process;

/// How much an answer shows. What warden and its services use is read from
/// /proc and the cgroups, a walk of every process (some 800 system calls
/// with 100 services): only the answers that print it (`/metrics`,
/// `/status`, `warden status`) pay for it, not a probe of `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Detail {
    States,
    Usage,
}

impl Supervisor {
    /// What `/readyz` and friends need to know about warden.
    pub(super) fn warden_view(&self, detail: Detail) -> Warden {
        Warden {
            shutting_down: self.core.phase != Phase::Running,
            started: self.server.started,
            orphans_reaped: self.server.orphans_reaped,
            own_lines_dropped: crate::output::sink::own_dropped(),
            process: if detail == Detail::Usage { process_stats() } else { Default::default() },
        }
    }

    /// Latches `started` once every required service has been ready. Runs
    /// every turn of the loop until then, so it builds no views.
    pub(super) fn note_started(&mut self) {
        if !self.server.started && self.core.phase == Phase::Running {
            self.server.started =
                self.core.units.iter().filter(|u| !u.retired).all(|u| optional(u) || counts_ready(u));
        }
    }

    /// Every unit, as reported (without `usage` unless asked for).
    pub(super) fn views(&self, detail: Detail) -> Vec<View> {
        let waiting = self.core.waiting_for();
        let usages = match detail {
            Detail::Usage => self.usages(),
            Detail::States => vec![None; self.slots.len()],
        };
        let units = self.core.units.iter().zip(&self.slots).zip(waiting).zip(usages).enumerate();
        units
            .filter(|(_, (((u, _), _), _))| !u.retired)
            .map(|(index, (((u, s), waiting), usage))| {
                // Its program is gone, what it left is being stopped: no pid to show.
                let draining = self.is_draining(index);
                let waiting = if draining {
                    Some("its program ended; stopping what it left behind".to_string())
                } else {
                    waiting
                };
                view(u, s, waiting, usage, draining)
            })
            .collect()
    }
}

/// Ready as `/readyz` counts it: a ready longrun, a completed oneshot, a
/// periodic job that has not failed.
fn counts_ready(unit: &Unit) -> bool {
    let machine = &unit.machine;
    match unit.service.kind {
        Kind::Oneshot => machine.completed,
        Kind::Periodic(_) => machine.state != State::Failed,
        Kind::Longrun => machine.ready && machine.is_up(),
    }
}

/// Left out of `/readyz`: marked optional, a periodic job, or disabled.
fn optional(unit: &Unit) -> bool {
    unit.service.optional || matches!(unit.service.kind, Kind::Periodic(_)) || unit.disabled
}

fn view(
    unit: &Unit,
    slot: &Slot,
    waiting: Option<String>,
    usage: Option<crate::cgroups::Usage>,
    program_gone: bool,
) -> View {
    let machine = &unit.machine;
    let kind = match unit.service.kind {
        _ if unit.is_main => "main",
        Kind::Longrun => "longrun",
        Kind::Oneshot => "oneshot",
        Kind::Periodic(_) => "periodic",
    };
    // A program that has ended serves nothing, whatever its machine knows yet.
    let ready = counts_ready(unit) && !(program_gone && unit.service.kind == Kind::Longrun);
    let probes = crate::config::ProbeKind::ALL
        .iter()
        .filter_map(|&kind| {
            let probe = slot.watch.slot(kind)?;
            unit.service.probe(kind)?;
            Some(ProbeView {
                kind: kind.name(),
                passing: probe.tracker.passing,
                successes: probe.tracker.successes,
                failures: probe.tracker.failures,
                last_error: probe.tracker.last_error.clone(),
            })
        })
        .collect();
    // Not ready because of a failing readiness probe: that says more than
    // the last state change.
    let failing = slot
        .watch
        .slot(crate::config::ProbeKind::Readiness)
        .filter(|probe| !ready && probe.tracker.last_ok == Some(false))
        .and_then(|probe| probe.tracker.last_error.as_ref());
    let reason = match (failing, waiting) {
        (Some(error), _) => format!("readiness: {error}"),
        (None, Some(waiting)) => waiting,
        (None, None) if unit.disabled && unit.reason.is_none() => "enabled: false".into(),
        (None, None) => unit.reason_text(),
    };
    View {
        name: unit.service.name.clone(),
        kind,
        state: if unit.disabled { "disabled" } else { machine.state.name() },
        pid: machine.state.pid().filter(|_| !program_gone),
        // Stopping: its program still runs, since its last start.
        uptime: machine.state.since().or(machine.state.pid().and(machine.last_start)).map(|s| s.elapsed()),
        restarts: machine.restarts,
        last_exit: machine.last_exit,
        ready,
        optional: optional(unit),
        live: !matches!(machine.state, State::Failed | State::Unhealthy { .. }),
        reason,
        notice: slot.watch.status.clone(),
        started_at: unit.machine.last_start.map(|start| {
            let wall = SystemTime::now().checked_sub(start.elapsed()).unwrap_or(SystemTime::UNIX_EPOCH);
            wall.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
        }),
        exits: unit.exits,
        probes,
        lines_dropped: slot.lines_dropped + slot.file_log.as_ref().map_or(0, |f| f.dropped_lines()),
        stop_kills: unit.machine.stop_kills,
        usage,
        limits: limit_views(&unit.service.resources, &slot.limits.enforcement),
        instance: unit.service.instance.as_ref().map(|i| (i.group.clone(), i.index)),
    }
}

/// A service's cgroup limits with how each is enforced.
fn limit_views(
    resources: &crate::config::Resources,
    enforcement: &[(&'static str, crate::cgroups::Enforcement)],
) -> Vec<report::LimitView> {
    let values = [
        ("memory", resources.memory),
        ("memory_high", resources.memory_high),
        ("cpus", resources.cpus.map(u64::from)),
        ("pids", resources.pids),
    ];
    values
        .into_iter()
        .filter_map(|(key, value)| {
            let enforced = enforcement.iter().find(|(k, _)| *k == key).map(|(_, how)| how.text())?;
            Some(report::LimitView { key, value: value?, enforced })
        })
        .collect()
}

/// warden's own figures for `process_*`, from /proc (zero where unreadable).
fn process_stats() -> report::ProcessStats {
    process::own_usage()
}
