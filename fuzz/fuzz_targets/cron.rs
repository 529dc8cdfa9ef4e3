//! A `schedule:` cron line, and the next run it gives from a few instants.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Ok(cron) = warden::cron::Cron::parse(line) {
        for seconds in [0u64, 951_782_400, 1_798_761_599, 4_102_444_800] {
            let after = UNIX_EPOCH + Duration::from_secs(seconds);
            if let Some(next) = cron.next_after(after) {
                assert!(next > after, "{line:?}: next run {next:?} is not after {after:?}");
            }
        }
        let _ = cron.next_after(SystemTime::now());
    }
});
