use super::*;

fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
    move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
}

#[test]
fn listen_pid_naming_warden_is_rewritten_for_the_receiver() {
    let inherited = Inherited::take(vec![3, 4], 1, env(&[("LISTEN_PID", "1"), ("LISTEN_FDS", "2")]));
    let mut setup = Setup::default();
    inherited.give(&mut setup);
    assert!(setup.listen_pid);
    assert_eq!(&*setup.inherited_fds, &[3, 4]);
    assert_eq!(inherited.variables.len(), 2);
}

#[test]
fn listen_pid_of_another_process_passes_unchanged() {
    let inherited = Inherited::take(vec![3], 1, env(&[("LISTEN_PID", "77"), ("LISTEN_FDS", "1")]));
    let mut setup = Setup::default();
    inherited.give(&mut setup);
    assert!(!setup.listen_pid);
}

#[test]
fn nothing_inherited_is_empty() {
    assert!(Inherited::take(Vec::new(), 1, env(&[])).is_empty());
}
