//! Cron schedules as upstream parses them (robfig/cron `ParseStandard`): five fields
//! (minute hour day-of-month month day-of-week) with `*`, `?`, lists, ranges, steps and
//! month/weekday names, the `@yearly`/`@monthly`/`@weekly`/`@daily`/`@hourly` descriptors,
//! `@every <duration>`, and an optional `TZ=`/`CRON_TZ=` prefix. Evaluation happens in a
//! time zone (the CronJob's `spec.timeZone`, else UTC, as kube-controller-manager runs).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Why a schedule string does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("expected exactly 5 fields, found {0}: {1}")]
    FieldCount(usize, String),
    #[error("failed to parse int from {0}")]
    BadNumber(String),
    #[error("{what} ({value}) {problem}")]
    OutOfRange {
        what: &'static str,
        value: String,
        problem: &'static str,
    },
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    #[error("provided bad location {0}")]
    Location(String),
    #[error("empty spec string")]
    Empty,
}

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    kind: Kind,
    /// A `TZ=`/`CRON_TZ=` prefix inside the schedule string itself.
    pub embedded_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Fields(Fields),
    /// `@every <duration>`: fixed delay in whole seconds (at least one).
    Every(i64),
}

/// Bit sets of allowed values; bit 63 marks a `*`/`?` field (robfig's star bit), which
/// changes how day-of-month and day-of-week combine.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

const STAR: u64 = 1 << 63;

struct Bounds {
    what: &'static str,
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];
const DAYS: &[(&str, u32)] = &[
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];

const MINUTE: Bounds = Bounds {
    what: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    what: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    what: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    what: "month",
    min: 1,
    max: 12,
    names: MONTHS,
};
const DOW: Bounds = Bounds {
    what: "day of week",
    min: 0,
    max: 6,
    names: DAYS,
};

impl Schedule {
    /// Parses like robfig/cron's `ParseStandard`.
    pub fn parse(spec: &str) -> Result<Schedule, ScheduleError> {
        let mut spec = spec.trim();
        if spec.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let mut embedded_zone = None;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let (zone, rest) = spec.split_once(' ').unwrap_or((spec, ""));
            let zone = zone.split_once('=').map(|(_, z)| z).unwrap_or_default();
            if TimeZone::get(zone).is_err() {
                return Err(ScheduleError::Location(zone.to_string()));
            }
            embedded_zone = Some(zone.to_string());
            spec = rest.trim();
        }
        let kind = if spec.starts_with('@') {
            descriptor(spec)?
        } else {
            let fields: Vec<&str> = spec.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(ScheduleError::FieldCount(fields.len(), spec.to_string()));
            }
            Kind::Fields(Fields {
                minute: field(fields[0], &MINUTE)?,
                hour: field(fields[1], &HOUR)?,
                dom: field(fields[2], &DOM)?,
                month: field(fields[3], &MONTH)?,
                dow: field(fields[4], &DOW)?,
            })
        };
        Ok(Schedule { kind, embedded_zone })
    }

    /// The first activation strictly after `after`, evaluated in `tz`; `None` when there is
    /// none within five years (e.g. `0 0 30 2 *`), as robfig gives up.
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every(secs) => {
                // robfig: t + delay, rounded down to the whole second.
                let base = Timestamp::from_second(after.as_second()).ok()?;
                base.checked_add(secs.seconds()).ok()
            }
            Kind::Fields(f) => f.next(after, tz),
        }
    }
}

fn descriptor(spec: &str) -> Result<Kind, ScheduleError> {
    let fields = |s: &str| Schedule::parse(s).map(|s| s.kind);
    match spec {
        "@yearly" | "@annually" => fields("0 0 1 1 *"),
        "@monthly" => fields("0 0 1 * *"),
        "@weekly" => fields("0 0 * * 0"),
        "@daily" | "@midnight" => fields("0 0 * * *"),
        "@hourly" => fields("0 * * * *"),
        _ => {
            let Some(rest) = spec.strip_prefix("@every ") else {
                return Err(ScheduleError::Descriptor(spec.to_string()));
            };
            let secs = go_duration_seconds(rest.trim())
                .ok_or_else(|| ScheduleError::Descriptor(spec.to_string()))?;
            Ok(Kind::Every(secs.max(1)))
        }
    }
}

