use super::*;

fn view(name: &str, state: &'static str, ready: bool) -> View {
    View {
        name: name.into(),
        kind: "longrun",
        state,
        pid: (state == "running").then_some(42),
        uptime: Some(Duration::from_secs(125)),
        restarts: 3,
        last_exit: Some(ExitStatus::Signaled { signal: 9, core_dumped: false }),
        ready,
        optional: false,
        live: state != "failed",
        reason: "started".into(),
        notice: None,
        started_at: Some(1.7e9),
        exits: [1, 2, 0, 0, 1],
        probes: vec![ProbeView {
            kind: "readiness",
            passing: ready,
            successes: 5,
            failures: 1,
            last_error: None,
        }],
        lines_dropped: 0,
        stop_kills: 0,
        usage: None,
        limits: Vec::new(),
        instance: None,
    }
}

#[test]
fn wide_tables_show_usage_and_every_table_the_limits() {
    let mut web = view("web", "running", true);
    web.usage = Some(crate::cgroups::Usage {
        cpu_seconds: 12.25,
        memory: 50 << 20,
        memory_peak: Some(60 << 20),
        processes: 3,
    });
    web.limits = vec![
        LimitView { key: "memory", value: 500 << 20, enforced: "cgroup v2" },
        LimitView { key: "cpus", value: 1500, enforced: "not enforced" },
    ];
    let wide = table(std::slice::from_ref(&web), false, true);
    let lines: Vec<&str> = wide.lines().collect();
    assert_eq!(lines[0], "NAME    STATE    PID  UPTIME  RESTARTS  CPU    MEM    EXIT     READY  REASON");
    assert_eq!(lines[1], "web   ● running  42   2m05s   3         12.2s  50.0M  SIGKILL  yes    started");
    assert_eq!(lines[2], "limits of web: memory 500M (cgroup v2), cpus 1.5 (not enforced)");
    let narrow = table(std::slice::from_ref(&web), false, false);
    let lines: Vec<&str> = narrow.lines().collect();
    assert_eq!(lines[0], "NAME    STATE    PID  UPTIME  RESTARTS  CPU    MEM    REASON");
    assert_eq!(lines[1], "web   ● running  42   2m05s   3         12.2s  50.0M  started");
    assert!(narrow.contains("limits of web: memory 500M"), "{narrow}");
    let json = json_view(&web);
    assert!(json.contains("\"oom_kills\":1"), "{json}");
    assert!(json.contains("\"usage\":{\"cpu_seconds\":12.250,\"memory_bytes\":52428800,\"memory_peak_bytes\":62914560,\"processes\":3}"), "{json}");
    assert!(json.contains("\"limits\":{\"memory\":{\"value\":524288000,\"enforced\":\"cgroup v2\"},\"cpus\":{\"value\":1500,\"enforced\":\"not enforced\"}}"), "{json}");
    let text = metrics(&Warden::default(), &[web]);
    for line in [
        "warden_service_oom_kills_total{service=\"web\"} 1",
        "warden_service_cpu_seconds_total{service=\"web\"} 12.250",
        "warden_service_memory_bytes{service=\"web\"} 52428800",
        "warden_service_memory_peak_bytes{service=\"web\"} 62914560",
        "warden_service_processes{service=\"web\"} 3",
        "warden_service_memory_limit_bytes{service=\"web\",enforced=\"cgroup v2\"} 524288000",
        "warden_service_cpu_limit{service=\"web\",enforced=\"not enforced\"} 1.500",
        "warden_service_exits_total{service=\"web\",reason=\"oom\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
    }
}

#[test]
fn the_table_lines_up() {
    let mut web = view("web", "running", true);
    web.reason = "started".into();
    let mut database = view("database", "failed", false);
    database.reason = "exited with code 1".into();
    let both = table(&[web.clone(), database.clone()], false, false);
    let lines: Vec<&str> = both.lines().collect();
    assert_eq!(lines[0], "NAME        STATE    PID  UPTIME  RESTARTS  CPU  MEM  REASON");
    assert_eq!(lines[1], "web       ● running  42   2m05s   3         -    -    started");
    assert_eq!(lines[2], "database  ✗ failed   -    2m05s   3         -    -    exited with code 1");
    assert!(super::table(&[view("web", "running", true)], true, false).contains("\x1b[32m● running\x1b[0m"));
    // Running, not ready yet: on its way.
    assert!(super::table(&[view("web", "running", false)], true, false).contains("\x1b[33m◐ running\x1b[0m"));
    // A long reason is cut to 80 columns, whole with --wide; STATUS= text wins.
    database.reason = "waiting for ".to_string() + &"db (ready), ".repeat(20);
    let narrow = table(&[database.clone()], false, false);
    let row = narrow.lines().nth(1).unwrap();
    // 52 columns before the reason: 28 left at 80.
    assert!(row.ends_with('…') && row.chars().count() == 80, "{narrow}");
    let whole = table(&[database.clone()], false, true);
    assert!(whole.contains(database.reason.trim_end()), "{whole}");
    web.notice = Some("serving 12 clients".into());
    assert!(table(&[web], false, false).lines().nth(1).unwrap().ends_with("serving 12 clients"));
}

