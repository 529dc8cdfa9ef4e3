//! warden: a PID 1 for containers.
//!
//! Architecture, outside in:
//! - `main.rs` blocks every signal before anything else can run, then calls [`run`].
//! - [`cli`] turns argv into a [`cli::Command`]; it touches no process.
//! - [`single`] is one-program mode (`warden -- CMD`): spawn, forward, reap, grace.
//! - [`config`] reads and checks the YAML file; [`supervisor`] runs its services:
//!   a pure core (`Core::handle(now, Event) -> Vec<Action>`, one state machine
//!   per service inside it) decides, and a runtime around one loop performs.
//! - [`shutdown`] is the shutdown as a state × event table, for both modes.
//! - [`inherited`] holds what warden was given to pass on (descriptors,
//!   `LISTEN_*`); [`output`] owns warden's stdout and stderr (`output::sink`).
//! - [`init`] is what both modes share as an init: subreaper, signalfd, the
//!   loop's wait, and the one place children are reaped.
//! - [`reactor`] is the one event loop (epoll + a timer queue); it knows no policy.
//! - [`leftovers`] decides which processes warden answers for at shutdown.
//! - `sys` is the operating-system boundary and the only module with `unsafe`.
//! - [`logger`] formats warden's own messages; they never block (`output::sink`).
//!
//! docs/architecture.md has the whole picture.

pub mod cgroups;
pub mod cli;
pub mod config;
pub mod control;
pub mod cron;
pub mod disk;
pub mod duration;
pub mod export;
pub mod graph;
pub mod health;
pub mod inherited;
pub mod init;
pub mod leftovers;
pub mod logger;
pub mod notify;
pub mod output;
pub mod probe;
pub mod reactor;
pub mod shutdown;
pub mod single;
pub mod supervisor;
pub mod sys;

use std::ffi::OsString;

/// Runs warden with `args` (argv without `argv[0]`) and returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    // First of all: signals become events. No thread may exist before this, or the
    // kernel could deliver a signal to a thread that does not block it, and a PID 1
    // with default dispositions would silently drop it.
    if let Err(e) = sys::signals::block_all() {
        logger::error!("unable to block signals: {}", crate::sys::Reason(&e));
        return 1;
    }
    sys::signals::reset_ignored_dispositions();
    // Before warden opens anything of its own: what is open now was given to it.
    let fds = sys::fds::take_inherited().unwrap_or_else(|e| {
        logger::warning!(
            "unable to mark inherited file descriptors close-on-exec: {}",
            crate::sys::Reason(&e)
        );
        Vec::new()
    });
    let inherited = inherited::Inherited::take(fds, sys::process::pid(), |name| std::env::var_os(name));

    let command = match cli::parse(args, |name| std::env::var(name).ok()) {
        Ok(command) => command,
        Err(e) => {
            logger::error!("{e}\nTry 'warden --help'.");
            return 2;
        }
    };
    match command {
        cli::Command::Help => print(cli::HELP),
        cli::Command::Version => print(&format!("warden {}\n", env!("CARGO_PKG_VERSION"))),
        cli::Command::Validate { config } => validate(&config),
        cli::Command::Graph { config, mermaid } => show_graph(&config, mermaid),
        cli::Command::Schema => print(&config::schema()),
        cli::Command::Export { config, engine, options, strict } => export(&config, engine, &options, strict),
        cli::Command::Probe(target) => match probe::run(&target) {
            Ok(line) => print(&format!("{line}\n")),
            Err(why) => {
                logger::write_line(&format!("warden: check failed: {why}"));
                1
            }
        },
        cli::Command::Client { config, request } => client(config.as_deref(), request),
        cli::Command::Run(options) => {
            logger::set_level(options.log_level);
            if options.config.is_some() || options.supervises_program() {
                supervise(options, inherited)
            } else {
                single::run(options, &inherited)
            }
        }
    }
}

fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn validate(path: &std::path::Path) -> i32 {
    match config::load_with_advice(path, &environment, std::path::Path::new("/")) {
        Ok((config, advice)) => {
            for line in advice {
                logger::write_line(&format!("warning: {line}"));
            }
            // Services as the file lists them; a replicated one's copies said after.
            let first = |s: &&config::Service| s.instance.as_ref().is_none_or(|i| i.index == 0);
            let count = config.services.iter().filter(first).count();
            let copies: Vec<String> = config
                .services
                .iter()
                .filter(first)
                .filter_map(|s| s.instance.as_ref().map(|i| format!("{}: {} copies", i.group, i.count)))
                .collect();
            let copies = if copies.is_empty() { String::new() } else { format!(" ({})", copies.join(", ")) };
            let mut out = format!(
                "{}: valid, {count} service{}{copies}\n",
                path.display(),
                if count == 1 { "" } else { "s" }
            );
            // How each cgroup limit will be enforced on this machine.
            let limited: Vec<&config::Service> =
                config.services.iter().filter(|s| s.resources.any()).collect();
            if !limited.is_empty() {
                let offer = cgroups::Offer::of_this_machine(config.cgroups);
                for service in limited {
                    let how = offer.enforcement(&service.resources);
                    let texts = cgroups::limits_text(&service.resources, Some(&how));
                    out.push_str(&format!("limits of {}: {}\n", service.name, texts.join(", ")));
                }
                if offer.version.is_none() {
                    out.push_str(&format!(
                        "no cgroup can be written here ({}): memory is watched by warden, cpus and pids are not enforced; to enforce them, {}\n",
                        offer.why_not,
                        cgroups::HOW_TO_DELEGATE
                    ));
                }
            }
            print(&out)
        }
        Err(e) => {
            logger::write_line(&e.to_string());
            2
        }
    }
}

