//! The command line: argv (and the `WARDEN_*` variables that stand for options)
//! to a `Command`. Reads no file and touches no process.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Backoff, DEFAULT_BACKOFF, RestartPolicy};
use crate::logger::Level;
use crate::{duration, sys::signals};

pub use crate::config::DEFAULT_GRACE;

pub const HELP: &str = "\
warden: a PID 1 for containers

Usage:
  warden [OPTIONS] [--] CMD [ARG...]    run one program as its init (like tini)
  warden [OPTIONS] -c FILE [-- CMD...]  run the services of FILE; CMD, if given,
                                        is the main program, started once the
                                        services are ready
  warden validate [-c FILE]             check a config, print every error
  warden graph [-c FILE] [--mermaid]    the dependency graph as Graphviz DOT
                                        (or a Mermaid flowchart)
  warden schema                         a JSON Schema of the config, for editors
  warden export kubernetes|compose [-c FILE] --image IMAGE [--name NAME]
         [--kind pod|deployment] [--main NAME] [--share DIR] [--no-sidecars]
         [--strict] [-- CMD...]
                                        the services as Kubernetes manifests or a
                                        Compose file (what has no counterpart is
                                        a comment and a line on stderr)
  warden status [NAME...] [-w] [--json] state of each service (-w: reasons whole)
  warden start|stop|restart [--timeout D] NAME...
                                        control services, waiting for the outcome
                                        (at most D; default 5m)
  warden logs [NAME] [-n LINES] [-f] [--since D]
                                        recent output of a service, or of all
                                        merged in time order (-f: follow)
  warden reload [NAME...]               re-read the config and apply the difference;
                                        with names: send each its reload_signal
                                        (or restart it)
  warden signal [--main-pid] NAME SIG   send SIG to a service's processes (or to
                                        its program only); prints the pids
  warden scale NAME N                   run N copies of a replicated service for
                                        this run (a reload goes back to the file's)
  warden check [--live|--ready] [NAME]  exit 0 if ready (or live), 1 if not: for
                                        HEALTHCHECK and exec probes
  warden check --http URL|PORT[/PATH] | --tcp [HOST:]PORT | --file PATH
               [--timeout D]            one probe of its own (no warden running
                                        needed): exit 0 or 1 with a reason

Options:
  -c, --config FILE      services to run (env WARDEN_CONFIG)
      --restart POLICY   restart CMD: always, on-failure or never (default)
      --max-restarts N   give up after N restarts within 10m (or unlimited)
      --backoff INIT[:MAX]  delay before a restart, doubling up to MAX
                         (default 1s:60s)
      --grace DUR        shutdown budget: after a stop signal (TERM, INT, QUIT)
                         or after CMD exits, SIGKILL what is left once DUR has
                         passed (default 9s; env WARDEN_GRACE)
      --stop-signals LIST  the signals that mean stop (default TERM,INT,QUIT;
                         env WARDEN_STOP_SIGNALS); the others are only
                         forwarded: TERM,INT keeps a JVM's QUIT (thread dump)
                         from starting the grace
  -g, --group            send forwarded signals to CMD's whole process group
      --rewrite SIG:SIG  forward the first signal as the second (0 drops it);
                         may be repeated
      --exit-map N:M     exit with M when CMD exits with N (128+S for signal S);
                         may be repeated
      --pdeathsig SIG    act as if SIG was received when warden's parent dies
  -v, --verbose          more of warden's own messages (repeat for more);
                         env WARDEN_LOG=error|warn|info|debug|trace
  -h, --help             print this help
  -V, --version          print the version

Option parsing stops at the first word that is not an option, so
`warden echo -v` runs `echo -v` (but `warden -- status` runs a program
named status). Client verbs find the control socket from WARDEN_CONTROL,
else from the config's control key (-c FILE or WARDEN_CONFIG), else
/run/warden.sock. Durations: 500ms, 10s, 2m, 1h, 1m30s.
Signals: TERM, SIGTERM, 15, RTMIN+3.

Exit status: CMD's, or 128+N when it died of signal N (after --exit-map);
with services only, 0 after a clean shutdown or the code of the critical
service whose failure stopped everything; 2 for a bad command line or an
invalid config (nothing is started); 127 when CMD is not found; 126 when it
cannot be run.
";

/// What warden was asked to do.
#[derive(Debug, PartialEq)]
pub enum Command {
    /// One program (`options.command`), or services from `options.config`.
    Run(RunOptions),
    Validate {
        config: PathBuf,
    },
    /// The JSON Schema of the configuration.
    Schema,
    /// `warden check --http|--tcp|--file`: one probe, from the command line.
    Probe(crate::probe::Target),
    /// `warden export kubernetes|compose`: the config for another engine.
    Export {
        config: PathBuf,
        engine: Engine,
        options: crate::export::Options,
        /// Notes (what has no counterpart) are errors.
        strict: bool,
    },
    /// The dependency graph of a config, as DOT (or Mermaid).
    Graph {
        config: PathBuf,
        mermaid: bool,
    },
    /// A client verb for a running warden (`status`, `start`, ...). `color`
    /// in a status request is decided later, by whether stdout is a terminal.
    Client {
        config: Option<PathBuf>,
        request: crate::control::Request,
    },
    Help,
    Version,
}

/// Where `validate` looks when no `-c` is given.
pub const DEFAULT_CONFIG: &str = "/etc/warden.yaml";

/// Options of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// From --grace or WARDEN_GRACE; the default (or the config's) otherwise.
    pub grace: Option<Duration>,
    pub config: Option<PathBuf>,
    pub restart: Option<RestartPolicy>,
    /// Some(None): unlimited.
    pub max_restarts: Option<Option<u32>>,
    pub backoff: Option<Backoff>,
    pub group: bool,
    /// (received, forwarded); forwarded 0 means drop.
    pub rewrites: Vec<(i32, i32)>,
    /// (program's code, warden's code).
    pub exit_map: Vec<(i32, i32)>,
    pub parent_death_signal: Option<i32>,
    /// The signals that begin a stop (the grace period; in services mode
    /// the shutdown): `STOP_SIGNALS` unless `--stop-signals` says otherwise.
    pub stop_signals: Vec<i32>,
    pub log_level: Level,
    pub command: Vec<OsString>,
}

