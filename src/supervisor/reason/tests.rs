use super::*;

/// Every reason's text, as event lines, status and crash reports print it.
#[test]
fn every_reason_reads_as_before() {
    let exit = End::Status(ExitStatus::Exited(3));
    let killed = End::Status(ExitStatus::Signaled { signal: libc::SIGKILL, core_dumped: true });
    let second = Some(Duration::from_secs(2));
    let cases = [
        (Reason::Started, "started"),
        (Reason::Start, "start"),
        (Reason::ScheduledRun, "scheduled run"),
        (Reason::BackoffOver, "backoff over"),
        (Reason::CooldownOver, "cooldown over"),
        (Reason::Restart { killed_after: None }, "restart"),
        (Reason::Restart { killed_after: second }, "restart (did not stop within 2s; sent SIGKILL)"),
        (Reason::Sending(libc::SIGINT), "sending SIGINT"),
        (Reason::Stopped { killed_after: None }, "stopped"),
        (Reason::Stopped { killed_after: second }, "did not stop within 2s; sent SIGKILL"),
        (Reason::Reloaded { killed_after: None }, "reloaded: waiting for its dependencies"),
        (
            Reason::Reloaded { killed_after: second },
            "reloaded (did not stop within 2s; sent SIGKILL): waiting for its dependencies",
        ),
        (Reason::Ended(exit.clone()), "exited with code 3"),
        (Reason::Ended(killed), "killed by SIGKILL (core dumped)"),
        (Reason::Completed(End::Status(ExitStatus::Exited(0))), "exited with code 0: completed"),
        (Reason::RestartNever(exit.clone()), "exited with code 3; restart: never"),
        (
            Reason::BudgetSpent { end: exit.clone(), limit: 1, window: Duration::from_secs(600) },
            "exited with code 3; 1 restart within 10m used up",
        ),
        (
            Reason::BudgetSpent { end: exit, limit: 5, window: Duration::from_secs(60) },
            "exited with code 3; 5 restarts within 1m used up",
        ),
        (
            Reason::Ended(End::Unhealthy { cause: "liveness", status: ExitStatus::Exited(0) }),
            "liveness: exited with code 0",
        ),
        (Reason::Ended(End::NotStarted("cannot run: /x: not found".into())), "cannot run: /x: not found"),
        (Reason::Told("READY=1".into()), "READY=1"),
    ];
    for (reason, text) in cases {
        assert_eq!(reason.to_string(), text, "{reason:?}");
    }
    assert_eq!(Next::RestartIn(Duration::from_millis(1500)).to_string(), "restart in 1s500ms");
    assert_eq!(Next::ScheduledRun.to_string(), "next scheduled run");
    assert_eq!(Next::Failed.to_string(), "failed");
}
