//! Kubernetes resource quantities (`"100m"`, `"1Gi"`, `"2e3"`) as the integers the scheduler
//! compares: `Value()` and `MilliValue()` of upstream's `resource.Quantity`, both rounded up.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// A parsed quantity: `mantissa * 2^binary_exp * 10^decimal_exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    mantissa: i128,
    binary_exp: u32,
    decimal_exp: i32,
}

fn parse(s: &str) -> Option<Parsed> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    if number.is_empty() || number == "." {
        return None;
    }
    let mut mantissa: i128 = 0;
    let mut frac_digits: i32 = 0;
    let mut seen_dot = false;
    for c in number.bytes() {
        if c == b'.' {
            if seen_dot {
                return None;
            }
            seen_dot = true;
            continue;
        }
        // Beyond 30 significant digits the quantity is absurd; keep the magnitude by scaling.
        if mantissa > 10i128.pow(30) {
            if !seen_dot {
                frac_digits -= 1;
            }
            continue;
        }
        mantissa = mantissa * 10 + i128::from(c - b'0');
        if seen_dot {
            frac_digits += 1;
        }
    }
    let (binary_exp, decimal_exp) = match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        exp if exp.starts_with(['e', 'E']) => (0, exp[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    Some(Parsed {
        mantissa: if negative { -mantissa } else { mantissa },
        binary_exp,
        decimal_exp: decimal_exp - frac_digits,
    })
}

/// `value * 10^extra_decimal`, rounded up (towards +inf), saturating at the i64 range.
fn scaled(p: Parsed, extra_decimal: i32) -> i64 {
    let exp = p.decimal_exp + extra_decimal;
    let mut num = p.mantissa.saturating_mul(1i128 << p.binary_exp.min(62));
    let result = if exp >= 0 {
        for _ in 0..exp.min(40) {
            num = num.saturating_mul(10);
        }
        num
    } else {
        let den = 10i128.checked_pow(exp.unsigned_abs()).unwrap_or(i128::MAX);
        let q = num / den;
        if num % den > 0 { q + 1 } else { q }
    };
    result.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Upstream `Quantity.Value()`: the integer value, rounded up; 0 when unparseable.
pub fn value(q: &Quantity) -> i64 {
    parse(&q.0).map_or(0, |p| scaled(p, 0))
}

/// Upstream `Quantity.MilliValue()`: thousandths, rounded up; 0 when unparseable.
pub fn milli_value(q: &Quantity) -> i64 {
    parse(&q.0).map_or(0, |p| scaled(p, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_string())
    }

    #[test]
    fn values_and_milli_values() {
        let cases: &[(&str, i64, i64)] = &[
            ("100m", 1, 100),
            ("1", 1, 1000),
            ("2.5", 3, 2500),
            ("1Ki", 1024, 1_024_000),
            ("1Gi", 1 << 30, (1i64 << 30) * 1000),
            ("128974848", 128_974_848, 128_974_848_000),
            ("129e6", 129_000_000, 129_000_000_000),
            ("123M", 123_000_000, 123_000_000_000),
            ("1.5Gi", 1_610_612_736, 1_610_612_736_000),
            ("0", 0, 0),
            ("1n", 1, 1),
            ("-1", -1, -1000),
            ("110", 110, 110_000),
            ("bogus", 0, 0),
            ("", 0, 0),
        ];
        for (s, v, m) in cases {
            assert_eq!(value(&q(s)), *v, "value of {s}");
            assert_eq!(milli_value(&q(s)), *m, "milli value of {s}");
        }
    }
}
