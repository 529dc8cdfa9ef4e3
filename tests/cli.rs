//! The command line as users meet it: help, version, and bad input rejected with
//! exit 2 before anything is started.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn warden_output(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(warden()).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_names_every_option() {
    let (code, out, _) = warden_output(&["--help"]);
    assert_eq!(code, 0);
    for option in ["--grace", "--group", "--rewrite", "--exit-map", "--pdeathsig", "--verbose", "WARDEN_LOG"]
    {
        assert!(out.contains(option), "--help does not mention {option}");
    }
}

#[test]
fn version_is_printed() {
    let (code, out, _) = warden_output(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out, format!("warden {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_command_lines_exit_2_and_start_nothing() {
    let dir = std::env::temp_dir().join(format!("warden-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("started");
    let touch = format!("touch {}", marker.display());
    let cases: &[(&[&str], &str)] = &[
        (&[], "no command given"),
        (&["--grace", "9", "sh", "-c", &touch], "--grace: \"9\" has no unit; write \"9s\""),
        (&["--grace", "soon", "sh", "-c", &touch], "--grace: \"soon\""),
        (&["--rewrite", "TERM", "sh", "-c", &touch], "--rewrite: \"TERM\" is not SIG:SIG"),
        (&["--rewrite", "TERM:BOGUS", "sh", "-c", &touch], "unknown signal \"BOGUS\""),
        (&["--exit-map", "1:256", "sh", "-c", &touch], "--exit-map: \"1:256\""),
        (&["--pdeathsig", "99", "sh", "-c", &touch], "--pdeathsig: unknown signal \"99\""),
        (&["--frobnicate", "sh", "-c", &touch], "--frobnicate"),
        (&["-c", "/a.yaml", "-c", "/b.yaml", "sh", "-c", &touch], "-c given twice (/a.yaml and /b.yaml)"),
        (&["--max-restarts", "3", "sh", "-c", &touch], "--max-restarts has no effect without --restart"),
    ];
    for (args, message) in cases {
        let (code, _, err) = warden_output(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: expected {message:?} in {err:?}");
        assert!(err.contains("Try 'warden --help'."), "{err}");
        assert!(!marker.exists(), "{args:?} started the program");
    }
    let mut bad_env = Command::new(warden());
    bad_env.env("WARDEN_GRACE", "ten").args(["sh", "-c", &touch]);
    let out = bad_env.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WARDEN_GRACE: \"ten\""));
    assert!(!marker.exists());
}

#[test]
fn warden_grace_variable_sets_the_grace() {
    let mut launch = Launch::new(Mode::Subreaper, &["--", &testkit(), "ignore-term"]);
    launch.command.env("WARDEN_GRACE", "500ms").env("WARDEN_LOG", "info");
    let mut warden = launch.start();
    warden.expect_line(Duration::from_secs(5), |l| l.starts_with("pid "));
    warden.signal(libc::SIGTERM);
    assert_eq!(warden.wait(Duration::from_secs(5)), 137);
    assert!(warden.stderr().contains("grace period of 500ms is over"), "{}", warden.stderr());
}

/// `--pdeathsig USR1`: when warden's parent dies, warden acts as if it had
/// received SIGUSR1, i.e. forwards it to the program.
#[test]
fn parent_death_signal_is_acted_on() {
    let script = format!(
        "{} --pdeathsig USR1 -- {} signals --exit-on USR2 & echo warden $!; wait",
        warden().display(),
        testkit()
    );
    let mut launch = Launch::new(Mode::Subreaper, &["--", "sh", "-c", &script]);
    // The outer warden only hosts the shell; talk to the inner one.
    launch.command.env("WARDEN_LOG", "error");
    let mut outer = launch.start();
    // The shell's echo and the program's "ready" race: take them in either order.
    let (mut inner, mut ready) = (None, false);
    while inner.is_none() || !ready {
        let line = outer.expect_line(Duration::from_secs(5), |l| l == "ready" || l.starts_with("warden "));
        match line.strip_prefix("warden ") {
            Some(pid) => inner = Some(pid.parse::<i32>().unwrap()),
            None => ready = true,
        }
    }
    let inner = inner.unwrap();
    let shell = children_of(outer.warden_pid)[0];
    send(shell, libc::SIGKILL);
    outer.expect("SIGUSR1");
    send(inner, libc::SIGUSR2);
    outer.expect("SIGUSR2");
    assert!(wait_until(Duration::from_secs(5), || state_of(inner).is_none()), "inner warden still alive");
}

/// `warden schema` is a valid 2020-12 schema (check-jsonschema's own
/// metaschema check) that passes every config the project ships and fails
/// configs with a wrong key, type or value.
#[test]
fn the_schema_accepts_the_shipped_configs_and_refuses_bad_ones() {
    let dir = Dir::new();
    let (code, schema, _) = warden_output(&["schema"]);
    assert_eq!(code, 0);
    let schema_path = dir.0.join("warden.schema.json");
    std::fs::write(&schema_path, schema).unwrap();
    let check = |args: &[&str]| {
        let out = Command::new("check-jsonschema")
            .args(args)
            .output()
            .expect("check-jsonschema is installed (scripts/install-deps: pip install check-jsonschema)");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, said) = check(&["--check-metaschema", schema_path.to_str().unwrap()]);
    assert!(ok, "not a valid JSON Schema: {said}");
    let root = env!("CARGO_MANIFEST_DIR");
    for config in ["examples/demo.yaml", "examples/container.yaml", "scripts/vm/vm.yaml"] {
        let path = format!("{root}/{config}");
        let (ok, said) = check(&["--schemafile", schema_path.to_str().unwrap(), &path]);
        assert!(ok, "{config} fails the schema: {said}");
        // And warden itself reads it.
        let (code, _, err) = warden_output(&["validate", "-c", &path]);
        assert_eq!(code, 0, "{config}: {err}");
    }
    let merged = "x-defaults: &defaults\n  restart: always\n  backoff: { initial: 100ms }\n  x-note: shared\n\
                  services:\n  a:\n    <<: *defaults\n    command: [sleep, \"100\"]\n  \
                  b:\n    <<: *defaults\n    command: [sleep, \"101\"]\n    restart: never\n    \
                  liveness: { tcp: 80, x-why: \"extension fields are ignored\" }\n";
    let path = dir.0.join("merged.yaml");
    std::fs::write(&path, merged).unwrap();
    let (ok, said) = check(&["--schemafile", schema_path.to_str().unwrap(), path.to_str().unwrap()]);
    assert!(ok, "x- fields and << merges fail the schema: {said}");
    let (code, out, err) = warden_output(&["validate", "-c", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let good = "env_file: [.env?]\ngrace: 20s\ncgroups: off\nservices:\n  web:\n    command: [server, --port, 80]\n    \
                enabled: ${WITH_WEB:-true}\n    limits: {memory: 500M, cpus: 1.5, pids: 256, nofile: unlimited}\n    \
                readiness: {log: ready, period: 1s}\n    depends_on: {db: ready}\n    reload_signal: HUP\n  \
                db:\n    command: \"postgres\"\n    logs: {file: /var/log/db.log, max_size: 10M, keep: 3}\n";
    let bad = [
        "services:\n  web:\n    command: [x]\n    restrat: always\n",
        "services:\n  web:\n    command: [x]\n    restart: sometimes\n",
        "services:\n  web:\n    command: [x]\n    stop_timeout: 5\n",
        "services:\n  web:\n    command: [x]\n    readiness: {tcp: 80, http: 80}\n",
        "services:\n  web:\n    command: [x]\n    limits: {pids: 0}\n",
        "servics:\n  web:\n    command: [x]\n",
        "services:\n  web:\n    restart: always\n",
    ];
    for (i, yaml) in std::iter::once(good).chain(bad).enumerate() {
        let path = dir.0.join(format!("case{i}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        let (ok, said) = check(&["--schemafile", schema_path.to_str().unwrap(), path.to_str().unwrap()]);
        assert_eq!(ok, i == 0, "case {i} {yaml:?}: {said}");
    }
}

/// `warden check --http|--tcp|--file`: a probe of its own for images
/// without curl, exit 0 or 1 with a one-line reason, bounded by --timeout.
#[test]
fn check_probes_http_tcp_and_files_without_a_running_warden() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for (n, stream) in listener.incoming().take(2).enumerate() {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let status = if n == 0 { "200 OK" } else { "503 Service Unavailable" };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let check = |args: &[&str]| Command::new(warden()).arg("check").args(args).output().unwrap();
    let out = check(&["--http", &format!("{port}/healthz")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("GET http://127.0.0.1:{port}/healthz: success\n")
    );
    let out = check(&["--http", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("warden: check failed: GET http://127.0.0.1:{port}/: HTTP status 503\n")
    );
    server.join().unwrap();
    let out = check(&["--tcp", &port.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A listener that never answers: the timeout ends the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let started = std::time::Instant::now();
    let out = check(&["--http", &silent.local_addr().unwrap().port().to_string(), "--timeout", "300ms"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no answer within 300ms"));
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert!(check(&["--tcp", &silent.local_addr().unwrap().port().to_string()]).status.success());
    assert!(check(&["--file", "/"]).status.success());
    assert_eq!(check(&["--file", "/nonexistent/ready"]).status.code(), Some(1));
    let out = check(&["--http", "https://127.0.0.1/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https is not supported"));
}
