//! When periodic jobs run: one timer per job for its next run, and, for cron
//! lines, a watch on the wall clock. A cron line names wall-clock times, but
//! the loop's timers count monotonic time: a step of the clock (`date -s`,
//! a first NTP sync) or a suspend would leave `0 3 * * *` running hours
//! away from 03:00 until its next run recomputed the delay. When the clock
//! jumps, every cron job's next run is worked out again from the new time;
//! runs a forward jump passes over are not made up (as cron does).

use super::{Supervisor, Timer, core, registry};
use crate::config::{Kind, Schedule};
use crate::logger::{info, warning};
use crate::reactor::{Interest, deadline_after};
use crate::sys::Reason;
use crate::sys::clock::ClockJumps;
use std::os::fd::AsRawFd;

impl Supervisor {
    /// Sets the timer of a periodic job's next run, in place of the one
    /// pending (one next run per job).
    pub(super) fn arm_schedule(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index) else { return };
        let Kind::Periodic(schedule) = slot.service.kind else { return };
        if let Some(pending) = slot.schedule_timer.take() {
            self.init.reactor.cancel_timer(pending);
        }
        match schedule.next_delay() {
            Some(delay) => {
                let timer = Timer::Core(core::Timer::Schedule(core::UnitId { index, serial: slot.id }));
                slot.schedule_timer = Some(self.init.reactor.add_timer(deadline_after(delay), timer));
                if matches!(schedule, Schedule::Cron(_)) {
                    self.watch_clock();
                }
            }
            None => {
                let name = slot.service.name.clone();
                self.note(&format!("{name}: its cron line never fires again"));
            }
        }
    }

    /// Hears the wall clock's jumps from the first cron job on (nothing is
    /// watched, nor costs anything, without one).
    fn watch_clock(&mut self) {
        if self.clock_jumps.is_some() {
            return;
        }
        let watch = ClockJumps::new().and_then(|watch| {
            self.init.reactor.register(watch.as_raw_fd(), registry::CLOCK, Interest::Read).map(|()| watch)
        });
        match watch {
            Ok(watch) => self.clock_jumps = Some(watch),
            Err(e) => warning!(
                "cannot watch the wall clock ({}): cron jobs will not follow a change of the clock",
                Reason(&e)
            ),
        }
    }

    /// The wall clock was set (or the machine woke up): every cron job's
    /// pending next run is timed again from the new time.
    pub(super) fn on_clock_jump(&mut self) {
        let Some(watch) = &self.clock_jumps else { return };
        match watch.jumped() {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                warning!("cannot read the wall clock's watch ({}): no longer watched", Reason(&e));
                if let Some(watch) = self.clock_jumps.take() {
                    let _ = self.init.reactor.deregister(watch.as_raw_fd());
                }
                return;
            }
        }
        let cron_jobs: Vec<usize> = (0..self.slots.len())
            .filter(|&index| {
                self.slots.get(index).is_some_and(|slot| {
                    slot.schedule_timer.is_some()
                        && matches!(slot.service.kind, Kind::Periodic(Schedule::Cron(_)))
                        && self.core.units.get(index).is_some_and(|u| !u.retired)
                })
            })
            .collect();
        if cron_jobs.is_empty() {
            return;
        }
        let names: Vec<String> =
            cron_jobs.iter().filter_map(|&i| self.slots.get(i)).map(|s| s.service.name.clone()).collect();
        info!("the wall clock changed: the next runs of {} follow it", names.join(", "));
        for index in cron_jobs {
            self.arm_schedule(index);
        }
    }
}
