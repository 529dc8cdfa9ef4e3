//! testkit: the small programs warden's tests and benchmarks run under warden.
//! Built by `cargo test` as an example (never installed). Each subcommand prints
//! what it observes on stdout, one line per fact, flushed at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
#![allow(unsafe_code, clippy::undocumented_unsafe_blocks)]

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::time::Instant;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let rest = &words[1.min(words.len())..];
    match words.first().map(String::as_str) {
        Some("signals") => signals(rest),
        Some("status") => status(),
        Some("argv") => args[1..].iter().for_each(|a| say(&hex(a.as_bytes()))),
        Some("env") => {
            let mut vars: Vec<String> =
                std::env::vars_os().map(|(k, v)| hex(&[k.as_bytes(), b"=", v.as_bytes()].concat())).collect();
            vars.sort();
            vars.iter().for_each(|v| say(v));
        }
        Some("cwd") => say(&std::env::current_dir().unwrap().display().to_string()),
        Some("orphans") => orphans(rest),
        Some("term-marker") => term_marker(rest),
        Some("ignore-term") => ignore_term(rest),
        Some("signal-echo") => signal_echo(),
        Some("bench-signal") => bench_signal(rest),
        Some("bench-signal-gap") => bench_signal_gap(rest),
        Some("signal-stamp") => signal_stamp(),
        Some("stamp") => stamp(rest),
        Some("fork-loop") => fork_loop(&args[1..]),
        Some("http-serve") => http_serve(rest),
        Some("notify") => notify(rest),
        Some("flood") => flood(rest),
        Some("leak") => leak(rest),
        _ => {
            eprintln!(
                "usage: testkit signals|status|argv|env|cwd|orphans|term-marker|ignore-term|signal-echo|bench-signal|stamp|fork-loop|http-serve|notify"
            );
            std::process::exit(2);
        }
    }
}

fn block_all() -> libc::sigset_t {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_signal(set: &libc::sigset_t) -> i32 {
    loop {
        let sig = unsafe { libc::sigwaitinfo(set, std::ptr::null_mut()) };
        if sig > 0 {
            return sig;
        }
    }
}

fn signal_name(sig: i32) -> String {
    let names = [
        (libc::SIGHUP, "HUP"),
        (libc::SIGINT, "INT"),
        (libc::SIGQUIT, "QUIT"),
        (libc::SIGILL, "ILL"),
        (libc::SIGTRAP, "TRAP"),
        (libc::SIGABRT, "ABRT"),
        (libc::SIGBUS, "BUS"),
        (libc::SIGFPE, "FPE"),
        (libc::SIGUSR1, "USR1"),
        (libc::SIGSEGV, "SEGV"),
        (libc::SIGUSR2, "USR2"),
        (libc::SIGPIPE, "PIPE"),
        (libc::SIGALRM, "ALRM"),
        (libc::SIGTERM, "TERM"),
        (libc::SIGSTKFLT, "STKFLT"),
        (libc::SIGCHLD, "CHLD"),
        (libc::SIGCONT, "CONT"),
        (libc::SIGTSTP, "TSTP"),
        (libc::SIGTTIN, "TTIN"),
        (libc::SIGTTOU, "TTOU"),
        (libc::SIGURG, "URG"),
        (libc::SIGXCPU, "XCPU"),
        (libc::SIGXFSZ, "XFSZ"),
        (libc::SIGVTALRM, "VTALRM"),
        (libc::SIGPROF, "PROF"),
        (libc::SIGWINCH, "WINCH"),
        (libc::SIGIO, "IO"),
        (libc::SIGPWR, "PWR"),
        (libc::SIGSYS, "SYS"),
    ];
    names.iter().find(|(n, _)| *n == sig).map_or(format!("SIG{sig}"), |(_, name)| format!("SIG{name}"))
}

/// `signals [--tag T] [--exit-on SIG] [--code N] [--ready R]`: print "T ready", then "T SIGNAME"
/// for every signal received (all blocked, read with sigwaitinfo) until the
/// exit-on signal, then exit N (default 0).
fn signals(args: &[String]) {
    let mut tag = String::new();
    let mut exit_on = None;
    let mut code = 0;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--tag" => tag = format!("{} ", it.next().unwrap()),
            "--exit-on" => exit_on = Some(it.next().unwrap().clone()),
            "--code" => code = it.next().unwrap().parse().unwrap(),
            "--ready" => {
                it.next();
            }
            _ => panic!("signals: unknown {a}"),
        }
    }
    let set = block_all();
    mark_ready(args);
    say(&format!("{tag}ready"));
    loop {
        let sig = wait_signal(&set);
        let name = signal_name(sig);
        say(&format!("{tag}{name}"));
        if exit_on.as_deref() == Some(&name[3..]) {
            std::process::exit(code);
        }
    }
}

