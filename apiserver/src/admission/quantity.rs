//! Resource quantities (`100m`, `1Gi`, `1e3`) as exact integers of milli-units, enough for
//! the comparisons and sums LimitRanger and ResourceQuota make.

use serde_json::Value;

/// A quantity in thousandths (milli-units), rounded up as upstream's `MilliValue` does.
pub(crate) fn milli(q: &Value) -> Option<i128> {
    let text = match q {
        Value::String(t) => t.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(text.len());
    let (num, suffix) = text.split_at(split);
    let (neg, digits) = match num.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (whole.is_empty() && frac.is_empty()) || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (base, exp): (i128, i32) = match suffix {
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
    };
    let mantissa: i128 = format!("{whole}{frac}").parse().ok()?;
    // milli = mantissa * base * 10^(exp + 3 - frac_len), rounded up.
    let scale = exp + 3 - frac.len() as i32;
    let value = if scale >= 0 {
        mantissa
            .checked_mul(base)?
            .checked_mul(10i128.checked_pow(scale as u32)?)?
    } else {
        let div = 10i128.checked_pow((-scale) as u32)?;
        let n = mantissa.checked_mul(base)?;
        (n + div - 1) / div
    };
    Some(if neg { -value } else { value })
}

/// Renders milli-units the way upstream prints a sum (`750m`, `2`, `192Mi` for whole binary
/// multiples of memory-like values is not attempted: plain units or milli-units).
pub(crate) fn format_milli(m: i128, binary: bool) -> String {
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
    fn parses_and_formats_quantities() {
        let cases = [
            (json!("100m"), Some(100)),
            (json!("1"), Some(1000)),
            (json!(2), Some(2000)),
            (json!("1.5"), Some(1500)),
            (json!("1Ki"), Some(1024 * 1000)),
            (json!("64Mi"), Some(64 * 1024 * 1024 * 1000)),
            (json!("1e3"), Some(1_000_000)),
            (json!("1n"), Some(1)),
            (json!("-2"), Some(-2000)),
            (json!("abc"), None),
            (json!("1Zi"), None),
        ];
        for (q, want) in cases {
            assert_eq!(milli(&q), want, "{q}");
        }
        assert_eq!(format_milli(750, false), "750m");
        assert_eq!(format_milli(2000, false), "2");
        assert_eq!(format_milli(192 * 1024 * 1024 * 1000, true), "192Mi");
        assert_eq!(format_milli(5000, true), "5");
    }
}
