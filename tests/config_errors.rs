//! `warden validate` and `warden -c` against invalid configs: every problem is
//! reported at once, each with file, line, column, key path and a suggestion
//! where one is likely; exit 2; nothing is started.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

in_both_modes!(every_invalid_config_is_refused_on_reload_and_nothing_moves);

/// (config, exact `warden validate` output with the file name as FILE)
const CASES: &[(&str, &str)] = &[
    (
        "services:\n  web:\n    comand: [x]\n",
        "FILE:3:5: services.web.comand: unknown key; did you mean \"command\"?\nFILE:3:5: services.web.command: missing: what should this service run?\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    restart: sometimes\n",
        "FILE:4:14: services.web.restart: \"sometimes\" is not one of always, on-failure, never\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    restrat: always\n",
        "FILE:4:5: services.web.restrat: unknown key; did you mean \"restart\"?\n",
    ),
    (
        "grace: 9\nservices:\n  web:\n    command: [x]\n",
        "FILE:1:8: grace: \"9\" has no unit; write \"9s\" (units: ms, s, m, h)\n",
    ),
    (
        "grace: 10d\nservices:\n  web:\n    command: [x]\n",
        "FILE:1:8: grace: \"10d\": unknown unit \"d\" (units: ms, s, m, h)\n",
    ),
    (
        "drain: soon\nservices:\n  web:\n    command: [x]\n",
        "FILE:1:8: drain: \"soon\" is not a duration; write e.g. \"500ms\", \"10s\", \"2m\" or \"1h\"\n",
    ),
    (
        "log_format: xml\nservices:\n  web:\n    command: [x]\n",
        "FILE:1:13: log_format: \"xml\" is not one of text, json\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    depends_on: [db]\n",
        "FILE:4:5: services.web.depends_on: no service \"db\"\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    depends_on: { db: started }\n  db:\n    command: [y]\n    depends_on: [web]\n",
        "FILE:4:19: services.web.depends_on: dependency cycle: web -> db -> web\n",
    ),
    (
        "services:\n  a:\n    command: [x]\n    depends_on: [a]\n",
        "FILE:4:5: services.a.depends_on: a service cannot depend on itself\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    depends_on: { db: completed }\n  db:\n    command: [y]\n",
        "FILE:4:5: services.web.depends_on: \"db\" is not a oneshot, so it never completes: use started or ready\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    depends_on: { db: healthy }\n  db:\n    command: [y]\n",
        "FILE:4:23: services.web.depends_on.db: \"healthy\" is not one of started, ready, completed\n",
    ),
    (
        "services:\n  web:\n    command: []\n",
        "FILE:3:14: services.web.command: empty command: give the program and its arguments, e.g. [nginx, -g, \"daemon off;\"]\n",
    ),
    ("services:\n  web:\n    command: \"\"\n", "FILE:3:14: services.web.command: empty command\n"),
    (
        "services:\n  web:\n    restart: always\n",
        "FILE:3:5: services.web.command: missing: what should this service run?\n",
    ),
    ("services:\n  web:\n", "FILE:2:6: services.web: empty service: it needs at least a \"command\"\n"),
    ("services: {}\n", "FILE:1:11: services: no services listed\n"),
    (
        "services:\n  web:\n    command: [x]\n    stop_signal: TERMINATE\n",
        "FILE:4:18: services.web.stop_signal: unknown signal \"TERMINATE\" (write e.g. TERM, SIGINT, 15 or RTMIN+3)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    max_restarts: many\n",
        "FILE:4:19: services.web.max_restarts: \"many\" is not a count or \"unlimited\"\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    success_codes: [0, 300]\n",
        "FILE:4:24: services.web.success_codes: \"300\" is not an exit code from 0 to 255\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    backoff: { initial: 10s, max: 1s }\n",
        "FILE:4:14: services.web.backoff: max is shorter than initial\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    backoff: { initial: 1s, multiplier: 0.5 }\n",
        "FILE:4:41: services.web.backoff.multiplier: \"0.5\" is not a number from 1 to 100\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    backoff: { jitter: 10 }\n",
        "FILE:4:24: services.web.backoff.jitter: \"10\" is not a percentage like \"10%\"\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    umask: \"999\"\n",
        "FILE:4:12: services.web.umask: \"999\" is not an octal umask like \"027\" (quote it in YAML)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    limits: { nofile: lots }\n",
        "FILE:4:23: services.web.limits.nofile: \"lots\" is not a size like 512K, 10M, 1G or a number\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    limits: { memory: 512K }\n",
        "FILE:4:23: services.web.limits.memory: 512K is below 1M: no program starts in less; write a size like 64M\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    limits: { cpus: 0 }\n",
        "FILE:4:21: services.web.limits.cpus: 0 is below 0.01 CPU, the kernel's smallest quota; write at least 0.01\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    limits: { cpus: 4096 }\n",
        "FILE:4:21: services.web.limits.cpus: 4096 is more than this machine's CPUS CPUs: the cap would never bind; write at most CPUS\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    limits: { cpus: lots }\n",
        "FILE:4:21: services.web.limits.cpus: \"lots\" is not a number of CPUs like 0.5, 2 or 150%\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    limits: { pids: 0 }\n",
        "FILE:4:21: services.web.limits.pids: 0 would let the service start nothing, not even itself; write at least 1\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    limits: { memory: 64M, memory_high: 128M }\n",
        "FILE:4:41: services.web.limits.memory_high: above `memory`: the hard cap comes first; make memory_high the lower one\n",
    ),
    (
        "services:\n  cron:\n    command: [x]\n    enabled: false\n  web:\n    command: [x]\n    depends_on: [cron]\n",
        "FILE:7:5: services.web.depends_on: \"cron\" is disabled (enabled: false), so it would never start: enable it, or mark it optional: true to start without it\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    enabled: maybe\n",
        "FILE:4:14: services.web.enabled: \"maybe\" is not true or false\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    liveness: { log: alive }\n",
        "FILE:4:22: services.web.liveness.log: a line once written cannot tell that a service still lives: use exec, http, tcp or file\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    logs: inherit\n    readiness: { log: ready }\n",
        "FILE:5:16: services.web.readiness: a log probe reads the service's captured lines, and logs: inherit captures none: use logs: prefix or a file\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    watch: { paths: [/no/such/dir/a.conf] }\n",
        "FILE:4:22: services.web.watch.paths: \"/no/such/dir/a.conf\": the directory /no/such/dir does not exist (warden watches a file's directory)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    watch: { paths: [/tmp], action: bounce }\n",
        "FILE:4:37: services.web.watch.action: \"bounce\" is not restart, reload or \"signal: SIG\"\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    watch: { paths: [\"/tmp/*/a.conf\"] }\n",
        "FILE:4:22: services.web.watch.paths: \"/tmp/*/a.conf\": a glob may only be in the last part of a path\n",
    ),
    (
        "cgroups: maybe\nservices:\n  web:\n    command: [x]\n",
        "FILE:1:10: cgroups: \"maybe\" is not one of auto, off\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    user: nosuchuser\n",
        "FILE:4:11: services.web.user: no user \"nosuchuser\" in /etc/passwd (give a numeric uid to run without one)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    group: staff\n",
        "FILE:4:12: services.web.group: \"group\" needs a \"user\"\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    env: { A: }\n",
        "FILE:4:13: services.web.env.A: no value: write \"\" for an empty one\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    env: [A=1]\n",
        "FILE:4:10: services.web.env: expected a mapping of NAME: value, found a list\n",
    ),
    (
        "services:\n  web:\n    command: \"run ${UNSET_VARIABLE_X}\"\n",
        "FILE:3:14: services.web.command: ${UNSET_VARIABLE_X} is not set; set it, or write ${UNSET_VARIABLE_X:-default}\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    forward_signals: [USR1, TERM, FOO, CHLD, KILL]\n",
        "FILE:4:29: services.web.forward_signals: SIGTERM is warden's own (TERM, INT and QUIT stop it, HUP reloads it): it is never forwarded\n\
         FILE:4:35: services.web.forward_signals: unknown signal \"FOO\" (write e.g. TERM, SIGINT, 15 or RTMIN+3)\n\
         FILE:4:40: services.web.forward_signals: SIGCHLD tells warden that a child ended: it is never forwarded\n\
         FILE:4:46: services.web.forward_signals: SIGKILL cannot be caught, so warden never receives it to forward\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    schedule: \"@reboot\"\n",
        "FILE:4:15: services.web.schedule: @reboot means once when warden starts: write \"type: oneshot\" instead of a schedule\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    schedule: \"@fortnightly\"\n",
        "FILE:4:15: services.web.schedule: unknown shortcut \"@fortnightly\" (known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually, and @every 10m for an interval)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    stop_timeout: 99999999999999999999h\n",
        "FILE:4:19: services.web.stop_timeout: \"99999999999999999999h\" is too large (max 87600h)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    max_restarts: 99999999999\n",
        "FILE:4:19: services.web.max_restarts: \"99999999999\" is too large (max 4294967295, or \"unlimited\")\n",
    ),
    (
        "[program:web]\ncommand=/usr/bin/web\nautorestart=true\n",
        "FILE:1:1: this looks like an INI file (a supervisord config?); warden reads YAML: docs/migrating.md shows each supervisord key's counterpart\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    working_dir: /srv\n    autorestart: true\n    numprocs: 4\n",
        "FILE:4:5: services.web.working_dir: unknown key (Compose, process-compose); warden's key is \"workdir\"\n\
         FILE:5:5: services.web.autorestart: unknown key (supervisord; always, on-failure or never); warden's key is \"restart\"\n\
         FILE:6:5: services.web.numprocs: unknown key (supervisord, Compose: warden runs one process per service; declare one service for each)\n",
    ),
    (
        "services:\n  db:\n    command: [x]\n  web:\n    command: [x]\n    depends_on:\n      db: {condition: service_healthy}\n",
        "FILE:7:11: services.web.depends_on.db: write \"db: ready\" (Compose's service_healthy): warden's conditions are started, ready and completed\n",
    ),
    (
        "services:\n  db:\n    command: [x]\n  web:\n    command: [x]\n    depends_on: {db: service_completed_successfully}\n",
        "FILE:6:22: services.web.depends_on.db: write \"db: completed\" (Compose's service_completed_successfully): warden's conditions are started, ready and completed\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    limits: {nofile: 999999999999}\n",
        "FILE:4:22: services.web.limits.nofile: 999999999999 is above this system's maximum number of open files (NR_OPEN, /proc/sys/fs/nr_open)\n",
    ),
    (
        "services:\n  web:\n    command: [nginx, -g, \"daemon off;\"\n    restart: always\n",
        "FILE:3:14: invalid YAML: this list is not closed: a \"]\" is missing (invalid indentation in flow construct at 4:5)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    critical: maybe\n",
        "FILE:4:15: services.web.critical: \"maybe\" is not true or false\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    schedule: \"61 * * * *\"\n",
        "FILE:4:15: services.web.schedule: minute: \"61\" is not from 0 to 59\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    schedule: 0s\n",
        "FILE:4:15: services.web.schedule: the interval must be longer than 0\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    type: daemon\n",
        "FILE:4:11: services.web.type: \"daemon\" is not one of longrun, oneshot\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    liveness: { http: \"https://127.0.0.1/\" }\n",
        "FILE:4:23: services.web.liveness.http: \"https://127.0.0.1/\": https is not supported (probe the plain-HTTP port, or use exec)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    liveness: { http: \"http://db.local:8000/health\" }\n",
        "FILE:4:23: services.web.liveness.http: \"http://db.local:8000/health\": the host must be an IP address or localhost (host names are not resolved)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    readiness: { tcp: 5432, exec: [check] }\n",
        "FILE:4:16: services.web.readiness: one check per probe, found exec and tcp\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    readiness: { period: 1s }\n",
        "FILE:4:16: services.web.readiness: which check? give one of exec, http, tcp, file or log\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    liveness: { tcp: 80, success_threshold: 2 }\n",
        "FILE:4:45: services.web.liveness.success_threshold: must be 1 for a liveness probe (as in Kubernetes): one success is enough\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    liveness: { tcp: 80, perod: 1s }\n",
        "FILE:4:26: services.web.liveness.perod: unknown key; did you mean \"period\"?\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    liveness: { tcp: 80, timeout: 1ms }\n",
        "FILE:4:35: services.web.liveness.timeout: must be at least 10ms\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    watchdog: 10s\n",
        "FILE:4:15: services.web.watchdog: the watchdog needs \"notify: true\": WATCHDOG=1 pings come over sd_notify\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    notify_fd: 1\n",
        "FILE:4:16: services.web.notify_fd: \"1\" is not a descriptor number from 3 to 1023 (0, 1 and 2 are stdio)\n",
    ),
    (
        "services:\n  job:\n    command: [x]\n    type: oneshot\n    readiness: { file: /tmp/x }\n",
        "FILE:5:16: services.job.readiness: only a longrun service becomes ready (dependents of a oneshot wait for its completion)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    readiness: { tcp: \"localhost:http\" }\n",
        "FILE:4:23: services.web.readiness.tcp: \"localhost:http\" is not a port or an IP:port like 127.0.0.1:5432 (host names are not resolved)\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    liveness: tcp\n",
        "FILE:4:15: services.web.liveness: a probe is a mapping like { tcp: 8080, period: 5s }\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n  web:\n    command: [y]\n",
        "FILE:4:3: invalid YAML: duplicate key \"web\" (first at line 2)\n",
    ),
    (
        "services:\n  web:\n    command: [x\n",
        "FILE:3:14: invalid YAML: this list is not closed: a \"]\" is missing (while parsing a flow sequence, expected ',' or ']' at 4:1)\n",
    ),
    (
        "services:\n  \"bad name\":\n    command: [x]\n",
        "FILE:2:3: services.bad name: a service name may use only letters, digits, '-', '_' and '.'\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    logs: prefx\n",
        "FILE:4:11: services.web.logs: \"prefx\" is not one of prefix, inherit, null or { file: PATH }; did you mean \"prefix\"?\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    logs: { file: /var/log/web.log, max_size: 1K }\n",
        "FILE:4:47: services.web.logs.max_size: \"1K\" is less than the smallest size, 64K\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    logs: { max_size: 1M }\n",
        "FILE:4:11: services.web.logs: missing \"file\": the path of the log file\n",
    ),
    (
        "crash_reports: { dir: /tmp/c, keep: 0 }\nservices:\n  web:\n    command: [x]\n",
        "FILE:1:37: crash_reports.keep: \"0\" is not a count from 1 to 10000\n",
    ),
    (
        "on_crash: { timeout: 5s }\nservices:\n  web:\n    command: [x]\n",
        "FILE:1:11: on_crash: missing \"command\": what to run on a crash\n",
    ),
    ("---\n", "FILE:2:1: the file is empty: it needs at least a \"services\" mapping\n"),
    ("services: [web]\n", "FILE:1:11: services: expected a mapping of service names, found a list\n"),
    (
        "control: {socket: /run/w.sock}\nservices:\n  web:\n    command: [x]\n    restart: [always]\n",
        "FILE:1:10: control: expected a single value (path or off), found a mapping\n\
         FILE:5:14: services.web.restart: expected a single value (always | on-failure | never), found a list\n",
    ),
    (
        "services:\n  web:\n    command: [x]\n    depends_on: db\n",
        "FILE:4:17: services.web.depends_on: expected a list of names or a mapping name: condition, found a single value\n",
    ),
];

