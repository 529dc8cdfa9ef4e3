//! What control requests mean: status, checks, logs and reload answered at
//! once; `start`, `stop` and `restart` given to the core and waited for
//! (`Machine::answer` says when each is satisfied). The connections
//! themselves are `serve`'s, which knows nothing of services.

use std::time::Instant;

use std::time::Duration;

use super::Supervisor;
use super::command::{Answer, Command};
use super::core::UnitId;
use super::serve::WAIT_LIMIT;
use super::serve::{Followed, Stage};
use super::views::Detail;
use crate::control::report::View;
use crate::control::{self, Request, http, report};

impl Supervisor {
    pub(super) fn http_answer(&self, request: &http::Request) -> Vec<u8> {
        let path = request.path.trim_end_matches('/');
        let detail = if matches!(path, "/metrics" | "/status") { Detail::Usage } else { Detail::States };
        let (warden, views) = (self.warden_view(detail), self.views(detail));
        let text = |ok: bool, body: String| {
            http::response(if ok { 200 } else { 503 }, http::TEXT, &body, request.head)
        };
        let one = |name: &str| views.iter().find(|v| v.name == name);
        match path {
            "/livez" | "/healthz" => text(true, report::livez(request.verbose)),
            "/readyz" => {
                let (ok, body) = report::readyz(&warden, &views, request.verbose);
                text(ok, body)
            }
            "/startupz" => text(warden.started, if warden.started { "ok\n" } else { "starting\n" }.into()),
            "/metrics" => http::response(200, http::METRICS, &report::metrics(&warden, &views), request.head),
            "/status" => http::response(200, http::JSON, &report::json_status(&warden, &views), request.head),
            path => {
                let service = path
                    .strip_prefix("/livez/")
                    .or_else(|| path.strip_prefix("/healthz/"))
                    .map(|name| (name, false))
                    .or_else(|| path.strip_prefix("/readyz/").map(|name| (name, true)));
                match service.and_then(|(name, ready)| one(name).map(|v| (v, ready))) {
                    Some((v, ready)) => {
                        let ok = if ready { v.ready && !warden.shutting_down } else { v.live };
                        let mut body = String::new();
                        report::check_line(&mut body, &v.name, ok, &format!("{} ({})", v.state, v.reason));
                        text(ok, body)
                    }
                    None => http::response(
                        404,
                        http::TEXT,
                        "not found: try /livez, /readyz, /startupz, /metrics, /status, /livez/NAME, /readyz/NAME\n",
                        request.head,
                    ),
                }
            }
        }
    }

