//! Bytes received on the HTTP listener, in any amount.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = warden::control::http::parse(data);
});
