//! The duration grammar shared by the command line and the config file:
//! one or more `<integer><unit>` terms with units `ms`, `s`, `m`, `h`
//! (`500ms`, `9s`, `2m`, `1h`, `1m30s`), or a bare `0`.

use std::time::Duration;

/// The longest duration accepted: ten years (longer ones are mistakes, and
/// deadlines that far out could overflow the clock).
pub const MAX: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Parses a duration; the error says what is wrong and how to write it.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("empty duration; write e.g. \"10s\"".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("\"{text}\" has no unit; write \"{text}s\" (units: ms, s, m, h)"));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = rest.split_at(digits);
        let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(letters);
        let too_large = || format!("\"{text}\" is too large (max {})", format(MAX));
        let value: u64 = number.parse().map_err(|e: std::num::ParseIntError| {
            if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) {
                too_large()
            } else {
                format!("\"{text}\" is not a duration; write e.g. \"500ms\", \"10s\", \"2m\" or \"1h\"")
            }
        })?;
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => {
                return Err(format!("\"{text}\": unknown unit \"{unit}\" (units: ms, s, m, h)"));
            }
        };
        let millis = value.checked_mul(millis_per_unit).ok_or_else(too_large)?;
        total =
            total.checked_add(Duration::from_millis(millis)).filter(|t| *t <= MAX).ok_or_else(too_large)?;
        rest = after;
    }
    Ok(total)
}

/// Formats the way it parses: `9s`, `1m30s`, `250ms`.
pub fn format(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if millis >= size {
            out.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests;