impl RunOptions {
    pub fn grace(&self) -> Duration {
        self.grace.unwrap_or(DEFAULT_GRACE)
    }

    /// Whether the one program is to be supervised (restarted) rather than
    /// simply run.
    pub fn supervises_program(&self) -> bool {
        self.restart.is_some() || self.max_restarts.is_some() || self.backoff.is_some()
    }

    /// The signal to forward for `received`, or `None` to drop it.
    pub fn rewrite(&self, received: i32) -> Option<i32> {
        rewrite(&self.rewrites, received)
    }

    /// warden's exit code for the program's code (the last matching mapping wins).
    pub fn map_exit(&self, code: i32) -> i32 {
        map_exit(&self.exit_map, code)
    }
}

/// The signal `--rewrite` makes of `received` (the last matching rule wins);
/// None when it is dropped (`SIG:0`). Both modes use it.
pub fn rewrite(rewrites: &[(i32, i32)], received: i32) -> Option<i32> {
    match rewrites.iter().rev().find(|(from, _)| *from == received) {
        Some(&(_, 0)) => None,
        Some(&(_, to)) => Some(to),
        None => Some(received),
    }
}

/// The exit code `--exit-map` makes of `code` (the last matching mapping wins).
pub fn map_exit(exit_map: &[(i32, i32)], code: i32) -> i32 {
    exit_map.iter().rev().find(|(from, _)| *from == code).map_or(code, |&(_, to)| to)
}

