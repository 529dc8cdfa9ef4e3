use super::*;

fn config(yaml: &str) -> Config {
    crate::config::parse(yaml, "test.yaml", &|_| None, std::path::Path::new("/")).unwrap()
}

fn options() -> Options {
    Options {
        image: Some("registry.example/app:1".into()),
        warden: DEFAULT_WARDEN.into(),
        source: "conf/App_Stack.yaml".into(),
        ..Options::default()
    }
}

const MATRIX: &str = "grace: 20s\nservices:\n  migrate:\n    type: oneshot\n    command: [migrate, --up]\n  \
    db:\n    command: [postgres]\n    user: \"70:70\"\n    workdir: /var/lib/db\n    env: { PGDATA: /data }\n    \
    stop_signal: INT\n    limits: { memory: 512M, cpus: 1.5, pids: 100, nofile: 4096 }\n    \
    readiness: { exec: [pg_isready], period: 2s, failure_threshold: 5 }\n  \
    Web_App:\n    command: server --port 8080\n    depends_on: { db: ready, migrate: completed }\n    no_new_privs: true\n    \
    liveness: { http: \"http://127.0.0.1:8080/healthz\", period: 500ms }\n    readiness: { tcp: 8080 }\n    \
    startup: { file: /tmp/started }\n    max_restarts: 5\n    restart: on-failure\n  \
    nightly:\n    schedule: \"30 2 * * *\"\n    command: [backup]\n  tick:\n    schedule: 45m\n    command: [tick]\n  \
    off:\n    command: [x]\n    enabled: false\n    optional: true\n";

/// The text with each line's indentation taken away (the order of the
/// lines is what the tests look at; the YAML writer's own test, the shape).
fn flat(text: &str) -> String {
    text.lines().map(str::trim_start).collect::<Vec<_>>().join("\n")
}

#[test]
fn kubernetes_orders_init_containers_and_sidecars_by_dependency() {
    let export = kubernetes(&config(MATRIX), &options()).unwrap();
    let text = &flat(&export.text);
    // migrate and db first, as init containers (db a sidecar: Web_App waits for it).
    let migrate = text.find("- name: migrate").unwrap();
    let db = text.find("- name: db").unwrap();
    let containers = text.find("\ncontainers:\n").unwrap();
    let web = text.find("- name: web-app").unwrap();
    assert!(migrate < db && db < containers && containers < web, "{text}");
    assert!(text.contains("\nrestartPolicy: Always\n"), "{text}");
    // db's readiness becomes its startup probe, so Web_App waits until it is ready.
    assert!(text.contains("startupProbe:\nexec:\ncommand: [\"pg_isready\"]"), "{text}");
    assert!(text.contains("command: [\"/warden\", \"--\"]\nargs: [\"postgres\"]"), "{text}");
    assert!(text.contains("runAsUser: 70\nrunAsGroup: 70"), "{text}");
    assert!(text.contains("limits:\nmemory: \"536870912\"\ncpu: \"1500m\"\nrequests:"), "{text}");
    assert!(text.contains("allowPrivilegeEscalation: false"), "{text}");
    assert!(text.contains("httpGet:\npath: /healthz\nport: 8080\n"), "{text}");
    assert!(text.contains("tcpSocket:\nport: 8080\n"), "{text}");
    assert!(text.contains("command: [\"test\", \"-e\", \"/tmp/started\"]"), "{text}");
    assert!(text.contains("terminationGracePeriodSeconds: 20\n"), "{text}");
    assert!(text.contains("kind: CronJob\nmetadata:\nname: app-stack-nightly\nspec:\nschedule: \"30 2 * * *\"\ntimeZone: Etc/UTC"), "{text}");
    assert!(text.contains("schedule: \"*/30 * * * *\""), "{text}");
    assert!(!text.contains("name: off"), "{text}");
    for note in [
        "the pod's name is \"app-stack\"",
        "Web_App: the container's name is \"web-app\"",
        "db: stop_signal: SIGINT: Kubernetes 1.29 stops with SIGTERM",
        "db: limits.pids: 100",
        "db: limits.nofile: rlimits have no field",
        "Web_App: max_restarts: 5",
        "Web_App: probe times in whole seconds: periodSeconds 1 for 500ms",
        "tick: schedule: every 45m is \"*/30 * * * *\" as a cron line (not the same)",
        "off: enabled: false: not exported",
    ] {
        assert!(export.notes.iter().any(|n| n.contains(note)), "no note {note:?} in {:#?}", export.notes);
    }
    // Each note is also a comment where it applies.
    assert!(text.contains("# warden: max_restarts: 5"), "{text}");
}

