//! Durations as upstream's flags spell them (`8760h`, `30d`, `1h30m`), and kubeadm's short
//! human form for `check` (`364d`, `9y`).

use time::Duration;

/// `--within` or a validity period is not a duration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a duration such as 30d, 8760h or 1h30m")]
pub struct BadDuration(pub String);

pub fn parse(text: &str) -> Result<Duration, BadDuration> {
    let bad = || BadDuration(text.to_string());
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let unit = match c {
            'd' => Duration::days(1),
            'h' => Duration::hours(1),
            'm' => Duration::minutes(1),
            's' => Duration::seconds(1),
            _ => return Err(bad()),
        };
        total = unit
            .checked_mul(i32::try_from(n).map_err(|_| bad())?)
            .and_then(|d| total.checked_add(d))
            .ok_or_else(bad)?;
        any = true;
    }
    if !digits.is_empty() || !any {
        return Err(bad());
    }
    Ok(total)
}

/// kubeadm's residual time column (`duration.ShortHumanDuration`).
pub fn short_human(d: Duration) -> String {
    if d.is_negative() {
        return "<invalid>".to_string();
    }
    let secs = d.whole_seconds();
    match secs {
        s if s < 60 * 2 => format!("{s}s"),
        s if s < 3600 * 2 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s if s < 86400 * 365 * 2 => format!("{}d", s / 86400),
        s => format!("{}y", s / (86400 * 365)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flag_durations() {
        let cases = [
            ("30d", Some(Duration::days(30))),
            ("8760h", Some(Duration::days(365))),
            ("1h30m", Some(Duration::minutes(90))),
            ("45s", Some(Duration::seconds(45))),
            ("0d", Some(Duration::ZERO)),
            ("30", None),
            ("d", None),
            ("", None),
            ("3w", None),
            ("-1d", None),
            ("99999999999d", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).ok(), want, "{input:?}");
        }
    }

    #[test]
    fn short_human_matches_kubeadm_columns() {
        let cases = [
            (Duration::seconds(-1), "<invalid>"),
            (Duration::seconds(30), "30s"),
            (Duration::minutes(90), "90m"),
            (Duration::hours(30), "30h"),
            (Duration::days(364), "364d"),
            (Duration::days(3649), "9y"),
        ];
        for (d, want) in cases {
            assert_eq!(short_human(d), want, "{d}");
        }
    }
}
