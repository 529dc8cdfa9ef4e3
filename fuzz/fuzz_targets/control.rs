//! A request line on the control socket: parsed, or refused with a message;
//! a parsed request encodes to a line that parses back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use warden::control::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = Request::parse(data) {
        // The server hands parse the line without its newline.
        let line = request.encode();
        let line = line.strip_suffix('\n').unwrap_or(&line);
        assert_eq!(Request::parse(line.as_bytes()).ok(), Some(request), "{line:?}");
    }
});