#[test]
fn kubernetes_deployments_main_programs_and_refusals() {
    let yaml = "services:\n  db:\n    command: [db]\n  cache:\n    command: [cache]\n    optional: true\n";
    let deployment =
        Options { shape: Shape::Deployment, main: Main::Command(vec!["app".into()]), ..options() };
    let text = flat(&kubernetes(&config(yaml), &deployment).unwrap().text);
    assert!(
        text.contains("kind: Deployment") && text.contains("matchLabels:\napp.kubernetes.io/name: app-stack"),
        "{text}"
    );
    // The main program waits for every required service: db is a sidecar, cache (optional) a container.
    let init = text.find("initContainers:").unwrap();
    let db = text.find("- name: db").unwrap();
    let containers = text.find("\ncontainers:").unwrap();
    assert!(init < db && db < containers, "{text}");
    assert!(text.contains("- name: main\n") && text.contains("args: [\"app\"]"), "{text}");
    let main = Options { main: Main::Service("db".into()), ..options() };
    let text = kubernetes(&config(yaml), &main).unwrap().text;
    assert!(!text.contains("initContainers"), "{text}");
    let no_image = Options { image: None, ..options() };
    assert!(kubernetes(&config(yaml), &no_image).unwrap_err().contains("--image IMAGE is needed"));
    let unknown = Options { main: Main::Service("nosuch".into()), ..options() };
    assert!(kubernetes(&config(yaml), &unknown).unwrap_err().contains("--main nosuch"));
    let only_init = "services:\n  job:\n    type: oneshot\n    command: [x]\n";
    assert!(kubernetes(&config(only_init), &options()).unwrap_err().contains("-- CMD or --main NAME"));
}

#[test]
fn without_sidecars_every_long_running_service_is_a_container() {
    let yaml = "services:\n  db:\n    command: [db]\n    readiness: { tcp: 5432 }\n  web:\n    command: [web]\n    depends_on: { db: ready }\n";
    let export = kubernetes(&config(yaml), &Options { no_sidecars: true, ..options() }).unwrap();
    assert!(
        !export.text.contains("initContainers") && !export.text.contains("startupProbe"),
        "{}",
        export.text
    );
    assert!(
        export.notes.iter().any(|n| n.contains("db: others wait for it under warden")),
        "{:?}",
        export.notes
    );
}

#[test]
fn compose_maps_dependencies_health_checks_and_limits() {
    let export =
        compose(&config(MATRIX), &Options { share: vec!["/srv/shared".into()], ..options() }).unwrap();
    let text = &export.text;
    for part in [
        "  db:\n    image: registry.example/app:1\n    entrypoint: [\"/warden\", \"--\"]\n    command: [\"postgres\"]\n",
        "      PGDATA: /data\n      WARDEN_GRACE: \"5s\"\n",
        "    user: \"70:70\"\n",
        "      test: [\"CMD\", \"pg_isready\"]\n      interval: \"2s\"\n      timeout: \"1s\"\n      retries: 5\n",
        "    stop_signal: SIGINT\n    stop_grace_period: \"6s\"\n",
        "    deploy:\n      resources:\n        limits:\n          memory: \"512M\"\n          cpus: \"1.5\"\n    pids_limit: 100\n",
        "    ulimits:\n      nofile:\n        soft: 4096\n        hard: 4096\n",
        "      db:\n        condition: service_healthy\n      migrate:\n        condition: service_completed_successfully\n",
        "      test: [\"CMD\", \"/warden\", \"check\", \"--tcp\", \"127.0.0.1:8080\", \"--timeout\", \"1s\"]\n",
        "    restart: on-failure:5\n",
        "    security_opt: [\"no-new-privileges:true\"]\n",
        "    volumes: [\"shared-0:/srv/shared\"]\n",
        "volumes:\n  shared-0: {}\n",
    ] {
        assert!(text.contains(part), "missing {part:?} in\n{text}");
    }
    assert!(export.notes.iter().any(|n| n.starts_with("nightly: a periodic job: Compose has no scheduler")));
    assert!(
        !export.notes.iter().any(|n| n.contains("max_restarts")),
        "on-failure:5 carries it: {:?}",
        export.notes
    );
}

