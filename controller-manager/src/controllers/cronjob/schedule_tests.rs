use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn next_utc(spec: &str, after: &str) -> Option<String> {
    let s = Schedule::parse(spec).expect("parse");
    s.next(ts(after), &TimeZone::UTC).map(|t| t.to_string())
}

#[test]
fn next_activation_table() {
    let cases = [
        ("* * * * *", "2024-01-01T10:00:00Z", "2024-01-01T10:01:00Z"),
        ("* * * * *", "2024-01-01T10:00:30Z", "2024-01-01T10:01:00Z"),
        ("*/15 * * * *", "2024-01-01T10:07:00Z", "2024-01-01T10:15:00Z"),
        ("5 * * * *", "2024-01-01T10:05:00Z", "2024-01-01T11:05:00Z"),
        ("0 0 * * *", "2024-01-01T10:00:00Z", "2024-01-02T00:00:00Z"),
        ("@hourly", "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"),
        ("@daily", "2024-12-31T23:59:00Z", "2025-01-01T00:00:00Z"),
        ("@weekly", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),
        ("@monthly", "2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z"),
        ("@yearly", "2024-01-15T00:00:00Z", "2025-01-01T00:00:00Z"),
        ("0 9 * * mon-fri", "2024-01-05T10:00:00Z", "2024-01-08T09:00:00Z"),
        (
            "30 6-16/4 * * 1-5",
            "2024-01-01T07:00:00Z",
            "2024-01-01T10:30:00Z",
        ),
        ("0 0 29 feb *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 0 1,15 * *", "2024-01-02T00:00:00Z", "2024-01-15T00:00:00Z"),
        ("0 12 * JAN,jul ?", "2024-02-01T00:00:00Z", "2024-07-01T12:00:00Z"),
        // Both day fields restricted: either matches (the 13th or a Friday).
        ("0 0 13 * 5", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
        // A stepped star is no star: `*/2` day-of-month ORs with day-of-week.
        ("0 0 */2 * 1", "2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z"),
        ("5/20 * * * *", "2024-01-01T10:06:00Z", "2024-01-01T10:25:00Z"),
        ("@every 1h30m", "2024-01-01T10:00:00.5Z", "2024-01-01T11:30:00Z"),
    ];
    for (spec, after, want) in cases {
        assert_eq!(
            next_utc(spec, after).as_deref(),
            Some(want),
            "{spec} after {after}"
        );
    }
}

#[test]
fn impossible_date_has_no_next() {
    assert_eq!(next_utc("59 23 31 2 *", "2024-01-01T00:00:00Z"), None);
}

#[test]
fn time_zones_shift_activations() {
    let s = Schedule::parse("0 9 * * *").expect("parse");
    let ny = TimeZone::get("America/New_York").expect("zone");
    // 09:00 EST is 14:00 UTC; 09:00 EDT is 13:00 UTC.
    let winter = s.next(ts("2024-01-10T00:00:00Z"), &ny).expect("next");
    assert_eq!(winter.to_string(), "2024-01-10T14:00:00Z");
    let summer = s.next(ts("2024-07-10T00:00:00Z"), &ny).expect("next");
    assert_eq!(summer.to_string(), "2024-07-10T13:00:00Z");
    // 02:30 does not exist on 2024-03-10 in New York: it runs at 03:30 EDT.
    let gap = Schedule::parse("30 2 * * *").expect("parse");
    let t = gap.next(ts("2024-03-10T05:00:00Z"), &ny).expect("next");
    assert_eq!(t.to_string(), "2024-03-10T07:30:00Z");
}

#[test]
fn embedded_zone_prefix() {
    let s = Schedule::parse("CRON_TZ=Europe/Berlin 0 6 * * *").expect("parse");
    assert_eq!(s.embedded_zone.as_deref(), Some("Europe/Berlin"));
    assert!(Schedule::parse("TZ=Nowhere/Atlantis 0 6 * * *").is_err());
}

#[test]
fn parse_errors() {
    let bad = [
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 7",
        "5-1 * * * *",
        "*/0 * * * *",
        "x * * * *",
        "@fortnightly",
        "@every",
        "@every 5x",
    ];
    for spec in bad {
        assert!(Schedule::parse(spec).is_err(), "{spec:?} should not parse");
    }
}