fn dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_invalid_config_is_explained_exactly() {
    let dir = dir();
    let mut mismatches = Vec::new();
    for (i, (yaml, expected)) in CASES.iter().enumerate() {
        let path = dir.join(format!("case{i:02}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        let out = Command::new(warden()).arg("validate").arg("-c").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "FILE");
        let expected = expected.replace("NR_OPEN", &nr_open()).replace("CPUS", &cpus());
        if out.status.code() != Some(2) || stderr != expected {
            mismatches.push(format!(
                "case {i}: {yaml:?}\n  exit {:?}\n  got      {stderr:?}\n  expected {expected:?}",
                out.status.code()
            ));
        }
    }
    assert!(CASES.len() >= 30);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn nothing_starts_from_an_invalid_config() {
    let dir = dir();
    let marker = dir.join("started");
    let path = dir.join("half-good.yaml");
    std::fs::write(
        &path,
        format!(
            "services:\n  good:\n    command: touch {}\n  bad:\n    command: [x]\n    restart: sometimes\n",
            marker.display()
        ),
    )
    .unwrap();
    let out = Command::new(warden()).arg("-c").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("services.bad.restart: \"sometimes\" is not one of always, on-failure, never"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was started"), "{stderr}");
    assert!(!marker.exists(), "a service was started from an invalid config");
}

/// A `stop_timeout` that cannot fit in what is left of the grace when the
/// service's turn to stop comes is a warning, not an error (issue 20): db is
/// stopped after web, which may take 5s of the 10s, so 5s of db's 8s are left.
#[test]
fn a_stop_timeout_that_cannot_fit_in_the_grace_is_a_warning() {
    let dir = dir();
    let path = dir.join("tight.yaml");
    std::fs::write(
        &path,
        "grace: 10s\nservices:\n  db:\n    command: [sleep, \"1\"]\n    stop_timeout: 8s\n  web:\n    command: [sleep, \"1\"]\n    \
         depends_on: [db]\n    stop_timeout: 5s\n  side:\n    command: [sleep, \"1\"]\n    stop_timeout: 10s\n",
    )
    .unwrap();
    let out = Command::new(warden()).arg("validate").arg("-c").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}: valid, 3 services\n", path.display()));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "warning: {}:5:5: services.db.stop_timeout: 8s cannot fit: it is stopped after the services that depend on it \
             at most 5s into the grace of 10s, so only 5s of it is left before SIGKILL; raise grace to 13s (and docker stop -t, \
             or terminationGracePeriodSeconds, above it)\n",
            path.display()
        )
    );
}

/// A byte that is not UTF-8 is reported at its line and column (issue 20).
#[test]
fn non_utf8_input_names_the_first_bad_byte() {
    let dir = dir();
    let path = dir.join("latin1.yaml");
    std::fs::write(&path, b"services:\n  web:\n    command: [caf\xe9]\n").unwrap();
    let out = Command::new(warden()).arg("validate").arg("-c").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("{}:3:18: byte 0xe9 is not UTF-8: save the file as UTF-8\n", path.display())
    );
}