/// Parses a Go duration ("1h30m", "90s", "1.5h") into whole seconds (rounded down).
fn go_duration_seconds(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Some(total.floor() as i64)
}

fn field(text: &str, bounds: &Bounds) -> Result<u64, ScheduleError> {
    let mut bits = 0u64;
    for part in text.split(',') {
        bits |= range(part, bounds)?;
    }
    Ok(bits)
}

fn range(expr: &str, b: &Bounds) -> Result<u64, ScheduleError> {
    let (range_part, step_part) = match expr.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (expr, None),
    };
    let (mut start, mut end, mut extra);
    let single;
    if range_part == "*" || range_part == "?" {
        start = b.min;
        end = b.max;
        extra = STAR;
        single = false;
    } else {
        extra = 0;
        match range_part.split_once('-') {
            Some((lo, hi)) => {
                start = value(lo, b)?;
                end = value(hi, b)?;
                single = false;
            }
            None => {
                start = value(range_part, b)?;
                end = start;
                single = true;
            }
        }
    }
    let step = match step_part {
        None => 1,
        Some(s) => {
            let step = number(s)?;
            // robfig: "N/step" means "N-max/step".
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
    };
    let err = |value: String, problem| ScheduleError::OutOfRange {
        what: b.what,
        value,
        problem,
    };
    if start < b.min {
        return Err(err(start.to_string(), "below minimum"));
    }
    if end > b.max {
        return Err(err(end.to_string(), "above maximum"));
    }
    if start > end {
        return Err(err(expr.to_string(), "beginning of range after end"));
    }
    if step == 0 {
        return Err(err(expr.to_string(), "step of range should be a positive number"));
    }
    let mut bits = 0u64;
    while start <= end {
        bits |= 1 << start;
        start += step;
    }
    Ok(bits | extra)
}

fn value(text: &str, b: &Bounds) -> Result<u32, ScheduleError> {
    let lower = text.to_ascii_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    number(text)
}

fn number(text: &str) -> Result<u32, ScheduleError> {
    text.parse::<u32>()
        .map_err(|_| ScheduleError::BadNumber(text.to_string()))
}

impl Fields {
    fn has(bits: u64, v: i8) -> bool {
        v >= 0 && bits & (1u64 << v) != 0
    }

    fn day_matches(&self, d: Date) -> bool {
        let dom = Self::has(self.dom, d.day());
        let dow = Self::has(self.dow, d.weekday().to_sunday_zero_offset());
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(tz.clone()).datetime();
        // Whole minutes only: start at the minute after `after`'s minute.
        let start = local
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let limit = start.date().year() + 5;
        let mut date = start.date();
        let mut first_day = true;
        while date.year() <= limit {
            if !Self::has(self.month, date.month()) {
                date = date.first_of_month().checked_add(1.month()).ok()?;
                first_day = false;
                continue;
            }
            if self.day_matches(date) {
                for hour in 0..24i8 {
                    if !Self::has(self.hour, hour) || (first_day && hour < start.hour()) {
                        continue;
                    }
                    for minute in 0..60i8 {
                        if !Self::has(self.minute, minute) {
                            continue;
                        }
                        if first_day && hour == start.hour() && minute < start.minute() {
                            continue;
                        }
                        let candidate = DateTime::from_parts(date, jiff::civil::time(hour, minute, 0, 0));
                        // Gaps move forward, folds take the earlier instant (robfig's
                        // behaviour around DST changes is close to this).
                        let Ok(zoned) = tz.to_ambiguous_zoned(candidate).compatible() else {
                            continue;
                        };
                        if zoned.timestamp() > after {
                            return Some(zoned.timestamp());
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
            first_day = false;
        }
        None
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
