//! `warden export compose`: a Compose file with one service per warden
//! service, each in a container of its own with warden as its init
//! (`entrypoint: [/warden, --]`), so that reaping and signal forwarding stay
//! right; health checks run `warden check`, so any image with warden in it
//! can have them.

use super::yaml::{Map, Yaml, document};
use super::*;
use crate::config::Condition;

/// The Compose file for `config`.
pub fn compose(config: &Config, options: &Options) -> Result<Export, String> {
    let image = image(options, "compose")?;
    let mut notes = Notes::default();
    let header = global_notes(config, &mut notes);
    let services = enabled(config, &mut notes);
    let mut out = Map::new();
    for comment in header {
        out.comment(&comment);
    }
    let mut entries = Map::new();
    for service in &services {
        if matches!(service.kind, Kind::Periodic(_)) {
            entries.comment(&notes.note(
                &service.name,
                "a periodic job: Compose has no scheduler; run it from the host's cron or a Kubernetes CronJob",
            ));
            continue;
        }
        let mut entry = self::service(service, &services, &image, &options.warden, config, &mut notes);
        if let Yaml::Map(fields) = &mut entry
            && !options.share.is_empty()
        {
            let volumes = options
                .share
                .iter()
                .enumerate()
                .map(|(i, path)| format!("{}:{path}", shared_volume(i)))
                .collect();
            fields.push(super::yaml::Entry::Field("volumes".into(), Yaml::Flow(volumes)));
        }
        entries.put(&service.name, entry);
    }
    if entries.0.iter().all(|e| matches!(e, super::yaml::Entry::Comment(_))) {
        return Err(
            "export compose: no service to export (periodic jobs and disabled services are not)".into()
        );
    }
    out.put("services", entries.done());
    if !options.share.is_empty() {
        let mut volumes = Map::new();
        for index in 0..options.share.len() {
            volumes.put(&shared_volume(index), Map::new().done());
        }
        out.put("volumes", volumes.done());
    }
    let text = format!(
        "# Made by `warden export compose` from {}.\n\
         # Each service runs in a container of its own with warden as its init: a program that reached\n\
         # another service at 127.0.0.1 reaches it by that service's name here, and containers share no\n\
         # files but the --share directories. `# warden:` comments say what has no counterpart.\n\
         # Export again after changing the config.\n{}",
        options.source,
        document(&out.done())
    );
    Ok(Export { text, notes: notes.0 })
}

fn service(
    service: &Service,
    all: &[&Service],
    image: &str,
    warden: &str,
    config: &Config,
    notes: &mut Notes,
) -> Yaml {
    let mut map = Map::new();
    let place = &service.name;
    for comment in unsupported(service, notes, place) {
        map.comment(&comment);
    }
    map.put("image", Yaml::str(image));
    if !warden.is_empty() {
        map.put("entrypoint", Yaml::Flow(vec![warden.to_string(), "--".to_string()]));
    }
    let command: Vec<String> = service.command.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    if let Some(what) = names_loopback(&command, &service.env) {
        map.comment(&notes.note(
            place,
            format!(
                "{what}: in a container of its own, loopback is that container alone: a server listening \
                 there cannot be reached from the others (listen on 0.0.0.0), and another service is \
                 reached by its name"
            ),
        ));
    }
    map.put("command", Yaml::Flow(command));
    // warden in the container gives the program its stop_timeout, then
    // kills it; the engine waits a second more before its own SIGKILL.
    let mut environment = Map::new();
    for (key, value) in &service.env {
        environment.put(key, Yaml::Str(value.clone()));
    }
    environment.put("WARDEN_GRACE", Yaml::str(crate::duration::format(service.stop_timeout)));
    if !warden.is_empty() {
        // An image made for warden's services mode names its config here:
        // each container runs its one program, not the whole file again.
        environment.put("WARDEN_CONFIG", Yaml::str(""));
    }
    map.put("environment", environment.done());
    if let Some(workdir) = &service.workdir {
        map.put("working_dir", Yaml::str(workdir.display().to_string()));
    }
    // As written: Docker looks names up in the image.
    if let Some(user) = &service.user_as_written {
        map.put("user", Yaml::str(user.clone()));
    }
    let mut depends = Map::new();
    for dependency in &service.depends_on {
        if dependency.any {
            map.comment(&notes.note(
                place,
                format!("depends_on {} with instances: any: Compose waits for every copy", dependency.name),
            ));
        }
        for target in all.iter().filter(|t| t.answers_to(&dependency.name)) {
            let condition = match dependency.condition {
                Condition::Started => "service_started",
                Condition::Completed => "service_completed_successfully",
                Condition::Ready if healthcheck_probe(target).is_some() => "service_healthy",
                Condition::Ready => {
                    if target.has_readiness_check() {
                        map.comment(&notes.note(
                            place,
                            format!(
                                "depends_on {}: ready: it has no health check here, so it waits until started",
                                target.name
                            ),
                        ));
                    }
                    "service_started"
                }
            };
            depends.put(&target.name, Map::new().field("condition", Yaml::str(condition)).done());
        }
    }
    if !depends.is_empty() {
        map.put("depends_on", depends.done());
    }
    if let Some(probe) = healthcheck_probe(service) {
        map.put("healthcheck", healthcheck(probe, warden));
    }
    map.put("restart", Yaml::str(restart(service)));
    if service.restart != RestartPolicy::OnFailure {
        // on-failure:N carries max_restarts; the other policies cannot.
        for comment in restart_notes(service, notes, place) {
            map.comment(&comment);
        }
    }
    if service.stop_signal != libc::SIGTERM {
        map.put("stop_signal", Yaml::str(crate::sys::signals::name(service.stop_signal)));
    }
    let grace = service.stop_timeout.min(config.grace) + std::time::Duration::from_secs(1);
    map.put("stop_grace_period", Yaml::str(crate::duration::format(grace)));
    let mut limits = Map::new();
    if let Some(memory) = service.resources.memory {
        limits.put("memory", Yaml::str(crate::cgroups::size_text(memory)));
    }
    if let Some(cpus) = service.resources.cpus {
        limits.put("cpus", Yaml::str(crate::cgroups::cpus_text(cpus)));
    }
    if !limits.is_empty() {
        let resources = Map::new().field("limits", limits.done()).done();
        map.put("deploy", Map::new().field("resources", resources).done());
    }
    if let Some(pids) = service.resources.pids {
        map.put("pids_limit", Yaml::Int(i64::try_from(pids).unwrap_or(i64::MAX)));
    }
    if !service.limits.is_empty() {
        let mut ulimits = Map::new();
        let value = |v: u64| if v == u64::MAX { -1 } else { i64::try_from(v).unwrap_or(-1) };
        for limit in &service.limits {
            let pair = Map::new()
                .field("soft", Yaml::Int(value(limit.soft)))
                .field("hard", Yaml::Int(value(limit.hard)));
            ulimits.put(limit.name, pair.done());
        }
        map.put("ulimits", ulimits.done());
    }
    if service.no_new_privs {
        map.put("security_opt", Yaml::Flow(vec!["no-new-privileges:true".into()]));
    }
    map.done()
}

