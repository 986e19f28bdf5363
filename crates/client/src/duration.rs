//! Go `time.ParseDuration` for upstream-compatible flags (`--leader-elect-lease-duration=15s`).
//!
//! Accepts what Go accepts: an optional sign, then one or more `<decimal><unit>` pairs with units
//! `ns`, `us` (or `µs`/`μs`), `ms`, `s`, `m`, `h`, e.g. `1h30m`, `1.5s`, `500ms`; and a bare `0`.
//! Negative durations are rejected because no flag here means anything by them.

use std::time::Duration;

use crate::ClientError;

/// Parse a Go duration string: `"15s"`, `"1m30s"`, `"500ms"`, `"2h"`, `"0"`.
pub fn parse_go_duration(s: &str) -> Result<Duration, ClientError> {
    let err = |reason| ClientError::InvalidDuration {
        input: s.to_string(),
        reason,
    };
    let mut rest = s;
    if let Some(stripped) = rest.strip_prefix('+') {
        rest = stripped;
    } else if let Some(stripped) = rest.strip_prefix('-') {
        // "-0" is zero in Go; anything else negative is meaningless for our flags.
        if stripped.chars().all(|c| c == '0') && !stripped.is_empty() {
            return Ok(Duration::ZERO);
        }
        return Err(err("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(err("empty duration"));
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(err("expected a number"));
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            "" => return Err(err("missing unit")),
            _ => return Err(err("unknown unit")),
        };
        let (whole, fraction) = match number.split_once('.') {
            Some((w, f)) => (w, f),
            None => (number, ""),
        };
        if fraction.contains('.') {
            return Err(err("expected a number"));
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| err("number out of range"))?
        };
        let mut nanos = whole
            .checked_mul(unit_nanos)
            .ok_or_else(|| err("duration out of range"))?;
        // The fraction, exactly: digits / 10^len * unit, truncated like Go.
        let mut scale: u128 = 1;
        let mut frac_value: u128 = 0;
        // 18 digits are below a nanosecond for any unit and keep the product within u128.
        for digit in fraction.bytes().take(18) {
            scale *= 10;
            frac_value = frac_value * 10 + u128::from(digit - b'0');
        }
        nanos += frac_value * unit_nanos / scale;
        total_nanos = total_nanos
            .checked_add(nanos)
            .ok_or_else(|| err("duration out of range"))?;
        rest = after;
    }
    // Go's Duration is an int64 of nanoseconds.
    if total_nanos > i64::MAX as u128 {
        return Err(err("duration out of range"));
    }
    let secs = (total_nanos / 1_000_000_000) as u64;
    let sub = (total_nanos % 1_000_000_000) as u32;
    Ok(Duration::new(secs, sub))
}

/// Format like Go's `Duration.String` for the common cases (`15s`, `1m30s`, `500ms`), for logs
/// and flag defaults.
pub fn format_go_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    if d < Duration::from_secs(1) {
        let nanos = d.as_nanos();
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{}µs", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    let sub = d.subsec_nanos();
    let secs = if sub == 0 {
        format!("{s}s")
    } else {
        let frac = format!("{sub:09}");
        format!("{s}.{}s", frac.trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("15s", Duration::from_secs(15)),
            ("+15s", Duration::from_secs(15)),
            ("1m30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("2h", Duration::from_secs(7200)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1h2m3s4ms5us6ns", Duration::new(3723, 4_005_006)),
            ("10µs", Duration::from_micros(10)),
            ("3m0s", Duration::from_secs(180)),
            ("1.000000000000000000000000000001h", Duration::from_secs(3600)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_go_duration(input).ok(), Some(*want), "{input}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        for input in ["", "s", "15", "1x", "-1s", "1..5s", ".s", "abc", "1s2"] {
            assert!(parse_go_duration(input).is_err(), "{input:?} should fail");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(15)), "15s");
        assert_eq!(format_go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_go_duration(Duration::from_secs(7200)), "2h0m0s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
    }
}
