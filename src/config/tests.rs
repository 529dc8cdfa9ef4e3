use super::*;

fn check(text: &str) -> Result<Config, String> {
    let env = |name: &str| match name {
        "PORT" => Some("8080".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    parse(text, "w.yaml", &env, Path::new("/nonexistent-root")).map_err(|e| e.to_string())
}

#[test]
fn reads_a_full_service() {
    let config = check(
        "grace: 20s\ndrain: 1s\nlog_format: json\nservices:\n  db:\n    command: [\"sleep\", \"1000\"]\n    \
         user: \"1000:1000\"\n    workdir: /tmp\n    env: { A: \"1\", B: x }\n    umask: \"027\"\n    \
         limits: { nofile: 4096, core: unlimited, stack: 8M }\n  web:\n    command: exec server --port ${PORT}\n    \
         depends_on: { db: ready, init: completed }\n    restart: always\n    success_codes: [0, 3]\n    \
         max_restarts: 5\n    restart_window: 1m\n    backoff: { initial: 100ms, max: 2s, multiplier: 3, jitter: 20% }\n    \
         min_uptime: 2s\n    cooldown: 5m\n    stop_signal: INT\n    stop_timeout: 3s\n    critical: true\n  \
         init:\n    command: [\"true\"]\n    type: oneshot\n  tick:\n    command: date\n    schedule: 10m\n",
    )
    .unwrap();
    assert_eq!(
        (config.grace, config.drain, config.log_format),
        (Duration::from_secs(20), Duration::from_secs(1), LogFormat::Json)
    );
    let db = &config.services[0];
    assert_eq!(db.credentials.as_ref().map(|c| (c.uid, c.gid)), Some((1000, 1000)));
    assert_eq!(db.umask, Some(0o027));
    assert_eq!(db.limits.len(), 3);
    assert_eq!(db.env, vec![("A".into(), "1".into()), ("B".into(), "x".into())]);
    let web = &config.services[1];
    assert_eq!(web.command, ["/bin/sh", "-c", "exec server --port 8080"]);
    assert_eq!(web.depends_on[0], Dependency { name: "db".into(), condition: Condition::Ready, any: false });
    assert_eq!(
        web.backoff,
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            multiplier: 3.0,
            jitter: 0.2
        }
    );
    assert_eq!((web.max_restarts, web.stop_signal, web.critical), (Some(5), libc::SIGINT, true));
    assert_eq!(config.services[2].kind, Kind::Oneshot);
    assert_eq!(config.services[3].kind, Kind::Periodic(Schedule::Every(Duration::from_secs(600))));
}

#[test]
fn reports_every_error_with_place_and_hint() {
    let err = check(
        "grace: 9\nservices:\n  web:\n    command: x\n    restrat: always\n    restart: sometimes\n    depends_on: [dbb]\n  db:\n    command: y\n",
    )
    .unwrap_err();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "w.yaml:1:8: grace: \"9\" has no unit; write \"9s\" (units: ms, s, m, h)",
            "w.yaml:5:5: services.web.restrat: unknown key; did you mean \"restart\"?",
            "w.yaml:6:14: services.web.restart: \"sometimes\" is not one of always, on-failure, never",
            "w.yaml:7:5: services.web.depends_on: no service \"dbb\"; did you mean \"db\"?",
        ]
    );
}

/// An unknown key with no close match says so on its line; the keys it could
/// have been are listed once after all the problems, service keys with what
/// each is for; problems come in the order of their place in the file.
#[test]
fn known_keys_are_listed_once_and_problems_sorted() {
    let err = check(
        "services:\n  web:\n    command: x\n    zzzz: 1\n    qqqq: 2\n    restart: sometimes\n  db:\n    command: y\n    wwww: 3\n    backoff: { pppp: 1 }\n",
    )
    .unwrap_err();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "w.yaml:4:5: services.web.zzzz: unknown key (the known keys are listed below)",
            "w.yaml:5:5: services.web.qqqq: unknown key (the known keys are listed below)",
            "w.yaml:6:14: services.web.restart: \"sometimes\" is not one of always, on-failure, never",
            "w.yaml:9:5: services.db.wwww: unknown key (the known keys are listed below)",
            "w.yaml:10:16: services.db.backoff.pppp: unknown key (the known keys are listed below)",
        ]
    );
    assert_eq!(lines[5], "service keys (docs/configuration.md):");
    assert_eq!(err.matches("service keys").count(), 1, "{err}");
    let restart = lines.iter().find(|l| l.trim_start().starts_with("restart ")).unwrap();
    assert!(
        restart.starts_with("  restart ") && restart.ends_with(" what follows an exit (default: on-failure)"),
        "{err}"
    );
    assert_eq!(lines.len(), 5 + 1 + keys::SERVICE.len() + 1, "{err}");
    assert!(lines.last().unwrap().starts_with("known keys there: initial, max"), "{err}");
}

