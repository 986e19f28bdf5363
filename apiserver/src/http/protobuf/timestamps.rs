//! `metav1.Time`, `metav1.MicroTime` and `metav1.Duration` in their JSON forms, as Go's `time`
//! package writes and reads them.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix seconds of Go's zero `time.Time` (January 1, year 1, UTC), which marshals as `null`.
const GO_ZERO_UNIX: i64 = -62_135_596_800;
const NANOS: i128 = 1_000_000_000;

/// RFC 3339 in UTC: whole seconds for `Time`, six fractional digits for `MicroTime`; Go's zero
/// time is `null`. `nanos` may be out of range, as Go's `time.Unix` normalises it.
pub(super) fn format(seconds: i64, nanos: i64, micro: bool) -> Result<Value, String> {
    let total = i128::from(seconds) * NANOS + i128::from(nanos);
    let secs = i64::try_from(total.div_euclid(NANOS)).map_err(|_| "time out of range".to_string())?;
    let frac = total.rem_euclid(NANOS) as u32;
    if secs == GO_ZERO_UNIX && frac == 0 {
        return Ok(Value::Null);
    }
    let t = OffsetDateTime::from_unix_timestamp(secs).map_err(|_| "time out of range".to_string())?;
    if !(0..=9999).contains(&t.year()) {
        return Err("Time.MarshalJSON: year outside of range [0,9999]".into());
    }
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if micro {
        s.push_str(&format!(".{:06}", frac / 1000));
    }
    s.push('Z');
    Ok(Value::String(s))
}

/// Unix seconds and nanoseconds of an RFC 3339 time (Go's `time.Parse(time.RFC3339, ..)`).
pub(super) fn parse(s: &str) -> Result<(i64, i32), String> {
    let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("parsing time {s:?}: {e}"))?;
    Ok((t.unix_timestamp(), t.nanosecond() as i32))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub(super) fn format_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".into(),
            1..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let frac = fraction(&mut u, prec);
        out.push_str(&format!("{u}{frac}{unit}"));
    } else {
        let frac = fraction(&mut u, 9);
        let (secs, mins) = (u % 60, u / 60);
        if mins > 0 {
            let (m, hours) = (mins % 60, mins / 60);
            if hours > 0 {
                out.push_str(&format!("{hours}h"));
            }
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{secs}{frac}s"));
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into `v / 10^prec` (left in `v`) and the fraction `.ddd` without trailing zeros
/// (empty when zero), as Go's `fmtFrac`.
fn fraction(v: &mut u64, prec: u32) -> String {
    let scale = 10u64.pow(prec);
    let frac = *v % scale;
    *v /= scale;
    if frac == 0 {
        return String::new();
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    format!(".{}", digits.trim_end_matches('0'))
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`.
pub(super) fn parse_duration(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(err());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(err()),
        };
        let int: i128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| err())?
        };
        let mut value = int.checked_mul(scale).ok_or_else(err)?;
        if !frac.is_empty() {
            let digits = &frac[..frac.len().min(20)];
            let f: i128 = digits.parse().map_err(|_| err())?;
            value += f * scale / 10i128.pow(digits.len() as u32);
        }
        total = total.checked_add(value).ok_or_else(err)?;
        rest = after;
    }
    let total = if neg { -total } else { total };
    i64::try_from(total).map_err(|_| err())
}
