use super::*;

fn service(name: &str) -> Service {
    Service::new(name, vec!["x".into()])
}

fn core_of(services: Vec<Service>) -> Core {
    let units =
        services.into_iter().enumerate().map(|(i, s)| Unit::new(i as u64, Rc::new(s), false)).collect();
    Core::new(units, None, MainSettings::default(), Duration::from_secs(9), Duration::ZERO, true, 7)
}

#[test]
fn boot_starts_what_has_no_dependencies() {
    let mut core = core_of(vec![service("a")]);
    let actions = core.boot(Instant::now());
    assert!(actions.contains(&Action::Spawn(0)), "{actions:?}");
}
