//! managedFields of ordinary writes (create, update, patch, status, scale): upstream's `Update`
//! operation, the manager from `fieldManager` or the User-Agent.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use rudder_testkit::TestApiServer;
use serde_json::{Value, json};

fn deployment() -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "busybox"}]},
            },
        },
    }))
    .expect("deployment")
}

/// managedFields entries by manager: (operation, subresource, fieldsV1).
fn entries(obj: &impl serde::Serialize) -> BTreeMap<String, (String, String, Value)> {
    let value = serde_json::to_value(obj).expect("json");
    value["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or_default().to_string(),
                (
                    e["operation"].as_str().unwrap_or_default().to_string(),
                    e["subresource"].as_str().unwrap_or_default().to_string(),
                    e["fieldsV1"].clone(),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn writes_record_their_managers() {
    let server = TestApiServer::start().await;
    let deploys: Api<Deployment> = Api::namespaced(server.client.clone(), "default");
    let created = deploys
        .create(
            &PostParams {
                field_manager: Some("creator".into()),
                ..Default::default()
            },
            &deployment(),
        )
        .await
        .expect("create");
    let by = entries(&created);
    let (op, sub, fields) = by.get("creator").expect("creator entry");
    assert_eq!((op.as_str(), sub.as_str()), ("Update", ""));
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    // Defaulted fields belong to the creator, as upstream (decode-time defaulting).
    assert_eq!(fields["f:spec"]["f:revisionHistoryLimit"], json!({}));
    assert_eq!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:resources"],
        json!({})
    );
    assert!(fields["f:status"].is_null(), "status is reset, so not owned");

    // A patch without fieldManager is recorded under the User-Agent's first segment.
    let request = http::Request::patch("/apis/apps/v1/namespaces/default/deployments/web")
        .header("content-type", "application/merge-patch+json")
        .header(
            "user-agent",
            "kube-controller-manager/v1.33.0 (linux/amd64) kubernetes/abc",
        )
        .body(br#"{"spec":{"replicas":3}}"#.to_vec())
        .expect("request");
    let patched: Deployment = server.client.request(request).await.expect("patch");
    let by = entries(&patched);
    let (_, _, fields) = by.get("kube-controller-manager").expect("user-agent manager");
    assert_eq!(fields, &json!({"f:spec": {"f:replicas": {}}}));
    assert!(by["creator"].2["f:spec"].get("f:replicas").is_none());

    // Status writes record the status subresource.
    let status = deploys
        .patch_status(
            "web",
            &PatchParams {
                field_manager: Some("controller".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"status": {"observedGeneration": 2}})),
        )
        .await
        .expect("status");
    let by = entries(&status);
    let (op, sub, fields) = by.get("controller").expect("controller entry");
    assert_eq!((op.as_str(), sub.as_str()), ("Update", "status"));
    assert_eq!(fields, &json!({"f:status": {"f:observedGeneration": {}}}));

    // A write that changes nothing adds no entry.
    let same = deploys
        .patch(
            "web",
            &PatchParams {
                field_manager: Some("noop".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("no-op patch");
    assert!(!entries(&same).contains_key("noop"));
}

#[tokio::test]
async fn field_manager_is_validated_and_dry_run_stores_nothing() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"a": "b"}})).expect("cm");
    let long = "x".repeat(129);
    let request = http::Request::post(format!(
        "/api/v1/namespaces/default/configmaps?fieldManager={long}"
    ))
    .header("content-type", "application/json")
    .body(serde_json::to_vec(&cm).expect("encode"))
    .expect("request");
    let err = server.client.request::<ConfigMap>(request).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error, got {err}")
    };
    assert_eq!(status.code, 422);
    assert_eq!(
        status.message,
        r#"CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes"#
    );

    let dry = cms
        .create(
            &PostParams {
                dry_run: true,
                field_manager: Some("dry".into()),
            },
            &cm,
        )
        .await
        .expect("dry-run create");
    assert!(entries(&dry).contains_key("dry"), "the response shows the result");
    assert!(cms.get_opt("c").await.expect("get").is_none());
}