#[test]
fn finds_cycles() {
    let err = check("services:\n  a: { command: x, depends_on: [b] }\n  b: { command: x, depends_on: [c] }\n  c: { command: x, depends_on: [a] }\n")
        .unwrap_err();
    assert!(err.contains("dependency cycle: a -> b -> c -> a"), "{err}");
}

#[test]
fn expands_variables() {
    let env = |n: &str| (n == "X").then(|| "1".to_string());
    assert_eq!(expand("a${X}b", &env).unwrap(), "a1b");
    assert_eq!(expand("${Y:-d}", &env).unwrap(), "d");
    assert_eq!(expand("$$X $5", &env).unwrap(), "$X $5");
    assert!(expand("${Y}", &env).unwrap_err().contains("${Y} is not set"));
    assert!(expand("${X", &env).is_err());
}

#[test]
fn suggests_close_words_only() {
    let keys: Vec<&str> = keys::service_key_names().collect();
    assert_eq!(suggest("restrat", &keys), Some("restart"));
    assert_eq!(suggest("comand", &keys), Some("command"));
    assert_eq!(suggest("zzzzzz", &keys), None);
}

#[test]
fn reads_probes_with_kubernetes_defaults() {
    let config = check(
        "services:\n  web:\n    command: [x]\n    notify: true\n    watchdog: 5s\n    \
         startup: { file: /tmp/started }\n    liveness: { exec: \"test -e /tmp/ok\", timeout: 2s }\n    \
         readiness: { http: \"http://localhost:${PORT}/ready?x=1\", period: 2s, success_threshold: 2 }\n  \
         db:\n    command: [x]\n    notify_fd: 3\n    readiness: { tcp: \"[::1]:5432\", initial_delay: 1s }\n",
    )
    .unwrap();
    let web = &config.services[0];
    let startup = web.startup.as_ref().unwrap();
    assert_eq!(startup.check, Check::File("/tmp/started".into()));
    assert_eq!(
        (
            startup.initial_delay,
            startup.period,
            startup.timeout,
            startup.success_threshold,
            startup.failure_threshold
        ),
        (Duration::ZERO, Duration::from_secs(10), Duration::from_secs(1), 1, 3)
    );
    let liveness = web.liveness.as_ref().unwrap();
    assert_eq!(liveness.check, Check::Exec(vec!["/bin/sh".into(), "-c".into(), "test -e /tmp/ok".into()]));
    assert_eq!(liveness.timeout, Duration::from_secs(2));
    let readiness = web.readiness.as_ref().unwrap();
    assert_eq!(
        readiness.check,
        Check::Http {
            address: "127.0.0.1:8080".parse().unwrap(),
            host: "localhost:8080".into(),
            path: "/ready?x=1".into()
        }
    );
    assert_eq!((readiness.period, readiness.success_threshold), (Duration::from_secs(2), 2));
    assert_eq!((web.notify, web.watchdog), (true, Some(Duration::from_secs(5))));
    let db = &config.services[1];
    assert_eq!(db.notify_fd, Some(3));
    let readiness = db.readiness.as_ref().unwrap();
    assert_eq!(readiness.check, Check::Tcp("[::1]:5432".parse().unwrap()));
    assert_eq!(readiness.initial_delay, Duration::from_secs(1));
    assert!(db.has_readiness_check() && !config.services.is_empty());
}