    pub(super) fn on_request(&mut self, token: u64, request: Request) {
        let answer = match request {
            Request::Status { json, color, wide, names } => match self.pick(&names) {
                Ok(picked) => {
                    let picked: Vec<String> = picked.iter().map(|&i| self.name_of(i)).collect();
                    let views: Vec<View> = self
                        .views(Detail::Usage)
                        .into_iter()
                        .filter(|v| picked.is_empty() || picked.contains(&v.name))
                        .collect();
                    let mut body =
                        if json { report::json_list(&views) } else { report::table(&views, color, wide) };
                    let dropped = crate::output::sink::own_dropped();
                    if !json && dropped > 0 {
                        body.push_str(&report::own_lines_dropped_note(dropped));
                    }
                    format!("{}{body}", control::header(Ok(())))
                }
                Err(why) => control::header(Err(&why)),
            },
            Request::Check { ready, name } => {
                let (warden, views) = (self.warden_view(Detail::States), self.views(Detail::States));
                let result = match &name {
                    // A replicated service's name checks every copy.
                    Some(name) => match self.pick(std::slice::from_ref(name)) {
                        Err(why) => Err(why),
                        Ok(picked) => {
                            let names: Vec<String> = picked.iter().map(|&i| self.name_of(i)).collect();
                            views.iter().filter(|v| names.contains(&v.name)).try_fold(
                                String::new(),
                                |body, v| {
                                    if ready && (warden.shutting_down || !v.ready) {
                                        Err(format!("{} is not ready: {} ({})", v.name, v.state, v.reason))
                                    } else if !ready && !v.live {
                                        Err(format!("{} is not live: {} ({})", v.name, v.state, v.reason))
                                    } else {
                                        Ok(format!("{body}{}: {}\n", v.name, v.state))
                                    }
                                },
                            )
                        }
                    },
                    None if !ready => Ok(report::livez(false)),
                    None => {
                        let (ok, body) = report::readyz(&warden, &views, true);
                        if ok { Ok(body) } else { Err(format!("not ready\n{body}")) }
                    }
                };
                match result {
                    Ok(body) => format!("{}{body}", control::header(Ok(()))),
                    Err(why) => {
                        let (first, rest) = why.split_once('\n').unwrap_or((&why, ""));
                        format!("{}{rest}", control::header(Err(first)))
                    }
                }
            }
            Request::Reload { names } if !names.is_empty() => return self.reload_services(token, &names),
            Request::Signal { name, signal, main_pid } => {
                let mut said = Vec::new();
                let mut failed = None;
                // A replicated service's name signals every copy that runs.
                let names: Vec<String> = match self.pick(std::slice::from_ref(&name)) {
                    Ok(picked) => picked.iter().map(|&i| self.name_of(i)).collect(),
                    Err(why) => {
                        failed = Some(why);
                        Vec::new()
                    }
                };
                for one in &names {
                    match self.signal_service(one, signal, main_pid, true) {
                        Ok(pids) => said.push(pids),
                        Err(why) if names.len() > 1 => said.push(why),
                        Err(why) => failed = Some(why),
                    }
                }
                match failed {
                    Some(why) => control::header(Err(&why)),
                    None => format!("{}{}\n", control::header(Ok(())), said.join("\n")),
                }
            }
            // Answered once the copies are read (`reconfigure`).
            Request::Scale { name, count } => return self.scale(token, &name, count),
            // Answered once the config is read (`reconfigure`).
            Request::Reload { .. } => return self.reload(Some(token)),
            Request::Logs { name: None, lines, follow, since } => {
                let body = format!("{}{}", control::header(Ok(())), self.merged_logs(None, lines, since));
                if follow {
                    return self.follow(token, Followed::All, body.into_bytes());
                }
                body
            }
            Request::Logs { name: Some(name), lines, follow, since } if self.unit_named(&name).is_none() => {
                // A replicated service: its copies' lines, merged and labelled.
                let copies = self.core.units_answering(&name);
                if copies.is_empty() {
                    return self.answer(token, control::header(Err(&self.unknown(&name))).into_bytes());
                }
                let body =
                    format!("{}{}", control::header(Ok(())), self.merged_logs(Some(&name), lines, since));
                if follow {
                    return self.follow(token, Followed::Group(name), body.into_bytes());
                }
                body
            }
            Request::Logs { name: Some(name), lines, follow, since } => {
                let Some(index) = self.unit_named(&name) else {
                    return self.answer(token, control::header(Err(&self.unknown(&name))).into_bytes());
                };
                let Some(unit) = self.slots.get(index) else { return };
                if !unit.service.logs.captured() {
                    let why = format!(
                        "{name}'s output is not captured (logs: {}), so warden keeps none of it",
                        unit.service.logs.name()
                    );
                    return self.answer(token, control::header(Err(&why)).into_bytes());
                }
                let mut body = control::header(Ok(()));
                let from = since_ms(since);
                let tail: Vec<_> = unit.tail.lines().into_iter().filter(|l| l.at_ms >= from).collect();
                for line in tail.iter().skip(tail.len().saturating_sub(lines)) {
                    body.push_str(&line.text);
                    body.push('\n');
                }
                if follow {
                    let unit = unit.unit_id(index);
                    return self.follow(token, Followed::Unit(unit), body.into_bytes());
                }
                body
            }
            Request::Start(t) => return self.command(token, &t.names, Command::Start, t.timeout),
            Request::Restart(t) => return self.command(token, &t.names, Command::Restart, t.timeout),
            Request::Stop(t) => return self.command(token, &t.names, Command::Stop, t.timeout),
        };
        self.answer(token, answer.into_bytes());
    }