/// Where a service's command or environment names a loopback address
/// (`127.0.0.1`, `localhost`, `::1`), said as `its command names 127.0.0.1`
/// or `env REDIS_URL names localhost`. One container held every service, so
/// a server listening on loopback served them all; here it serves nobody
/// else. Probes are left out: they run in the service's own container.
fn names_loopback(command: &[String], env: &[(String, String)]) -> Option<String> {
    let loopback = |text: &str| {
        ["127.0.0.1", "localhost", "[::1]"].into_iter().find(|address| text.contains(address)).or_else(|| {
            text.split(|c: char| !(c.is_ascii_hexdigit() || c == ':'))
                .any(|word| word == "::1")
                .then_some("::1")
        })
    };
    if let Some(address) = command.iter().find_map(|word| loopback(word)) {
        return Some(format!("its command names {address}"));
    }
    env.iter().find_map(|(key, value)| loopback(value).map(|address| format!("env {key} names {address}")))
}

/// The probe a Compose health check runs: readiness, else liveness.
fn healthcheck_probe(service: &Service) -> Option<&Probe> {
    [service.readiness.as_deref(), service.liveness.as_deref()]
        .into_iter()
        .flatten()
        .find(|p| !matches!(p.check, Check::Log(_)))
}

fn healthcheck(probe: &Probe, warden: &str) -> Yaml {
    let format = crate::duration::format;
    let mut test = vec!["CMD".to_string()];
    match &probe.check {
        Check::Exec(argv) => test.extend(argv.iter().map(|a| a.to_string_lossy().into_owned())),
        Check::Http { host, path, .. } => test.extend([
            warden.to_string(),
            "check".into(),
            "--http".into(),
            format!("http://{host}{path}"),
            "--timeout".into(),
            format(probe.timeout),
        ]),
        Check::Tcp(address) => test.extend([
            warden.to_string(),
            "check".into(),
            "--tcp".into(),
            address.to_string(),
            "--timeout".into(),
            format(probe.timeout),
        ]),
        Check::File(path) => {
            test.extend([warden.to_string(), "check".into(), "--file".into(), path.display().to_string()])
        }
        Check::Log(_) => {}
    }
    let mut map = Map::new()
        .field("test", Yaml::Flow(test))
        .field("interval", Yaml::str(format(probe.period)))
        .field("timeout", Yaml::str(format(probe.timeout)))
        .field("retries", Yaml::Int(i64::from(probe.failure_threshold)));
    if !probe.initial_delay.is_zero() {
        map.put("start_period", Yaml::str(format(probe.initial_delay)));
    }
    map.done()
}

/// Compose's restart policy: a service stopped by hand stays stopped, as
/// under warden (`unless-stopped` rather than `always`).
fn restart(service: &Service) -> String {
    match (service.restart, service.max_restarts) {
        (RestartPolicy::Never, _) => "no".into(),
        (RestartPolicy::OnFailure, Some(most)) => format!("on-failure:{most}"),
        (RestartPolicy::OnFailure, None) => "on-failure".into(),
        (RestartPolicy::Always, _) if service.kind == Kind::Oneshot => "on-failure".into(),
        (RestartPolicy::Always, _) => "unless-stopped".into(),
    }
}