/// A bad command line: the message, to be printed with a hint to `--help`.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `args` (without `argv[0]`); `env` looks up `WARDEN_*` variables.
pub fn parse<I>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = OsString>,
{
    use lexopt::prelude::*;

    let mut log_level = Level::Warn;
    if let Some(text) = env("WARDEN_LOG") {
        log_level = Level::parse(&text).ok_or_else(|| {
            UsageError(format!("WARDEN_LOG: unknown level \"{text}\" (error, warn, info, debug, trace)"))
        })?;
    }
    let mut stop_signals = STOP_SIGNALS.to_vec();
    if let Some(text) = env("WARDEN_STOP_SIGNALS") {
        stop_signals = parse_stop_signals("WARDEN_STOP_SIGNALS", &text)?;
    }
    let mut grace = None;
    if let Some(text) = env("WARDEN_GRACE") {
        grace = Some(duration::parse(&text).map_err(|e| UsageError(format!("WARDEN_GRACE: {e}")))?);
    }
    let mut args: Vec<OsString> = args.into_iter().collect();
    let probe_option = |a: &OsString| {
        a.to_str()
            .is_some_and(|a| ["--http", "--tcp", "--file"].iter().any(|o| a.split('=').next() == Some(o)))
    };
    if args.first().is_some_and(|a| a == "check") && args.iter().any(probe_option) {
        return parse_probe(args.into_iter().skip(1));
    }
    if let Some(verb) = args.first().and_then(|a| a.to_str()).filter(|v| CLIENT_VERBS.contains(v)) {
        let verb = verb.to_string();
        return parse_client(&verb, args.into_iter().skip(1), &env);
    }
    if args.first().is_some_and(|a| a == "schema") {
        return match args.len() {
            1 => Ok(Command::Schema),
            _ => Err(UsageError("schema takes no arguments: warden schema > warden.schema.json".into())),
        };
    }
    if args.first().is_some_and(|a| a == "export") {
        return parse_export(args.into_iter().skip(1), &env);
    }
    if args.first().is_some_and(|a| a == "graph") {
        return parse_graph(args.into_iter().skip(1), &env);
    }
    let validate = args.first().is_some_and(|a| a == "validate");
    if validate {
        args.remove(0);
    }
    let mut options = RunOptions {
        grace,
        config: env("WARDEN_CONFIG").filter(|c| !c.is_empty()).map(PathBuf::from),
        restart: None,
        max_restarts: None,
        backoff: None,
        group: false,
        rewrites: Vec::new(),
        exit_map: Vec::new(),
        parent_death_signal: None,
        stop_signals,
        log_level,
        command: Vec::new(),
    };

    let mut parser = lexopt::Parser::from_args(args);
    let bad = |e: lexopt::Error| UsageError(e.to_string());
    let mut config_given: Option<PathBuf> = None;
    while let Some(arg) = parser.next().map_err(bad)? {
        match arg {
            Long("grace") => {
                let text = string_value(&mut parser, "--grace")?;
                options.grace =
                    Some(duration::parse(&text).map_err(|e| UsageError(format!("--grace: {e}")))?);
            }
            Short('c') | Long("config") => {
                let path = PathBuf::from(parser.value().map_err(bad)?);
                if let Some(first) = &config_given {
                    return Err(UsageError(format!(
                        "-c given twice ({} and {}): warden runs one config file",
                        first.display(),
                        path.display()
                    )));
                }
                config_given = Some(path.clone());
                options.config = Some(path);
            }
            Long("restart") => {
                let text = string_value(&mut parser, "--restart")?;
                options.restart = Some(match text.as_str() {
                    "always" => RestartPolicy::Always,
                    "on-failure" => RestartPolicy::OnFailure,
                    "never" => RestartPolicy::Never,
                    _ => {
                        return Err(UsageError(format!(
                            "--restart: \"{text}\" is not always, on-failure or never"
                        )));
                    }
                });
            }
            Long("max-restarts") => {
                let text = string_value(&mut parser, "--max-restarts")?;
                options.max_restarts = Some(match text.as_str() {
                    "unlimited" => None,
                    _ => Some(text.parse().map_err(|_| {
                        UsageError(format!("--max-restarts: \"{text}\" is not a count or \"unlimited\""))
                    })?),
                });
            }
            Long("backoff") => {
                let text = string_value(&mut parser, "--backoff")?;
                options.backoff = Some(parse_backoff(&text)?);
            }
            Short('g') | Long("group") => options.group = true,
            Long("rewrite") => {
                let text = string_value(&mut parser, "--rewrite")?;
                options.rewrites.push(parse_rewrite(&text)?);
            }
            Long("exit-map") => {
                let text = string_value(&mut parser, "--exit-map")?;
                options.exit_map.push(parse_exit_map(&text)?);
            }
            Long("stop-signals") => {
                let text = string_value(&mut parser, "--stop-signals")?;
                options.stop_signals = parse_stop_signals("--stop-signals", &text)?;
            }
            Long("pdeathsig") => {
                let text = string_value(&mut parser, "--pdeathsig")?;
                options.parent_death_signal = Some(parse_signal("--pdeathsig", &text)?);
            }
            Short('v') | Long("verbose") => options.log_level = options.log_level.more(),
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Value(program) => {
                options.command.push(program);
                options.command.extend(parser.raw_args().map_err(bad)?);
            }
            other => return Err(bad(other.unexpected())),
        }
    }
    if validate {
        if !options.command.is_empty() {
            return Err(UsageError("validate takes no command: warden validate -c FILE".into()));
        }
        return Ok(Command::Validate {
            config: options.config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG)),
        });
    }
    if options.restart.is_none() {
        for (given, option) in
            [(options.max_restarts.is_some(), "--max-restarts"), (options.backoff.is_some(), "--backoff")]
        {
            if given {
                return Err(UsageError(format!(
                    "{option} has no effect without --restart: add --restart on-failure (or always)"
                )));
            }
        }
    }
    if options.command.is_empty() && options.config.is_none() {
        return Err(UsageError("no command given: warden [OPTIONS] -- CMD [ARG...], or -c FILE".into()));
    }
    Ok(Command::Run(options))
}