/// The config a command that only reads it works on; None when it has
/// errors, which are printed (the command then exits 2).
fn config_of(path: &std::path::Path) -> Option<config::Config> {
    config::load(path, &environment, std::path::Path::new("/"))
        .map_err(|e| logger::write_line(&e.to_string()))
        .ok()
}

/// `warden export`: the manifests on stdout, each note on stderr; an invalid
/// config, a refusal, or (strict) any note: exit 2 and nothing on stdout.
fn export(path: &std::path::Path, engine: cli::Engine, options: &export::Options, strict: bool) -> i32 {
    // The image's users, not this machine's: names are kept as written.
    let loaded = config::load(path, &environment, config::users_as_written());
    let Some(config) = loaded.map_err(|e| logger::write_line(&e.to_string())).ok() else { return 2 };
    let exported = match engine {
        cli::Engine::Kubernetes => export::kubernetes(&config, options),
        cli::Engine::Compose => export::compose(&config, options),
    };
    match exported {
        Ok(export) => {
            for note in &export.notes {
                logger::write_line(&format!("warden: export: {note}"));
            }
            if strict && !export.notes.is_empty() {
                logger::write_line(&format!(
                    "warden: export: --strict: {} thing{} without a counterpart; nothing was written",
                    export.notes.len(),
                    if export.notes.len() == 1 { "" } else { "s" }
                ));
                return 2;
            }
            print(&export.text)
        }
        Err(why) => {
            logger::write_line(&format!("warden: {why}"));
            2
        }
    }
}

/// `warden graph`: the dependency graph of a valid config.
fn show_graph(path: &std::path::Path, mermaid: bool) -> i32 {
    match config_of(path) {
        Some(config) => print(&if mermaid { graph::mermaid(&config) } else { graph::dot(&config) }),
        None => 2,
    }
}

/// Services from a config (and a main program), or one supervised program.
fn supervise(options: cli::RunOptions, inherited: inherited::Inherited) -> i32 {
    let mut config = match &options.config {
        Some(path) => match config::load(path, &environment, std::path::Path::new("/")) {
            Ok(config) => config,
            Err(e) => {
                logger::write_line(&e.to_string());
                logger::error!("nothing was started: the config has errors");
                return 2;
            }
        },
        None => config::Config {
            grace: config::DEFAULT_GRACE,
            drain: std::time::Duration::ZERO,
            log_format: config::LogFormat::Text,
            log_timestamps: false,
            crash_reports: None,
            on_crash: None,
            control: None,
            http: None,
            cgroups: config::CgroupMode::Auto,
            limits_period: config::DEFAULT_LIMITS_PERIOD,
            watch_config: false,
            services: Vec::new(),
            text: String::new(),
        },
    };
    if let Some(grace) = options.grace {
        config.grace = grace;
    }
    let main = (!options.command.is_empty()).then(|| supervisor::MainProgram {
        command: options.command.clone(),
        restart: options.restart.unwrap_or(config::RestartPolicy::Never),
        max_restarts: options.max_restarts.unwrap_or(None),
        backoff: options.backoff,
        exit_map: options.exit_map.clone(),
        rewrites: options.rewrites.clone(),
        group: options.group,
    });
    supervisor::run(config, options.config.clone(), main, inherited, options.stop_signals.clone())
}

/// A client verb: talks to the warden that owns the control socket.
fn client(config: Option<&std::path::Path>, mut request: control::Request) -> i32 {
    // A client is an ordinary program: ^C and a closed pipe end it.
    if let Err(e) = sys::signals::unblock_all() {
        logger::warning!("unable to unblock signals: {}", crate::sys::Reason(&e));
    }
    if let control::Request::Status { color, .. } = &mut request {
        *color = sys::fds::is_tty(1) && std::env::var_os("NO_COLOR").is_none();
    }
    match control::client::socket_path(config, &environment) {
        Ok(socket) => control::client::run(&socket, &request),
        Err(e) => {
            logger::write_line(&format!("warden: {e}"));
            1
        }
    }
}

/// Prints to stdout; a closed stdout is not worth a panic.
fn print(text: &str) -> i32 {
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
    0
}
