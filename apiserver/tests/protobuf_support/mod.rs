//! Raw requests with a chosen `Accept`, and the decoding of protobuf answers with the
//! upstream-generated messages (k8s-pb): the `k8s\0` envelope and watch framing.
#![allow(dead_code, reason = "each test binary uses a different part")]

use k8s_pb::apimachinery::pkg::apis::meta::v1::WatchEvent;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use kube::client::Body;
use prost::Message;
use rudder_testkit::TestApiServer;

pub(crate) const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
pub(crate) const WATCH_STREAM: &str = "application/vnd.kubernetes.protobuf;stream=watch";

pub(crate) struct Answer {
    pub(crate) code: u16,
    pub(crate) content_type: String,
    pub(crate) body: Vec<u8>,
}

/// A request with a JSON body (if any).
pub(crate) async fn send(
    server: &TestApiServer,
    method: &str,
    uri: &str,
    accept: &str,
    body: &str,
) -> Answer {
    send_typed(server, method, uri, accept, "application/json", body).await
}

pub(crate) async fn send_typed(
    server: &TestApiServer,
    method: &str,
    uri: &str,
    accept: &str,
    content_type: &str,
    body: &str,
) -> Answer {
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("accept", accept)
        .header("content-type", content_type)
        .body(Body::from(body.as_bytes().to_vec()))
        .expect("request");
    let response = server.client.send(request).await.expect("send");
    let code = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.into_body().collect_bytes().await.expect("body").to_vec();
    Answer {
        code,
        content_type,
        body,
    }
}

/// The type and raw message inside the `k8s\0` envelope.
pub(crate) fn envelope(body: &[u8]) -> (TypeMeta, Vec<u8>) {
    let raw = body.strip_prefix(b"k8s\0").expect("the k8s protobuf magic");
    let unknown = Unknown::decode(raw).expect("runtime.Unknown");
    assert_eq!(unknown.content_encoding.as_deref().unwrap_or_default(), "");
    (
        unknown.type_meta.unwrap_or_default(),
        unknown.raw.unwrap_or_default(),
    )
}

/// The events of a protobuf watch body: 4-byte big-endian lengths, each before a `WatchEvent`.
pub(crate) fn watch_frames(mut body: &[u8]) -> Vec<WatchEvent> {
    let mut events = Vec::new();
    while !body.is_empty() {
        let (len, rest) = body.split_at(4);
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let (event, rest) = rest.split_at(len);
        events.push(WatchEvent::decode(event).expect("WatchEvent"));
        body = rest;
    }
    events
}