/// Words that make warden a client of a running warden. A program of one of
/// these names runs with `warden -- NAME`.
pub const CLIENT_VERBS: [&str; 9] =
    ["status", "start", "stop", "restart", "logs", "reload", "signal", "scale", "check"];

fn parse_client(
    verb: &str,
    args: impl Iterator<Item = OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, UsageError> {
    use crate::control::{MAX_LOG_LINES, Request};
    use lexopt::prelude::*;

    let mut config = env("WARDEN_CONFIG").filter(|c| !c.is_empty()).map(PathBuf::from);
    let (mut json, mut follow, mut live, mut lines) = (false, false, false, None);
    let mut since = None;
    let mut wide = false;
    let mut timeout = None;
    let mut main_pid = false;
    let mut names = Vec::new();
    let mut words = Vec::new();
    let mut parser = lexopt::Parser::from_args(args);
    let bad = |e: lexopt::Error| UsageError(format!("{verb}: {e}"));
    while let Some(arg) = parser.next().map_err(bad)? {
        match arg {
            Short('c') | Long("config") => config = Some(PathBuf::from(parser.value().map_err(bad)?)),
            Long("json") if verb == "status" => json = true,
            Short('w') | Long("wide") if verb == "status" => wide = true,
            Long("timeout") if matches!(verb, "start" | "stop" | "restart") => {
                let text = string_value(&mut parser, "--timeout")?;
                let wait = crate::control::parse_wait(&text)
                    .map_err(|why| UsageError(format!("{verb} --timeout: {why}")))?;
                timeout = Some(wait);
            }
            Short('f') | Long("follow") if verb == "logs" => follow = true,
            Short('n') | Long("lines") if verb == "logs" => {
                let text = string_value(&mut parser, "-n")?;
                lines = Some(
                    text.parse::<usize>()
                        .map_err(|_| UsageError(format!("logs -n: \"{text}\" is not a count")))?,
                );
            }
            Long("since") if verb == "logs" => {
                let text = string_value(&mut parser, "--since")?;
                since = Some(duration::parse(&text).map_err(|e| UsageError(format!("logs --since: {e}")))?);
            }
            Long("live") if verb == "check" => live = true,
            Long("main-pid") if verb == "signal" => main_pid = true,
            Long("ready") if verb == "check" => live = false,
            Short('h') | Long("help") => return Ok(Command::Help),
            Value(word) if verb == "scale" && !names.is_empty() => {
                words.push(
                    word.into_string().map_err(|w| UsageError(format!("scale: {w:?} is not a count")))?,
                );
            }
            Value(word) if verb == "signal" && !names.is_empty() => {
                words.push(
                    word.into_string().map_err(|w| UsageError(format!("signal: {w:?} is not a signal")))?,
                );
            }
            Value(name) => {
                let name = name
                    .into_string()
                    .map_err(|n| UsageError(format!("{verb}: {n:?} is not a service name")))?;
                if !crate::config::valid_name(&name) {
                    return Err(UsageError(format!("{verb}: \"{name}\" is not a service name")));
                }
                names.push(name);
            }
            other => return Err(bad(other.unexpected())),
        }
    }
    let some = |names: Vec<String>| {
        if names.is_empty() {
            Err(UsageError(format!("{verb}: name the services (warden {verb} NAME...)")))
        } else {
            Ok(names)
        }
    };
    let request = match verb {
        "status" => Request::Status { json, color: false, wide, names },
        "start" => Request::Start(crate::control::Targets { names: some(names)?, timeout }),
        "stop" => Request::Stop(crate::control::Targets { names: some(names)?, timeout }),
        "restart" => Request::Restart(crate::control::Targets { names: some(names)?, timeout }),
        "reload" => Request::Reload { names },
        "signal" => match (<[String; 1]>::try_from(names), <[String; 1]>::try_from(words)) {
            (Ok([name]), Ok([signal])) => {
                Request::Signal { name, signal: parse_signal("signal", &signal)?, main_pid }
            }
            _ => {
                return Err(UsageError(
                    "signal: name one service and one signal (warden signal NAME SIG)".into(),
                ));
            }
        },
        "scale" => match (<[String; 1]>::try_from(names), <[String; 1]>::try_from(words)) {
            (Ok([name]), Ok([count])) => {
                let count = count
                    .parse::<u32>()
                    .ok()
                    .filter(|c| (1..=crate::config::MAX_REPLICAS).contains(c))
                    .ok_or_else(|| {
                        UsageError(format!(
                            "scale: \"{count}\" is not a count from 1 to {} (warden stop NAME stops every copy)",
                            crate::config::MAX_REPLICAS
                        ))
                    })?;
                Request::Scale { name, count }
            }
            _ => return Err(UsageError("scale: name one service and a count (warden scale NAME N)".into())),
        },
        "logs" if names.len() > 1 => {
            return Err(UsageError(
                "logs: one service, or none for all (warden logs [NAME] [-n N] [-f])".into(),
            ));
        }
        "logs" => {
            let name = names.pop();
            let most = if name.is_some() { MAX_LOG_LINES } else { crate::control::MAX_MERGED_LINES };
            Request::Logs { name, lines: lines.unwrap_or(MAX_LOG_LINES).min(most), follow, since }
        }
        _ => {
            if names.len() > 1 {
                return Err(UsageError(
                    "check: one service at most (warden check [--live|--ready] [NAME])".into(),
                ));
            }
            Request::Check { ready: !live, name: names.pop() }
        }
    };
    Ok(Command::Client { config, request })
}

/// The engine `warden export` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Kubernetes,
    Compose,
}

