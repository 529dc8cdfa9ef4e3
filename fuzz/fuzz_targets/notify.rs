//! An sd_notify datagram from a service.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = warden::notify::parse(data);
});
