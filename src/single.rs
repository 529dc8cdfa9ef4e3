//! One-program mode, `warden [OPTIONS] -- CMD`: the tini / dumb-init replacement.
//!
//! Life of a run: spawn CMD in its own process group (the terminal's foreground
//! group when there is one), then loop on two kinds of events, signals and the
//! grace timer. Every signal but SIGCHLD is forwarded, repeated stop signals
//! included; SIGCHLD reaps every ended process, orphans included. The first
//! TERM/INT/QUIT arms the grace timer; when it fires everything left is SIGKILLed. When CMD exits,
//! whatever it left behind gets SIGTERM, then SIGKILL at the end of the same grace,
//! and warden exits with CMD's code once no process of its own is left.

use std::ffi::OsString;

use crate::cli::RunOptions;
use crate::inherited::Inherited;
use crate::init::{AFTER_KILL, Base, KILL_AGAIN, SIGNALS};
use crate::logger::{debug, error, info, warning};
use crate::output::Stream;
use crate::output::sink::{self, Flushed};
use crate::reactor::Interest;
use crate::reactor::{Event, TimerId, deadline_after};
use crate::shutdown::{self, Action as Step, Phase};
use crate::sys::reap::ExitStatus;
use crate::sys::signals::{self, Received};
use crate::sys::spawn::{Environment, Placement, Program, Setup, SpawnError, spawn_with};
use crate::sys::{Reason, process};

/// The reactor token of warden's stderr while a line of its own waits for room.
const STDERR: u64 = 1;
/// How long warden waits, when exiting, for a stalled reader of its stderr:
/// only its own lines are queued in this mode, and they may be dropped.
const EXIT_FLUSH: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Debug)]
enum Timer {
    GraceOver,
    KillAgain,
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProgramState {
    Running { pid: i32 },
    Exited { code: i32 },
}

/// Runs CMD to completion and returns warden's exit code.
pub fn run(options: RunOptions, inherited: &Inherited) -> i32 {
    let mut init = match Init::new(options, inherited) {
        Ok(init) => init,
        Err(code) => return code,
    };
    init.run()
}

struct Init {
    options: RunOptions,
    base: Base<Timer>,
    program: ProgramState,
    /// The grace deadline, once a stop signal came or CMD exited.
    grace: Option<TimerId>,
    stop_requested: bool,
    /// CMD has exited; its leftovers get SIGTERM once the reap pass is over.
    sweep_pending: bool,
    /// Running until the grace runs out, then killed (`crate::shutdown`'s
    /// table decides the tail, as in services mode).
    phase: Phase,
    no_children: bool,
    /// Reused buffers for signal batches and reaped children.
    received: Vec<Received>,
    ended: Vec<(i32, ExitStatus)>,
    /// warden's stderr is watched for room (a line of its own is queued).
    stderr_watched: bool,
}

impl Init {
    fn new(options: RunOptions, inherited: &Inherited) -> Result<Init, i32> {
        sink::install();
        let base = Base::new()?;
        let mut parent_died = false;
        if let Some(signal) = options.parent_death_signal {
            let parent = process::parent_pid();
            if let Err(e) = process::set_parent_death_signal(signal) {
                warning!("unable to set the parent-death signal: {}", Reason(&e));
            }
            // The parent may have died before the request took effect.
            parent_died = process::parent_pid() != parent;
        }

        let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        let program = Environment::new(&env)
            .and_then(|base| Program::new(&options.command, &base, &[]))
            .map_err(|e| {
                error!("cannot run {:?}: {e}", options.command.first().unwrap_or(&OsString::new()));
                2
            })?;
        let placement = Placement { own_process_group: true, take_terminal: true, new_session: false };
        // CMD gets what warden was given to pass on, and nothing of warden's own.
        let mut setup = Setup::default();
        inherited.give(&mut setup);
        let pid = match spawn_with(&program, placement, &setup) {
            Ok(pid) => pid,
            Err(e @ SpawnError::Exec { .. }) => {
                let not_found = e.exit_code() == 127;
                let name =
                    options.command.first().map(|c| c.to_string_lossy().into_owned()).unwrap_or_default();
                if not_found && !name.contains('/') {
                    error!("cannot run \"{name}\": not found in PATH");
                } else {
                    error!("cannot run \"{name}\": {e}");
                }
                return Err(e.exit_code());
            }
            Err(e) => {
                error!("cannot run \"{}\": {e}", program.display());
                return Err(126);
            }
        };
        info!("started \"{}\" as pid {pid}", program.display());

        let mut init = Init {
            options,
            base,
            program: ProgramState::Running { pid },
            grace: None,
            stop_requested: false,
            sweep_pending: false,
            phase: Phase::Running,
            no_children: false,
            received: Vec::with_capacity(16),
            ended: Vec::new(),
            stderr_watched: false,
        };
        if parent_died && let Some(signal) = init.options.parent_death_signal {
            init.on_signal(Received { signal, sender: 0, code: 0 });
        }
        Ok(init)
    }

