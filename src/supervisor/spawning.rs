//! How a unit's program starts: its environment and set-up prepared once
//! (and again when a reload changes it), then started without waiting for
//! its exec; the exec's outcome arrives later on a status pipe.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use super::core::Event;
use super::machine::State;
use super::registry::{Child, Kind};
use super::{MAX_IN_FLIGHT, SERVICE_PLACEMENT, Slot, Supervisor, watch};
use crate::config::{Logs, Service};
use crate::disk::Disk;
use crate::inherited::{Inherited, LISTEN_VARIABLES};
use crate::logger::warning;
use crate::notify::NotifySocket;
use crate::reactor::Interest;
use crate::sys::Reason;
use crate::sys::spawn::{Environment, Program, Setup, SpawnError, start};

/// The environment every service starts from: warden's own, without the
/// variables addressed to warden itself.
pub(super) fn base_environment() -> Result<Environment, String> {
    // The LISTEN_* variables go to the one child that receives the inherited
    // descriptors, as overrides of its own (`Inherited`).
    const WARDENS_OWN: &[&str] = &["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];
    let vars: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !WARDENS_OWN.iter().chain(&LISTEN_VARIABLES).any(|own| k == own))
        .collect();
    Environment::new(&vars).map_err(|e| e.to_string())
}

/// A service's programs, ready to spawn.
struct Prepared {
    program: Program,
    setup: Setup,
    probes: [Option<Program>; 3],
}

/// Builds what spawning `service` needs; `notify` is its NOTIFY_SOCKET value.
fn prepare(
    service: &Service,
    base: &Environment,
    notify: Option<&str>,
    inherited: &Inherited,
) -> Result<Prepared, String> {
    // What this service changes on top of the shared environment; later wins.
    let mut overrides: Vec<(OsString, OsString)> = Vec::new();
    if let Some(c) = &service.credentials {
        if let Some(name) = &c.name {
            overrides.push(("USER".into(), name.into()));
            overrides.push(("LOGNAME".into(), name.into()));
        }
        overrides.push(("HOME".into(), c.home.clone().unwrap_or_else(|| "/".into()).into()));
    }
    if let Some(address) = notify {
        overrides.push(("NOTIFY_SOCKET".into(), address.into()));
        if let Some(limit) = service.watchdog {
            overrides.push(("WATCHDOG_USEC".into(), limit.as_micros().to_string().into()));
        }
    }
    for (key, value) in &service.env {
        overrides.retain(|(k, _)| k != key.as_str());
        overrides.push((key.into(), value.into()));
    }
    let probes = watch::prepare_probes(service, base, &overrides)?;
    // The LISTEN_* variables are for the service itself, never its probes.
    if service.inherit_fds {
        let listen =
            inherited.variables.iter().filter(|(k, _)| !service.env.iter().any(|(key, _)| k == key.as_str()));
        overrides.extend(listen.cloned());
    }
    let program = Program::new(&service.command, base, &overrides).map_err(|e| e.to_string())?;
    let workdir = match &service.workdir {
        Some(dir) => {
            Some(CString::new(dir.as_os_str().as_bytes()).map_err(|_| "workdir contains a NUL byte")?)
        }
        None => None,
    };
    let mut setup = Setup {
        null_stdin: true,
        null_output: service.logs == Logs::Null,
        workdir,
        umask: service.umask,
        limits: service.limits.iter().map(|l| (l.resource, l.soft, l.hard)).collect(),
        credentials: service.credentials.as_ref().map(|c| (c.uid, c.gid, c.groups.clone())),
        no_new_privs: service.no_new_privs,
        ..Setup::default()
    };
    if service.inherit_fds {
        inherited.give(&mut setup);
    }
    Ok(Prepared { program, setup, probes })
}

/// A slot for `service` (unit `id`), with its notification socket if it
/// has `notify` (`nonce` keeps the socket's name unique).
pub(super) fn new_slot(
    id: u64,
    service: Rc<Service>,
    base: &Environment,
    nonce: u64,
    inherited: &Inherited,
    disk: &mut Disk,
) -> Result<Slot, String> {
    let notify = notify_socket(&service, nonce ^ id.wrapping_mul(0x2545_f491_4f6c_dd1d))?;
    let prepared = prepare(&service, base, notify.as_ref().map(|s| s.address.as_str()), inherited)?;
    let mut slot = Slot::new(id, service, prepared.program, prepared.setup, SERVICE_PLACEMENT);
    slot.watch.set_probes(&slot.service, prepared.probes);
    if let Logs::File(log) = &slot.service.logs {
        slot.file_log = Some(disk.open(log.clone()));
    }
    slot.watch.notify = notify.map(|socket| (socket, 0));
    Ok(slot)
}

