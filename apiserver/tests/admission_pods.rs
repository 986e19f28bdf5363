//! The admission plugins that act on pods, through HTTP on a server with upstream's default
//! plugin set: ServiceAccount, Priority, DefaultTolerationSeconds, LimitRanger, RuntimeClass
//! and ResourceQuota.

mod auth_support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, ResourceQuota, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use rudder_apiserver::admission::AdmissionConfig;
use rudder_testkit::TestApiServer;
use serde_json::{Value, json};

use auth_support::{namespace, object, status};

/// A server with every default plugin, those left off in-process included.
async fn full_chain() -> TestApiServer {
    TestApiServer::start_with(|c| c.auth.admission = AdmissionConfig::default()).await
}

/// The in-process set plus `plugins`.
async fn with(plugins: &[&str]) -> TestApiServer {
    TestApiServer::start_with(|c| {
        for p in plugins {
            c.auth.admission = c.auth.admission.clone().enable(p);
        }
    })
    .await
}

async fn create(server: &TestApiServer, ns: &str, pod: Value) -> Result<Pod, kube::Error> {
    Api::<Pod>::namespaced(server.client.clone(), ns)
        .create(&PostParams::default(), &object(pod))
        .await
}

async fn create_value(server: &TestApiServer, path: &str, body: Value) -> Value {
    auth_support::post_json(&server.client, path, body)
        .await
        .expect("create")
}

fn pod(name: &str, spec: Value) -> Value {
    let mut p =
        json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    if let (Some(s), Some(extra)) = (p["spec"].as_object_mut(), spec.as_object()) {
        s.extend(extra.clone());
    }
    p
}

async fn service_account(server: &TestApiServer, ns: &str, name: &str) {
    Api::<ServiceAccount>::namespaced(server.client.clone(), ns)
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": name}})),
        )
        .await
        .expect("service account");
}