    /// The names asked for, checked; empty means all.
    /// `warden signal NAME SIG`: the signal to the service's process group
    /// and every process of its cgroup (or its program alone); the pids it
    /// reached, as a line. `by_hand`: said as sent by hand (a watched file's
    /// change has said why already).
    pub(super) fn signal_service(
        &mut self,
        name: &str,
        signal: i32,
        main_pid: bool,
        by_hand: bool,
    ) -> Result<String, String> {
        let index = self.unit_named(name).ok_or_else(|| self.unknown(name))?;
        let unit = self.core.units.get(index).ok_or_else(|| self.unknown(name))?;
        let Some(pid) = unit.machine.state.pid().filter(|_| !self.is_draining(index)) else {
            return Err(format!(
                "{name} is not running ({}): there is nothing to signal",
                unit.machine.state.name()
            ));
        };
        let signal_name = crate::sys::signals::name(signal);
        let mut reached = vec![pid];
        if main_pid {
            crate::sys::process::send(pid, signal)
                .map_err(|e| format!("{name}: {}", crate::sys::Reason(&e)))?;
        } else {
            let all = crate::cgroups::procfs::snapshot();
            reached = all.iter().filter(|p| p.group == pid).map(|p| p.pid).collect();
            let _ = crate::sys::process::send(-pid, signal);
            if let Some(group) = self.slots.get(index).and_then(|s| s.limits.group.as_ref()) {
                let members = group.processes();
                group.signal(signal);
                reached.extend(members);
            }
            reached.sort_unstable();
            reached.dedup();
        }
        if by_hand {
            self.note(&format!("{name}: sent {signal_name} by hand"));
        }
        let pids: Vec<String> = reached.iter().map(i32::to_string).collect();
        Ok(format!(
            "{name}: sent {signal_name} to pid{} {}",
            if pids.len() == 1 { "" } else { "s" },
            pids.join(" ")
        ))
    }

    /// `warden reload NAME...`: each named service with a `reload_signal`
    /// gets it; the others are restarted (answered when they are back).
    fn reload_services(&mut self, token: u64, names: &[String]) {
        let names: Vec<String> = match self.pick(names) {
            Ok(picked) => picked.iter().map(|&i| self.name_of(i)).collect(),
            Err(why) => return self.answer(token, control::header(Err(&why)).into_bytes()),
        };
        let mut restart = Vec::new();
        let mut said = Vec::new();
        for name in &names {
            let signal =
                self.unit_named(name).and_then(|i| self.slots.get(i)).and_then(|s| s.service.reload_signal);
            match signal {
                Some(signal) => match self.signal_service(name, signal, false, true) {
                    Ok(line) => said.push(line),
                    Err(why) => return self.answer(token, control::header(Err(&why)).into_bytes()),
                },
                None => restart.push(name.clone()),
            }
        }
        if restart.is_empty() {
            let body = format!("{}{}\n", control::header(Ok(())), said.join("\n"));
            return self.answer(token, body.into_bytes());
        }
        // The signalled ones said so in the event lines; the answer waits for the restarts.
        self.command(token, &restart, Command::Restart, None);
    }

    /// Every service's kept lines, merged in the order they were read
    /// (services in config order for lines of one millisecond), labelled;
    /// the last `lines` of those read within `since`.
    fn merged_logs(&self, group: Option<&str>, lines: usize, since: Option<Duration>) -> String {
        let from = since_ms(since);
        let mut all: Vec<(u64, usize, String)> = Vec::new();
        for (order, (unit, slot)) in self.core.units.iter().zip(&self.slots).enumerate() {
            if unit.retired
                || !slot.service.logs.captured()
                || group.is_some_and(|g| !slot.service.answers_to(g))
            {
                continue;
            }
            for line in slot.tail.lines().into_iter().filter(|l| l.at_ms >= from) {
                all.push((line.at_ms, order, format!("{} | {}\n", slot.service.name, line.text)));
            }
        }
        all.sort_by_key(|(at, order, _)| (*at, *order));
        all.iter().skip(all.len().saturating_sub(lines)).map(|(_, _, text)| text.as_str()).collect()
    }

