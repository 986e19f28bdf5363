//! Resource quantities (`100m`, `1.5`, `128Mi`, `1e3`) as exact integers, the one parser every
//! component shares (upstream `resource.Quantity`, enough for comparisons, sums and scaling).
//!
//! Values are held in billionths (nano-units) in an `i128`, which covers every suffix up to `Ei`
//! exactly; results saturate instead of overflowing. Rounding to a coarser unit goes away from
//! zero, as upstream's `MilliValue`/`Value` do.

use serde_json::Value;

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// A quantity written as text, in nano-units; `None` if malformed.
pub fn parse_nanos(text: &str) -> Option<i128> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(text.len());
    let (num, suffix) = text.split_at(split);
    let (neg, digits) = match num.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !all_digits {
        return None;
    }
    let (base, exp) = suffix_scale(suffix)?;
    let digits = format!("{whole}{frac}");
    let digits = digits.trim_start_matches('0');
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().unwrap_or(i128::MAX)
    };
    // value = mantissa * base * 10^(exp + 9 - fraction digits)
    let scale = exp + 9 - i32::try_from(frac.len()).ok()?;
    let mut value = mantissa.saturating_mul(base);
    if scale >= 0 {
        for _ in 0..scale.min(60) {
            value = value.saturating_mul(10);
        }
    } else {
        let div = 10i128
            .checked_pow(u32::try_from(-scale).ok()?)
            .unwrap_or(i128::MAX);
        value = div_away_from_zero(value, div);
    }
    Some(if neg { -value } else { value })
}

/// The (binary base, decimal exponent) a suffix stands for.
fn suffix_scale(suffix: &str) -> Option<(i128, i32)> {
    Some(match suffix {
        "" => (1, 0),
        "n" => (1, -9),
        "u" => (1, -6),
        "m" => (1, -3),
        "k" => (1, 3),
        "M" => (1, 6),
        "G" => (1, 9),
        "T" => (1, 12),
        "P" => (1, 15),
        "E" => (1, 18),
        "Ki" => (1 << 10, 0),
        "Mi" => (1 << 20, 0),
        "Gi" => (1 << 30, 0),
        "Ti" => (1 << 40, 0),
        "Pi" => (1 << 50, 0),
        "Ei" => (1 << 60, 0),
        e if e.starts_with(['e', 'E']) => (1, e[1..].parse().ok()?),
        _ => return None,
    })
}

/// `n / d` for `n >= 0, d > 0`, rounded up.
fn div_away_from_zero(n: i128, d: i128) -> i128 {
    n / d + i128::from(n % d != 0)
}

fn scaled(nanos: i128, per: i128) -> i128 {
    let magnitude = div_away_from_zero(nanos.saturating_abs(), per);
    if nanos < 0 { -magnitude } else { magnitude }
}

/// A quantity in a JSON object (a string, or a bare number some clients send), in nano-units.
pub fn nanos(q: &Value) -> Option<i128> {
    match q {
        Value::String(t) => parse_nanos(t),
        Value::Number(n) => parse_nanos(&n.to_string()),
        _ => None,
    }
}

/// Thousandths of a unit (millicores), rounded away from zero (upstream `MilliValue`).
pub fn milli(q: &Value) -> Option<i128> {
    nanos(q).map(|n| scaled(n, NANOS_PER_UNIT / 1000))
}

/// [`milli`] of a quantity's text.
pub fn milli_of(text: &str) -> Option<i128> {
    parse_nanos(text).map(|n| scaled(n, NANOS_PER_UNIT / 1000))
}

/// Whole units (bytes, pods), rounded away from zero (upstream `Value`).
pub fn units_of(text: &str) -> Option<i128> {
    parse_nanos(text).map(|n| scaled(n, NANOS_PER_UNIT))
}

/// The quantity as a float of units, for divisions such as a resourceFieldRef's divisor.
pub fn approximate_units(text: &str) -> Option<f64> {
    parse_nanos(text).map(|n| n as f64 / NANOS_PER_UNIT as f64)
}

/// Renders thousandths the way upstream prints a sum: `750m`, `2`, or with `binary` the largest
/// exact binary suffix (`192Mi`).
pub fn format_milli(m: i128, binary: bool) -> String {
    if m % 1000 != 0 {
        return format!("{m}m");
    }
    let v = m / 1000;
    if binary && v != 0 {
        for (suffix, shift) in [
            ("Ei", 60),
            ("Pi", 50),
            ("Ti", 40),
            ("Gi", 30),
            ("Mi", 20),
            ("Ki", 10),
        ] {
            if v % (1i128 << shift) == 0 {
                return format!("{}{suffix}", v >> shift);
            }
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_upstream_form_exactly() {
        let cases = [
            ("100m", Some(100_000_000)),
            ("1", Some(NANOS_PER_UNIT)),
            ("1.5", Some(1_500_000_000)),
            ("0.5", Some(500_000_000)),
            (".5", Some(500_000_000)),
            ("+2", Some(2 * NANOS_PER_UNIT)),
            ("-2", Some(-2 * NANOS_PER_UNIT)),
            ("1Ki", Some(1024 * NANOS_PER_UNIT)),
            ("1Gi", Some((1i128 << 30) * NANOS_PER_UNIT)),
            ("1e3", Some(1000 * NANOS_PER_UNIT)),
            ("1E-3", Some(1_000_000)),
            ("500M", Some(500_000_000 * NANOS_PER_UNIT)),
            ("1n", Some(1)),
            ("0.1n", Some(1)),
            (" 2 ", Some(2 * NANOS_PER_UNIT)),
            ("abc", None),
            ("1Zi", None),
            ("", None),
            ("12xyz", None),
            ("1.2.3", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_nanos(text), want, "{text:?}");
        }
    }

    #[test]
    fn scales_round_away_from_zero_and_saturate() {
        assert_eq!(milli(&json!("100m")), Some(100));
        assert_eq!(milli(&json!(2)), Some(2000));
        assert_eq!(milli(&json!("1n")), Some(1));
        assert_eq!(milli(&json!("-1n")), Some(-1));
        assert_eq!(milli(&json!(true)), None);
        assert_eq!(milli_of("64Mi"), Some(64 * 1024 * 1024 * 1000));
        assert_eq!(units_of("1.5"), Some(2));
        assert_eq!(units_of("128Mi"), Some(134_217_728));
        assert_eq!(approximate_units("250m"), Some(0.25));
        assert_eq!(
            parse_nanos("99999999999999999999999999999999999999999Ei"),
            Some(i128::MAX)
        );
    }

    #[test]
    fn formats_sums_like_upstream() {
        assert_eq!(format_milli(750, false), "750m");
        assert_eq!(format_milli(2000, false), "2");
        assert_eq!(format_milli(192 * 1024 * 1024 * 1000, true), "192Mi");
        assert_eq!(format_milli(5000, true), "5");
        assert_eq!(format_milli(0, true), "0");
    }
}
