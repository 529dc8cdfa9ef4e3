//! The client verbs: `warden status|start|stop|restart|logs|reload|check`.
//! Each sends one request to the control socket and copies the answer out;
//! the server renders everything, so the client stays a thin pipe.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Request;

/// How long a quick verb waits for its answer; start, stop, restart and
/// `logs -f` wait as long as the server takes (it bounds its own waits).
const ANSWER_TIME: Duration = Duration::from_secs(10);

/// The control socket: WARDEN_CONTROL, else the `control:` key of the config
/// (`-c FILE` or WARDEN_CONFIG), else the default.
pub fn socket_path(config: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, String> {
    if let Some(value) = env("WARDEN_CONTROL") {
        return crate::config::parse_control(&value)
            .map_err(|e| format!("WARDEN_CONTROL: {e}"))?
            .ok_or_else(|| "WARDEN_CONTROL is off: there is no control socket to talk to".to_string());
    }
    let config = config.map(Path::to_path_buf).or_else(|| env("WARDEN_CONFIG").map(PathBuf::from));
    if let Some(path) = config {
        let loaded = crate::config::load(&path, env, Path::new("/")).map_err(|e| e.to_string())?;
        return loaded.control.ok_or_else(|| {
            format!("{}: control is off: there is no control socket to talk to", path.display())
        });
    }
    Ok(PathBuf::from(crate::config::DEFAULT_CONTROL))
}

/// Connects to `socket`; where nothing answers there, a warden is found at
/// its abstract address (one that could not make the default path, or one
/// whose config was edited to move its socket since it started).
fn connect(socket: &Path) -> std::io::Result<UnixStream> {
    match UnixStream::connect(socket) {
        Err(e)
            if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) =>
        {
            super::fallback_address().and_then(|address| UnixStream::connect_addr(&address)).map_err(|_| e)
        }
        result => result,
    }
}

/// Runs one verb against the warden at `socket`; returns the exit code.
pub fn run(socket: &Path, request: &Request) -> i32 {
    let waits = matches!(
        request,
        Request::Start(_) | Request::Stop(_) | Request::Restart(_) | Request::Logs { follow: true, .. }
    );
    let mut stream = match connect(socket) {
        Ok(stream) => stream,
        Err(e) => {
            crate::logger::write_line(&format!(
                "warden: no warden answers on {}: {} (is warden running with its control socket there? \
                 WARDEN_CONTROL or -c FILE say where it is)",
                socket.display(),
                crate::sys::Reason(&e)
            ));
            return 1;
        }
    };
    let timeout = (!waits).then_some(ANSWER_TIME);
    match stream.set_read_timeout(timeout).and_then(|()| stream.write_all(request.encode().as_bytes())) {
        Ok(()) => {}
        // The server may answer and close before reading a word (a refused
        // peer): its answer is still there to read.
        Err(e)
            if matches!(e.kind(), std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset) => {}
        Err(e) => {
            crate::logger::write_line(&format!("warden: {}: {}", socket.display(), crate::sys::Reason(&e)));
            return 1;
        }
    }
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    match reader.read_line(&mut header) {
        Ok(0) => {
            crate::logger::write_line(&format!("warden: {}: closed without an answer", socket.display()));
            return 1;
        }
        Ok(_) => {}
        Err(e) => {
            crate::logger::write_line(&format!("warden: {}: {}", socket.display(), crate::sys::Reason(&e)));
            return 1;
        }
    }
    let code = match header.trim_end().split_once(' ') {
        _ if header.trim_end() == "ok" => 0,
        Some(("error", message)) => {
            crate::logger::write_line(&format!("warden: {message}"));
            1
        }
        _ => {
            crate::logger::write_line(&format!("warden: {}: not a warden answer", socket.display()));
            return 1;
        }
    };
    // The body goes out as it comes (logs -f streams).
    let mut stdout = std::io::stdout().lock();
    let mut buffer = [0u8; 8192];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if stdout
                    .write_all(buffer.get(..n).unwrap_or_default())
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    break; // our reader went away (`| head`)
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                crate::logger::write_line(&format!(
                    "warden: {}: {}",
                    socket.display(),
                    crate::sys::Reason(&e)
                ));
                return 1;
            }
        }
    }
    code
}
