//! `resource.Quantity.String()`: the canonical form upstream prints (`1024Mi` → `1Gi`,
//! `1.5` → `1500m`, `2000` → `2k`), from `k8s.io/apimachinery/pkg/api/resource/quantity.go`.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

const NANO: i128 = 1_000_000_000;

/// Parses a quantity into (value in nano-units, format). Values finer than `1n` round away
/// from zero, as upstream does. `None` for a malformed quantity or one outside i128 nano range.
fn parse(s: &str) -> Option<(i128, Format)> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut negative = false;
    match b.first() {
        Some(b'-') => {
            negative = true;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    let int_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_part = &s[int_start..pos];
    let mut frac_part = "";
    if pos < b.len() && b[pos] == b'.' {
        pos += 1;
        let fs = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        frac_part = &s[fs..pos];
    }
    if int_part.is_empty() && frac_part.is_empty() {
        // Upstream accepts an empty number (e.g. "" or "-") as 0 only when nothing follows.
        if pos == b.len() {
            return Some((0, Format::DecimalSI));
        }
        return None;
    }
    let suffix = &s[pos..];
    let (base2_exp, dec_exp, format) = match suffix {
        "" => (0, 0, Format::DecimalSI),
        "n" => (0, -9, Format::DecimalSI),
        "u" => (0, -6, Format::DecimalSI),
        "m" => (0, -3, Format::DecimalSI),
        "k" => (0, 3, Format::DecimalSI),
        "M" => (0, 6, Format::DecimalSI),
        "G" => (0, 9, Format::DecimalSI),
        "T" => (0, 12, Format::DecimalSI),
        "P" => (0, 15, Format::DecimalSI),
        "E" => (0, 18, Format::DecimalSI),
        "Ki" => (10, 0, Format::BinarySI),
        "Mi" => (20, 0, Format::BinarySI),
        "Gi" => (30, 0, Format::BinarySI),
        "Ti" => (40, 0, Format::BinarySI),
        "Pi" => (50, 0, Format::BinarySI),
        "Ei" => (60, 0, Format::BinarySI),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E'])?;
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let e: i32 = rest.parse().ok()?;
            (0, e, Format::DecimalExponent)
        }
    };
    // mantissa = int_part.frac_part as an integer scaled by 10^-len(frac).
    let mut mantissa: i128 = 0;
    for c in int_part.bytes().chain(frac_part.bytes()) {
        mantissa = mantissa.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    mantissa = mantissa.checked_mul(1i128.checked_shl(base2_exp)?)?;
    // value = mantissa * 10^(dec_exp - len(frac)); express in nano units (10^-9).
    let shift = i64::from(dec_exp) - frac_part.len() as i64 + 9;
    let nanos = if shift >= 0 {
        let p = 10i128.checked_pow(u32::try_from(shift).ok()?)?;
        mantissa.checked_mul(p)?
    } else {
        let p = u32::try_from(-shift).ok().and_then(|e| 10i128.checked_pow(e));
        match p {
            Some(p) => {
                let q = mantissa / p;
                if mantissa % p != 0 { q + 1 } else { q }
            }
            // Far below 1n: any non-zero value rounds up to 1n.
            None => i128::from(mantissa != 0),
        }
    };
    let mut nanos = if negative { -nanos } else { nanos };
    if format == Format::BinarySI {
        let max = i128::from(i64::MAX) * NANO;
        nanos = nanos.clamp(-max, max);
    }
    Some((nanos, format))
}

fn remove_factors(mut v: i128, base: i128) -> (i128, i32) {
    let mut times = 0;
    let neg = v < 0;
    if neg {
        v = -v;
    }
    while v >= base && v % base == 0 {
        v /= base;
        times += 1;
    }
    (if neg { -v } else { v }, times)
}

fn canonical(nanos: i128, format: Format) -> String {
    if nanos == 0 {
        return "0".to_string();
    }
    let mut format = format;
    if format == Format::BinarySI && (nanos.abs() < 1024 * NANO || nanos % NANO != 0) {
        format = Format::DecimalSI;
    }
    if format == Format::BinarySI {
        let (amount, times) = remove_factors(nanos / NANO, 1024);
        let suffix = match times {
            0 => "",
            1 => "Ki",
            2 => "Mi",
            3 => "Gi",
            4 => "Ti",
            5 => "Pi",
            6 => "Ei",
            _ => "",
        };
        return format!("{amount}{suffix}");
    }
    let (mut amount, times) = remove_factors(nanos, 10);
    let mut exp = times - 9;
    while exp.rem_euclid(3) != 0 {
        amount = amount.saturating_mul(10);
        exp -= 1;
    }
    let suffix = match format {
        Format::DecimalExponent if exp == 0 => String::new(),
        Format::DecimalExponent => format!("e{exp}"),
        _ => match exp {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => "",
        }
        .to_string(),
    };
    format!("{amount}{suffix}")
}

/// The canonical text of a quantity string; malformed input is returned unchanged.
pub(crate) fn canonicalize(s: &str) -> String {
    let t = s.trim();
    match parse(t) {
        Some((n, f)) => canonical(n, f),
        None => s.to_string(),
    }
}

/// `Quantity.String()` of a JSON value: a missing quantity is the zero value, `"0"`.
pub(crate) fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => canonicalize(s),
        Some(Value::Number(n)) => canonicalize(&n.to_string()),
        _ => "0".to_string(),
    }
}

/// `(*Quantity).String()` of an optional pointer: `<nil>` when unset.
pub(crate) fn quantity_ptr(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<nil>".to_string(),
        some => quantity(some),
    }
}
