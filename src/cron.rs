//! Five-field cron lines (`minute hour day-of-month month day-of-week`) and the
//! next time one fires. Times are UTC: a container rarely has time zone data,
//! and UTC never skips or repeats an hour.
//!
//! Each field takes `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, and
//! lists of those separated by commas; months and days of the week also take
//! names (`jan`, `mon`); day of week 7 is Sunday like 0. As in Vixie cron, when
//! both day fields are restricted, a day matching either one fires.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,      // bits 0-59
    hours: u32,        // bits 0-23
    days: u32,         // bits 1-31
    months: u16,       // bits 1-12
    weekdays: u8,      // bits 0-6, Sunday = 0
    any_day: bool,     // day-of-month was `*`
    any_weekday: bool, // day-of-week was `*`
}

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The values of one field as a bit set; `names` map to `first + index`.
fn field(text: &str, what: &str, first: u32, last: u32, names: &[&str]) -> Result<u64, String> {
    let value = |word: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(word)) {
            return Ok(first + i as u32);
        }
        word.parse::<u32>()
            .ok()
            .filter(|v| (first..=last).contains(v))
            .ok_or_else(|| format!("{what}: \"{word}\" is not from {first} to {last}"))
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step = s
                    .parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{what}: bad step \"{s}\""))?;
                (r, step)
            }
            None => (part, 1),
        };
        let (low, high) = match range {
            "*" => (first, last),
            _ => match range.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                None if part.contains('/') => (value(range)?, last),
                None => (value(range)?, value(range)?),
            },
        };
        if low > high {
            return Err(format!("{what}: range \"{range}\" goes backwards"));
        }
        let mut v = low;
        while v <= high {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl Cron {
    pub fn parse(line: &str) -> Result<Cron, String> {
        let line = match line.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@reboot" => {
                return Err(
                    "@reboot means once when warden starts: write \"type: oneshot\" instead of a schedule"
                        .into(),
                );
            }
            shortcut if shortcut.starts_with('@') => {
                return Err(format!(
                    "unknown shortcut \"{shortcut}\" (known: @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually, and @every 10m for an interval)"
                ));
            }
            line => line,
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(format!(
                "\"{line}\" has {} fields; a cron line has 5: minute hour day month weekday",
                fields.len()
            ));
        };
        let weekdays = field(weekday, "day of week", 0, 7, &WEEKDAYS)?;
        Ok(Cron {
            minutes: field(minute, "minute", 0, 59, &[])?,
            hours: field(hour, "hour", 0, 23, &[])? as u32,
            days: field(day, "day of month", 1, 31, &[])? as u32,
            months: field(month, "month", 1, 12, &MONTHS)? as u16,
            // 7 is Sunday too.
            weekdays: ((weekdays | (weekdays >> 7)) & 0x7f) as u8,
            any_day: *day == "*",
            any_weekday: *weekday == "*",
        })
    }

    /// The line again, each field `*` or a list of values and ranges
    /// (`0,15,30,45 9-17 * * 1-5`): what another cron reads as the same
    /// schedule (`warden export`).
    pub fn line(&self) -> String {
        fn field(bits: u64, low: u32, high: u32, any: bool) -> String {
            let all = (low..=high).all(|v| bits & (1 << v) != 0);
            if any || all {
                return "*".into();
            }
            let mut parts = Vec::new();
            let mut value = low;
            // Bounded: every round moves past at least one value.
            while value <= high {
                if bits & (1 << value) == 0 {
                    value += 1;
                    continue;
                }
                let start = value;
                while value < high && bits & (1 << (value + 1)) != 0 {
                    value += 1;
                }
                parts.push(if value > start + 1 {
                    format!("{start}-{value}")
                } else if value == start + 1 {
                    format!("{start},{value}")
                } else {
                    start.to_string()
                });
                value += 1;
            }
            parts.join(",")
        }
        [
            field(self.minutes, 0, 59, false),
            field(u64::from(self.hours), 0, 23, false),
            field(u64::from(self.days), 1, 31, self.any_day),
            field(u64::from(self.months), 1, 12, false),
            field(u64::from(self.weekdays), 0, 6, self.any_weekday),
        ]
        .join(" ")
    }

    fn day_matches(&self, day: u32, weekday: u32) -> bool {
        let by_day = self.days & (1 << day) != 0;
        let by_weekday = self.weekdays & (1 << weekday) != 0;
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => by_day,
            (true, false) => by_weekday,
            (false, false) => by_day || by_weekday,
        }
    }

    /// The first time strictly after `after` at which the line fires, within
    /// the next five years (a line like "0 0 30 2 *" never fires).
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        let start = after.duration_since(UNIX_EPOCH).ok()?.as_secs() / 60 + 1;
        let limit = start + 5 * 366 * 24 * 60;
        let mut minute = start; // minutes since the epoch
        while minute < limit {
            let days = (minute / (24 * 60)) as i64;
            let (year, month, day) = civil_from_days(days);
            if self.months & (1 << month) == 0 {
                // Jump to the first minute of the next month.
                let (y, m) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
                minute = days_from_civil(y, m, 1) as u64 * 24 * 60;
                continue;
            }
            let weekday = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
            if !self.day_matches(day, weekday) {
                minute = (days as u64 + 1) * 24 * 60;
                continue;
            }
            let hour = (minute / 60 % 24) as u32;
            if self.hours & (1 << hour) == 0 {
                minute = (minute / 60 + 1) * 60;
                continue;
            }
            if self.minutes & (1 << (minute % 60)) == 0 {
                minute += 1;
                continue;
            }
            return Some(UNIX_EPOCH + Duration::from_secs(minute * 60));
        }
        None
    }
}

/// (year, month 1-12, day 1-31) of a day counted from 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests;
