//! Resource quantities for the kubelet: the shared exact parser of rudder-api, in the integer
//! widths the kubelet works with, and the forms it reports on its Node.

use rudder_api::quantity;

/// A quantity as a number of base units (cores, bytes), for divisions. None when malformed.
pub fn parse(q: &str) -> Option<f64> {
    quantity::approximate_units(q)
}

/// CPU in millicores, rounded up like upstream's MilliValue.
pub fn milli(q: &str) -> Option<i64> {
    quantity::milli_of(q).map(saturate)
}

/// Whole base units, rounded up (bytes, pods).
pub fn value(q: &str) -> Option<i64> {
    quantity::units_of(q).map(saturate)
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Millicores as a quantity string ("1500m", "2").
pub fn format_milli(m: i64) -> String {
    quantity::format_milli(i128::from(m), false)
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
        assert_eq!(value("1.5"), Some(2));
        assert_eq!(value("99999Ei"), Some(i64::MAX));
        assert_eq!(format_milli(1500), "1500m");
        assert_eq!(format_milli(2000), "2");
        assert_eq!(format_bytes(2048), "2Ki");
    }
}
