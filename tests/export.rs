//! `warden export` through the real binary: the output of every example
//! config and of a matrix of the keys that map is pinned by golden files
//! (WARDEN_UPDATE_GOLDEN=1 writes them again, so that a change is
//! deliberate), the Kubernetes manifests pass `kubernetes-validate --strict`
//! for 1.29 and for the newest version it ships, the Compose files pass
//! `docker-compose config`, and bad input is refused like `validate` does.
//! Running the exports on engines is scripts/e2e-docker's and
//! scripts/e2e-podman's work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// The configs exported: the bundled examples, and the matrix.
const CONFIGS: [&str; 3] = ["examples/container.yaml", "examples/demo.yaml", "tests/golden/matrix.yaml"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn export(args: &[&str]) -> Output {
    Command::new(warden()).arg("export").args(args).current_dir(root()).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The golden file of `config` exported for `engine`.
fn golden(config: &str, engine: &str) -> PathBuf {
    let stem = Path::new(config).file_stem().unwrap().to_string_lossy().into_owned();
    root().join("tests/golden").join(format!("{stem}.{engine}.yaml"))
}

/// What the golden tests export `config` with.
fn exported(config: &str, engine: &str) -> Output {
    let mut args = vec![engine, "-c", config, "--image", "registry.example/app:1"];
    if config.ends_with("container.yaml") {
        // prepare writes the page web serves: they share the directory.
        args.extend(["--share", "/tmp/www"]);
    }
    export(&args)
}

fn check_golden(config: &str, engine: &str) -> String {
    let out = exported(config, engine);
    assert!(out.status.success(), "{config}: {}", text(&out.stderr));
    let got = text(&out.stdout);
    let path = golden(config, engine);
    if std::env::var_os("WARDEN_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (WARDEN_UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(got == want, "{config} exported for {engine} differs from {}:\n{got}", path.display());
    got
}

/// A file of `text` in a fresh directory.
fn file(dir: &Dir, name: &str, text: &str) -> String {
    let path = dir.0.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// `kubernetes-validate --strict` of `path` against `version` (None: the
/// newest it ships).
fn kubernetes_validate(path: &str, version: Option<&str>) -> Output {
    let mut command = Command::new("kubernetes-validate");
    command.arg("--strict");
    if let Some(version) = version {
        command.args(["-k", version]);
    }
    command.arg(path).output().expect("kubernetes-validate is installed (scripts/install-deps)")
}

#[test]
fn kubernetes_exports_match_their_golden_files_and_validate_strictly() {
    let dir = Dir::new();
    for config in CONFIGS {
        let manifests = check_golden(config, "kubernetes");
        let path = file(&dir, "manifests.yaml", &manifests);
        for version in [Some("1.29.0"), None] {
            let out = kubernetes_validate(&path, version);
            let said = text(&out.stdout) + &text(&out.stderr);
            assert!(out.status.success() && !said.contains("ERROR"), "{config} on {version:?}:\n{said}");
            assert!(said.contains("passed for resource pod/"), "{said}");
        }
    }
    // The validator does fail: a field Kubernetes does not have.
    let broken = std::fs::read_to_string(golden(CONFIGS[0], "kubernetes"))
        .unwrap()
        .replace("terminationGracePeriodSeconds:", "terminationGraceSeconds:");
    let out = kubernetes_validate(&file(&dir, "broken.yaml", &broken), Some("1.29.0"));
    assert!(!out.status.success(), "a broken manifest passed:\n{}", text(&out.stdout));
}

#[test]
fn compose_exports_match_their_golden_files_and_docker_compose_reads_them() {
    let dir = Dir::new();
    for config in CONFIGS {
        let compose = check_golden(config, "compose");
        let path = file(&dir, "compose.yaml", &compose);
        let out = Command::new("docker-compose")
            .args(["-f", &path, "config", "-q"])
            .output()
            .expect("docker-compose is installed (scripts/install-deps)");
        assert!(out.status.success(), "{config}: {}", text(&out.stderr));
    }
    let broken = std::fs::read_to_string(golden(CONFIGS[0], "compose"))
        .unwrap()
        .replace("healthcheck:", "healthchek:");
    let out = Command::new("docker-compose")
        .args(["-f", &file(&dir, "broken.yaml", &broken), "config", "-q"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a broken Compose file passed");
}

#[test]
fn what_has_no_counterpart_is_said_on_stderr_and_strict_refuses_it() {
    let out = exported("tests/golden/matrix.yaml", "kubernetes");
    let said = text(&out.stderr);
    for line in [
        "warden: export: cache: notify (sd_notify readiness) has no counterpart: give it a readiness probe\n",
        "warden: export: Web_App-0: the container's name is \"web-app-0\" (Kubernetes names are lowercase letters, digits and '-')\n",
        "warden: export: tick: schedule: every 45m is \"*/30 * * * *\" as a cron line (not the same)\n",
    ] {
        assert!(said.contains(line), "no {line:?} in:\n{said}");
    }
    let out = export(&["kubernetes", "-c", "tests/golden/matrix.yaml", "--image", "x", "--strict"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("--strict: 17 things without a counterpart; nothing was written"),
        "{}",
        text(&out.stderr)
    );
    // A config that maps whole passes --strict.
    let dir = Dir::new();
    let clean =
        file(&dir, "clean.yaml", "services:\n  web:\n    command: [web]\n    readiness: { http: 8080 }\n");
    let out = export(&["kubernetes", "-c", &clean, "--image", "x", "--strict"]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let dir = Dir::new();
    let invalid = file(&dir, "bad.yaml", "services:\n  web:\n    command: [web]\n    restart: sometimes\n");
    let out = export(&["kubernetes", "-c", &invalid, "--image", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains(
            "bad.yaml:4:14: services.web.restart: \"sometimes\" is not one of always, on-failure, never"
        ),
        "{}",
        text(&out.stderr)
    );
    for (args, why) in [
        (&["kubernetes", "-c", "examples/container.yaml"][..], "--image IMAGE is needed"),
        (
            &["kubernetes", "-c", "examples/container.yaml", "--image", "x", "--kind", "job"][..],
            "\"job\" is not pod or deployment",
        ),
        (&["swarm", "-c", "examples/container.yaml"][..], "unknown engine \"swarm\""),
        (&[][..], "name the engine"),
        (
            &["compose", "-c", "examples/container.yaml", "--image", "x", "--kind", "deployment"][..],
            "--kind and --no-sidecars are for kubernetes",
        ),
        (
            &["kubernetes", "-c", "examples/container.yaml", "--image", "x", "--main", "nosuch"][..],
            "--main nosuch",
        ),
        (
            &["kubernetes", "-c", "examples/container.yaml", "--image", "x", "--share", "rel"][..],
            "\"rel\" is not an absolute path",
        ),
    ] {
        let out = export(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(why), "{args:?}: {}", text(&out.stderr));
    }
    // A main program after --: the pod's main container.
    let out =
        export(&["kubernetes", "-c", "examples/container.yaml", "--image", "x", "--", "app", "--serve"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("- name: main\n")
            && text(&out.stdout).contains("args: [\"app\", \"--serve\"]")
    );
}

/// A config names the users of its image: exporting it on a machine that
/// has no such user works, and the names are kept (Compose) or noted
/// (Kubernetes), never replaced by this machine's numbers.
#[test]
fn a_user_this_machine_lacks_is_exported_as_the_images() {
    let dir = Dir::new();
    let config =
        file(&dir, "app.yaml", "services:\n  db:\n    command: [postgres]\n    user: image-only-user\n");
    let out = export(&["compose", "-c", &config, "--image", "x"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("    user: image-only-user\n"), "{}", text(&out.stdout));
    let out = export(&["kubernetes", "-c", &config, "--image", "x"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("runAsUser:"), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("db: user: image-only-user: runAsUser takes a number"),
        "{}",
        text(&out.stderr)
    );
    // validate still checks users against this machine (run it in the image).
    let out = Command::new(warden()).args(["validate", "-c", &config]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