/// Signal mask, ignored set and open fds of this very process, as warden left them.
fn status() {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    for line in text.lines().filter(|l| l.starts_with("SigBlk") || l.starts_with("SigIgn")) {
        say(&line.replace('\t', " "));
    }
    // Probe with fcntl rather than listing /proc/self/fd, which opens an fd itself.
    let open: Vec<String> = (0..4096)
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
        .map(|fd| fd.to_string())
        .collect();
    say(&format!("fds {}", open.join(" ")));
}

/// `orphans N [--measure [--rt]]`: make N orphans that all exit at the same
/// instant, then wait for SIGTERM. With --measure, print how long it took the
/// init (our parent) to reap them, measured from the last exit (seen through
/// pidfds) and from the last orphan's own stamp before `_exit`; --rt watches
/// with SCHED_FIFO, so that the watcher never lags behind the exits.
fn orphans(args: &[String]) {
    let count: usize = args[0].parse().unwrap();
    let measure = args.iter().any(|a| a == "--measure");
    let set = block_all();
    let mut release = [0; 2];
    let mut report = [0; 2];
    unsafe {
        libc::pipe(release.as_mut_ptr());
        libc::pipe(report.as_mut_ptr());
    }
    // Each orphan stamps the time it exits here (shared with this process), so
    // that the last exit is known exactly, not when this process got to see it.
    // SAFETY: anonymous shared mapping, checked below.
    let stamps = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            count * 8,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert!(stamps != libc::MAP_FAILED, "mmap: {}", std::io::Error::last_os_error());
    let stamps = stamps.cast::<u64>();
    for i in 0..count {
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let grandchild = unsafe { libc::fork() };
            if grandchild == 0 {
                // Orphan to be: wait for the release (EOF), then exit.
                unsafe {
                    libc::close(release[1]);
                    libc::close(report[1]);
                    let mut byte = 0u8;
                    libc::read(release[0], (&mut byte as *mut u8).cast(), 1);
                    stamps.add(i).write_volatile(monotonic_ns() as u64);
                    libc::_exit(0);
                }
            }
            let bytes = grandchild.to_ne_bytes();
            unsafe {
                libc::write(report[1], bytes.as_ptr().cast(), 4);
                libc::_exit(0);
            }
        }
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
    }
    unsafe {
        libc::close(report[1]);
        libc::close(release[0]);
    }
    let mut pids = Vec::with_capacity(count);
    let mut reader = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(report[0]) };
    let mut buf = [0u8; 4];
    while reader.read_exact(&mut buf).is_ok() {
        pids.push(i32::from_ne_bytes(buf));
    }
    assert_eq!(pids.len(), count);
    let pidfds: Vec<i32> = if measure {
        raise_nofile(count as u64 + 64);
        pids.iter().map(|&p| unsafe { libc::syscall(libc::SYS_pidfd_open, p, 0) } as i32).collect()
    } else {
        Vec::new()
    };
    if args.iter().any(|a| a == "--rt") {
        // The watcher sees each exit and reap as it happens, not when the
        // scheduler gets to it among the init and the exiting orphans.
        // Zeroed first: musl's sched_param has more fields than glibc's.
        let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
        param.sched_priority = 50;
        unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    }
    say(&format!("orphans {count}"));
    let released = Instant::now();
    unsafe { libc::close(release[1]) };
    if measure {
        let (last_exit, last_reap, last_reap_ns) = watch_exits_and_reaps(&pidfds);
        // SAFETY: `count` slots, every orphan has exited.
        let stamped = (0..count).map(|i| unsafe { stamps.add(i).read_volatile() }).max().unwrap_or(0);
        say(&format!(
            "release_to_last_exit_us {} last_exit_to_reaped_us {} stamped_exit_to_reaped_us {}",
            last_exit.duration_since(released).as_micros(),
            last_reap.saturating_duration_since(last_exit).as_micros(),
            last_reap_ns.saturating_sub(stamped) / 1000
        ));
        std::process::exit(0);
    } else {
        say("released");
    }
    loop {
        if wait_signal(&set) == libc::SIGTERM {
            std::process::exit(0);
        }
    }
}

