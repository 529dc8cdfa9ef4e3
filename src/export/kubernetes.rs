//! `warden export kubernetes`: one pod (or a Deployment of it) for the
//! services, a CronJob per periodic job. For Kubernetes 1.29 and later:
//! oneshots are init containers in dependency order, long-running services
//! that something waits for are native sidecars (init containers with
//! `restartPolicy: Always`; the next one starts once a sidecar has started,
//! so a `ready` dependency gets its readiness probe as a startup probe), and
//! the rest are the pod's containers.

use std::time::Duration;

use super::yaml::{Map, Yaml, document};
use super::*;
use crate::config::{Condition, Schedule};

/// The manifests for `config` (documents separated by `---`).
pub fn kubernetes(config: &Config, options: &Options) -> Result<Export, String> {
    let image = image(options, "kubernetes")?;
    let mut notes = Notes::default();
    let stem = std::path::Path::new(&options.source)
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("warden");
    let wanted = options.name.clone().unwrap_or_else(|| stem.to_string());
    let pod_name = label(&wanted, &mut notes, "the pod's name");
    let header = global_notes(config, &mut notes);
    let services = enabled(config, &mut notes);
    let (jobs, running): (Vec<&Service>, Vec<&Service>) =
        services.iter().partition(|s| matches!(s.kind, Kind::Periodic(_)));
    if let Main::Service(name) = &options.main
        && !running.iter().any(|s| s.name == *name && s.kind == Kind::Longrun)
    {
        return Err(format!("export kubernetes: --main {name}: no long-running service of that name"));
    }
    let main_waits = matches!(options.main, Main::Command(_));
    // Who waits for a service, and for what.
    let waited_for = |service: &Service| -> Option<Condition> {
        if main_waits && !service.optional {
            return Some(if service.kind == Kind::Oneshot { Condition::Completed } else { Condition::Ready });
        }
        running
            .iter()
            .flat_map(|s| s.depends_on.iter())
            .filter(|d| service.answers_to(&d.name))
            .map(|d| d.condition)
            .max_by_key(|c| matches!(c, Condition::Ready))
    };
    let mut init = Vec::new();
    let mut containers = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for index in in_start_order(&running) {
        let Some(service) = running.get(index).copied() else { continue };
        let is_main = matches!(&options.main, Main::Service(n) if *n == service.name);
        let waited = if is_main { None } else { waited_for(service) };
        let mut container =
            container(service, &image, &options.warden, &options.share, &mut notes, &mut names);
        for dependency in service.depends_on.iter().filter(|d| d.any) {
            container.comment(&notes.note(
                &service.name,
                format!(
                    "depends_on {} with instances: any: the pod starts it after every copy",
                    dependency.name
                ),
            ));
        }
        match (service.kind, waited) {
            (Kind::Oneshot, _) => {
                if service.restart == RestartPolicy::Always {
                    container.comment(&notes.note(
                        &service.name,
                        "restart: always on a oneshot: an init container runs until it succeeds",
                    ));
                }
                init.push(container.done());
            }
            (_, Some(_)) if options.no_sidecars => {
                container.comment(&notes.note(
                    &service.name,
                    "others wait for it under warden; without sidecars it starts alongside them",
                ));
                containers.push((Some(service), container));
            }
            (_, Some(condition)) => {
                // A sidecar: the next init container starts once it has started.
                if condition == Condition::Ready
                    && service.startup.is_none()
                    && let Some(probe) =
                        service.readiness.as_deref().filter(|p| !matches!(p.check, Check::Log(_)))
                {
                    // Readiness never kills: the startup probe gets five minutes.
                    let (period, _) = seconds(probe.period, 1);
                    let patient = Probe {
                        failure_threshold: u32::try_from(300 / period.max(1))
                            .unwrap_or(1)
                            .max(probe.failure_threshold),
                        ..probe.clone()
                    };
                    container.comment("warden: started once ready: its readiness probe as its startup probe (for 5 minutes)");
                    container.put(
                        "startupProbe",
                        self::probe(&patient.check, &patient, true, &mut notes, &service.name),
                    );
                }
                if service.restart == RestartPolicy::Never {
                    container.comment(&notes.note(
                        &service.name,
                        format!("restart: {}: a sidecar is always restarted", restart_name(service.restart)),
                    ));
                }
                container.put("restartPolicy", Yaml::str("Always"));
                init.push(container.done());
            }
            _ => containers.push((Some(service), container)),
        }
    }
    if let Main::Command(command) = &options.main {
        let mut main = Map::new();
        main.put("name", Yaml::str(unique("main", &mut names)));
        main.put("image", Yaml::str(&image));
        put_command(&mut main, &options.warden, command.clone());
        if !options.warden.is_empty() {
            let unset = Map::new().field("name", Yaml::str("WARDEN_CONFIG")).field("value", Yaml::str(""));
            main.put("env", Yaml::List(vec![unset.done()]));
        }
        if let Some(mounts) = volume_mounts(&options.share) {
            main.put("volumeMounts", mounts);
        }
        containers.push((None, main));
    }
    if containers.is_empty() {
        return Err(
            "export kubernetes: nothing is left for the pod's containers (everything is waited for, or a oneshot): \
             name the main program with -- CMD or --main NAME"
                .into(),
        );
    }
    let policy = pod_restart_policy(&containers, options.shape == Shape::Deployment);
    let mut pod = Map::new();
    for comment in header {
        pod.comment(&comment);
    }
    let (grace, _) = seconds(config.grace, 0);
    pod.put("terminationGracePeriodSeconds", Yaml::Int(grace));
    if !config.drain.is_zero() {
        pod.comment(&notes.note(
            "",
            format!(
                "drain: {}: add a preStop sleep to the containers that serve traffic",
                crate::duration::format(config.drain)
            ),
        ));
    }
    pod.put("restartPolicy", Yaml::str(policy));
    let mut regular = Vec::new();
    for (service, mut container) in containers {
        if let Some(service) = service {
            let wanted = match service.restart {
                RestartPolicy::Always => "Always",
                RestartPolicy::OnFailure => "OnFailure",
                RestartPolicy::Never => "Never",
            };
            if wanted != policy && service.kind == Kind::Longrun {
                container.comment(&notes.note(
                    &service.name,
                    format!(
                        "restart: {}: the pod's restartPolicy is {policy}",
                        restart_name(service.restart)
                    ),
                ));
            }
        }
        regular.push(container.done());
    }
    if !init.is_empty() {
        pod.put("initContainers", Yaml::List(init));
    }
    pod.put("containers", Yaml::List(regular));
    if !options.share.is_empty() {
        let volumes = (0..options.share.len())
            .map(|i| {
                Map::new()
                    .field("name", Yaml::str(shared_volume(i)))
                    .field("emptyDir", Map::new().done())
                    .done()
            })
            .collect();
        pod.put("volumes", Yaml::List(volumes));
    }
    let labels = Map::new().field("app.kubernetes.io/name", Yaml::str(&pod_name)).done();
    let metadata = Map::new().field("name", Yaml::str(&pod_name)).field("labels", labels.clone()).done();
    let mut documents = Vec::new();
    documents.push(match options.shape {
        Shape::Pod => Map::new()
            .field("apiVersion", Yaml::str("v1"))
            .field("kind", Yaml::str("Pod"))
            .field("metadata", metadata)
            .field("spec", pod.done())
            .done(),
        Shape::Deployment => Map::new()
            .field("apiVersion", Yaml::str("apps/v1"))
            .field("kind", Yaml::str("Deployment"))
            .field("metadata", metadata)
            .field(
                "spec",
                Map::new()
                    .field("replicas", Yaml::Int(1))
                    .field("selector", Map::new().field("matchLabels", labels.clone()).done())
                    .field(
                        "template",
                        Map::new()
                            .field("metadata", Map::new().field("labels", labels).done())
                            .field("spec", pod.done())
                            .done(),
                    )
                    .done(),
            )
            .done(),
    });
    for job in jobs {
        documents.push(cron_job(
            job,
            &pod_name,
            &image,
            &options.warden,
            &options.share,
            &mut notes,
            &mut names,
        )?);
    }
    let mut text = format!(
        "# Made by `warden export kubernetes` from {} for Kubernetes 1.29 and later.\n\
         # Containers share no files but the --share directories; `# warden:` comments say what has no\n\
         # counterpart. Export again after changing the config.\n",
        options.source
    );
    for (n, doc) in documents.iter().enumerate() {
        if n > 0 {
            text.push_str("---\n");
        }
        text.push_str(&document(doc));
    }
    Ok(Export { text, notes: notes.0 })
}