fn notify_socket(service: &Service, nonce: u64) -> Result<Option<NotifySocket>, String> {
    if !service.notify {
        return Ok(None);
    }
    NotifySocket::bind(nonce).map(Some).map_err(|e| format!("cannot make its NOTIFY_SOCKET: {}", Reason(&e)))
}

impl Supervisor {
    /// Forks queued programs while fewer than MAX_IN_FLIGHT await their exec.
    /// warden does not wait for each exec: the status pipe tells the loop later,
    /// so a hundred services start as fast as a plain fork loop.
    pub(super) fn launch_queued(&mut self) {
        while self.in_flight.len() < MAX_IN_FLIGHT {
            let Some(index) = self.spawn_queue.pop_front() else { return };
            if self.core.units.get(index).is_none_or(|u| u.machine.state != State::Starting) {
                continue;
            }
            let Some(name) = self.slots.get(index).map(|s| s.service.name.clone()) else { continue };
            // Held open until the child has its copies of the pipes.
            let notify_pipe = self.before_spawn(index);
            let cgroup_files = self.before_spawn_cgroup(index);
            let output_pipes = match self.before_spawn_output(index) {
                Ok(pipes) => pipes,
                Err(why) => {
                    drop(notify_pipe);
                    self.pending.push_back(Event::SpawnFailed { index, code: 126, why });
                    continue;
                }
            };
            let Some(slot) = self.slots.get(index) else { continue };
            let started = start(&slot.program, slot.placement, &slot.setup);
            drop(notify_pipe);
            drop(cgroup_files);
            let output_reads = output_pipes.map(|(writes, reads)| {
                drop(writes);
                reads
            });
            match started {
                Ok(pending) => {
                    if let Some(reads) = output_reads {
                        self.watch_output(index, pending.pid, reads);
                    }
                    let token = self.registry.take(Kind::SpawnStatus);
                    self.registry.add_child(pending.pid, Child::Program(index));
                    if let Some(slot) = self.slots.get_mut(index) {
                        slot.started_ticks = crate::sys::process::boot_ticks_now();
                    }
                    if let Err(e) = self.init.reactor.register(pending.fd(), token, Interest::Read) {
                        // Cannot watch it: learn the outcome when the child is reaped.
                        warning!("{name}: unable to watch the start: {}", Reason(&e));
                    }
                    self.in_flight.insert(token, (index, pending));
                }
                // A failed fork (EAGAIN, EMFILE for the pipe) is retried with backoff.
                Err(e) => {
                    if let SpawnError::Fork(err) = &e {
                        warning!("{name}: unable to fork: {}", Reason(err));
                    }
                    self.start_failed(index, &e);
                }
            }
        }
    }

    /// A start failed: the core hears it, with why. An exec or set-up
    /// failure names the program (`cannot run /no/such/binary: No such file
    /// or directory`); a failed fork is warden's want of resources, not the
    /// program's.
    fn start_failed(&mut self, index: usize, error: &SpawnError) {
        let why = match (error, self.slots.get(index)) {
            (SpawnError::Exec { .. }, Some(slot)) => format!("cannot run {}: {error}", slot.program.name()),
            _ => format!("cannot run: {error}"),
        };
        self.pending.push_back(Event::SpawnFailed { index, code: error.exit_code(), why });
    }

    /// The exec-status pipe of a spawn in flight has news.
    pub(super) fn on_spawn_status(&mut self, token: u64) {
        let Some((_, pending)) = self.in_flight.get(&token) else { return };
        let Some(outcome) = pending.outcome() else { return };
        // Dropping `pending` closes the pipe, which also takes it out of epoll.
        let Some((index, pending)) = self.in_flight.remove(&token) else { return };
        match outcome {
            Ok(pid) => {
                self.watch_limits(index);
                self.pending.push_back(Event::Spawned { index, pid })
            }
            Err(e) => {
                // The child exits 127 by itself; its reap is no concern of the core.
                self.registry.remove_child(pending.pid);
                self.start_failed(index, &e);
            }
        }
        self.launch_queued();
        if self.in_flight.is_empty() && self.spawn_queue.is_empty() {
            // A wave of starts is over: what it grew need not stay.
            self.registry.trim();
            if self.in_flight.capacity() > 64 {
                self.in_flight.shrink_to_fit();
            }
            if self.spawn_queue.capacity() > 64 {
                self.spawn_queue.shrink_to_fit();
            }
            if self.pending.capacity() > 64 {
                self.pending.shrink_to(64);
            }
            self.core.trim();
        }
    }
}
