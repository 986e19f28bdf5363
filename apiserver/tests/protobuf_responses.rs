//! Protobuf responses for clients that ask for `application/vnd.kubernetes.protobuf` first
//! (client-go typed clients): objects and lists of built-in kinds come back in the `k8s\0`
//! envelope and decode with the upstream-generated messages; custom resources, errors and
//! watches stay JSON.

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use kube::client::Body;
use prost::Message;
use rudder_testkit::TestApiServer;
use serde_json::Value;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

async fn send(
    server: &TestApiServer,
    method: &str,
    uri: &str,
    accept: &str,
    body: &str,
) -> (u16, String, Vec<u8>) {
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("accept", accept)
        .header("content-type", "application/json")
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
    let bytes = response.into_body().collect_bytes().await.expect("body");
    (code, content_type, bytes.to_vec())
}

fn unwrap(body: &[u8]) -> Unknown {
    let raw = body.strip_prefix(b"k8s\0").expect("the k8s protobuf magic");
    Unknown::decode(raw).expect("runtime.Unknown")
}

#[tokio::test]
async fn built_in_objects_and_lists_are_answered_in_protobuf() {
    let server = TestApiServer::start().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"1"}}"#;
    let (code, content_type, created) = send(&server, "POST", cms, &format!("{PROTOBUF}, */*"), body).await;
    assert_eq!(code, 201);
    assert_eq!(content_type, PROTOBUF);
    let unknown = unwrap(&created);
    let type_meta = unknown.type_meta.clone().expect("typeMeta");
    assert_eq!(type_meta.api_version.as_deref(), Some("v1"));
    assert_eq!(type_meta.kind.as_deref(), Some("ConfigMap"));
    let cm = core::ConfigMap::decode(unknown.raw()).expect("ConfigMap");
    assert_eq!(cm.metadata.as_ref().and_then(|m| m.name.as_deref()), Some("cm"));
    assert_eq!(cm.data.get("a").map(String::as_str), Some("1"));
    assert!(
        cm.metadata
            .as_ref()
            .and_then(|m| m.resource_version.as_ref())
            .is_some()
    );

    let (code, content_type, got) = send(
        &server,
        "GET",
        &format!("{cms}/cm"),
        &format!("{PROTOBUF},application/json"),
        "",
    )
    .await;
    assert_eq!((code, content_type.as_str()), (200, PROTOBUF));
    let cm = core::ConfigMap::decode(unwrap(&got).raw()).expect("ConfigMap");
    assert_eq!(cm.data.get("a").map(String::as_str), Some("1"));

    let (code, content_type, list) = send(&server, "GET", cms, PROTOBUF, "").await;
    assert_eq!((code, content_type.as_str()), (200, PROTOBUF));
    let unknown = unwrap(&list);
    assert_eq!(
        unknown.type_meta.as_ref().and_then(|t| t.kind.as_deref()),
        Some("ConfigMapList")
    );
    let list = core::ConfigMapList::decode(unknown.raw()).expect("ConfigMapList");
    assert!(
        list.items
            .iter()
            .any(|i| i.metadata.as_ref().and_then(|m| m.name.as_deref()) == Some("cm"))
    );

    // Errors stay JSON Status; JSON-first clients get JSON.
    let (code, content_type, missing) = send(
        &server,
        "GET",
        &format!("{cms}/nope"),
        &format!("{PROTOBUF}, */*"),
        "",
    )
    .await;
    assert_eq!((code, content_type.as_str()), (404, "application/json"));
    let status: Value = serde_json::from_slice(&missing).expect("Status");
    assert_eq!(status["reason"], "NotFound");
    let (_, content_type, _) = send(&server, "GET", &format!("{cms}/cm"), "application/json", "").await;
    assert_eq!(content_type, "application/json");
}