/// `warden export kubernetes|compose [-c FILE] [--image IMAGE] [--name NAME]
/// [--kind pod|deployment] [--main NAME] [--warden PATH] [--strict] [-- CMD...]`.
fn parse_export(
    args: impl Iterator<Item = OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, UsageError> {
    use crate::export::{Main, Options, Shape};
    use lexopt::prelude::*;
    let usage = "export: name the engine: warden export kubernetes|compose [-c FILE] --image IMAGE";
    let mut config = env("WARDEN_CONFIG").filter(|c| !c.is_empty()).map(PathBuf::from);
    let mut options = Options { warden: crate::export::DEFAULT_WARDEN.into(), ..Options::default() };
    let mut engine = None;
    let mut strict = false;
    let mut parser = lexopt::Parser::from_args(args);
    let bad = |e: lexopt::Error| UsageError(format!("export: {e}"));
    while let Some(arg) = parser.next().map_err(bad)? {
        match arg {
            Value(word) if engine.is_none() => {
                engine = Some(match word.to_str() {
                    Some("kubernetes" | "k8s") => Engine::Kubernetes,
                    Some("compose") => Engine::Compose,
                    _ => {
                        return Err(UsageError(format!(
                            "export: unknown engine {word:?}: kubernetes or compose"
                        )));
                    }
                });
            }
            Short('c') | Long("config") => config = Some(PathBuf::from(parser.value().map_err(bad)?)),
            Long("image") => options.image = Some(string_value(&mut parser, "--image")?),
            Long("name") => options.name = Some(string_value(&mut parser, "--name")?),
            Long("warden") => options.warden = string_value(&mut parser, "--warden")?,
            Long("main") => options.main = Main::Service(string_value(&mut parser, "--main")?),
            Long("kind") => {
                options.shape = match string_value(&mut parser, "--kind")?.as_str() {
                    "pod" => Shape::Pod,
                    "deployment" => Shape::Deployment,
                    other => {
                        return Err(UsageError(format!(
                            "export --kind: \"{other}\" is not pod or deployment"
                        )));
                    }
                }
            }
            Long("share") => {
                let path = string_value(&mut parser, "--share")?;
                if !path.starts_with('/') {
                    return Err(UsageError(format!("export --share: \"{path}\" is not an absolute path")));
                }
                options.share.push(path);
            }
            Long("strict") => strict = true,
            Long("no-sidecars") => options.no_sidecars = true,
            Short('h') | Long("help") => return Ok(Command::Help),
            Value(word) => {
                return Err(UsageError(format!("export: unexpected {word:?} (a command goes after --)")));
            }
            other => return Err(bad(other.unexpected())),
        }
        if parser.raw_args().map_err(bad)?.peek().is_some_and(|a| a == "--") {
            let mut raw = parser.raw_args().map_err(bad)?;
            raw.next();
            let command: Vec<String> = raw.map(|a| a.to_string_lossy().into_owned()).collect();
            if command.is_empty() {
                return Err(UsageError("export: -- needs the main program's command after it".into()));
            }
            options.main = Main::Command(command);
        }
    }
    let engine = engine.ok_or_else(|| UsageError(usage.into()))?;
    if engine == Engine::Compose && options.main != Main::None {
        return Err(UsageError(
            "export compose: a main program is a Kubernetes export's (use a service)".into(),
        ));
    }
    if engine == Engine::Compose && (options.shape != Shape::Pod || options.no_sidecars) {
        return Err(UsageError("export compose: --kind and --no-sidecars are for kubernetes".into()));
    }
    let config = config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    options.source = config.display().to_string();
    Ok(Command::Export { config, engine, options, strict })
}

/// Reads one probe option's value.
type ReadCheck = fn(&str) -> Result<crate::config::Check, String>;

/// `warden check --http URL|PORT[/PATH] | --tcp [HOST:]PORT | --file PATH
/// [--timeout D]`.
fn parse_probe(args: impl Iterator<Item = OsString>) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let mut target = None;
    let mut timeout = crate::probe::DEFAULT_TIMEOUT;
    let mut parser = lexopt::Parser::from_args(args);
    let bad = |e: lexopt::Error| UsageError(format!("check: {e}"));
    while let Some(arg) = parser.next().map_err(bad)? {
        let (option, read): (&str, ReadCheck) = match arg {
            Long("http") => ("--http", crate::probe::http),
            Long("tcp") => ("--tcp", crate::probe::tcp),
            Long("file") => ("--file", crate::probe::file),
            Long("timeout") => {
                let text = string_value(&mut parser, "--timeout")?;
                timeout = duration::parse(&text).ok().filter(|d| !d.is_zero()).ok_or_else(|| {
                    UsageError(format!("check --timeout: \"{text}\" is not a duration like 2s"))
                })?;
                continue;
            }
            Short('h') | Long("help") => return Ok(Command::Help),
            other => return Err(bad(other.unexpected())),
        };
        if target.is_some() {
            return Err(UsageError("check: one of --http, --tcp or --file at a time".into()));
        }
        let text = string_value(&mut parser, option)?;
        let check = read(&text).map_err(|why| UsageError(format!("check {option}: {why}")))?;
        target = Some((check, text));
    }
    let (check, text) = target.ok_or_else(|| UsageError("check: name what to check".into()))?;
    Ok(Command::Probe(crate::probe::Target { check, text, timeout }))
}

