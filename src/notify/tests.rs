use super::*;

#[test]
fn parses_what_warden_acts_on() {
    let notices =
        parse(b"READY=1\nSTATUS=up, 3 workers\nMAINPID=7\nWATCHDOG=1\nWATCHDOG=trigger\nRELOADING=1");
    assert_eq!(
        notices,
        vec![
            Notice::Ready,
            Notice::Status("up, 3 workers".into()),
            Notice::Watchdog,
            Notice::WatchdogTrigger,
            Notice::Reloading
        ]
    );
    assert_eq!(parse(b"READY=0\nSTOPPING=1"), vec![Notice::Stopping]);
    assert_eq!(parse(&[0xff, b'\n']), vec![]);
    let long = format!("STATUS={}", "é".repeat(300));
    let parsed = parse(long.as_bytes());
    let [Notice::Status(s)] = parsed.as_slice() else { panic!("{parsed:?}") };
    assert!(s.len() <= MAX_STATUS && s.chars().all(|c| c == 'é'));
}

#[test]
fn a_service_socket_receives_and_discards() {
    let socket = NotifySocket::bind(std::process::id() as u64 ^ 0xabc).unwrap();
    let client = UnixDatagram::unbound().unwrap();
    let name = socket.address.strip_prefix('@').unwrap();
    let to = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    client.send_to_addr(b"READY=1", &to).unwrap();
    assert_eq!(socket.receive(), vec![Notice::Ready]);
    client.send_to_addr(b"WATCHDOG=1", &to).unwrap();
    socket.discard();
    assert_eq!(socket.receive(), vec![]);
}
