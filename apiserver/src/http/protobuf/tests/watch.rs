//! Watch events as upstream's streaming protobuf serializer frames them, read back with k8s-pb.

use super::*;
use crate::http::protobuf::watch::frame;

fn frames(mut body: &[u8]) -> Vec<meta::WatchEvent> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (len, rest) = body.split_at(4);
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (event, rest) = rest.split_at(len);
        out.push(meta::WatchEvent::decode(event).expect("WatchEvent"));
        body = rest;
    }
    out
}

#[test]
fn events_are_length_prefixed_watch_events_around_enveloped_objects() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "a", "resourceVersion": "7"}, "data": {"k": "v"}});
    let status = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
                        "reason": "Expired", "code": 410, "message": "too old resource version: 1 (5)"});
    let mut body = Vec::new();
    frame("ADDED", &cm, &mut body).expect("ADDED");
    frame("ERROR", &status, &mut body).expect("ERROR");
    let events = frames(&body);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].r#type.as_deref(), Some("ADDED"));
    let raw = events[0]
        .object
        .as_ref()
        .and_then(|o| o.raw.clone())
        .expect("raw");
    let unknown = Unknown::decode(raw.strip_prefix(b"k8s\0").expect("envelope")).expect("Unknown");
    assert_eq!(
        unknown.type_meta.as_ref().and_then(|t| t.kind.as_deref()),
        Some("ConfigMap")
    );
    let decoded = core::ConfigMap::decode(unknown.raw()).expect("ConfigMap");
    assert_eq!(decoded.data.get("k").map(String::as_str), Some("v"));
    assert_eq!(
        decoded.metadata.and_then(|m| m.resource_version).as_deref(),
        Some("7")
    );

    assert_eq!(events[1].r#type.as_deref(), Some("ERROR"));
    let raw = events[1]
        .object
        .as_ref()
        .and_then(|o| o.raw.clone())
        .expect("raw");
    let unknown = Unknown::decode(raw.strip_prefix(b"k8s\0").expect("envelope")).expect("Unknown");
    let decoded = meta::Status::decode(unknown.raw()).expect("Status");
    assert_eq!(
        (decoded.code, decoded.reason.as_deref()),
        (Some(410), Some("Expired"))
    );
}

#[test]
fn objects_without_a_protobuf_form_cannot_be_framed() {
    let custom = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let mut body = Vec::new();
    assert!(frame("ADDED", &custom, &mut body).is_err());
    assert!(body.is_empty());
}
