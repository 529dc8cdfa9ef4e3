//! `warden export kubernetes|compose`: the services of a config as
//! Kubernetes manifests or a Compose file, for the day they outgrow one
//! container. Pure: a config and the options in, the text and the notes out
//! (the caller prints the text to stdout and each note to stderr).
//!
//! Nothing is dropped silently: what has no counterpart on the other side
//! (sd_notify, on_crash, cooldown, the backoff's shape, max_restarts,
//! critical, log files...) becomes a `# warden:` comment where it applied
//! and a note; with `strict`, any note makes the export fail.

mod compose;
mod kubernetes;
mod yaml;

use std::time::Duration;

use crate::config::{Check, Config, Kind, Probe, RestartPolicy, Service};

pub use compose::compose;
pub use kubernetes::kubernetes;

/// What the export makes of the services.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Shape {
    /// A Pod (Kubernetes).
    #[default]
    Pod,
    /// A Deployment of that pod (Kubernetes).
    Deployment,
}

/// The main program: none, a command (`-- CMD`), or a service of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Main {
    #[default]
    None,
    Command(Vec<String>),
    Service(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// The image every container runs (the one warden runs in).
    pub image: Option<String>,
    /// The pod's (or deployment's) name; else the config file's.
    pub name: Option<String>,
    pub shape: Shape,
    pub main: Main,
    /// Where warden is in the image (Compose's entrypoint, healthchecks).
    pub warden: String,
    /// The config file, as named in the header.
    pub source: String,
    /// Long-running services are all regular containers, for engines
    /// without native sidecars (podman kube play 4, Kubernetes before 1.29).
    pub no_sidecars: bool,
    /// Directories every container shares (an emptyDir, a named volume):
    /// containers do not share files otherwise.
    pub share: Vec<String>,
}

/// The volume's name for the `index`th shared directory.
fn shared_volume(index: usize) -> String {
    format!("shared-{index}")
}

/// The exported text and what could not be carried over (one line each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub text: String,
    pub notes: Vec<String>,
}

/// Where warden is in the images of the examples.
pub const DEFAULT_WARDEN: &str = "/warden";

/// Collects the notes of one export, each also a comment where it applies.
#[derive(Debug, Default)]
struct Notes(Vec<String>);

impl Notes {
    /// Notes `what` of `place` (a service's name, or "" for the file), and
    /// returns the comment to write there.
    fn note(&mut self, place: &str, what: impl Into<String>) -> String {
        let what = what.into();
        self.0.push(if place.is_empty() { what.clone() } else { format!("{place}: {what}") });
        format!("warden: {what}")
    }
}

/// The image, which both exports need.
fn image(options: &Options, engine: &str) -> Result<String, String> {
    options.image.clone().filter(|i| !i.is_empty()).ok_or_else(|| {
        format!(
            "export {engine}: --image IMAGE is needed: every service runs from an image (the one warden runs in, \
             with the services' programs)"
        )
    })
}

/// A Kubernetes name (a DNS-1123 label: lowercase letters, digits and '-',
/// starting and ending with a letter or digit, at most 63 characters) for
/// `name`, and whether it had to change.
fn dns_label(name: &str) -> (String, bool) {
    let mut label: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    label.truncate(63);
    let label = label.trim_matches('-').to_string();
    let label = if label.is_empty() { "service".to_string() } else { label };
    let changed = label != name;
    (label, changed)
}

/// Whole seconds, rounded up (at least `low`); and whether that was exact.
fn seconds(duration: Duration, low: u64) -> (i64, bool) {
    let whole = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    let value = whole.max(low);
    (i64::try_from(value).unwrap_or(i64::MAX), value == duration.as_secs() && duration.subsec_nanos() == 0)
}

/// The services that run in order of their dependencies (a dependency
/// before what waits for it; the file's order otherwise). The config has no
/// cycle, so every round places one.
fn in_start_order(services: &[&Service]) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::new();
    // Bounded: each round places one service.
    for _ in 0..services.len() {
        let next = (0..services.len()).find(|&i| {
            !order.contains(&i)
                && services.get(i).is_some_and(|s| {
                    s.depends_on.iter().all(|d| {
                        (0..services.len())
                            .filter(|&j| services.get(j).is_some_and(|t| t.answers_to(&d.name)))
                            .all(|j| order.contains(&j))
                    })
                })
        });
        match next {
            Some(i) => order.push(i),
            None => break,
        }
    }
    order
}