#[test]
fn interval_schedules_become_the_nearest_cron_line() {
    use std::time::Duration;
    let minutes = |m: u64| Duration::from_secs(m * 60);
    assert_eq!(kubernetes::cron_line(minutes(15)), ("*/15 * * * *".into(), true));
    assert_eq!(kubernetes::cron_line(minutes(1)), ("* * * * *".into(), true));
    assert_eq!(kubernetes::cron_line(Duration::from_secs(3)), ("* * * * *".into(), false));
    assert_eq!(kubernetes::cron_line(minutes(120)), ("0 */2 * * *".into(), true));
    assert_eq!(kubernetes::cron_line(minutes(60)), ("0 * * * *".into(), true));
    assert_eq!(kubernetes::cron_line(minutes(24 * 60)), ("0 0 * * *".into(), true));
    assert_eq!(kubernetes::cron_line(minutes(7 * 24 * 60)), ("0 0 * * 0".into(), true));
    assert_eq!(kubernetes::cron_line(minutes(5 * 60)), ("0 */4 * * *".into(), false));
}

#[test]
fn names_become_dns_labels() {
    assert_eq!(dns_label("web"), ("web".into(), false));
    assert_eq!(dns_label("Web_App.v2"), ("web-app-v2".into(), true));
    assert_eq!(dns_label(&"x".repeat(70)).0.len(), 63);
    assert_eq!(dns_label("__"), ("service".into(), true));
}

/// Users are the image's: a name is kept as written (Compose resolves it in
/// the image; Kubernetes takes numbers only, so it is noted, not guessed
/// from this machine's /etc/passwd), and a name this machine lacks is no
/// error.
#[test]
fn users_are_the_images_not_this_machines() {
    let yaml = "services:\n  db:\n    command: [postgres]\n    user: no-such-user-here\n  \
                web:\n    command: [server]\n    user: \"1000\"\n    group: www\n";
    assert!(crate::config::parse(yaml, "t.yaml", &|_| None, std::path::Path::new("/")).is_err());
    let config = crate::config::parse(yaml, "t.yaml", &|_| None, crate::config::users_as_written()).unwrap();
    // What is wrong whatever the image is still is.
    let twice = "services:\n  db:\n    command: [x]\n    user: \"a:b\"\n    group: c\n";
    let error =
        crate::config::parse(twice, "t.yaml", &|_| None, crate::config::users_as_written()).unwrap_err();
    assert!(error.to_string().contains("the group is given twice"), "{error}");
    let compose_text = compose(&config, &options()).unwrap().text;
    assert!(compose_text.contains("    user: no-such-user-here\n"), "{compose_text}");
    assert!(compose_text.contains("    user: \"1000:www\"\n"), "{compose_text}");
    let export = kubernetes(&config, &options()).unwrap();
    let text = flat(&export.text);
    assert_eq!(text.matches("runAsUser: 1000").count(), 1, "{text}");
    assert!(!text.contains("runAsGroup:"), "{text}");
    for note in [
        "db: user: no-such-user-here: runAsUser takes a number, so the container runs as the image's USER",
        "web: group: www: runAsGroup takes a number",
    ] {
        assert!(export.notes.iter().any(|n| n.starts_with(note)), "no note {note:?}: {:?}", export.notes);
    }
}

/// In Compose every service has its own loopback: a command or a variable
/// naming one is said, probes (run in the service's own container) are not.
#[test]
fn compose_says_where_a_service_names_loopback() {
    let yaml = "services:\n  cache:\n    command: [redis-server, --bind, 127.0.0.1]\n    \
                readiness: { tcp: \"127.0.0.1:6379\" }\n  \
                app:\n    command: [app]\n    env: { DB: \"postgres://localhost/app\" }\n  \
                v6:\n    command: [\"server --listen [::1]:80\"]\n  \
                bare:\n    command: [server, --bind, \"::1\"]\n  \
                other:\n    command: [server, --bind, 0.0.0.0, --peer, \"10.1.127.0\", --id, \"a::12\"]\n    \
                liveness: { http: \"http://localhost:8080/\" }\n";
    let export = compose(&config(yaml), &options()).unwrap();
    let said: Vec<&str> =
        export.notes.iter().filter(|n| n.contains("loopback")).map(String::as_str).collect();
    assert_eq!(said.len(), 4, "{said:#?}");
    for start in [
        "cache: its command names 127.0.0.1: ",
        "app: env DB names localhost: ",
        "v6: its command names [::1]: ",
        "bare: its command names ::1: ",
    ] {
        assert!(said.iter().any(|n| n.starts_with(start)), "{start}: {said:#?}");
    }
    // Comments in the file too; in a pod, loopback is shared: nothing said.
    assert_eq!(export.text.matches("listen on 0.0.0.0").count(), 4, "{}", export.text);
    let pod = kubernetes(&config(yaml), &options()).unwrap();
    assert!(!pod.notes.iter().any(|n| n.contains("loopback")), "{:#?}", pod.notes);
}