    /// The units the names asked for mean (a replicated service's name
    /// means every copy), in the order asked, each once; empty means all.
    fn pick(&self, names: &[String]) -> Result<Vec<usize>, String> {
        let mut picked = Vec::new();
        for name in names {
            let units = self.core.units_answering(name);
            if units.is_empty() {
                return Err(self.unknown(name));
            }
            for index in units {
                if !picked.contains(&index) {
                    picked.push(index);
                }
            }
        }
        Ok(picked)
    }

    fn name_of(&self, index: usize) -> String {
        self.core.units.get(index).map(|u| u.service.name.clone()).unwrap_or_default()
    }

    fn unit_named(&self, name: &str) -> Option<usize> {
        self.core.unit_named(name)
    }

    fn unknown(&self, name: &str) -> String {
        let known: Vec<&str> = self
            .core
            .units
            .iter()
            .filter(|u| !u.retired && !u.is_main)
            .map(|u| u.service.name.as_str())
            .collect();
        format!("no service named \"{name}\" (services: {})", known.join(", "))
    }

    /// start, stop, restart: given to each service's machine, then waited for.
    fn command(&mut self, token: u64, names: &[String], command: Command, timeout: Option<Duration>) {
        if let Some(refusal) = self.core.refuses_commands() {
            return self.answer(token, control::header(Err(&refusal.to_string())).into_bytes());
        }
        let indexes = match self.pick(names) {
            Ok(indexes) => indexes,
            Err(why) => return self.answer(token, control::header(Err(&why)).into_bytes()),
        };
        if indexes.iter().any(|&index| self.core.units.get(index).is_some_and(|u| u.is_main)) {
            let why = "the main program is controlled with signals to warden, not by name";
            return self.answer(token, control::header(Err(why)).into_bytes());
        }
        // What the loop still has for the core goes first.
        self.drain_pending();
        let mut refused = Vec::new();
        let mut waits = Vec::new();
        for index in indexes {
            let Some(unit) = self.core.units.get(index) else { continue };
            let (id, name) = (unit.id, unit.service.name.clone());
            match self.core.command(Instant::now(), index, command) {
                Ok(since) => waits.push((UnitId { index, serial: id }, name, since)),
                Err(refusal) => refused.push(format!("{name}: {refusal}")),
            }
            let actions = self.core.take_actions();
            self.perform(actions);
        }
        self.drain_pending();
        if !refused.is_empty() && waits.is_empty() {
            let body = refused.join("\n") + "\n";
            return self
                .answer(token, format!("{}{body}", control::header(Err("nothing was done"))).into_bytes());
        }
        let refused = refused.iter().map(|r| format!("{r}\n")).collect::<String>();
        let limit = timeout.unwrap_or(WAIT_LIMIT);
        self.wait(token, Stage::Waiting { command, units: waits, limit }, refused.into_bytes());
        self.settle_waits();
    }

    /// Answers the clients whose services have carried out their command.
    pub(super) fn settle_waits(&mut self) {
        for token in self.server.waiting() {
            let Some(Stage::Waiting { command, units, .. }) = self.server.stage(token) else { continue };
            let answers: Vec<Answer> =
                units.iter().map(|(unit, _, since)| self.answer_of(*unit, *command, *since)).collect();
            if answers.contains(&Answer::Pending) {
                continue;
            }
            let failed = answers.iter().any(|a| matches!(a, Answer::Failed(_)));
            let mut body = String::new();
            for (answer, (_, name, _)) in answers.into_iter().zip(units) {
                if let Answer::Done(line) | Answer::Failed(line) = answer {
                    body.push_str(&format!("{name}: {line}\n"));
                }
            }
            self.finish_wait(token, failed, &body);
        }
    }

    /// Where a unit stands against a command (its machine says), unless a
    /// reload removed it.
    fn answer_of(&self, unit: UnitId, command: Command, since: Instant) -> Answer {
        match self.core.unit(unit).filter(|u| !u.retired) {
            Some(unit) => unit.machine.answer(&unit.service, command, since, &unit.reason_text()),
            None => Answer::Failed("removed by a reload".into()),
        }
    }
}

/// The earliest time (milliseconds since the epoch) a line read within
/// `since` can have; 0 without a bound.
fn since_ms(since: Option<Duration>) -> u64 {
    let Some(since) = since else { return 0 };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    now.saturating_sub(since).as_millis() as u64
}
