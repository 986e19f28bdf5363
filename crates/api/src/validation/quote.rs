//! Go `fmt` renderings that leak into upstream messages: `%q` (strconv.Quote) and `%v` of a float.

use std::fmt::Write as _;

/// Go's `strconv.Quote` / `%q`: double-quoted, with `"` and `\` escaped, `\a \b \f \n \r \t \v`
/// for those controls, `\xHH` for other ASCII controls and `\uHHHH` / `\UHHHHHHHH` for
/// non-printable code points. Printable Unicode is kept as is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if !is_go_printable(c) => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint` (letters, marks, numbers, punctuation, symbols and
/// ASCII space): controls, non-ASCII spaces, common format characters, private use and
/// non-characters are treated as non-printable.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let format_or_private = matches!(u,
        0x00AD
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x206F
        | 0xE000..=0xF8FF
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0xFFFE..=0xFFFF
        | 0x110BD
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F
        | 0xF0000..=0x10FFFF
    );
    !format_or_private
}

/// Go's `%v` of a float64: shortest representation, exponent form (`1e+21`, `1.5e-05`) when the
/// decimal exponent is below -4 or at least 21.
pub fn go_format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".to_string()
        } else {
            "-Inf".to_string()
        };
    }
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return f.to_string();
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..21).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        f.to_string()
    }
}

/// Go's `time.Time.String()` of an RFC 3339 timestamp as `metav1.Time` decodes it (converted to
/// UTC, the apiserver's zone): `2024-01-02 03:04:05 +0000 UTC`, fractional seconds kept with
/// trailing zeros trimmed. `None` if the text is not RFC 3339.
pub fn go_time_string(rfc3339: &str) -> Option<String> {
    let b = rfc3339.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut pos = 19;
    let mut frac = String::new();
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start || pos - start > 9 {
            return None;
        }
        frac = rfc3339[start..pos].trim_end_matches('0').to_string();
    }
    let offset_secs = match b.get(pos..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let off = num(pos + 1..pos + 3)? * 3600 + num(pos + 4..pos + 6)? * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec - offset_secs;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}{frac} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(go_quote("abc"), "\"abc\"");
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("\n\t\u{0}\u{7f}"), "\"\\n\\t\\x00\\x7f\"");
        assert_eq!(go_quote("héllo ☃"), "\"héllo ☃\"");
        assert_eq!(go_quote("\u{a0}\u{200b}"), "\"\\u00a0\\u200b\"");
        assert_eq!(go_quote("\u{f0000}"), "\"\\U000f0000\"");
    }

    #[test]
    fn floats() {
        assert_eq!(go_format_float(1.5), "1.5");
        assert_eq!(go_format_float(0.0), "0");
        assert_eq!(go_format_float(100000.0), "100000");
        assert_eq!(go_format_float(1e21), "1e+21");
        assert_eq!(go_format_float(1e20), "100000000000000000000");
        assert_eq!(go_format_float(0.00001), "1e-05");
        assert_eq!(go_format_float(0.0001), "0.0001");
        assert_eq!(go_format_float(-2.5e-7), "-2.5e-07");
        assert_eq!(go_format_float(f64::NAN), "NaN");
        assert_eq!(go_format_float(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn times() {
        assert_eq!(
            go_time_string("2024-01-02T03:04:05Z").unwrap(),
            "2024-01-02 03:04:05 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2024-03-01T01:00:00+02:00").unwrap(),
            "2024-02-29 23:00:00 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2024-01-02T03:04:05.120000Z").unwrap(),
            "2024-01-02 03:04:05.12 +0000 UTC"
        );
        assert_eq!(
            go_time_string("1970-01-01T00:00:00Z").unwrap(),
            "1970-01-01 00:00:00 +0000 UTC"
        );
        for bad in [
            "",
            "2024-01-02",
            "2024-01-02T03:04:05",
            "2024-13-02T03:04:05Z",
            "２０２４-01-02T03:04:05Z",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T03:04:05+0200",
        ] {
            assert_eq!(go_time_string(bad), None, "{bad}");
        }
    }
}