    fn run(&mut self) -> i32 {
        let mut events = Vec::new();
        // The program runs: the code that read the command line and started
        // it is not needed again, and what is (signals, reaping) faults back
        // in from the page cache when it first runs.
        match crate::sys::memory::release_clean_image() {
            Ok(bytes) => debug!("released {} KiB of code pages", bytes / 1024),
            Err(e) => debug!("unable to release code pages: {}", crate::sys::Reason(&e)),
        }
        loop {
            if let ProgramState::Exited { code } = self.program
                && self.no_children
            {
                sink::flush_before_exit(deadline_after(EXIT_FLUSH));
                return code;
            }
            self.watch_stderr();
            if !self.base.reactor.has_timers() && !self.stderr_watched {
                // Nothing but a signal can happen: wait in read(2) on the signalfd
                // itself, one system call per wake-up instead of epoll_wait + read.
                self.drain_signals();
                continue;
            }
            self.base.wait(&mut events);
            for event in events.drain(..) {
                match event {
                    Event::Io(ready) if ready.token == SIGNALS => self.drain_signals(),
                    Event::Io(ready) if ready.token == STDERR => {
                        sink::with(Stream::Stderr, |s| s.flush());
                    }
                    Event::Io(_) => {}
                    Event::Timer(timer, _) => {
                        let event = match timer {
                            Timer::GraceOver => shutdown::Event::GraceOver,
                            Timer::KillAgain => shutdown::Event::KillAgain,
                            Timer::GiveUp => shutdown::Event::GiveUp,
                        };
                        if let Some(code) = self.advance(event) {
                            return code;
                        }
                    }
                }
            }
        }
    }

    /// Watches warden's stderr for room exactly while a line of its own waits.
    fn watch_stderr(&mut self) {
        let (blocked, fd) = sink::with(Stream::Stderr, |s| (s.is_blocked(), s.fd())).unwrap_or((false, None));
        let Some(fd) = fd.filter(|_| blocked != self.stderr_watched) else { return };
        let result = if blocked {
            self.base.reactor.register(fd, STDERR, Interest::Write)
        } else {
            self.base.reactor.deregister(fd)
        };
        match result {
            Ok(()) => self.stderr_watched = blocked,
            // Not watched: the line waits for the next wake-up instead.
            Err(e) => {
                sink::with(Stream::Stderr, |s| matches!(s.flush(), Flushed::Done));
                debug!("cannot watch stderr: {}", Reason(&e));
            }
        }
    }

    fn drain_signals(&mut self) {
        let mut batch = std::mem::take(&mut self.received);
        let child_ended = self.base.read_signals(&mut batch);
        for received in batch.drain(..) {
            self.on_signal(received);
        }
        self.received = batch;
        // Every exit raises SIGCHLD after it happens, so reaping on SIGCHLD alone
        // misses nothing, however the signals coalesce.
        if child_ended {
            self.reap();
        }
    }

    /// Every signal goes to the program, repeated stop signals included:
    /// programs whose own shutdown is a sequence of them (PostgreSQL's TERM,
    /// INT, QUIT) must get each one. The first stop signal (TERM, INT, QUIT
    /// unless `--stop-signals`) arms the grace timer, the only escalation.
    /// Once the program has exited, stop signals go to what it left behind.
    fn on_signal(&mut self, received: Received) {
        let Some(forward) = self.options.rewrite(received.signal) else {
            debug!("dropping {} (--rewrite)", signals::name(received.signal));
            return;
        };
        let is_stop = self.options.stop_signals.contains(&received.signal);
        match self.program {
            ProgramState::Running { pid } => {
                let target = if self.options.group { -pid } else { pid };
                debug!(
                    "forwarding {} to {}",
                    signals::name(forward),
                    if self.options.group { "process group" } else { "pid" }
                );
                if let Err(e) = process::send(target, forward) {
                    warning!("unable to forward {} to {target}: {}", signals::name(forward), Reason(&e));
                }
            }
            ProgramState::Exited { .. } if is_stop && self.phase != Phase::Killed && !self.no_children => {
                debug!("forwarding {} to the processes left", signals::name(forward));
                self.base.scope.signal_all(&[forward]);
            }
            ProgramState::Exited { .. } => {}
        }
        if is_stop && !self.stop_requested {
            self.stop_requested = true;
            info!(
                "{}: stopping, grace {}",
                signals::name(received.signal),
                crate::duration::format(self.options.grace())
            );
            self.arm_grace();
        }
    }