fn raise_nofile(want: u64) {
    let limit = libc::rlimit { rlim_cur: want, rlim_max: want };
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
}

/// Watches every orphan through its pidfd, which reports POLLIN when the process
/// exits (becomes a zombie) and POLLHUP when its parent, the init, reaps it.
/// Returns when the last one exited and when the last one was reaped.
fn watch_exits_and_reaps(pidfds: &[i32]) -> (Instant, Instant, u64) {
    let epoll = unsafe { libc::epoll_create1(0) };
    for (i, &fd) in pidfds.iter().enumerate() {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: i as u64 };
        unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut ev) };
    }
    let mut unreaped = pidfds.len();
    let mut last_exit = Instant::now();
    let mut last_reap = last_exit;
    let mut last_reap_ns = 0u64;
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    while unreaped > 0 {
        let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 1024, 30_000) };
        assert!(n > 0, "orphans not exited and reaped within 30 s");
        let now = Instant::now();
        let now_ns = monotonic_ns() as u64;
        for ev in &events[..n as usize] {
            let fd = pidfds[ev.u64 as usize];
            if ev.events & libc::EPOLLIN as u32 != 0 {
                last_exit = now;
                // From now on only the hang-up (the reap) is of interest.
                let mut quiet = libc::epoll_event { events: 0, u64: ev.u64 };
                unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_MOD, fd, &mut quiet) };
            }
            if ev.events & libc::EPOLLHUP as u32 != 0 {
                last_reap = now;
                last_reap_ns = now_ns;
                unreaped -= 1;
                unsafe {
                    libc::epoll_ctl(epoll, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut());
                    libc::close(fd);
                }
            }
        }
    }
    (last_exit, last_reap, last_reap_ns)
}

/// Creates the file named after `--ready`, if any: tells a shell script that the
/// signal set-up is done.
fn mark_ready(args: &[String]) {
    if let Some(i) = args.iter().position(|a| a == "--ready") {
        std::fs::write(&args[i + 1], std::process::id().to_string()).unwrap();
    }
}

/// `term-marker FILE [--ready R]`: on SIGTERM write FILE and exit 0.
fn term_marker(args: &[String]) {
    let set = block_all();
    mark_ready(args);
    say(&format!("pid {}", std::process::id()));
    while wait_signal(&set) != libc::SIGTERM {}
    std::fs::write(&args[0], "terminated\n").unwrap();
    say("terminated");
    std::process::exit(0);
}

/// `ignore-term [--ready R]`: ignores SIGTERM (and INT, QUIT), lives until killed.
fn ignore_term(args: &[String]) {
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    mark_ready(args);
    say(&format!("pid {}", std::process::id()));
    loop {
        unsafe { libc::pause() };
    }
}

/// Writes one byte to stdout per SIGUSR1; exits on SIGTERM.
fn signal_echo() {
    let set = block_all();
    say("ready");
    loop {
        match wait_signal(&set) {
            libc::SIGUSR1 => {
                let _ = std::io::stdout().write_all(b"!");
                let _ = std::io::stdout().flush();
            }
            libc::SIGTERM => std::process::exit(0),
            _ => {}
        }
    }
}

/// `bench-signal ROUNDS INIT [ARGS...]`: runs `INIT ARGS... testkit signal-echo`,
/// sends SIGUSR1 to INIT ROUNDS times and prints the median and p90 round trip
/// (kill → the program's byte arriving) in microseconds.
fn bench_signal(args: &[String]) {
    let rounds: usize = args[0].parse().unwrap();
    let me = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(&args[1])
        .args(&args[2..])
        .arg(&me)
        .arg("signal-echo")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut ready = [0u8; 6];
    out.read_exact(&mut ready).unwrap();
    let pid = child.id() as i32;
    let mut samples = Vec::with_capacity(rounds);
    let mut byte = [0u8; 1];
    for _ in 0..rounds {
        let start = Instant::now();
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        out.read_exact(&mut byte).unwrap();
        samples.push(start.elapsed().as_nanos() as u64);
    }
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = child.wait();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    say(&format!("median_us {:.1} p90_us {:.1}", at(0.5), at(0.9)));
}

/// The write end of signal-stamp's report pipe (stdout), for its handler.
static STAMP_OUT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(1);