/// What a service keeps of warden's behaviour that neither engine has,
/// each as a note (and comment) for `place`.
fn unsupported(service: &Service, notes: &mut Notes, place: &str) -> Vec<String> {
    let mut said = Vec::new();
    let mut say = |what: String| said.push(notes.note(place, what));
    if service.notify || service.notify_fd.is_some() {
        say("notify (sd_notify readiness) has no counterpart: give it a readiness probe".into());
    }
    if let Some(watchdog) = service.watchdog {
        say(format!(
            "watchdog: {} has no counterpart: a liveness probe is the nearest",
            crate::duration::format(watchdog)
        ));
    }
    if let Some(cooldown) = service.cooldown {
        say(format!(
            "cooldown: {} (retry after giving up) has no counterpart",
            crate::duration::format(cooldown)
        ));
    }
    if service.backoff != crate::config::DEFAULT_BACKOFF {
        say("backoff: the engine's own restart delays apply (Kubernetes: 10s doubling to 5m; Docker: 100ms doubling)".into());
    }
    if service.critical {
        say("critical: true (stop everything when it fails) has no counterpart".into());
    }
    if let crate::config::Logs::File(file) = &service.logs {
        say(format!("logs: file {}: the output goes to the container's log instead", file.path.display()));
    }
    for kind in crate::config::ProbeKind::ALL {
        if let Some(Check::Log(text)) = service.probe(kind).map(|p| &p.check) {
            say(format!("{}: log \"{text}\" (a line of output) has no counterpart; dropped", kind.name()));
        }
    }
    if service.watch.is_some() {
        say("watch (restart on a file change) has no counterpart".into());
    }
    if let Some(signal) = service.reload_signal {
        say(format!(
            "reload_signal: {}: send it with kubectl exec or docker kill -s",
            crate::sys::signals::name(signal)
        ));
    }
    if !service.forward_signals.is_empty() {
        say("forward_signals: the engine signals each container itself".into());
    }
    if service.success_codes != [0] {
        say(format!("success_codes: {:?}: only 0 counts as success there", service.success_codes));
    }
    if let Some(umask) = service.umask {
        say(format!("umask: {umask:03o} has no counterpart: set it in the image's entrypoint"));
    }
    if service.resources.memory_high.is_some() {
        say("limits.memory_high has no counterpart".into());
    }
    if service.inherit_fds {
        say("inherit_fds has no counterpart".into());
    }
    said
}

/// Whether the restart policy and budget need a word (for longruns).
fn restart_notes(service: &Service, notes: &mut Notes, place: &str) -> Vec<String> {
    let mut said = Vec::new();
    if let Some(most) = service.max_restarts
        && service.kind == Kind::Longrun
    {
        said.push(
            notes.note(place, format!("max_restarts: {most} (within restart_window) has no counterpart")),
        );
    }
    said
}

fn restart_name(policy: RestartPolicy) -> &'static str {
    match policy {
        RestartPolicy::Always => "always",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Never => "never",
    }
}

/// The services that run, in the file's order: disabled ones are noted.
fn enabled<'a>(config: &'a Config, notes: &mut Notes) -> Vec<&'a Service> {
    config
        .services
        .iter()
        .filter(|s| {
            if !s.enabled {
                notes.note(&s.name, "enabled: false: not exported");
            }
            s.enabled
        })
        .collect()
}

/// The notes of the whole file that no engine takes.
fn global_notes(config: &Config, notes: &mut Notes) -> Vec<String> {
    let mut said = Vec::new();
    if config.on_crash.is_some() {
        said.push(notes.note("", "on_crash (a command run on each crash) has no counterpart"));
    }
    if config.crash_reports.is_some() {
        said.push(
            notes.note("", "crash_reports has no counterpart: the engine keeps each container's last state"),
        );
    }
    if config.watch_config {
        said.push(notes.note("", "watch_config has no counterpart: apply the new manifests instead"));
    }
    said
}

#[cfg(test)]
mod tests;
