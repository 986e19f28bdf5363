//! Just enough of `resource.Quantity` to add usage up and print it the way upstream does:
//! exact values in nano-units, and the canonical string (`1500m`, `2`, `128Mi`, `1k`).

/// A quantity: value in units of 10^-9, and whether it was written with binary suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Qty {
    pub(crate) nanos: i128,
    pub(crate) binary: bool,
}

const NANO: i128 = 1_000_000_000;

impl Qty {
    pub(crate) fn from_count(n: i64) -> Qty {
        Qty {
            nanos: i128::from(n) * NANO,
            binary: false,
        }
    }

    /// Parses a Kubernetes quantity string; None when malformed. Only the binary suffixes
    /// (`Ki` … `Ei`) end in `i`.
    pub(crate) fn parse(s: &str) -> Option<Qty> {
        Some(Qty {
            nanos: rudder_api::quantity::parse_nanos(s)?,
            binary: s.trim().ends_with('i'),
        })
    }

    /// Sum, keeping the binary format of whichever side had it (upstream keeps the
    /// receiver's format; usage starts from zero, so the first real summand's format wins).
    pub(crate) fn add(self, other: Qty) -> Qty {
        Qty {
            nanos: self.nanos.saturating_add(other.nanos),
            binary: if self.nanos == 0 {
                other.binary
            } else {
                self.binary
            },
        }
    }

    pub(crate) fn max(self, other: Qty) -> Qty {
        if other.nanos > self.nanos { other } else { self }
    }

    /// `Quantity.String()`.
    pub(crate) fn canonical(self) -> String {
        if self.nanos == 0 {
            return "0".into();
        }
        let negative = self.nanos < 0;
        let abs = self.nanos.abs();
        let sign = if negative { "-" } else { "" };
        if self.binary && abs % NANO == 0 && abs / NANO >= 1024 {
            let mut v = abs / NANO;
            let mut idx = 0;
            while idx < 6 && v % 1024 == 0 {
                v /= 1024;
                idx += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][idx];
            return format!("{sign}{v}{suffix}");
        }
        // Decimal: the largest exponent (multiple of 3) that keeps the mantissa whole.
        let suffixes = [
            (-9, "n"),
            (-6, "u"),
            (-3, "m"),
            (0, ""),
            (3, "k"),
            (6, "M"),
            (9, "G"),
            (12, "T"),
            (15, "P"),
            (18, "E"),
        ];
        let mut best = (abs, "n");
        for (exp, suffix) in suffixes {
            let div = 10i128.pow(u32::try_from(exp + 9).unwrap_or(0));
            if abs % div == 0 {
                best = (abs / div, suffix);
            } else {
                break;
            }
        }
        format!("{sign}{}{}", best.0, best.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_canonical() {
        let cases = [
            ("500m", "500m"),
            ("1", "1"),
            ("1000", "1k"),
            ("1500m", "1500m"),
            ("0.5", "500m"),
            ("128Mi", "128Mi"),
            ("1024Mi", "1Gi"),
            ("1Gi", "1Gi"),
            ("512", "512"),
            ("1e3", "1k"),
            ("2G", "2G"),
            ("100n", "100n"),
            ("0", "0"),
        ];
        for (input, want) in cases {
            assert_eq!(
                Qty::parse(input).map(Qty::canonical).as_deref(),
                Some(want),
                "{input}"
            );
        }
        for bad in ["", "abc", "1Xi", "."] {
            assert_eq!(Qty::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sums_keep_format() {
        let sum = Qty::default()
            .add(Qty::parse("64Mi").unwrap())
            .add(Qty::parse("64Mi").unwrap());
        assert_eq!(sum.canonical(), "128Mi");
        let cpu = Qty::default()
            .add(Qty::parse("250m").unwrap())
            .add(Qty::parse("1").unwrap());
        assert_eq!(cpu.canonical(), "1250m");
        assert_eq!(Qty::from_count(3).canonical(), "3");
    }
}