extern "C" fn stamp_handler(_: libc::c_int) {
    // Async-signal-safe: clock_gettime and write only.
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let ns = (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64);
    let bytes = ns.to_ne_bytes();
    let fd = STAMP_OUT.load(std::sync::atomic::Ordering::Relaxed);
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}

/// `signal-stamp`: a SIGUSR1 *handler* (not sigwaitinfo: the program of the
/// issue's method) writes the CLOCK_MONOTONIC nanoseconds at which it ran, 8
/// bytes, to stdout; SIGTERM ends it.
fn signal_stamp() {
    unsafe {
        libc::signal(libc::SIGUSR1, stamp_handler as *const () as libc::sighandler_t);
    }
    // 8 bytes of "ready": the first record.
    let _ = std::io::stdout().write_all(b"ready!!!");
    let _ = std::io::stdout().flush();
    loop {
        unsafe { libc::pause() };
    }
}

/// `bench-signal-gap COUNT GAP_US INIT [ARGS...]`: runs `INIT ARGS... testkit
/// signal-stamp`, then COUNT times: kill(INIT, SIGUSR1), wait for the stamp,
/// sleep GAP_US. Latency is the stamp minus the time just before the kill.
/// Prints the median and p99 in microseconds, then every sample.
fn bench_signal_gap(args: &[String]) {
    let count: usize = args[0].parse().unwrap();
    let gap = std::time::Duration::from_micros(args[1].parse().unwrap());
    let me = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(&args[2])
        .args(&args[3..])
        .arg(&me)
        .arg("signal-stamp")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut record = [0u8; 8];
    out.read_exact(&mut record).unwrap();
    // Under `unshare --fork`, the init is unshare's one child.
    let mut pid = child.id() as i32;
    if args[2].ends_with("unshare") {
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        pid = children.split_whitespace().next().unwrap().parse().unwrap();
    }
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        std::thread::sleep(gap);
        let start = monotonic_ns() as u64;
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        out.read_exact(&mut record).unwrap();
        samples.push(u64::from_ne_bytes(record).saturating_sub(start));
    }
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = child.wait();
    let all: Vec<String> = samples.iter().map(|ns| format!("{:.1}", *ns as f64 / 1000.0)).collect();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    say(&format!("median_us {:.1} p99_us {:.1}", at(0.5), at(0.99)));
    say(&format!("samples_us {}", all.join(" ")));
}

/// Nanoseconds of CLOCK_MONOTONIC (the clock of Python's time.monotonic()).
fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// `stamp FILE [--hold]`: appends the monotonic time in ns as one line (one
/// O_APPEND write, so concurrent stampers never interleave), then exits 0, or
/// with --hold waits for SIGTERM.
fn stamp(args: &[String]) {
    use std::os::unix::fs::OpenOptionsExt;
    let line = format!("{}\n", monotonic_ns());
    let mut file = std::fs::OpenOptions::new().append(true).create(true).mode(0o644).open(&args[0]).unwrap();
    file.write_all(line.as_bytes()).unwrap();
    if args.iter().any(|a| a == "--hold") {
        let set = block_all();
        while wait_signal(&set) != libc::SIGTERM {}
    }
}

/// `fork-loop N PROG [ARGS...]`: the minimal supervisor, as a baseline: fork and
/// exec PROG N times as fast as possible, then wait for SIGTERM and kill them.
fn fork_loop(args: &[OsString]) {
    use std::ffi::CString;
    let count: usize = args[0].to_string_lossy().parse().unwrap();
    let argv: Vec<CString> = args[1..].iter().map(|a| CString::new(a.as_bytes()).unwrap()).collect();
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let set = block_all();
    let mut children = Vec::with_capacity(count);
    for _ in 0..count {
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe {
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                libc::execv(ptrs[0], ptrs.as_ptr());
                libc::_exit(127);
            }
        }
        children.push(pid);
    }
    while wait_signal(&set) != libc::SIGTERM {}
    for pid in children {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// `http-serve PORT DIR`: an HTTP server on 127.0.0.1:PORT for probes. While
/// DIR/hang exists it accepts connections and never answers (alive but hung);
/// while DIR/fail exists it answers 503; otherwise 200. Prints "request" per
/// request answered or held.
fn http_serve(args: &[String]) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", args[0].parse::<u16>().unwrap())).unwrap();
    let dir = std::path::PathBuf::from(&args[1]);
    let mut held = std::collections::VecDeque::new();
    say("serving");
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        say("request");
        if dir.join("hang").exists() {
            held.push_back(stream); // never answered; the oldest dropped past 64
            if held.len() > 64 {
                held.pop_front();
            }
            continue;
        }
        let mut buffer = [0u8; 1024];
        let _ = stream.read(&mut buffer);
        let status = if dir.join("fail").exists() { "503 Service Unavailable" } else { "200 OK" };
        let _ = stream.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok").as_bytes());
    }
}