/// The pod's restartPolicy: the one its containers agree on, else Always
/// (which a Deployment requires).
fn pod_restart_policy(containers: &[(Option<&Service>, Map)], deployment: bool) -> &'static str {
    if deployment {
        return "Always";
    }
    // The main program (None) follows the services.
    let policies: Vec<RestartPolicy> = containers.iter().filter_map(|(s, _)| s.map(|s| s.restart)).collect();
    match policies.first() {
        Some(first) if policies.iter().all(|p| p == first) => match first {
            RestartPolicy::Always => "Always",
            RestartPolicy::OnFailure => "OnFailure",
            RestartPolicy::Never => "Never",
        },
        // Only the main program: it ends the run, as under warden.
        None => "Never",
        _ => "Always",
    }
}

/// A valid Kubernetes name for `name`, noting a change.
fn label(name: &str, notes: &mut Notes, what: &str) -> String {
    let (label, changed) = dns_label(name);
    if changed {
        notes.note(
            name,
            format!("{what} is \"{label}\" (Kubernetes names are lowercase letters, digits and '-')"),
        );
    }
    label
}

/// `name`, or with a number added when a container already has it.
fn unique(name: &str, names: &mut Vec<String>) -> String {
    let mut candidate = name.to_string();
    let mut n = 2;
    // Bounded by the number of names taken.
    while names.contains(&candidate) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    names.push(candidate.clone());
    candidate
}

