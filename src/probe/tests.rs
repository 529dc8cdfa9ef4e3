use super::*;

#[test]
fn a_port_with_a_path_is_a_local_url() {
    let Ok(Check::Http { address, path, .. }) = http("8080/healthz") else { panic!("not http") };
    assert_eq!((address.port(), path.as_str()), (8080, "/healthz"));
    assert!(matches!(http("9000"), Ok(Check::Http { .. })));
    assert!(http("https://127.0.0.1/").unwrap_err().contains("https is not supported"));
    assert!(tcp("db:5432").unwrap_err().contains("host names are not resolved"));
}

#[test]
fn checks_pass_and_fail_with_a_reason() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = |check, text: &str| Target { check, text: text.into(), timeout: DEFAULT_TIMEOUT };
    assert!(run(&target(tcp(&port.to_string()).unwrap(), "")).is_ok());
    drop(listener);
    let refused = run(&target(tcp(&port.to_string()).unwrap(), "")).unwrap_err();
    assert!(refused.contains("refused"), "{refused}");
    assert!(run(&target(file("/").unwrap(), "/")).is_ok());
    let missing = run(&target(file("/nonexistent/x").unwrap(), "")).unwrap_err();
    assert!(missing.contains("/nonexistent/x: No such file"), "{missing}");
}
