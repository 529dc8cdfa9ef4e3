use super::*;

fn run(args: &[&str]) -> Result<RunOptions, UsageError> {
    match parse(args.iter().map(OsString::from), |_| None)? {
        Command::Run(options) => Ok(options),
        other => panic!("not a run: {other:?}"),
    }
}

#[test]
fn stops_at_the_first_word() {
    let options = run(&["-g", "echo", "-v", "--grace", "1s"]).unwrap();
    assert!(options.group);
    assert_eq!(options.command, ["echo", "-v", "--grace", "1s"]);
    assert_eq!(options.log_level, Level::Warn);
    assert_eq!(run(&["--", "-x"]).unwrap().command, ["-x"]);
}

#[test]
fn reads_every_option() {
    let o = run(&[
        "--grace=2s",
        "--rewrite",
        "TERM:QUIT",
        "--rewrite",
        "USR1:0",
        "--exit-map",
        "143:0",
        "--pdeathsig",
        "KILL",
        "-vv",
        "--",
        "x",
    ])
    .unwrap();
    assert_eq!(o.grace, Some(Duration::from_secs(2)));
    assert_eq!(o.rewrite(libc::SIGTERM), Some(libc::SIGQUIT));
    assert_eq!(o.rewrite(libc::SIGUSR1), None);
    assert_eq!(o.rewrite(libc::SIGUSR2), Some(libc::SIGUSR2));
    assert_eq!(o.map_exit(143), 0);
    assert_eq!(o.map_exit(1), 1);
    assert_eq!(o.parent_death_signal, Some(libc::SIGKILL));
    assert_eq!(o.log_level, Level::Debug);
}

#[test]
fn environment_gives_defaults_and_options_win() {
    let env = |k: &str| match k {
        "WARDEN_GRACE" => Some("25s".to_string()),
        "WARDEN_LOG" => Some("info".to_string()),
        _ => None,
    };
    let Ok(Command::Run(o)) = parse(["x"].map(OsString::from), env) else { panic!() };
    assert_eq!((o.grace, o.log_level), (Some(Duration::from_secs(25)), Level::Info));
    let Ok(Command::Run(o)) = parse(["--grace", "1s", "x"].map(OsString::from), env) else { panic!() };
    assert_eq!(o.grace, Some(Duration::from_secs(1)));
}

#[test]
fn services_and_validate() {
    let Ok(Command::Run(o)) = parse(["-c", "w.yaml"].map(OsString::from), |_| None) else { panic!() };
    assert_eq!((o.config, o.command.len()), (Some(PathBuf::from("w.yaml")), 0));
    let Ok(Command::Run(o)) = parse(["-c", "w.yaml", "--", "app", "-x"].map(OsString::from), |_| None) else {
        panic!()
    };
    assert_eq!(o.command, ["app", "-x"]);
    let env = |k: &str| (k == "WARDEN_CONFIG").then(|| "/e.yaml".to_string());
    assert_eq!(
        parse(["validate"].map(OsString::from), env),
        Ok(Command::Validate { config: "/e.yaml".into() })
    );
    assert_eq!(
        parse(["validate"].map(OsString::from), |_| None),
        Ok(Command::Validate { config: DEFAULT_CONFIG.into() })
    );
    let Ok(Command::Run(o)) = parse(
        ["--restart", "on-failure", "--max-restarts", "3", "--backoff", "100ms:2s", "x"].map(OsString::from),
        |_| None,
    ) else {
        panic!()
    };
    assert!(o.supervises_program());
    assert_eq!((o.restart, o.max_restarts), (Some(RestartPolicy::OnFailure), Some(Some(3))));
    assert_eq!(
        o.backoff.map(|b| (b.initial, b.max)),
        Some((Duration::from_millis(100), Duration::from_secs(2)))
    );
    assert!(run(&["--backoff", "5s:1s", "x"]).unwrap_err().0.contains("shorter"));
    assert!(run(&["--restart", "sometimes", "x"]).unwrap_err().0.contains("not always, on-failure or never"));
}

#[test]
fn bad_input_is_explained() {
    let msg = |args: &[&str]| run(args).unwrap_err().0;
    assert_eq!(msg(&["--grace", "9", "x"]), "--grace: \"9\" has no unit; write \"9s\" (units: ms, s, m, h)");
    assert!(msg(&["--rewrite", "TERM", "x"]).contains("is not SIG:SIG"));
    assert!(msg(&["--rewrite", "TERM:NOPE", "x"]).contains("unknown signal \"NOPE\""));
    assert!(msg(&["--rewrite", "CHLD:TERM", "x"]).contains("never forwarded"));
    assert!(msg(&["--exit-map", "300:0", "x"]).contains("codes 0-255"));
    assert!(msg(&["--bogus", "x"]).contains("--bogus"));
    assert!(msg(&[]).contains("no command given"));
    assert!(msg(&["--grace"]).contains("--grace"));
    assert_eq!(
        msg(&["-c", "a.yaml", "-c", "b.yaml"]),
        "-c given twice (a.yaml and b.yaml): warden runs one config file"
    );
    assert_eq!(
        msg(&["--max-restarts", "3", "x"]),
        "--max-restarts has no effect without --restart: add --restart on-failure (or always)"
    );
    assert!(msg(&["--backoff", "1s", "x"]).starts_with("--backoff has no effect without --restart"));
    // With --restart they are what they say.
    assert!(run(&["--restart", "on-failure", "--max-restarts", "3", "--backoff", "1s", "x"]).is_ok());
}

#[test]
fn help_and_version() {
    assert_eq!(parse(["--help"].map(OsString::from), |_| None), Ok(Command::Help));
    assert_eq!(parse(["-V", "x"].map(OsString::from), |_| None), Ok(Command::Version));
}

#[test]
fn graph_reads_a_config_and_a_format() {
    let parsed = |a: &[&str]| parse(a.iter().map(OsString::from), |_| None);
    assert_eq!(
        parsed(&["graph", "-c", "x.yaml", "--mermaid"]),
        Ok(Command::Graph { config: "x.yaml".into(), mermaid: true })
    );
    assert_eq!(parsed(&["graph"]), Ok(Command::Graph { config: DEFAULT_CONFIG.into(), mermaid: false }));
    assert!(parsed(&["graph", "extra"]).is_err());
}

#[test]
fn stop_signals_default_to_term_int_quit_and_can_be_chosen() {
    assert_eq!(run(&["x"]).unwrap().stop_signals, [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT]);
    let o = run(&["--stop-signals", "TERM, SIGINT,TERM", "x"]).unwrap();
    assert_eq!(o.stop_signals, [libc::SIGTERM, libc::SIGINT]);
    let env = |k: &str| (k == "WARDEN_STOP_SIGNALS").then(|| "USR1".to_string());
    let Ok(Command::Run(o)) = parse(["x"].map(OsString::from), env) else { panic!() };
    assert_eq!(o.stop_signals, [libc::SIGUSR1]);
    let Ok(Command::Run(o)) = parse(["--stop-signals", "TERM", "x"].map(OsString::from), env) else {
        panic!()
    };
    assert_eq!(o.stop_signals, [libc::SIGTERM]);
    for (text, why) in [
        ("", "name at least one signal"),
        ("TERM,KILL", "SIGKILL cannot be a stop signal"),
        ("CHLD", "SIGCHLD cannot be a stop signal"),
        ("TERM,NOPE", "unknown signal \"NOPE\""),
    ] {
        let error = run(&["--stop-signals", text, "x"]).unwrap_err();
        assert!(error.0.contains(why), "{text}: {error}");
    }
}