#[test]
fn every_key_is_in_the_configuration_reference() {
    let reference = include_str!("../../docs/configuration.md");
    for key in GLOBAL_KEYS.iter().chain(PROBE_KEYS) {
        assert!(reference.contains(&format!("| `{key}` |")), "docs/configuration.md has no row for `{key}`");
    }
    // A service key's row says what the key table says of its type and default.
    for key in keys::SERVICE {
        let row = format!("| `{}` | {} | {} |", key.name, key.kind, key.default);
        assert!(reference.contains(&row), "docs/configuration.md has no row starting {row}");
    }
    for (key, kind) in keys::GLOBAL_KINDS {
        let row = format!("| `{key}` | {kind} |");
        assert!(reference.contains(&row), "docs/configuration.md has no row starting {row}");
    }
}

/// A value of the wrong shape is answered with what the key takes.
#[test]
fn a_value_of_the_wrong_shape_says_what_the_key_takes() {
    let cases = [
        (
            "services:\n  web:\n    command: [x]\n    restart: {when: always}\n",
            "services.web.restart: expected a single value (always | on-failure | never), found a mapping",
        ),
        (
            "control: {socket: /run/w.sock}\nservices:\n  web:\n    command: [x]\n",
            "control: expected a single value (path or off), found a mapping",
        ),
        (
            "grace: [9s]\nservices:\n  web:\n    command: [x]\n",
            "grace: expected a single value (duration), found a list",
        ),
    ];
    for (text, expected) in cases {
        let message = check(text).map(|_| ()).unwrap_err();
        assert!(message.contains(expected), "{message}");
    }
}

/// `logs: null` as users write it is YAML's null, not the word "null": it
/// must discard the output, not fall back to the default (prefix).
#[test]
fn logs_null_unquoted_means_discard() {
    for value in ["null", "~", "\"null\"", "Null", "NULL"] {
        let config = check(&format!("services:\n  quiet:\n    command: [x]\n    logs: {value}\n"));
        let logs = config.map(|c| c.services[0].logs.clone());
        assert_eq!(logs, Ok(Logs::Null), "logs: {value}");
    }
}

/// The cron shortcuts users write (`@daily`) are the cron lines they mean.
#[test]
fn cron_shortcuts_are_their_cron_lines() {
    for (shortcut, line) in [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
    ] {
        let config =
            check(&format!("services:\n  job:\n    command: [x]\n    schedule: \"{shortcut}\"\n")).unwrap();
        let expected = Kind::Periodic(Schedule::Cron(crate::cron::Cron::parse(line).unwrap()));
        assert_eq!(config.services[0].kind, expected, "{shortcut}");
    }
    // An interval as Go's cron libraries write it.
    let every = check("services:\n  job:\n    command: [x]\n    schedule: \"@every 90s\"\n").unwrap();
    assert_eq!(every.services[0].kind, Kind::Periodic(Schedule::Every(Duration::from_secs(90))));
    for (bad, said) in [("@every 0s", "longer than 0"), ("@every soon", "soon"), ("@often", "@every 10m")] {
        let errors =
            check(&format!("services:\n  job:\n    command: [x]\n    schedule: \"{bad}\"\n")).unwrap_err();
        assert!(errors.contains("services.job.schedule") && errors.contains(said), "{bad}: {errors}");
    }
}

