//! Unit tests for the table printers. Expected cells follow upstream's 1.33 printers.

mod core;
mod crd;
mod general;
mod misc;
mod pods;
mod workloads;

use serde_json::Value;

use super::time::{Time, format_rfc3339};

/// 2024-01-01T00:00:00Z.
pub(super) const NOW: i64 = 1_704_067_200;

/// The RFC 3339 timestamp `secs` seconds before [`NOW`].
pub(super) fn ago(secs: i64) -> String {
    format_rfc3339(Time::from_unix(NOW - secs))
}

/// `row()` for `group/kind` at [`NOW`], as a JSON array for easy comparison.
pub(super) fn cells(group: &str, kind: &str, obj: &Value) -> Value {
    Value::Array(super::row(group, kind, obj, NOW))
}

/// `row()` for `group/kind` at [`NOW`].
pub(super) fn cv(group: &str, kind: &str, obj: &Value) -> Vec<Value> {
    super::row(group, kind, obj, NOW)
}

/// Column names of `group/kind`, with `*` appended to wide (priority 1) ones.
pub(super) fn names(group: &str, kind: &str) -> Vec<String> {
    super::columns(group, kind)
        .into_iter()
        .map(|c| {
            if c.priority > 0 {
                format!("{}*", c.name)
            } else {
                c.name
            }
        })
        .collect()
}