/// `warden graph [-c FILE] [--mermaid]`.
fn parse_graph(
    args: impl Iterator<Item = OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let mut config = env("WARDEN_CONFIG").filter(|c| !c.is_empty()).map(PathBuf::from);
    let mut mermaid = false;
    let mut parser = lexopt::Parser::from_args(args);
    let bad = |e: lexopt::Error| UsageError(format!("graph: {e}"));
    while let Some(arg) = parser.next().map_err(bad)? {
        match arg {
            Short('c') | Long("config") => config = Some(PathBuf::from(parser.value().map_err(bad)?)),
            Long("mermaid") => mermaid = true,
            Long("dot") => mermaid = false,
            Short('h') | Long("help") => return Ok(Command::Help),
            other => return Err(bad(other.unexpected())),
        }
    }
    Ok(Command::Graph { config: config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG)), mermaid })
}

fn string_value(parser: &mut lexopt::Parser, option: &str) -> Result<String, UsageError> {
    let value = parser.value().map_err(|e| UsageError(e.to_string()))?;
    value.into_string().map_err(|v| UsageError(format!("{option}: {v:?} is not valid UTF-8")))
}

fn parse_signal(option: &str, text: &str) -> Result<i32, UsageError> {
    signals::parse(text).ok_or_else(|| {
        UsageError(format!("{option}: unknown signal \"{text}\" (write e.g. TERM, SIGUSR1, 10 or RTMIN+3)"))
    })
}