#[test]
fn readiness_counts_only_required_services_and_shutdown() {
    let mut optional = view("side", "failed", false);
    optional.optional = true;
    let views = [view("web", "running", true), optional];
    let warden = Warden::default();
    let (ok, body) = readyz(&warden, &views, true);
    assert!(ok, "{body}");
    assert!(body.contains("[+]web ok\n") && body.ends_with("readyz check passed\n"), "{body}");
    let stopping = Warden { shutting_down: true, ..Warden::default() };
    let (ok, body) = readyz(&stopping, &views, true);
    assert!(!ok && body.contains("[-]shutdown failed: warden is shutting down"), "{body}");
}

#[test]
fn metrics_have_help_type_and_every_series_known_in_advance() {
    let text = metrics(&Warden::default(), &[view("web", "running", true)]);
    for line in [
        "# TYPE warden_service_up gauge",
        "warden_service_up{service=\"web\"} 1",
        "warden_service_exits_total{service=\"web\",reason=\"signal\"} 2",
        "warden_service_exits_total{service=\"web\",reason=\"health\"} 0",
        "warden_service_last_exit_code{service=\"web\"} 137",
        "warden_probe_results_total{service=\"web\",probe=\"readiness\",result=\"failure\"} 1",
        "warden_service_state{service=\"web\",state=\"running\"} 1",
        "warden_service_state{service=\"web\",state=\"failed\"} 0",
        "# TYPE process_open_fds gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    // Every sample belongs to a family announced just before.
    let mut family = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            family = rest.split(' ').next().unwrap_or_default().to_string();
        } else if !line.starts_with('#') {
            assert!(line.starts_with(&family), "{line} outside {family}");
        }
    }
}

#[test]
fn json_is_escaped_and_complete() {
    let mut v = view("web", "running", true);
    v.reason = "said \"hi\"\n".into();
    let json = json_view(&v);
    assert!(json.contains("\"reason\":\"said \\\"hi\\\"\\n\""), "{json}");
    assert!(json.contains("\"last_exit\":{\"code\":137,\"signal\":\"SIGKILL\"}"), "{json}");
    assert!(json.contains("\"probes\":{\"readiness\":{\"passing\":true"), "{json}");
}

#[test]
fn durations_are_short() {
    assert_eq!(short_duration(Duration::from_secs(9)), "9s");
    assert_eq!(short_duration(Duration::from_secs(3 * 3600 + 60)), "3h01m");
    assert_eq!(short_duration(Duration::from_secs(2 * 86_400 + 3600)), "2d01h");
}

fn copy(group: &str, index: u32, state: &'static str, ready: bool) -> View {
    let mut copy = view(&format!("{group}-{index}"), state, ready);
    copy.instance = Some((group.to_string(), index));
    copy.usage =
        Some(crate::cgroups::Usage { cpu_seconds: 1.5, memory: 10 << 20, memory_peak: None, processes: 1 });
    copy
}

#[test]
fn copies_come_together_under_their_service_with_counts_and_sums() {
    // A copy added by a scale comes last among the views: the table puts it in place.
    let views = [
        copy("web", 0, "running", true),
        view("db", "running", true),
        copy("web", 2, "backoff", false),
        copy("web", 1, "running", true),
    ];
    let text = table(&views, false, false);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "NAME       STATE      PID  UPTIME  RESTARTS  CPU    MEM    REASON",
            "web        2/3 ready               9         4.50s  30.0M  3 copies: 2 running,…",
            "  web-0  ● running    42   2m05s   3         1.50s  10.0M  started",
            "  web-1  ● running    42   2m05s   3         1.50s  10.0M  started",
            "  web-2  ◐ backoff    -    2m05s   3         1.50s  10.0M  started",
            "db       ● running    42   2m05s   3         -      -      started",
        ]
        .map(String::from)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
    );
    let json = json_view(&views[0]);
    assert!(json.ends_with(",\"group\":\"web\",\"instance\":0}"), "{json}");
    assert!(json_view(&views[1]).ends_with(",\"group\":null,\"instance\":null}"));
}

#[test]
fn fifty_services_fit_in_80_columns() {
    let mut views = Vec::new();
    for n in 0..40 {
        let mut v = view(&format!("service-{n:02}"), "running", true);
        v.pid = Some(10_000 + n);
        v.uptime = Some(Duration::from_secs(3 * 86_400));
        v.usage = Some(crate::cgroups::Usage {
            cpu_seconds: 4000.0,
            memory: 900 << 20,
            memory_peak: None,
            processes: 4,
        });
        v.reason = "waiting for database (ready), cache (started)".into();
        views.push(v);
    }
    for n in 0..10 {
        views.push(copy("worker", n, "scheduled", false));
    }
    let text = table(&views, false, false);
    assert_eq!(text.lines().count(), 1 + 50 + 1);
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{} columns: {line}", line.chars().count());
    }
    assert!(text.contains("3d00h   3         66m40s  900.0M  waiting for …"), "{text}");
}