/// `notify STEP...`: an sd_notify client. Steps: `sleep:MS`, `send:MSG` (`;`
/// separates lines), `ping:MS:N` (WATCHDOG=1 every MS, N times). Prints its
/// NOTIFY_SOCKET and WATCHDOG_USEC first; after the steps, waits for SIGTERM.
fn notify(args: &[String]) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let set = block_all();
    let target = std::env::var("NOTIFY_SOCKET").unwrap_or_default();
    say(&format!("NOTIFY_SOCKET={target}"));
    say(&format!("WATCHDOG_USEC={}", std::env::var("WATCHDOG_USEC").unwrap_or_default()));
    let address = match target.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()).unwrap(),
        None => SocketAddr::from_pathname(&target).unwrap(),
    };
    let socket = UnixDatagram::unbound().unwrap();
    let send = |message: &str| {
        socket.send_to_addr(message.replace(';', "\n").as_bytes(), &address).unwrap();
    };
    for step in args {
        let parts: Vec<&str> = step.splitn(3, ':').collect();
        match parts[..] {
            ["sleep", ms] => std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap())),
            ["send", message] => send(message),
            ["ping", ms, n] => {
                for _ in 0..n.parse::<u32>().unwrap() {
                    send("WATCHDOG=1");
                    std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap()));
                }
            }
            _ => panic!("unknown step {step}"),
        }
        say(&format!("done {step}"));
    }
    while wait_signal(&set) != libc::SIGTERM {}
}

/// `flood BYTES`: writes numbered 100-byte lines to stdout until BYTES are
/// written, then exits 0.
/// `flood TOTAL [LINE_BYTES [WRITE_BYTES]]`: TOTAL bytes of numbered lines of
/// LINE_BYTES (default 100, newline included), handed to the kernel in
/// `write`s of about WRITE_BYTES (default 64 KiB, whole lines; 0: one line per
/// write), straight to fd 1 with no buffer of std's in between.
fn flood(args: &[String]) {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let total: u64 = args[0].parse().unwrap();
    let line: usize = args.get(1).map_or(100, |a| a.parse().unwrap()).max(14);
    let write: usize = args.get(2).map_or(64 * 1024, |a| a.parse().unwrap());
    let per_write = (write / line).max(1);
    // SAFETY (test helper): fd 1 is open for the whole run; ManuallyDrop keeps it so.
    let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    // One block of lines made once; each write renumbers its lines in place
    // (the producer must be far faster than any path it measures).
    let mut template = Vec::with_capacity(line);
    template.extend_from_slice(b"000000000000 ");
    template.resize(line - 1, b'x');
    template.push(b'\n');
    let mut block: Vec<u8> = template.repeat(per_write);
    let mut written = 0u64;
    let mut n = 0u64;
    while written < total {
        let lines = (per_write as u64).min((total - written) / line as u64).max(1) as usize;
        for i in 0..lines {
            let mut number = n;
            for digit in block[i * line..i * line + 12].iter_mut().rev() {
                *digit = b'0' + (number % 10) as u8;
                number /= 10;
            }
            n += 1;
        }
        out.write_all(&block[..lines * line]).unwrap();
        written += (lines * line) as u64;
    }
}

/// `leak MIB_PER_SECOND [MAX_MIB]`: allocates and touches memory at a steady
/// rate (in 1 MiB steps), up to MAX_MIB (default 4096), then holds it: a
/// service whose memory grows, for the limit tests.
fn leak(args: &[String]) {
    let rate: u64 = args.first().map_or(16, |a| a.parse().unwrap());
    let most: usize = args.get(1).map_or(4096, |a| a.parse().unwrap());
    let step = std::time::Duration::from_micros(1_000_000 / rate.max(1));
    let mut held: Vec<Vec<u8>> = Vec::new();
    while held.len() < most {
        // Written, so the pages are resident, not just reserved.
        held.push(vec![0x5a; 1 << 20]);
        std::thread::sleep(step);
    }
    say(&format!("holding {} MiB", held.len()));
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