#[test]
fn a_valid_config_validates() {
    let dir = dir();
    let path = dir.join("good.yaml");
    std::fs::write(
        &path,
        "services:\n  a:\n    command: [sleep, \"1\"]\n  b:\n    command: echo hi\n    depends_on: [a]\n",
    )
    .unwrap();
    let out = Command::new(warden()).arg("validate").arg("-c").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}: valid, 2 services\n", path.display()));
    let out = Command::new(warden()).arg("validate").env("WARDEN_CONFIG", &path).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "WARDEN_CONFIG is not used");
    let one = dir.join("one.yaml");
    std::fs::write(&one, "services:\n  a:\n    command: [sleep, \"1\"]\n").unwrap();
    let out = Command::new(warden()).arg("validate").arg("-c").arg(&one).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}: valid, 1 service\n", one.display()));
    // A replicated service counts once, its copies said after.
    let copies = dir.join("copies.yaml");
    std::fs::write(
        &copies,
        "services:\n  a:\n    command: [sleep, \"1\"]\n    replicas: 3\n  b:\n    command: [b]\n",
    )
    .unwrap();
    let out = Command::new(warden()).arg("validate").arg("-c").arg(&copies).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}: valid, 2 services (a: 3 copies)\n", copies.display())
    );
}

#[test]
fn environment_overrides_are_checked_too() {
    let dir = dir();
    let path = dir.join("env.yaml");
    std::fs::write(&path, "services:\n  a:\n    command: [x]\n").unwrap();
    let out = Command::new(warden())
        .arg("validate")
        .arg("-c")
        .arg(&path)
        .env("WARDEN_DRAIN", "9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "FILE");
    assert_eq!(stderr, "FILE: WARDEN_DRAIN: \"9\" has no unit; write \"9s\" (units: ms, s, m, h)\n");
}

/// A billion laughs: 10^9 nodes once aliases are expanded.
fn yaml_bomb() -> String {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
    }
    bomb
}

