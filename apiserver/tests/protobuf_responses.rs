//! Protobuf answers through real HTTP, decoded with the upstream-generated messages (k8s-pb,
//! prost), independent of the server's own message table: objects, lists, metadata views, watch
//! streams (length-prefixed `WatchEvent`s) and error `Status`es of built-in kinds, negotiated
//! from `Accept` as upstream does; custom resources (no protobuf form: 406, or JSON when the
//! client accepts it too) and Tables (JSON only).

mod protobuf_support;

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use prost::Message;
use protobuf_support::{PROTOBUF, WATCH_STREAM, envelope, send, watch_frames};
use rudder_testkit::TestApiServer;
use serde_json::Value;

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const CM: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"1"}}"#;

fn name_of(meta: Option<&meta::ObjectMeta>) -> Option<&str> {
    meta.and_then(|m| m.name.as_deref())
}

#[tokio::test]
async fn built_in_objects_lists_and_metadata_are_answered_in_protobuf() {
    let server = TestApiServer::start().await;
    let created = send(&server, "POST", CMS, &format!("{PROTOBUF}, */*"), CM).await;
    assert_eq!((created.code, created.content_type.as_str()), (201, PROTOBUF));
    let (type_meta, raw) = envelope(&created.body);
    assert_eq!(
        (type_meta.api_version.as_deref(), type_meta.kind.as_deref()),
        (Some("v1"), Some("ConfigMap"))
    );
    let cm = core::ConfigMap::decode(raw.as_slice()).expect("ConfigMap");
    assert_eq!(name_of(cm.metadata.as_ref()), Some("cm"));
    assert_eq!(cm.data.get("a").map(String::as_str), Some("1"));
    assert!(
        cm.metadata
            .as_ref()
            .and_then(|m| m.resource_version.as_ref())
            .is_some()
    );

    // client-go's typed clients: protobuf first, JSON as a fallback.
    let got = send(
        &server,
        "GET",
        &format!("{CMS}/cm"),
        &format!("{PROTOBUF}, application/json"),
        "",
    )
    .await;
    assert_eq!((got.code, got.content_type.as_str()), (200, PROTOBUF));
    let cm = core::ConfigMap::decode(envelope(&got.body).1.as_slice()).expect("ConfigMap");
    assert_eq!(cm.data.get("a").map(String::as_str), Some("1"));

    let list = send(&server, "GET", CMS, PROTOBUF, "").await;
    assert_eq!((list.code, list.content_type.as_str()), (200, PROTOBUF));
    let (type_meta, raw) = envelope(&list.body);
    assert_eq!(type_meta.kind.as_deref(), Some("ConfigMapList"));
    let list = core::ConfigMapList::decode(raw.as_slice()).expect("ConfigMapList");
    assert!(
        list.items
            .iter()
            .any(|i| name_of(i.metadata.as_ref()) == Some("cm"))
    );
    assert!(list.metadata.and_then(|m| m.resource_version).is_some());

    // The metadata client (garbage collector, kube-controller-manager) asks for this.
    let accept = format!(
        "{PROTOBUF};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    );
    let partial = send(&server, "GET", CMS, &accept, "").await;
    assert_eq!((partial.code, partial.content_type.as_str()), (200, PROTOBUF));
    let (type_meta, raw) = envelope(&partial.body);
    assert_eq!(
        (type_meta.api_version.as_deref(), type_meta.kind.as_deref()),
        (Some("meta.k8s.io/v1"), Some("PartialObjectMetadataList"))
    );
    let partial = meta::PartialObjectMetadataList::decode(raw.as_slice()).expect("metadata list");
    assert!(
        partial
            .items
            .iter()
            .any(|i| name_of(i.metadata.as_ref()) == Some("cm"))
    );

    // JSON-first clients get JSON; a preference by q-value is honoured.
    let json = send(&server, "GET", &format!("{CMS}/cm"), "application/json", "").await;
    assert_eq!(json.content_type, "application/json");
    let q = send(
        &server,
        "GET",
        &format!("{CMS}/cm"),
        &format!("application/json;q=0.5, {PROTOBUF}"),
        "",
    )
    .await;
    assert_eq!(q.content_type, PROTOBUF);
}

#[tokio::test]
async fn errors_are_statuses_in_the_negotiated_encoding() {
    let server = TestApiServer::start().await;
    let missing = format!("{CMS}/nope");
    // Protobuf first (also with JSON after it, as client-go's typed clients send): a protobuf
    // Status, which client-go decodes by the Content-Type.
    for accept in [PROTOBUF.to_string(), format!("{PROTOBUF}, application/json")] {
        let answer = send(&server, "GET", &missing, &accept, "").await;
        assert_eq!(
            (answer.code, answer.content_type.as_str()),
            (404, PROTOBUF),
            "{accept}"
        );
        let (type_meta, raw) = envelope(&answer.body);
        assert_eq!(
            (type_meta.api_version.as_deref(), type_meta.kind.as_deref()),
            (Some("v1"), Some("Status"))
        );
        let status = meta::Status::decode(raw.as_slice()).expect("Status");
        assert_eq!(status.reason.as_deref(), Some("NotFound"));
        assert_eq!(status.code, Some(404));
        assert_eq!(status.message.as_deref(), Some(r#"configmaps "nope" not found"#));
        assert_eq!(status.details.and_then(|d| d.name).as_deref(), Some("nope"));
    }
    // JSON first: JSON.
    let answer = send(
        &server,
        "GET",
        &missing,
        &format!("application/json, {PROTOBUF}"),
        "",
    )
    .await;
    assert_eq!(
        (answer.code, answer.content_type.as_str()),
        (404, "application/json")
    );
    let status: Value = serde_json::from_slice(&answer.body).expect("JSON Status");
    assert_eq!(status["reason"], "NotFound");

    // 409 and 422 go the same way.
    assert_eq!(send(&server, "POST", CMS, PROTOBUF, CM).await.code, 201);
    let conflict = send(&server, "POST", CMS, PROTOBUF, CM).await;
    assert_eq!((conflict.code, conflict.content_type.as_str()), (409, PROTOBUF));
    let status = meta::Status::decode(envelope(&conflict.body).1.as_slice()).expect("Status");
    assert_eq!(status.reason.as_deref(), Some("AlreadyExists"));
    let invalid = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#;
    let invalid = send(&server, "POST", CMS, PROTOBUF, invalid).await;
    assert_eq!((invalid.code, invalid.content_type.as_str()), (422, PROTOBUF));
    let status = meta::Status::decode(envelope(&invalid.body).1.as_slice()).expect("Status");
    assert_eq!(status.reason.as_deref(), Some("Invalid"));
    let causes = status.details.map(|d| d.causes).unwrap_or_default();
    assert_eq!(
        causes.first().and_then(|c| c.field.as_deref()),
        Some("metadata.name")
    );
}

#[tokio::test]
async fn tables_are_json_only() {
    let server = TestApiServer::start().await;
    let pb_table = format!("{PROTOBUF};as=Table;v=v1;g=meta.k8s.io");
    // Upstream: no protobuf Table, and no range left for the 406 Status either, so JSON.
    let refused = send(&server, "GET", CMS, &pb_table, "").await;
    assert_eq!(
        (refused.code, refused.content_type.as_str()),
        (406, "application/json")
    );
    let status: Value = serde_json::from_slice(&refused.body).expect("JSON Status");
    assert_eq!(status["reason"], "NotAcceptable");
    assert_eq!(
        status["message"],
        "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf"
    );
    let fallback = format!("{pb_table}, application/json;as=Table;v=v1;g=meta.k8s.io, application/json");
    let table = send(&server, "GET", CMS, &fallback, "").await;
    assert_eq!(
        (table.code, table.content_type.as_str()),
        (200, "application/json")
    );
    let table: Value = serde_json::from_slice(&table.body).expect("Table");
    assert_eq!(table["kind"], "Table");
}

#[tokio::test]
async fn watches_stream_length_prefixed_watch_events() {
    let server = TestApiServer::start().await;
    let created = send(&server, "POST", CMS, "application/json", CM).await;
    let created: Value = serde_json::from_slice(&created.body).expect("created");
    let from = created["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let patch = r#"{"data":{"a":"2"}}"#;
    let patched = protobuf_support::send_typed(
        &server,
        "PATCH",
        &format!("{CMS}/cm"),
        "application/json",
        "application/merge-patch+json",
        patch,
    )
    .await;
    assert_eq!(patched.code, 200);
    assert_eq!(
        send(&server, "DELETE", &format!("{CMS}/cm"), "application/json", "")
            .await
            .code,
        200
    );

    // From the creation's revision: the update and the deletion, then the stream times out.
    let uri = format!("{CMS}?watch=true&resourceVersion={from}&timeoutSeconds=1");
    let watch = send(&server, "GET", &uri, &format!("{PROTOBUF}, application/json"), "").await;
    assert_eq!((watch.code, watch.content_type.as_str()), (200, WATCH_STREAM));
    let events = watch_frames(&watch.body);
    let seen: Vec<(String, Option<String>)> = events
        .iter()
        .map(|event| {
            let (type_meta, raw) = envelope(
                event
                    .object
                    .as_ref()
                    .and_then(|o| o.raw.as_deref())
                    .unwrap_or_default(),
            );
            assert_eq!(type_meta.kind.as_deref(), Some("ConfigMap"));
            let cm = core::ConfigMap::decode(raw.as_slice()).expect("ConfigMap");
            (
                event.r#type.clone().unwrap_or_default(),
                cm.data.get("a").cloned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("MODIFIED".to_string(), Some("2".to_string())),
            ("DELETED".to_string(), Some("2".to_string()))
        ]
    );

    // An initial listing (resourceVersion=0) arrives as ADDED events.
    assert_eq!(send(&server, "POST", CMS, "application/json", CM).await.code, 201);
    let uri = format!("{CMS}?watch=1&resourceVersion=0&timeoutSeconds=1");
    let watch = send(&server, "GET", &uri, PROTOBUF, "").await;
    assert_eq!(watch.content_type, WATCH_STREAM);
    let events = watch_frames(&watch.body);
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e.r#type.as_deref() == Some("ADDED")));

    // JSON watches are unchanged.
    let json = send(&server, "GET", &uri, "application/json", "").await;
    assert_eq!(json.content_type, "application/json");
    assert!(json.body.starts_with(br#"{"type":"ADDED""#));
}

#[tokio::test]
async fn custom_resources_have_no_protobuf_form() {
    let server = TestApiServer::start().await;
    let crd = r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
        "metadata":{"name":"gadgets.example.com"},
        "spec":{"group":"example.com","scope":"Namespaced",
                "names":{"kind":"Gadget","plural":"gadgets"},
                "versions":[{"name":"v1","served":true,"storage":true,
                    "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}"#;
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    assert_eq!(
        send(&server, "POST", crds, "application/json", crd).await.code,
        201
    );
    let gadgets = "/apis/example.com/v1/namespaces/default/gadgets";
    let gadget = r#"{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"x":1}}"#;
    rudder_testkit::eventually(
        "the custom resource to be served",
        std::time::Duration::from_secs(10),
        || async {
            let created = send(&server, "POST", gadgets, "application/json", gadget).await;
            (created.code == 201).then_some(())
        },
    )
    .await;

    // Protobuf only: 406, its Status itself in protobuf (upstream's CRD serializers can encode
    // a Status in protobuf, just not the custom objects).
    let refused = send(&server, "GET", &format!("{gadgets}/g"), PROTOBUF, "").await;
    assert_eq!((refused.code, refused.content_type.as_str()), (406, PROTOBUF));
    let status = meta::Status::decode(envelope(&refused.body).1.as_slice()).expect("Status");
    assert_eq!(status.reason.as_deref(), Some("NotAcceptable"));
    let watch = send(
        &server,
        "GET",
        &format!("{gadgets}?watch=true&timeoutSeconds=1"),
        PROTOBUF,
        "",
    )
    .await;
    assert_eq!(watch.code, 406);

    // Protobuf or JSON (client-go's default for dynamic-typed callers that prefer protobuf): JSON.
    let typed = format!("{PROTOBUF}, application/json");
    let got = send(&server, "GET", &format!("{gadgets}/g"), &typed, "").await;
    assert_eq!((got.code, got.content_type.as_str()), (200, "application/json"));
    let got: Value = serde_json::from_slice(&got.body).expect("JSON object");
    assert_eq!(got["spec"]["x"], 1);
    let list = send(&server, "GET", gadgets, &typed, "").await;
    assert_eq!((list.code, list.content_type.as_str()), (200, "application/json"));
    let watch = send(
        &server,
        "GET",
        &format!("{gadgets}?watch=true&resourceVersion=0&timeoutSeconds=1"),
        &typed,
        "",
    )
    .await;
    assert_eq!(
        (watch.code, watch.content_type.as_str()),
        (200, "application/json")
    );
    assert!(watch.body.starts_with(br#"{"type":"ADDED""#));
    // ... but a missing one is a protobuf Status, as the first range asks.
    let missing = send(&server, "GET", &format!("{gadgets}/nope"), &typed, "").await;
    assert_eq!((missing.code, missing.content_type.as_str()), (404, PROTOBUF));

    // Metadata views have a protobuf form for every resource.
    let accept = format!("{PROTOBUF};as=PartialObjectMetadata;g=meta.k8s.io;v=v1");
    let partial = send(&server, "GET", &format!("{gadgets}/g"), &accept, "").await;
    assert_eq!((partial.code, partial.content_type.as_str()), (200, PROTOBUF));
    let partial =
        meta::PartialObjectMetadata::decode(envelope(&partial.body).1.as_slice()).expect("metadata");
    assert_eq!(name_of(partial.metadata.as_ref()), Some("g"));
}
