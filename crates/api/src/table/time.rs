//! Timestamps and the AGE column: a small RFC 3339 parser/formatter and upstream's
//! `HumanDuration` / `ShortHumanDuration` (`k8s.io/apimachinery/pkg/util/duration`).

use serde_json::Value;

const NANOS_PER_SEC: i128 = 1_000_000_000;
const MINUTE: i64 = 60 * 1_000_000_000;
const HOUR: i64 = 60 * MINUTE;

/// An instant: seconds since the Unix epoch plus nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Time {
    pub(crate) secs: i64,
    pub(crate) nanos: u32,
}

impl Time {
    /// Go's zero `time.Time`: 0001-01-01T00:00:00Z.
    pub(crate) const ZERO: Time = Time {
        secs: -62_135_596_800,
        nanos: 0,
    };

    pub(crate) fn is_zero(self) -> bool {
        self == Self::ZERO
    }

    fn total_nanos(self) -> i128 {
        i128::from(self.secs) * NANOS_PER_SEC + i128::from(self.nanos)
    }

    /// `self - earlier` as a Go `time.Duration`: nanoseconds, saturated to the i64 range.
    pub(crate) fn sub(self, earlier: Time) -> i64 {
        let d = self.total_nanos() - earlier.total_nanos();
        i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
    }

    pub(crate) fn from_unix(secs: i64) -> Time {
        Time { secs, nanos: 0 }
    }

    /// Parses a JSON timestamp value (`metav1.Time` / `metav1.MicroTime`). Missing, `null`,
    /// empty or malformed values give the zero time, as an unset field does upstream.
    pub(crate) fn from_json(v: Option<&Value>) -> Time {
        v.and_then(Value::as_str)
            .and_then(parse_rfc3339)
            .unwrap_or(Self::ZERO)
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses RFC 3339 (`2006-01-02T15:04:05Z07:00`, optional fractional seconds), as Go's
/// `time.Parse(time.RFC3339, s)` accepts it.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Time> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't') {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, sec) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
        return None;
    }
    if sec > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos: u32 = 0;
    if rest.first() == Some(&b'.') {
        let frac_len = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if frac_len == 0 {
            return None;
        }
        let mut scale = 100_000_000u32;
        for c in &rest[1..=frac_len.min(9)] {
            nanos += u32::from(c - b'0') * scale;
            scale /= 10;
        }
        rest = &rest[1 + frac_len..];
    }
    let offset_secs = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let (oh, om) = (digits(&[*oh1, *oh2])?, digits(&[*om1, *om2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    Some(Time { secs, nanos })
}

/// Formats as Go's `t.UTC().Format(time.RFC3339)` (no fractional seconds).
pub(crate) fn format_rfc3339(t: Time) -> String {
    let days = t.secs.div_euclid(86_400);
    let rem = t.secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Upstream `duration.HumanDuration`: ~2-3 significant figures. `d` is in nanoseconds.
pub fn human_duration_nanos(d: i64) -> String {
    let seconds = d / 1_000_000_000;
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d / MINUTE;
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d / HOUR;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        format!("{hours}h{m}m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        format!("{}d{h}h", hours / 24)
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        format!("{}y{dy}d", hours / 24 / 365)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// [`human_duration_nanos`] for a whole number of seconds.
pub fn human_duration(seconds: i64) -> String {
    human_duration_nanos(seconds.saturating_mul(1_000_000_000))
}

/// Upstream `duration.ShortHumanDuration` (one unit only). `d` is in nanoseconds.
pub fn short_human_duration_nanos(d: i64) -> String {
    let seconds = d / 1_000_000_000;
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 {
        return format!("{seconds}s");
    }
    let minutes = d / MINUTE;
    if minutes < 60 {
        return format!("{minutes}m");
    }
    let hours = d / HOUR;
    if hours < 24 {
        format!("{hours}h")
    } else if hours < 24 * 365 {
        format!("{}d", hours / 24)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// Upstream `translateTimestampSince`: `<unknown>` for an unset timestamp, else the
/// human-readable time elapsed between it and `now` (seconds since the epoch).
pub(crate) fn since(ts: Option<&Value>, now: i64) -> String {
    since_time(Time::from_json(ts), now)
}

/// [`since`] for a parsed time.
pub(crate) fn since_time(t: Time, now: i64) -> String {
    if t.is_zero() {
        return "<unknown>".to_string();
    }
    human_duration_nanos(Time::from_unix(now).sub(t))
}

/// Upstream `translateTimestampSince` for a JSON timestamp value: the AGE column text.
pub fn age_since(timestamp: Option<&Value>, now: i64) -> String {
    since(timestamp, now)
}