/// One container of the pod (comments first, for the notes).
fn container(
    service: &Service,
    image: &str,
    warden: &str,
    share: &[String],
    notes: &mut Notes,
    names: &mut Vec<String>,
) -> Map {
    let mut map = Map::new();
    let name = unique(&label(&service.name, notes, "the container's name"), names);
    let mut comments = unsupported(service, notes, &service.name);
    comments.extend(restart_notes(service, notes, &service.name));
    if service.stop_signal != libc::SIGTERM {
        comments.push(notes.note(
            &service.name,
            format!(
                "stop_signal: {}: Kubernetes 1.29 stops with SIGTERM; set STOPSIGNAL in the image \
                 (lifecycle.stopSignal needs 1.33 and the ContainerStopSignals gate)",
                crate::sys::signals::name(service.stop_signal)
            ),
        ));
    }
    if service.instance.is_some() {
        comments.push("warden: a copy of a replicated service: one container each".to_string());
    }
    for comment in comments {
        map.comment(&comment);
    }
    map.put("name", Yaml::str(name));
    map.put("image", Yaml::str(image));
    let command: Vec<String> = service.command.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    put_command(&mut map, warden, command);
    if let Some(workdir) = &service.workdir {
        map.put("workingDir", Yaml::str(workdir.display().to_string()));
    }
    let mut env: Vec<Yaml> = service
        .env
        .iter()
        .map(|(k, v)| Map::new().field("name", Yaml::str(k)).field("value", Yaml::Str(v.clone())).done())
        .collect();
    if !warden.is_empty() {
        // An image made for warden's services mode names its config in
        // WARDEN_CONFIG: each container runs its one program, not the file.
        env.push(Map::new().field("name", Yaml::str("WARDEN_CONFIG")).field("value", Yaml::str("")).done());
    }
    if !env.is_empty() {
        map.put("env", Yaml::List(env));
    }
    let mut security = Map::new();
    if let Some(user) = &service.user_as_written {
        // Kubernetes takes numbers only; a name is the image's to resolve,
        // which this machine's /etc/passwd cannot stand in for.
        let (uid, gid) = user.split_once(':').map_or((user.as_str(), None), |(u, g)| (u, Some(g)));
        match uid.parse::<u32>() {
            Ok(uid) => security.put("runAsUser", Yaml::Int(i64::from(uid))),
            Err(_) => map.comment(&notes.note(
                &service.name,
                format!(
                    "user: {uid}: runAsUser takes a number, so the container runs as the image's USER; \
                     write the uid (user: \"UID:GID\") to set it"
                ),
            )),
        }
        match gid.map(str::parse::<u32>) {
            Some(Ok(gid)) => security.put("runAsGroup", Yaml::Int(i64::from(gid))),
            Some(Err(_)) => map.comment(&notes.note(
                &service.name,
                format!(
                    "group: {}: runAsGroup takes a number; write the gid to set it",
                    gid.unwrap_or_default()
                ),
            )),
            None => {}
        }
    }
    if service.no_new_privs {
        security.put("allowPrivilegeEscalation", Yaml::Bool(false));
    }
    if !security.is_empty() {
        map.put("securityContext", security.done());
    }
    if let Some(resources) = resources(service, notes) {
        map.put("resources", resources);
    }
    if let Some(mounts) = volume_mounts(share) {
        map.put("volumeMounts", mounts);
    }
    if service.kind == Kind::Longrun {
        for (key, probe) in [
            ("startupProbe", service.startup.as_deref()),
            ("livenessProbe", service.liveness.as_deref()),
            ("readinessProbe", service.readiness.as_deref()),
        ] {
            if let Some(probe) = probe.filter(|p| !matches!(p.check, Check::Log(_))) {
                map.put(key, self::probe(&probe.check, probe, key != "readinessProbe", notes, &service.name));
            }
        }
    } else if service.startup.is_some() || service.liveness.is_some() {
        map.comment(
            &notes.note(&service.name, "probes of a run-once container: Kubernetes has none; dropped"),
        );
    }
    map
}

