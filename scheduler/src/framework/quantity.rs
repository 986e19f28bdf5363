//! Kubernetes resource quantities (`"100m"`, `"1Gi"`, `"2e3"`) as the integers the scheduler
//! compares: `Value()` and `MilliValue()` of upstream's `resource.Quantity`, both rounded up,
//! over rudder-api's shared parser.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Upstream `Quantity.Value()`: the integer value, rounded up; 0 when unparseable.
pub fn value(q: &Quantity) -> i64 {
    rudder_api::quantity::units_of(&q.0).map_or(0, saturate)
}

/// Upstream `Quantity.MilliValue()`: thousandths, rounded up; 0 when unparseable.
pub fn milli_value(q: &Quantity) -> i64 {
    rudder_api::quantity::milli_of(&q.0).map_or(0, saturate)
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
