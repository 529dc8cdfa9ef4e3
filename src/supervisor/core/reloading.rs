//! A reload's decisions: which unit each new or changed service takes, what
//! stops, and in which order restarts happen around dependencies.

use std::rc::Rc;
use std::time::Instant;

use super::super::machine::{AfterStop, Input, State};
use super::super::reload::{self, Diff};
use super::{Core, Unit};
use crate::config::{Kind, Service};

impl Core {
    /// A reload restarts `restarting`: what runs and depends on them, directly
    /// or not, restarts with them (the main program excepted: it is the
    /// container's, and reloads never touch it), so that it waits for them
    /// again as at boot. Returns the dependents so marked.
    pub(super) fn restart_dependents_of(&mut self, mut restarting: Vec<usize>) -> Vec<usize> {
        let given = restarting.len();
        let mut next = 0;
        // Bounded: every unit joins at most once.
        while let Some(&index) = restarting.get(next) {
            next += 1;
            let Some(service) = self.units.get(index).map(|u| u.service.clone()) else { continue };
            for (dependent, unit) in self.units.iter_mut().enumerate() {
                if unit.retired
                    || unit.is_main
                    || unit.reload_restart.is_some()
                    || !unit.machine.is_live()
                    || matches!(unit.service.kind, Kind::Periodic(_))
                    || !unit.service.depends_on_service(&service)
                {
                    continue;
                }
                unit.reload_restart = Some(unit.service.stop_timeout);
                restarting.push(dependent);
            }
        }
        restarting.split_off(given)
    }

    /// Reload restarts, dependents first: a unit marked by a reload stops
    /// once no unit that depends on it still runs, marked or already being
    /// stopped (a dependent's stop sent is not a dependent down).
    pub(super) fn stop_for_reload(&mut self, now: Instant) {
        for index in 0..self.units.len() {
            let Some(unit) = self.units.get(index) else { continue };
            let Some(timeout) = unit.reload_restart else { continue };
            let service = &unit.service;
            let dependents_up = self.units.iter().any(|u| {
                (u.reload_restart.is_some() || matches!(u.machine.state, State::Stopping { .. }))
                    && u.machine.is_live()
                    && u.service.depends_on_service(service)
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
            self.feed_inputs(now);
        }
    }

    /// The difference between what runs and `services` (a reload's plan).
    pub fn difference(&self, services: &[Service]) -> Diff {
        let running: Vec<&Service> =
            self.units.iter().filter(|u| !u.retired && !u.is_main).map(|u| u.service.as_ref()).collect();
        reload::diff(&running, services)
    }

    /// Ids for `count` units about to be built.
    /// A running unit's settings, changed where it runs (its cgroup limits):
    /// nothing of its run changes.
    pub fn replace_service(&mut self, index: usize, service: std::rc::Rc<Service>) {
        if let Some(unit) = self.units.get_mut(index) {
            unit.service = service;
        }
    }

    pub fn reserve_ids(&mut self, count: usize) -> u64 {
        let first = self.next_unit_id;
        self.next_unit_id += count as u64;
        first
    }

    /// Applies a reload whose new units are built (`built`: the new
    /// services by name, each with its id): removed services stop and are
    /// retired; a changed one that runs keeps its unit and stops to restart
    /// with its new settings (after its dependents; a periodic job's run
    /// restarts at once); a changed one that does not run starts over; an
    /// added one takes a retired slot or a new one. Returns where each built
    /// service went and how.
    pub fn reload(
        &mut self,
        now: Instant,
        services: &[Service],
        difference: &Diff,
        built: Vec<(Rc<Service>, u64)>,
    ) -> Reloaded {
        let mut done = Reloaded { unchanged: difference.unchanged.len(), ..Reloaded::default() };
        for index in 0..self.units.len() {
            let Some(unit) = self.units.get_mut(index) else { continue };
            if unit.retired || unit.is_main || services.iter().any(|s| s.name == unit.service.name) {
                continue;
            }
            unit.retired = true;
            done.removed.push(index);
            let timeout = unit.service.stop_timeout;
            // Fed at once, so that no pending input outlives the slot's reuse.
            self.inputs.push_back((index, Input::Stop { then: AfterStop::Stay, timeout }));
            self.feed_inputs(now);
        }
        let mut restarting = Vec::new();
        for (service, id) in built {
            let existing =
                self.units.iter().position(|u| !u.retired && !u.is_main && u.service.name == service.name);
            match existing.and_then(|index| self.units.get_mut(index).map(|u| (index, u))) {
                Some((index, unit)) if unit.machine.is_live() && !service.enabled => {
                    // Disabled by this reload: it stops, and stays stopped.
                    let timeout = unit.service.stop_timeout;
                    unit.service = service;
                    unit.disabled = true;
                    done.placed.push((index, Placed::Kept));
                    self.inputs.push_back((index, Input::Stop { then: AfterStop::Stay, timeout }));
                    self.feed_inputs(now);
                }
                Some((index, unit)) if unit.machine.is_live() => {
                    // Same unit, new settings.
                    let timeout = unit.service.stop_timeout;
                    let periodic = matches!(service.kind, Kind::Periodic(_));
                    unit.service = service;
                    unit.stop_sent = false;
                    unit.stuck_reported = false;
                    done.placed.push((index, Placed::Kept));
                    if periodic {
                        self.inputs.push_back((index, Input::Stop { then: AfterStop::Restart, timeout }));
                        self.feed_inputs(now);
                    } else {
                        unit.reload_restart = Some(timeout);
                        restarting.push(index);
                    }
                }
                Some((index, unit)) => {
                    // Not running: start over from the new settings.
                    *unit = Unit::new(id, service, false);
                    done.placed.push((index, Placed::Renewed));
                    self.schedule(index);
                }
                None => {
                    let free = self.units.iter().position(|u| u.retired && !u.machine.is_live());
                    let index = match free.and_then(|slot| self.units.get_mut(slot).map(|u| (slot, u))) {
                        Some((slot, old)) => {
                            *old = Unit::new(id, service, false);
                            slot
                        }
                        None => {
                            self.units.push(Unit::new(id, service, false));
                            self.units.len() - 1
                        }
                    };
                    done.placed.push((index, Placed::Added));
                    self.schedule(index);
                }
            }
        }
        // The dependents were among the unchanged services: they restart all the same.
        done.dependents = self.restart_dependents_of(restarting);
        done.unchanged = done.unchanged.saturating_sub(done.dependents.len());
        self.feed_inputs(now);
        done
    }
}

/// Where a reload put what it built.
#[derive(Debug, Default)]
pub struct Reloaded {
    /// Units retired.
    pub removed: Vec<usize>,
    /// For each built unit, in the order given: its place, and how.
    pub placed: Vec<(usize, Placed)>,
    /// Units of unchanged services that restart because something they
    /// depend on does.
    pub dependents: Vec<usize>,
    /// Services left as they were, running on untouched.
    pub unchanged: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// A changed service's running unit kept, with the new settings: it
    /// restarts.
    Kept,
    /// A changed service that did not run: a new unit in its place.
    Renewed,
    /// An added service: a retired unit's place, or a new one at the end.
    Added,
}