/// The program, run under warden (`command: [/warden, --]`, the program
/// in `args`): as a container's PID 1 a program that sets no handler
/// ignores SIGTERM and reaps nothing. An empty `warden` runs it as it is.
fn put_command(map: &mut Map, warden: &str, command: Vec<String>) {
    if warden.is_empty() {
        map.put("command", Yaml::Flow(command));
    } else {
        map.put("command", Yaml::Flow(vec![warden.to_string(), "--".to_string()]));
        map.put("args", Yaml::Flow(command));
    }
}

/// Every shared directory, mounted.
fn volume_mounts(share: &[String]) -> Option<Yaml> {
    let mounts: Vec<Yaml> = share
        .iter()
        .enumerate()
        .map(|(i, path)| {
            Map::new()
                .field("name", Yaml::str(shared_volume(i)))
                .field("mountPath", Yaml::str(path.as_str()))
                .done()
        })
        .collect();
    (!mounts.is_empty()).then_some(Yaml::List(mounts))
}

/// `limits:` as `resources` (requests equal to the limits); the caps
/// Kubernetes has no field for are noted.
fn resources(service: &Service, notes: &mut Notes) -> Option<Yaml> {
    let mut limits = Map::new();
    if let Some(memory) = service.resources.memory {
        limits.put("memory", Yaml::str(memory.to_string()));
    }
    if let Some(cpus) = service.resources.cpus {
        limits.put("cpu", Yaml::str(format!("{cpus}m")));
    }
    if let Some(pids) = service.resources.pids {
        notes.note(
            &service.name,
            format!("limits.pids: {pids}: a pod's process limit is the kubelet's setting"),
        );
    }
    for limit in &service.limits {
        notes.note(
            &service.name,
            format!("limits.{}: rlimits have no field: set them in the image", limit.name),
        );
    }
    if limits.is_empty() {
        return None;
    }
    let limits = limits.done();
    Some(Map::new().field("limits", limits.clone()).field("requests", limits).done())
}

/// A probe with Kubernetes' fields; `once` (startup and liveness) keeps
/// successThreshold at 1, which is all Kubernetes allows there.
fn probe(check: &Check, probe: &Probe, once: bool, notes: &mut Notes, place: &str) -> Yaml {
    let mut map = Map::new();
    match check {
        Check::Exec(argv) => {
            let command = argv.iter().map(|a| a.to_string_lossy().into_owned()).collect();
            map.put("exec", Map::new().field("command", Yaml::Flow(command)).done());
        }
        Check::Http { address, path, .. } => {
            let mut get = Map::new()
                .field("path", Yaml::str(path.as_str()))
                .field("port", Yaml::Int(i64::from(address.port())));
            if !address.ip().is_loopback() {
                get.put("host", Yaml::str(address.ip().to_string()));
            }
            map.put("httpGet", get.done());
        }
        Check::Tcp(address) => {
            let mut tcp = Map::new().field("port", Yaml::Int(i64::from(address.port())));
            if !address.ip().is_loopback() {
                tcp.put("host", Yaml::str(address.ip().to_string()));
            }
            map.put("tcpSocket", tcp.done());
        }
        Check::File(path) => {
            let command = vec!["test".to_string(), "-e".to_string(), path.display().to_string()];
            map.put("exec", Map::new().field("command", Yaml::Flow(command)).done());
        }
        Check::Log(_) => {}
    }
    let mut inexact = Vec::new();
    for (key, value, low) in [
        ("initialDelaySeconds", probe.initial_delay, 0),
        ("periodSeconds", probe.period, 1),
        ("timeoutSeconds", probe.timeout, 1),
    ] {
        let (whole, exact) = seconds(value, low);
        if !exact {
            inexact.push(format!("{key} {whole} for {}", crate::duration::format(value)));
        }
        map.put(key, Yaml::Int(whole));
    }
    if !inexact.is_empty() {
        map.comment(&notes.note(place, format!("probe times in whole seconds: {}", inexact.join(", "))));
    }
    let success = if once { 1 } else { probe.success_threshold };
    map.put("successThreshold", Yaml::Int(i64::from(success)));
    map.put("failureThreshold", Yaml::Int(i64::from(probe.failure_threshold)));
    map.done()
}