    fn arm_grace(&mut self) {
        if self.grace.is_none() && self.phase != Phase::Killed {
            self.grace =
                Some(self.base.reactor.add_timer(deadline_after(self.options.grace()), Timer::GraceOver));
        }
    }

    fn reap(&mut self) {
        let mut ended = std::mem::take(&mut self.ended);
        self.no_children = self.base.reap_all(&mut ended);
        for (pid, status) in ended.drain(..) {
            if self.program == (ProgramState::Running { pid }) {
                self.on_program_exit(status);
            } else {
                debug!("reaped pid {pid} ({status:?})");
            }
        }
        self.ended = ended;
        // Only now is it known whether the program left anything behind: with no
        // child left there is nothing to sweep (and, as a subreaper, no /proc walk).
        if self.sweep_pending && !self.no_children {
            self.sweep_pending = false;
            // SIGCONT wakes stopped processes so that they can act on the SIGTERM.
            self.base.scope.signal_all(&[libc::SIGTERM, libc::SIGCONT]);
            self.arm_grace();
        }
    }

    fn on_program_exit(&mut self, status: ExitStatus) {
        let code = self.options.map_exit(status.code());
        match status {
            ExitStatus::Exited(c) => info!("program exited with code {c}"),
            ExitStatus::Signaled { signal, core_dumped } => info!(
                "program was killed by {}{}",
                signals::name(signal),
                if core_dumped { " (core dumped)" } else { "" }
            ),
        }
        self.program = ProgramState::Exited { code };
        // What the program left behind gets the same chance to stop cleanly.
        self.sweep_pending = self.phase != Phase::Killed;
    }

    /// Feeds the shutdown table's tail and performs what it says; Some(code)
    /// when warden must exit now.
    fn advance(&mut self, event: shutdown::Event) -> Option<i32> {
        let (phase, actions) = shutdown::next(self.phase, event, self.no_children);
        self.phase = phase;
        for action in actions {
            match action {
                Step::ReportGraceOver => warning!("{}", shutdown::grace_over_message(self.options.grace())),
                Step::KillEverything => self.kill_everything(),
                // A process forked while the SIGKILL walk ran may have escaped it
                // (only possible as a subreaper: kill(-1) is atomic).
                Step::KillAgain => {
                    self.base.scope.signal_all(&[libc::SIGKILL]);
                    self.base.reactor.add_timer(deadline_after(KILL_AGAIN), Timer::KillAgain);
                }
                Step::GiveUp => {
                    warning!("{}: {}", shutdown::give_up_message(), crate::leftovers::survivors());
                    sink::flush_before_exit(deadline_after(EXIT_FLUSH));
                    return Some(self.exit_code_now());
                }
                // Stop signals go to the program here, and there are no
                // services: the other steps are services mode's.
                Step::Announce | Step::ArmDrain | Step::Sweep | Step::ReportSecondSignal => {}
            }
        }
        None
    }

    fn kill_everything(&mut self) {
        if let ProgramState::Running { pid } = self.program {
            process::kill_group_and_leader(pid);
        }
        self.base.scope.signal_all(&[libc::SIGKILL]);
        if let Some(timer) = self.grace.take() {
            self.base.reactor.cancel_timer(timer);
        }
        self.sweep_pending = false;
        self.base.reactor.add_timer(deadline_after(AFTER_KILL), Timer::GiveUp);
        self.base.reactor.add_timer(deadline_after(KILL_AGAIN), Timer::KillAgain);
    }

    fn exit_code_now(&self) -> i32 {
        match self.program {
            ProgramState::Exited { code } => code,
            ProgramState::Running { .. } => self.options.map_exit(128 + libc::SIGKILL),
        }
    }
}
