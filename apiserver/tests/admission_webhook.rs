//! Admission webhooks end to end: a real HTTPS webhook (its own CA, on 127.0.0.1) configured
//! through Validating/MutatingWebhookConfigurations on an in-process apiserver.

mod admission_webhook_support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::PostParams;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::{Value, json};

use admission_webhook_support::hook::Hook;
use admission_webhook_support::{create, kubectl_apply, status};

/// A ConfigMap named `name`, or generated from it when it ends in `-` (retried creates).
fn config_map(name: &str, labels: Value) -> ConfigMap {
    let key = if name.ends_with('-') {
        "generateName"
    } else {
        "name"
    };
    serde_json::from_value(json!({"metadata": {key: name, "labels": labels}})).expect("configmap")
}

async fn configure(server: &TestApiServer, kind: &str, name: &str, webhooks: Vec<Value>) {
    create(server, kind, name, json!({"webhooks": webhooks})).await;
}

#[tokio::test]
async fn validating_webhook_denies_and_allows() {
    let server = TestApiServer::start().await;
    let hook = Hook::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    // Only objects labelled `checked` go to the webhook.
    let selector = json!({"objectSelector": {"matchLabels": {"checked": "true"}}});
    configure(
        &server,
        "ValidatingWebhookConfiguration",
        "deny",
        vec![hook.webhook("deny.example.com", "/deny", selector)],
    )
    .await;

    // The configuration applies once the apiserver's cache has it (within a second).
    let err = eventually("the webhook denies", Duration::from_secs(5), || async {
        let bad = config_map("bad-", json!({"checked": "true", "deny": "yes"}));
        cms.create(&PostParams::default(), &bad).await.err()
    })
    .await;
    let err = status(err);
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "admission webhook \"deny.example.com\" denied the request: the deny label is set"
    );

    let calls = hook.calls();
    cms.create(
        &PostParams::default(),
        &config_map("good", json!({"checked": "true"})),
    )
    .await
    .expect("allowed");
    assert_eq!(hook.calls(), calls + 1, "an allowed object is reviewed too");
    cms.create(
        &PostParams::default(),
        &config_map("unchecked", json!({"deny": "yes"})),
    )
    .await
    .expect("not selected, so not reviewed");
    assert_eq!(
        hook.calls(),
        calls + 1,
        "the objectSelector keeps the webhook out"
    );
}

#[tokio::test]
async fn mutating_webhook_patches_the_object() {
    let server = TestApiServer::start().await;
    let hook = Hook::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    configure(
        &server,
        "MutatingWebhookConfiguration",
        "label",
        vec![hook.webhook("label.example.com", "/label", json!({}))],
    )
    .await;
    let created = eventually("the webhook labels", Duration::from_secs(5), || async {
        let cm = cms
            .create(&PostParams::default(), &config_map("cm-", json!({"app": "web"})))
            .await
            .ok()?;
        cm.metadata.labels.as_ref()?.contains_key("mutated").then_some(cm)
    })
    .await;
    let labels = created.metadata.labels.expect("labels");
    assert_eq!(labels.get("mutated").map(String::as_str), Some("yes"));
    assert_eq!(labels.get("app").map(String::as_str), Some("web"));
    // What was stored is the patched object.
    let stored = cms
        .get(created.metadata.name.as_deref().expect("name"))
        .await
        .expect("get");
    assert_eq!(
        stored
            .metadata
            .labels
            .and_then(|l| l.get("mutated").cloned())
            .as_deref(),
        Some("yes")
    );
}

#[tokio::test]
async fn timeouts_follow_the_failure_policy() {
    let server = TestApiServer::start().await;
    let hook = Hook::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let slow = |name: &str, policy: &str, label: &str| {
        hook.webhook(
            name,
            "/slow",
            json!({"timeoutSeconds": 1, "failurePolicy": policy, "objectSelector": {"matchLabels": {"policy": label}}}),
        )
    };
    configure(
        &server,
        "ValidatingWebhookConfiguration",
        "slow",
        vec![
            slow("ignore.example.com", "Ignore", "ignore"),
            slow("fail.example.com", "Fail", "fail"),
        ],
    )
    .await;
    let err = eventually("the failing webhook refuses", Duration::from_secs(10), || async {
        cms.create(
            &PostParams::default(),
            &config_map("f-", json!({"policy": "fail"})),
        )
        .await
        .err()
    })
    .await;
    let err = status(err);
    assert_eq!(err.code, 500);
    assert!(
        err.message.starts_with("Internal error occurred: failed calling webhook \"fail.example.com\": failed to call webhook: Post \"https://127.0.0.1:"),
        "{}",
        err.message
    );
    assert!(
        err.message
            .ends_with("/slow?timeout=1s\": context deadline exceeded"),
        "{}",
        err.message
    );
    let calls = hook.calls();
    cms.create(
        &PostParams::default(),
        &config_map("i", json!({"policy": "ignore"})),
    )
    .await
    .expect("Ignore lets the write through");
    assert!(hook.calls() > calls, "the ignored webhook was called");
}

#[tokio::test]
async fn webhook_warnings_reach_kubectl() {
    for kind in ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"] {
        warnings_reach_kubectl(kind).await;
    }
}