/// The layers of a service's environment, each over the one before:
/// warden's, the top-level env_file and env, the service's env_file and env.
#[test]
fn env_files_layer_in_order_and_bad_lines_are_placed() {
    let dir = std::env::temp_dir().join(format!("warden-envfile-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    std::fs::write(dir.join("conf/all.env"), "A=file\nB=file\nC=file\nD=file\nHOME_COPY=${HOME}\n").unwrap();
    std::fs::write(dir.join("conf/web.env"), "export C=service-file\nD=\"${B}+x\"\n").unwrap();
    let yaml = "env_file: all.env\nenv: { B: top }\nservices:\n  web:\n    env_file: [web.env, missing.env?]\n    \
                env: { D: own }\n    command: \"echo ${A} ${C}\"\n  plain:\n    command: [x]\n";
    let file = dir.join("conf/warden.yaml");
    let env = |name: &str| (name == "HOME").then(|| "/root".to_string());
    let config = parse(yaml, &file.display().to_string(), &env, Path::new("/")).unwrap();
    let get = |service: &Service, key: &str| {
        service.env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("").to_string()
    };
    let web = &config.services[0];
    assert_eq!(
        ["A", "B", "C", "D", "HOME_COPY"].map(|k| get(web, k)),
        ["file", "top", "service-file", "own", "/root"].map(String::from)
    );
    assert_eq!(web.command, [OsString::from("/bin/sh"), "-c".into(), "echo file service-file".into()]);
    let plain = &config.services[1];
    assert_eq!(["B", "C", "D"].map(|k| get(plain, k)), ["top", "file", "file"].map(String::from));

    std::fs::write(dir.join("conf/web.env"), "C=1\nthis is not a variable\n").unwrap();
    let text = parse(yaml, &file.display().to_string(), &env, Path::new("/")).unwrap_err().to_string();
    let web_env = dir.join("conf/web.env");
    assert!(
        text.contains(&format!(
            "services.web.env_file: {}:2: \"this is not a variable\" is not KEY=VALUE",
            web_env.display()
        )),
        "{text}"
    );
    let missing = "services:\n  web:\n    env_file: nope.env\n    command: [x]\n";
    let text = parse(missing, &file.display().to_string(), &env, Path::new("/")).unwrap_err().to_string();
    assert!(
        text.contains("cannot read") && text.contains("(write \"nope.env?\" to skip it when missing)"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replicas_run_numbered_copies_each_with_its_own_instance_variables() {
    let config = check(
        "services:\n  web:\n    command: server --port 90${WARDEN_INSTANCE}\n    replicas: 3\n    \
         env: { SLOT: \"s${WARDEN_INSTANCE}\" }\n    readiness: { tcp: \"90${WARDEN_INSTANCE}\" }\n  \
         proxy:\n    command: [proxy]\n    depends_on: { web: { condition: ready, instances: any } }\n",
    )
    .unwrap();
    let names: Vec<&str> = config.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web-0", "web-1", "web-2", "proxy"]);
    let web2 = &config.services[2];
    assert_eq!(web2.command, ["/bin/sh", "-c", "server --port 902"]);
    assert_eq!(web2.instance, Some(Instance { group: "web".into(), index: 2, count: 3 }));
    let env: Vec<(&str, &str)> = web2.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(env, [("SLOT", "s2"), ("WARDEN_INSTANCE", "2"), ("WARDEN_REPLICAS", "3")]);
    let Some(Check::Tcp(address)) = web2.readiness.as_ref().map(|p| &p.check) else { panic!("no tcp probe") };
    assert_eq!(address.port(), 902);
    assert_eq!((web2.source_name(), web2.answers_to("web"), web2.answers_to("web-2")), ("web", true, true));
    let proxy = &config.services[3];
    assert_eq!(proxy.depends_on, [Dependency { name: "web".into(), condition: Condition::Ready, any: true }]);
    assert!(proxy.depends_on_service(web2));
}

#[test]
fn a_scaled_read_replaces_the_files_count() {
    let text = "services:\n  web:\n    command: [w]\n    replicas: 2\n  db:\n    command: [d]\n";
    let scaled = parse_scaled(text, "w.yaml", &|_| None, Path::new("/"), &[("web".into(), 4)]).unwrap();
    let names: Vec<&str> = scaled.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["web-0", "web-1", "web-2", "web-3", "db"]);
    assert_eq!(scaled.services[0].instance.as_ref().map(|i| i.count), Some(4));
    assert_eq!(scaled.text, text);
}

#[test]
fn bad_replicas_are_refused_once_with_their_place() {
    let lines = |text: &str| check(text).unwrap_err().lines().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        lines("services:\n  web:\n    command: [w]\n    replicas: 0\n"),
        ["w.yaml:4:15: services.web.replicas: \"0\" is not a count from 1 to 100"]
    );
    assert_eq!(
        lines("services:\n  web:\n    command: [w]\n    replicas: 101\n"),
        ["w.yaml:4:15: services.web.replicas: \"101\" is too large (max 100)"]
    );
    assert_eq!(
        lines(
            "services:\n  job:\n    command: [w]\n    type: oneshot\n    replicas: 2\n  after:\n    command: [a]\n    depends_on: { job: completed }\n"
        ),
        [
            "w.yaml:5:5: services.job.replicas: only a longrun service runs copies: a oneshot or a periodic job runs once"
        ]
    );
    // A problem of the service is said once, not once per copy.
    assert_eq!(
        lines(
            "services:\n  web:\n    command: [w]\n    replicas: 3\n    restart: sometimes\n  proxy:\n    command: [p]\n    depends_on: [web]\n"
        ),
        ["w.yaml:5:14: services.web.restart: \"sometimes\" is not one of always, on-failure, never"]
    );
    assert_eq!(
        lines("services:\n  web:\n    command: [w]\n    replicas: 2\n  web-1:\n    command: [x]\n"),
        [
            "w.yaml:4:5: services.web.replicas: web-1 is the name of a copy of web (replicas: 2) and of a service of its own: rename one"
        ]
    );
    assert_eq!(
        lines(
            "services:\n  db:\n    command: [w]\n  web:\n    command: [x]\n    depends_on: { db: { instances: any } }\n"
        ),
        [
            "w.yaml:6:5: services.web.depends_on.db.instances: \"db\" runs one copy (no replicas:), so instances: any means nothing there"
        ]
    );
    assert_eq!(
        lines("services:\n  web:\n    command: [x]\n    replicas: 3\n    logs: { file: /var/log/web.log }\n"),
        [
            "w.yaml:5:5: services.web.logs: every copy would write /var/log/web.log: put ${WARDEN_INSTANCE} in the path"
        ]
    );
    assert_eq!(
        lines(
            "services:\n  a:\n    command: [x]\n    logs: { file: /l }\n  b:\n    command: [y]\n    logs: { file: /l }\n"
        ),
        ["w.yaml:7:5: services.b.logs: /l is also a's log file: give each service its own"]
    );
    assert!(check("services:\n  web:\n    command: [x]\n    replicas: 2\n    logs: { file: \"/l-${WARDEN_INSTANCE}\" }\n").is_ok());
    assert_eq!(
        lines("services:\n  web:\n    command: [x]\n    replicas: 2\n    depends_on: [web]\n"),
        ["w.yaml:5:5: services.web.depends_on: a service cannot depend on itself"]
    );
    assert_eq!(
        lines(
            "services:\n  db:\n    command: [w]\n  web:\n    command: [x]\n    depends_on: { db: { instances: some } }\n"
        ),
        ["w.yaml:6:36: services.web.depends_on.db.instances: \"some\" is not one of all, any"]
    );
}

/// Compose's way of sharing settings: an `x-` field holds an anchor, `<<`
/// merges it into each service, and a service's own keys win; `x-` fields
/// anywhere are ignored. An error in merged text names the service's key
/// at the anchor's line.
#[test]
fn extension_fields_and_merge_keys_share_settings() {
    let config = check(
        "x-defaults: &defaults\n  restart: always\n  env: { TZ: UTC }\n  x-note: ignored\n\
         services:\n  a:\n    <<: *defaults\n    command: [sleep, \"100\"]\n  \
         b:\n    <<: *defaults\n    command: [sleep, \"101\"]\n    restart: never\n    x-owner: team\n",
    )
    .unwrap();
    let [a, b] = [&config.services[0], &config.services[1]];
    assert_eq!((a.restart, b.restart), (RestartPolicy::Always, RestartPolicy::Never));
    assert_eq!(a.env, vec![("TZ".into(), "UTC".into())]);
    assert_eq!(b.env, a.env);
    let e =
        check("x-d: &d\n  restart: sometimes\nservices:\n  a:\n    <<: *d\n    command: [x]\n").unwrap_err();
    assert!(e.starts_with("w.yaml:2:12: services.a.restart: \"sometimes\" is not one of"), "{e}");
}
