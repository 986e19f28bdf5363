//! Resource quantities ("100m", "1.5", "128Mi", "1e3") to numbers, and back.

/// A quantity as a number of base units (cores, bytes). None when malformed.
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * mult)
}

/// CPU in millicores, rounded up like upstream's MilliValue.
pub fn milli(q: &str) -> Option<i64> {
    parse(q).map(|v| (v * 1000.0).ceil() as i64)
}

/// Whole base units, rounded up (bytes, pods).
pub fn value(q: &str) -> Option<i64> {
    parse(q).map(|v| v.ceil() as i64)
}

/// Millicores as a quantity string ("1500m", "2").
pub fn format_milli(m: i64) -> String {
    if m % 1000 == 0 {
        (m / 1000).to_string()
    } else {
        format!("{m}m")
    }
}

/// Bytes as a quantity string, in Ki when exact (as upstream reports node memory).
pub fn format_bytes(b: i64) -> String {
    if b % 1024 == 0 && b != 0 {
        format!("{}Ki", b / 1024)
    } else {
        b.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_forms() {
        for (q, want) in [
            ("100m", 0.1),
            ("2", 2.0),
            ("1.5", 1.5),
            ("128Mi", 134217728.0),
            ("1Gi", 1073741824.0),
            ("1k", 1000.0),
            ("1e3", 1000.0),
            ("500M", 5e8),
        ] {
            assert_eq!(parse(q), Some(want), "{q}");
        }
        assert_eq!(parse("12xyz"), None);
        assert_eq!(parse(""), None);
        assert_eq!(milli("250m"), Some(250));
        assert_eq!(milli("1"), Some(1000));
        assert_eq!(format_milli(1500), "1500m");
        assert_eq!(format_milli(2000), "2");
        assert_eq!(format_bytes(2048), "2Ki");
    }
}
