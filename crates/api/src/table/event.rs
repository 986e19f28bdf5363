//! Events (core `v1` and `events.k8s.io/v1`, which upstream serves from one storage and
//! prints with the same `printEvent`).

use serde_json::Value;

use super::time::{Time, since_time};
use super::util::{cells, col, first_non_empty, get, int_at, name, name_col, present, str_at, wide};
use super::{ColumnDefinition, Printer};

pub(super) const CORE: Printer = Printer::new(columns, core_row);
pub(super) const EVENTS_K8S_IO: Printer = Printer::new(columns, events_row);

fn columns() -> Vec<ColumnDefinition> {
    let mut name = name_col();
    name.priority = 1;
    vec![
        col(
            "Last Seen",
            "string",
            "The time at which the most recent occurrence of this event was recorded.",
        ),
        col(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future",
        ),
        col(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        ),
        col("Object", "string", "The object that this event is about."),
        wide(
            "Subobject",
            "string",
            "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
        ),
        wide(
            "Source",
            "string",
            "The component reporting this event. Should be a short machine understandable string.",
        ),
        col(
            "Message",
            "string",
            "A human-readable description of the status of this operation.",
        ),
        wide(
            "First Seen",
            "string",
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
        ),
        wide("Count", "string", "The number of times this event has occurred."),
        name,
    ]
}

/// The fields `printEvent` reads, from either API version.
struct Fields<'a> {
    first: Time,
    last: Time,
    event_time: Time,
    count: i64,
    series: Option<&'a Value>,
    involved: Option<&'a Value>,
    ty: &'a str,
    reason: &'a str,
    message: &'a str,
    source_component: &'a str,
    source_host: &'a str,
    reporting_controller: &'a str,
    reporting_instance: &'a str,
}

fn core_row(obj: &Value, now: i64) -> Vec<Value> {
    let f = Fields {
        first: Time::from_json(get(obj, &["firstTimestamp"])),
        last: Time::from_json(get(obj, &["lastTimestamp"])),
        event_time: Time::from_json(get(obj, &["eventTime"])),
        count: int_at(obj, &["count"]),
        series: present(obj, &["series"]),
        involved: get(obj, &["involvedObject"]),
        ty: str_at(obj, &["type"]),
        reason: str_at(obj, &["reason"]),
        message: str_at(obj, &["message"]),
        source_component: str_at(obj, &["source", "component"]),
        source_host: str_at(obj, &["source", "host"]),
        reporting_controller: str_at(obj, &["reportingComponent"]),
        reporting_instance: str_at(obj, &["reportingInstance"]),
    };
    print(obj, &f, now)
}

fn events_row(obj: &Value, now: i64) -> Vec<Value> {
    let f = Fields {
        first: Time::from_json(get(obj, &["deprecatedFirstTimestamp"])),
        last: Time::from_json(get(obj, &["deprecatedLastTimestamp"])),
        event_time: Time::from_json(get(obj, &["eventTime"])),
        count: int_at(obj, &["deprecatedCount"]),
        series: present(obj, &["series"]),
        involved: get(obj, &["regarding"]),
        ty: str_at(obj, &["type"]),
        reason: str_at(obj, &["reason"]),
        message: str_at(obj, &["note"]),
        source_component: str_at(obj, &["deprecatedSource", "component"]),
        source_host: str_at(obj, &["deprecatedSource", "host"]),
        reporting_controller: str_at(obj, &["reportingController"]),
        reporting_instance: str_at(obj, &["reportingInstance"]),
    };
    print(obj, &f, now)
}

fn print(obj: &Value, f: &Fields<'_>, now: i64) -> Vec<Value> {
    let first = if f.first.is_zero() {
        since_time(f.event_time, now)
    } else {
        since_time(f.first, now)
    };
    let mut last = if f.last.is_zero() {
        first.clone()
    } else {
        since_time(f.last, now)
    };
    let mut count = f.count;
    if let Some(series) = f.series {
        last = since_time(Time::from_json(get(series, &["lastObservedTime"])), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let involved = f.involved.unwrap_or(&Value::Null);
    let kind = str_at(involved, &["kind"]).to_lowercase();
    let involved_name = str_at(involved, &["name"]);
    let target = if involved_name.is_empty() {
        kind
    } else {
        format!("{kind}/{involved_name}")
    };
    let component = first_non_empty(f.source_component, f.reporting_controller);
    let instance = first_non_empty(f.source_host, f.reporting_instance);
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    cells![
        last,
        f.ty,
        f.reason,
        target,
        str_at(involved, &["fieldPath"]),
        source,
        f.message.trim(),
        first,
        count,
        name(obj),
    ]
}
