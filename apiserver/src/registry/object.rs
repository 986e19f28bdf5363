//! Small accessors for objects held as JSON values, and the system metadata the server owns.

use rand::Rng;
use serde_json::{Map, Value, json};

/// `metadata` of an object (empty if absent or not a map).
pub(crate) fn meta(obj: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    obj.get("metadata").and_then(Value::as_object).unwrap_or(&EMPTY)
}

/// `metadata`, created if absent.
pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let map = obj.as_object_mut().expect("just made an object");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("just made an object")
}

pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub(crate) fn name(obj: &Value) -> Option<&str> {
    meta_str(obj, "name")
}

pub(crate) fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace")
}

pub(crate) fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .get("finalizers")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

pub(crate) fn is_deleting(obj: &Value) -> bool {
    meta(obj).get("deletionTimestamp").is_some_and(|t| !t.is_null())
}

/// Sets `metadata.resourceVersion` (the store keeps objects without it, as upstream does).
pub(crate) fn set_resource_version(obj: &mut Value, revision: i64) {
    meta_mut(obj).insert("resourceVersion".into(), Value::String(revision.to_string()));
}

/// Current time as Kubernetes writes timestamps: RFC 3339, UTC, whole seconds.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
}

pub(crate) fn rfc3339(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A random RFC 4122 version-4 UUID.
/// A MicroTime as Kubernetes writes it: RFC 3339 with microseconds, UTC.
pub(crate) fn micro_time(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// Now, as a MicroTime.
pub(crate) fn now_micro_time() -> String {
    micro_time(time::OffsetDateTime::now_utc())
}

pub(crate) fn new_uid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    // Written in place: every create needs one, and formatting byte by byte allocated 17 strings.
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// The 5-character suffix upstream appends to `generateName` (no vowels, no look-alike digits).
pub(crate) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn micro_time_has_six_fraction_digits() {
        // 2026-03-04T05:06:07.089Z
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_772_600_767_089_000_000).unwrap();
        assert_eq!(micro_time(t), "2026-03-04T05:06:07.089000Z");
    }

    use super::*;

    #[test]
    fn formats_timestamps_and_uids() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert_eq!(random_suffix().len(), 5);
    }
}