/// The signals that mean stop unless `--stop-signals` says otherwise.
pub const STOP_SIGNALS: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];

/// A comma-separated list of signals for `--stop-signals`: at least one,
/// and none that cannot be caught or that warden keeps for itself.
fn parse_stop_signals(option: &str, text: &str) -> Result<Vec<i32>, UsageError> {
    let mut list = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let signal = parse_signal(option, part)?;
        if matches!(signal, libc::SIGKILL | libc::SIGSTOP | libc::SIGCHLD) {
            return Err(UsageError(format!(
                "{option}: {} cannot be a stop signal (warden never receives SIGKILL or SIGSTOP, and keeps SIGCHLD)",
                signals::name(signal)
            )));
        }
        if !list.contains(&signal) {
            list.push(signal);
        }
    }
    if list.is_empty() {
        return Err(UsageError(format!("{option}: name at least one signal (e.g. TERM,INT)")));
    }
    Ok(list)
}

fn parse_rewrite(text: &str) -> Result<(i32, i32), UsageError> {
    let (from, to) = text.split_once(':').ok_or_else(|| {
        UsageError(format!("--rewrite: \"{text}\" is not SIG:SIG (e.g. TERM:QUIT, or TERM:0 to drop)"))
    })?;
    let from = parse_signal("--rewrite", from)?;
    let to = if to.trim() == "0" { 0 } else { parse_signal("--rewrite", to)? };
    if from == libc::SIGCHLD {
        return Err(UsageError("--rewrite: SIGCHLD is never forwarded, so it cannot be rewritten".into()));
    }
    Ok((from, to))
}

fn parse_backoff(text: &str) -> Result<Backoff, UsageError> {
    let (initial, max) = match text.split_once(':') {
        Some((i, m)) => (i, Some(m)),
        None => (text, None),
    };
    let initial = duration::parse(initial).map_err(|e| UsageError(format!("--backoff: {e}")))?;
    let max = match max {
        Some(m) => duration::parse(m).map_err(|e| UsageError(format!("--backoff: {e}")))?,
        None => DEFAULT_BACKOFF.max.max(initial),
    };
    if max < initial {
        return Err(UsageError(format!(
            "--backoff: the maximum {} is shorter than the initial delay",
            duration::format(max)
        )));
    }
    Ok(Backoff { initial, max, ..DEFAULT_BACKOFF })
}

fn parse_exit_map(text: &str) -> Result<(i32, i32), UsageError> {
    let code = |part: &str| part.trim().parse::<i32>().ok().filter(|c| (0..=255).contains(c));
    match text.split_once(':').map(|(a, b)| (code(a), code(b))) {
        Some((Some(from), Some(to))) => Ok((from, to)),
        _ => Err(UsageError(format!("--exit-map: \"{text}\" is not N:M with codes 0-255 (e.g. 143:0)"))),
    }
}

#[cfg(test)]
mod tests;
