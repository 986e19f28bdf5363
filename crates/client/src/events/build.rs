//! Event objects and count/series patches, as upstream's recorders make them. Pure.

use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use k8s_openapi::api::events::v1::Event as EventsV1Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

/// events.k8s.io/v1 `note` limit (upstream `maxNoteLength`, validated by the apiserver).
const MAX_NOTE_BYTES: usize = 1024;

/// What one `record` call carries to the writer.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) regarding: ObjectReference,
    pub(crate) type_: &'static str,
    pub(crate) reason: String,
    pub(crate) action: String,
    pub(crate) message: String,
    pub(crate) at: Timestamp,
}

/// `<object-name>.<unix nanoseconds in hex>`, upstream's event name.
pub(crate) fn event_name(object_name: &str, at: Timestamp) -> String {
    format!("{object_name}.{:x}", at.as_nanosecond())
}

/// Events of cluster-scoped objects live in `default`, as upstream.
pub(crate) fn event_namespace(regarding: &ObjectReference) -> String {
    match regarding.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => ns.to_string(),
        _ => "default".to_string(),
    }
}

/// A core/v1 Event (upstream `record` recorder's `makeEvent` with the source filled in).
pub(crate) fn core_event(r: &Recorded, component: &str) -> CoreEvent {
    let name = r.regarding.name.as_deref().unwrap_or("");
    CoreEvent {
        metadata: ObjectMeta {
            name: Some(event_name(name, r.at)),
            namespace: Some(event_namespace(&r.regarding)),
            ..ObjectMeta::default()
        },
        involved_object: r.regarding.clone(),
        reason: Some(r.reason.clone()),
        message: Some(r.message.clone()),
        first_timestamp: Some(Time(r.at)),
        last_timestamp: Some(Time(r.at)),
        count: Some(1),
        type_: Some(r.type_.to_string()),
        action: (!r.action.is_empty()).then(|| r.action.clone()),
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: None,
        }),
        reporting_component: Some(component.to_string()),
        reporting_instance: Some(String::new()),
        ..CoreEvent::default()
    }
}

/// The core/v1 repeat patch: count and lastTimestamp (and message, as upstream's correlator).
pub(crate) fn core_repeat_patch(r: &Recorded, count: i32) -> serde_json::Value {
    json!({
        "count": count,
        "lastTimestamp": Time(r.at),
        "message": r.message,
    })
}

/// An events.k8s.io/v1 Event (upstream `tools/events` recorder's `makeEvent`).
pub(crate) fn events_v1_event(r: &Recorded, component: &str, instance: &str) -> EventsV1Event {
    let name = r.regarding.name.as_deref().unwrap_or("");
    EventsV1Event {
        metadata: ObjectMeta {
            name: Some(event_name(name, r.at)),
            namespace: Some(event_namespace(&r.regarding)),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(r.at)),
        series: None,
        reporting_controller: Some(component.to_string()),
        reporting_instance: Some(instance.to_string()),
        action: Some(r.action.clone()),
        reason: Some(r.reason.clone()),
        regarding: Some(r.regarding.clone()),
        note: Some(truncate(&r.message, MAX_NOTE_BYTES).to_string()),
        type_: Some(r.type_.to_string()),
        ..EventsV1Event::default()
    }
}

/// The events.k8s.io/v1 repeat patch: `series {count, lastObservedTime}`.
pub(crate) fn events_v1_repeat_patch(r: &Recorded, count: i32) -> serde_json::Value {
    json!({
        "series": {
            "count": count,
            "lastObservedTime": MicroTime(r.at),
        }
    })
}

/// At most `max` bytes, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(namespace: Option<&str>, message: &str) -> Recorded {
        Recorded {
            regarding: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some("web-0".into()),
                namespace: namespace.map(str::to_string),
                uid: Some("uid-1".into()),
                ..ObjectReference::default()
            },
            type_: "Warning",
            reason: "FailedScheduling".into(),
            action: "Scheduling".into(),
            message: message.into(),
            at: Timestamp::from_nanosecond(1_700_000_000_123_456_789).expect("ts"),
        }
    }

    #[test]
    fn names_are_object_name_dot_hex_nanos() {
        let r = recorded(Some("ns"), "m");
        assert_eq!(event_name("web-0", r.at), "web-0.17979cfe3d85cd15");
        assert_eq!(
            core_event(&r, "c").metadata.name.as_deref(),
            Some("web-0.17979cfe3d85cd15")
        );
    }

    #[test]
    fn cluster_scoped_objects_get_events_in_default() {
        assert_eq!(event_namespace(&recorded(None, "m").regarding), "default");
        assert_eq!(event_namespace(&recorded(Some(""), "m").regarding), "default");
        assert_eq!(event_namespace(&recorded(Some("ns"), "m").regarding), "ns");
    }

    #[test]
    fn core_event_fields() {
        let e = core_event(&recorded(Some("ns"), "no nodes"), "default-scheduler");
        assert_eq!(e.count, Some(1));
        assert_eq!(e.type_.as_deref(), Some("Warning"));
        assert_eq!(e.reason.as_deref(), Some("FailedScheduling"));
        assert_eq!(e.message.as_deref(), Some("no nodes"));
        assert_eq!(e.first_timestamp, e.last_timestamp);
        assert_eq!(
            e.source.and_then(|s| s.component).as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(e.involved_object.uid.as_deref(), Some("uid-1"));
        let patch = core_repeat_patch(&recorded(Some("ns"), "no nodes"), 3);
        assert_eq!(patch["count"], 3);
        assert!(patch["lastTimestamp"].is_string());
    }

    #[test]
    fn events_v1_fields_and_note_limit() {
        let long = "é".repeat(600); // 1200 bytes
        let e = events_v1_event(
            &recorded(Some("ns"), &long),
            "default-scheduler",
            "default-scheduler-h",
        );
        assert_eq!(e.reporting_controller.as_deref(), Some("default-scheduler"));
        assert_eq!(e.reporting_instance.as_deref(), Some("default-scheduler-h"));
        assert_eq!(e.action.as_deref(), Some("Scheduling"));
        assert!(e.series.is_none());
        let note = e.note.expect("note");
        assert_eq!(note.len(), 1024);
        let patch = events_v1_repeat_patch(&recorded(Some("ns"), "m"), 2);
        assert_eq!(patch["series"]["count"], 2);
        assert!(patch["series"]["lastObservedTime"].is_string());
    }
}