/// Every case above, then a YAML bomb and an oversized file, sent to a
/// running warden by `warden reload`: each is refused with its exact
/// explanation, and the running service is never touched.
fn every_invalid_config_is_refused_on_reload_and_nothing_moves(mode: Mode) {
    let dir = Dir::new();
    let socket = format!("{}/warden.sock", dir.0.display());
    let config = dir.config("services:\n  steady:\n    command: [sleep, \"1000\"]\n");
    let mut launch = Launch::new(mode, &["-c", &config]);
    launch.command.env("WARDEN_CONTROL", &socket);
    let running = launch.start();
    assert!(
        wait_until(Duration::from_secs(5), || std::path::Path::new(&socket).exists()),
        "{}",
        running.stderr()
    );
    let client =
        |args: &[&str]| Command::new(warden()).args(args).env("WARDEN_CONTROL", &socket).output().unwrap();
    let status = || String::from_utf8_lossy(&client(&["status", "steady", "--json"]).stdout).into_owned();
    // (pid, restarts): uptime moves on its own.
    let identity = |json: &str| {
        let field =
            |key: &str| json.split(key).nth(1).and_then(|rest| rest.split(',').next()).map(str::to_string);
        (field("\"pid\":"), field("\"restarts\":"))
    };
    assert!(
        wait_until(Duration::from_secs(5), || status().contains("\"state\":\"running\"")),
        "{}",
        status()
    );
    let before = identity(&status());
    assert!(before.0.is_some() && before.1.as_deref() == Some("0"), "{before:?}");
    let hostile = [
        (yaml_bomb(), "too many nodes".to_string()),
        ("#".repeat(2 * 1024 * 1024), "larger than the 1048576-byte limit".to_string()),
    ];
    let cases = CASES.iter().map(|(yaml, expected)| {
        (
            yaml.to_string(),
            expected.replace("FILE", &config).replace("NR_OPEN", &nr_open()).replace("CPUS", &cpus()),
        )
    });
    let mut mismatches = Vec::new();
    for (i, (yaml, expected)) in cases.chain(hostile).enumerate() {
        std::fs::write(&config, &yaml).unwrap();
        let out = client(&["reload"]);
        let said =
            format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
        if out.status.code() != Some(1)
            || !said.contains("reload failed, nothing was changed")
            || !said.contains(&expected)
        {
            mismatches.push(format!(
                "case {i}: exit {:?}\n  got      {said:?}\n  expected {expected:?}",
                out.status.code()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(identity(&status()), before, "a refused reload disturbed the running service");
}

#[test]
fn hostile_yaml_is_refused_quickly() {
    let dir = dir();
    let path = dir.join("bomb.yaml");
    let bomb = yaml_bomb();
    std::fs::write(&path, bomb).unwrap();
    let start = std::time::Instant::now();
    let out = Command::new(warden()).arg("validate").arg("-c").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("too many nodes"));
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    let big = dir.join("big.yaml");
    std::fs::write(&big, "#".repeat(2 * 1024 * 1024)).unwrap();
    let out = Command::new(warden()).arg("validate").arg("-c").arg(&big).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than the 1048576-byte limit"));
}

/// This machine's ceiling on open files, as the nofile message names it.
/// CPUs online, as warden counts them for `limits.cpus`.
fn cpus() -> String {
    let out = Command::new("getconf").arg("_NPROCESSORS_ONLN").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn nr_open() -> String {
    std::fs::read_to_string("/proc/sys/fs/nr_open").unwrap().trim().to_string()
}