async fn warnings_reach_kubectl(kind: &str) {
    let server = TestApiServer::start().await;
    let hook = Hook::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    configure(
        &server,
        kind,
        "deny",
        vec![hook.webhook("deny.example.com", "/deny", json!({}))],
    )
    .await;
    eventually("the webhook is called", Duration::from_secs(5), || async {
        cms.create(&PostParams::default(), &config_map("probe-", json!({})))
            .await
            .ok()?;
        (hook.calls() > 0).then_some(())
    })
    .await;
    let manifest = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "warned", "namespace": "default"}});
    let out = kubectl_apply(&server.kubeconfig, &manifest).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{kind}: {stderr}");
    assert_eq!(stderr.trim(), "Warning: checked by the test webhook", "{kind}");
}

#[tokio::test]
async fn service_references_reach_the_endpoints() {
    let server = TestApiServer::start().await;
    let hook = Hook::start().await;
    let services: Api<Service> = Api::namespaced(server.client.clone(), "default");
    let svc = json!({"metadata": {"name": "hook"}, "spec": {"ports": [{"name": "https", "port": 443, "targetPort": hook.port}]}});
    services
        .create(
            &PostParams::default(),
            &serde_json::from_value(svc).expect("service"),
        )
        .await
        .expect("service");
    let slices: Api<EndpointSlice> = Api::namespaced(server.client.clone(), "default");
    let slice = json!({
        "metadata": {"name": "hook-1", "labels": {"kubernetes.io/service-name": "hook"}},
        "addressType": "IPv4",
        "ports": [{"name": "https", "port": hook.port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
    });
    slices
        .create(
            &PostParams::default(),
            &serde_json::from_value(slice).expect("slice"),
        )
        .await
        .expect("slice");
    let mut webhook = hook.webhook("svc.example.com", "/deny", json!({}));
    webhook["clientConfig"] = json!({
        "service": {"namespace": "default", "name": "hook", "path": "/deny"},
        "caBundle": hook.ca_bundle,
    });
    configure(&server, "ValidatingWebhookConfiguration", "svc", vec![webhook]).await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let err = eventually(
        "the webhook behind the service denies",
        Duration::from_secs(5),
        || async {
            let bad = config_map("bad-", json!({"deny": "yes"}));
            cms.create(&PostParams::default(), &bad).await.err()
        },
    )
    .await;
    assert_eq!(
        status(err).message,
        "admission webhook \"svc.example.com\" denied the request: the deny label is set"
    );
}

#[tokio::test]
async fn if_needed_webhooks_are_called_again_after_a_later_change() {
    let server = TestApiServer::start().await;
    let hook = Hook::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    // Configurations run by name: `a` (IfNeeded) before `b`, whose patch changes the object.
    let first = hook.webhook(
        "a.example.com",
        "/label",
        json!({"reinvocationPolicy": "IfNeeded"}),
    );
    configure(&server, "MutatingWebhookConfiguration", "a", vec![first]).await;
    configure(
        &server,
        "MutatingWebhookConfiguration",
        "b",
        vec![hook.webhook("b.example.com", "/other", json!({}))],
    )
    .await;
    eventually("both webhooks label", Duration::from_secs(5), || async {
        let cm = cms
            .create(&PostParams::default(), &config_map("probe-", json!({})))
            .await
            .ok()?;
        let labels = cm.metadata.labels?;
        (labels.contains_key("mutated") && labels.contains_key("other")).then_some(())
    })
    .await;
    let before = hook.calls();
    let cm = cms
        .create(&PostParams::default(), &config_map("c", json!({})))
        .await
        .expect("create");
    assert_eq!(hook.calls() - before, 3, "a, b, then a again");
    let labels = cm.metadata.labels.expect("labels");
    assert_eq!(
        (
            labels.get("mutated").map(String::as_str),
            labels.get("other").map(String::as_str)
        ),
        (Some("yes"), Some("yes"))
    );
}

#[tokio::test]
async fn namespace_selector_picks_the_namespaces() {
    let server = TestApiServer::start().await;
    let hook = Hook::start().await;
    let namespaces: Api<Namespace> = Api::all(server.client.clone());
    for (name, labels) in [("team-a", json!({"team": "a"})), ("team-b", json!({}))] {
        let ns = serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).expect("ns");
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace");
    }
    let selector = json!({"namespaceSelector": {"matchLabels": {"team": "a"}}});
    configure(
        &server,
        "ValidatingWebhookConfiguration",
        "team-a",
        vec![hook.webhook("team-a.example.com", "/deny", selector)],
    )
    .await;
    let in_a: Api<ConfigMap> = Api::namespaced(server.client.clone(), "team-a");
    let err = eventually("the webhook denies in team-a", Duration::from_secs(5), || async {
        in_a.create(
            &PostParams::default(),
            &config_map("bad-", json!({"deny": "yes"})),
        )
        .await
        .err()
    })
    .await;
    assert_eq!(status(err).code, 403);
    let calls = hook.calls();
    let in_b: Api<ConfigMap> = Api::namespaced(server.client.clone(), "team-b");
    in_b.create(&PostParams::default(), &config_map("bad", json!({"deny": "yes"})))
        .await
        .expect("team-b is not selected");
    assert_eq!(hook.calls(), calls, "not called for team-b");
}