/// A periodic job as a CronJob of its own.
fn cron_job(
    job: &Service,
    pod_name: &str,
    image: &str,
    warden: &str,
    share: &[String],
    notes: &mut Notes,
    names: &mut Vec<String>,
) -> Result<Yaml, String> {
    let Kind::Periodic(schedule) = &job.kind else { return Err(format!("{} is not periodic", job.name)) };
    let mut spec = Map::new();
    let line = match schedule {
        Schedule::Cron(cron) => cron.line(),
        Schedule::Every(every) => {
            let (line, exact) = cron_line(*every);
            if !exact {
                let every = crate::duration::format(*every);
                spec.comment(&notes.note(
                    &job.name,
                    format!("schedule: every {every} is \"{line}\" as a cron line (not the same)"),
                ));
            }
            line
        }
    };
    spec.put("schedule", Yaml::str(&line));
    // warden's cron lines are in UTC.
    spec.put("timeZone", Yaml::str("Etc/UTC"));
    spec.put("concurrencyPolicy", Yaml::str("Forbid"));
    let policy = if job.restart == RestartPolicy::OnFailure { "OnFailure" } else { "Never" };
    if !share.is_empty() {
        spec.comment(
            &notes.note(
                &job.name,
                "a CronJob's pod is a pod of its own: it does not see the shared directories",
            ),
        );
    }
    let container = container(job, image, warden, &[], notes, names);
    let pod = Map::new()
        .field("restartPolicy", Yaml::str(policy))
        .field("containers", Yaml::List(vec![container.done()]))
        .done();
    let template = Map::new().field("spec", pod).done();
    spec.put("jobTemplate", Map::new().field("spec", Map::new().field("template", template).done()).done());
    let (name, _) = dns_label(&format!("{pod_name}-{}", job.name));
    Ok(Map::new()
        .field("apiVersion", Yaml::str("batch/v1"))
        .field("kind", Yaml::str("CronJob"))
        .field("metadata", Map::new().field("name", Yaml::str(name)).done())
        .field("spec", spec.done())
        .done())
}

/// The cron line nearest to "every `every`", and whether it is the same.
pub(super) fn cron_line(every: Duration) -> (String, bool) {
    let minutes = every.as_secs() / 60;
    let exact_minutes = every.as_secs().is_multiple_of(60) && every.subsec_nanos() == 0;
    let nearest =
        |value: u64, choices: &[u64]| choices.iter().copied().min_by_key(|c| c.abs_diff(value)).unwrap_or(1);
    if minutes < 60 {
        let m = nearest(minutes.max(1), &[1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30]);
        let line = if m == 1 { "* * * * *".to_string() } else { format!("*/{m} * * * *") };
        return (line, exact_minutes && m == minutes);
    }
    let hours = (minutes + 30) / 60;
    if hours < 24 {
        let h = nearest(hours, &[1, 2, 3, 4, 6, 8, 12]);
        let line = if h == 1 { "0 * * * *".to_string() } else { format!("0 */{h} * * *") };
        return (line, exact_minutes && minutes == h * 60);
    }
    let days = (hours + 12) / 24;
    if days == 1 {
        return ("0 0 * * *".into(), exact_minutes && minutes == 24 * 60);
    }
    if days == 7 {
        return ("0 0 * * 0".into(), exact_minutes && minutes == 7 * 24 * 60);
    }
    // Every few days restarts each month: never exactly the same.
    (format!("0 0 */{} * *", days.min(28)), false)
}
