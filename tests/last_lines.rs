//! warden's last lines are never lost: a short-lived config run many times
//! side by side (under the load that made one run in forty lose lines in CI)
//! shows every expected line every time, as PID 1 and as subreaper.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod common;

use common::*;

in_both_modes!(every_line_of_a_short_run_arrives_under_load);

const RUNS: usize = 120;
const AT_ONCE: usize = 8;

fn every_line_of_a_short_run_arrives_under_load(mode: Mode) {
    let dir = Dir::new();
    let text = dir.config("services:\n  once:\n    command: exit 0\n    restart: never\n");
    let json_dir = Dir::new();
    let json =
        json_dir.config("log_format: json\nservices:\n  once:\n    command: exit 0\n    restart: never\n");
    let expected_text = [
        "warden: once: waiting -> starting: start",
        "warden: once: starting -> running: started (pid ",
        "warden: once: running -> exited: exited with code 0",
        "warden: shutting down: no service is left to run",
    ];
    let expected_json =
        ["\"to\":\"starting\"", "\"to\":\"running\"", "\"to\":\"exited\"", "no service is left to run"];
    let failures = std::sync::Mutex::new(Vec::new());
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Load like CI's: both cores busy, so the readers of warden's output
        // fall behind its exit.
        for _ in 0..2 {
            scope.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        let mut workers = Vec::new();
        for worker in 0..AT_ONCE {
            let (text, json, failures) = (&text, &json, &failures);
            workers.push(scope.spawn(move || {
                for run in (worker..RUNS).step_by(AT_ONCE) {
                    let (config, expected): (&str, &[&str]) =
                        if run % 2 == 0 { (text, &expected_text) } else { (json, &expected_json) };
                    let (code, _, err) = run_to_end(mode, &["-c", config]);
                    let missing: Vec<&&str> = expected.iter().filter(|line| !err.contains(**line)).collect();
                    if code != 0 || !missing.is_empty() {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("run {run}: exit {code}, missing {missing:?}: {err}"));
                    }
                }
            }));
        }
        for worker in workers {
            let _ = worker.join();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {RUNS} runs lost lines:\n{}", failures.len(), failures.join("\n"));
}