#[tokio::test]
async fn pods_run_as_an_existing_service_account_with_the_token_volume() {
    let server = full_chain().await;
    namespace(&server, "apps").await;

    // No `default` account yet (no controller-manager): refused after upstream's retries.
    let started = std::time::Instant::now();
    let err = status(
        create(&server, "apps", pod("early", json!({})))
            .await
            .expect_err("no account"),
    );
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "pods \"early\" is forbidden: error looking up service account apps/default: serviceaccount \"default\" not found"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the default account is waited for"
    );

    service_account(&server, "apps", "default").await;
    let created = create(&server, "apps", pod("web", json!({})))
        .await
        .expect("admitted");
    let spec = serde_json::to_value(created.spec.expect("spec")).expect("json");
    assert_eq!(spec["serviceAccountName"], "default");
    let volume = &spec["volumes"][0];
    let volume_name = volume["name"].as_str().expect("volume name");
    assert!(volume_name.starts_with("kube-api-access-") && volume_name.len() == "kube-api-access-".len() + 5);
    assert_eq!(
        volume["projected"]["sources"][0]["serviceAccountToken"],
        json!({"expirationSeconds": 3607, "path": "token"})
    );
    assert_eq!(
        volume["projected"]["sources"][1]["configMap"]["name"],
        "kube-root-ca.crt"
    );
    assert_eq!(
        spec["containers"][0]["volumeMounts"],
        json!([{"name": volume_name, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
    );

    // Opting out, and naming an account that does not exist.
    let quiet = create(
        &server,
        "apps",
        pod("quiet", json!({"automountServiceAccountToken": false})),
    )
    .await
    .expect("admitted");
    assert!(quiet.spec.expect("spec").volumes.is_none());
    let err = status(
        create(
            &server,
            "apps",
            pod("ghost", json!({"serviceAccountName": "ghost"})),
        )
        .await
        .expect_err("no such account"),
    );
    assert_eq!(
        err.message,
        "pods \"ghost\" is forbidden: error looking up service account apps/ghost: serviceaccount \"ghost\" not found"
    );
}

#[tokio::test]
async fn priority_tolerations_limits_and_runtime_classes_shape_new_pods() {
    let server = with(&["DefaultTolerationSeconds"]).await;
    namespace(&server, "apps").await;

    // Priority: the system classes exist; unknown classes are refused.
    let critical = create(
        &server,
        "apps",
        pod("critical", json!({"priorityClassName": "system-node-critical"})),
    )
    .await
    .expect("admitted");
    assert_eq!(
        critical.spec.as_ref().and_then(|s| s.priority),
        Some(2_000_001_000)
    );
    let err = status(
        create(&server, "apps", pod("vip", json!({"priorityClassName": "vip"})))
            .await
            .expect_err("unknown class"),
    );
    assert_eq!(
        err.message,
        "pods \"vip\" is forbidden: no PriorityClass with name vip was found"
    );

    // DefaultTolerationSeconds.
    let tolerations = serde_json::to_value(critical.spec.expect("spec").tolerations).expect("json");
    assert_eq!(
        tolerations,
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ])
    );

    // LimitRanger: defaults, then a maximum.
    create_value(&server, "/api/v1/namespaces/apps/limitranges", json!({"metadata": {"name": "limits"},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}, "max": {"cpu": "1"}}]}})).await;
    let defaulted = create(&server, "apps", pod("small", json!({})))
        .await
        .expect("admitted");
    let resources =
        serde_json::to_value(&defaulted.spec.as_ref().expect("spec").containers[0].resources).expect("json");
    assert_eq!(
        resources,
        json!({"limits": {"cpu": "500m"}, "requests": {"cpu": "100m"}})
    );
    assert_eq!(
        defaulted
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("kubernetes.io/limit-ranger"))
            .map(String::as_str),
        Some("LimitRanger plugin set: cpu request for container c; cpu limit for container c")
    );
    let big = pod(
        "big",
        json!({"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "2"}}}]}),
    );
    let err = status(create(&server, "apps", big).await.expect_err("over the maximum"));
    assert_eq!(
        err.message,
        "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"
    );

    // RuntimeClass: missing classes are refused, overhead is copied.
    let err = status(
        create(&server, "apps", pod("kata", json!({"runtimeClassName": "kata"})))
            .await
            .expect_err("no class"),
    );
    assert_eq!(
        err.message,
        "pods \"kata\" is forbidden: pod rejected: RuntimeClass \"kata\" not found"
    );
    create_value(
        &server,
        "/apis/node.k8s.io/v1/runtimeclasses",
        json!({"metadata": {"name": "kata"}, "handler": "kata",
        "overhead": {"podFixed": {"cpu": "250m"}}}),
    )
    .await;
    let with_class = create(&server, "apps", pod("kata", json!({"runtimeClassName": "kata"})))
        .await
        .expect("admitted");
    let overhead = serde_json::to_value(with_class.spec.expect("spec").overhead).expect("json");
    assert_eq!(overhead, json!({"cpu": "250m"}));
}

#[tokio::test]
async fn quotas_charge_new_pods_and_refuse_the_one_too_many() {
    let server = with(&["ResourceQuota"]).await;
    namespace(&server, "apps").await;
    let quotas: Api<ResourceQuota> = Api::namespaced(server.client.clone(), "apps");
    quotas
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "2"}}})),
        )
        .await
        .expect("quota");
    // No controller counts usage here: without a status the quota refuses, as upstream.
    let err = status(
        create(&server, "apps", pod("a", json!({})))
            .await
            .expect_err("status unknown"),
    );
    assert_eq!(
        err.message,
        "pods \"a\" is forbidden: status unknown for quota: pods, resources: pods"
    );

    let status_body =
        json!({"metadata": {"name": "pods"}, "status": {"hard": {"pods": "2"}, "used": {"pods": "0"}}});
    let request = http::Request::patch("/api/v1/namespaces/apps/resourcequotas/pods/status")
        .header("content-type", "application/merge-patch+json")
        .body(serde_json::to_vec(&status_body).expect("json"))
        .expect("request");
    server
        .client
        .request::<Value>(request)
        .await
        .expect("set quota status");

    create(&server, "apps", pod("a", json!({})))
        .await
        .expect("first pod");
    create(&server, "apps", pod("b", json!({})))
        .await
        .expect("second pod");
    let used = quotas
        .get("pods")
        .await
        .expect("quota")
        .status
        .and_then(|s| s.used)
        .expect("used");
    assert_eq!(
        used.get("pods").map(|q| q.0.as_str()),
        Some("2"),
        "admission charges the quota at once"
    );
    let err = status(
        create(&server, "apps", pod("c", json!({})))
            .await
            .expect_err("over quota"),
    );
    assert_eq!(
        err.message,
        "pods \"c\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2"
    );
}
