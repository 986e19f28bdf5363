//! PodSecurity through HTTP and stock kubectl: a `restricted` namespace refuses a privileged
//! pod with upstream's message, `warn` mode answers with a `Warning` header (printed by kubectl),
//! invalid labels are refused, workloads are warned about.

mod raw_support;

use std::path::Path;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::PostParams;
use rudder_testkit::TestApiServer;
use serde_json::{Value, json};

const DETAIL: &str = "privileged (container \"x\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container \"x\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"x\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"x\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"x\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")";

async fn namespace(server: &TestApiServer, name: &str, labels: Value) {
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).expect("ns");
    Api::<Namespace>::all(server.client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

fn privileged_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
        "spec": {"containers": [{"name": "x", "image": "busybox", "securityContext": {"privileged": true}}]}})
}

#[tokio::test]
async fn a_restricted_namespace_refuses_a_privileged_pod_and_warn_mode_warns() {
    let server = TestApiServer::start().await;
    namespace(
        &server,
        "locked",
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    )
    .await;
    namespace(
        &server,
        "watched",
        json!({"pod-security.kubernetes.io/warn": "restricted"}),
    )
    .await;

    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "locked");
    let pod: Pod = serde_json::from_value(privileged_pod()).expect("pod");
    let err = match pods.create(&PostParams::default(), &pod).await {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(err.code, 403);
    assert_eq!(err.reason, "Forbidden");
    assert_eq!(
        err.message,
        format!("pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": {DETAIL}")
    );

    let body = privileged_pod().to_string();
    let answer = raw_support::send(
        &server,
        "POST",
        "/api/v1/namespaces/watched/pods",
        "application/json",
        &body,
    )
    .await;
    assert_eq!(answer.code, 201, "{}", answer.body);
    let expected = format!("would violate PodSecurity \"restricted:latest\": {DETAIL}");
    let header = format!(
        "299 - \"{}\"",
        expected.replace('\\', "\\\\").replace('"', "\\\"")
    );
    assert_eq!(answer.warnings, [header]);

    // A deployment is warned about in an enforcing namespace, never refused.
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "x", "image": "busybox", "securityContext": {"privileged": true}}]}}}});
    let answer = raw_support::send(
        &server,
        "POST",
        "/apis/apps/v1/namespaces/locked/deployments",
        "application/json",
        &deployment.to_string(),
    )
    .await;
    assert_eq!(answer.code, 201, "{}", answer.body);
    assert_eq!(answer.warnings.len(), 1);
    assert!(
        answer.warnings[0].contains("would violate PodSecurity \\\"restricted:latest\\\": privileged"),
        "{:?}",
        answer.warnings
    );

    // Invalid labels are refused on namespaces.
    let bad = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bad",
        "labels": {"pod-security.kubernetes.io/enforce": "strict"}}});
    let answer = raw_support::send(
        &server,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        &bad.to_string(),
    )
    .await;
    assert_eq!(answer.code, 422);
    assert_eq!(
        answer.body["message"],
        "Namespace \"bad\" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted"
    );
}

#[tokio::test]
async fn tightening_a_namespace_warns_about_its_pods() {
    let server = TestApiServer::start().await;
    namespace(&server, "team", json!({})).await;
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "team");
    let pod: Pod = serde_json::from_value(privileged_pod()).expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("privileged namespaces admit anything");
    let patch = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}});
    let answer = raw_support::send(
        &server,
        "PATCH",
        "/api/v1/namespaces/team",
        "application/merge-patch+json",
        &patch.to_string(),
    )
    .await;
    assert_eq!(answer.code, 200, "{}", answer.body);
    assert_eq!(
        answer.warnings,
        [
            "299 - \"existing pods in namespace \\\"team\\\" violate the new PodSecurity enforce level \\\"baseline:latest\\\"\"",
            "299 - \"x: privileged\"",
        ]
    );
}

async fn kubectl(bin: &Path, kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args);
    let out = cmd.output().await.expect("run kubectl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn kubectl_run_prints_upstreams_pod_security_messages() {
    let server = TestApiServer::start().await;
    namespace(
        &server,
        "locked",
        json!({"pod-security.kubernetes.io/enforce": "restricted"}),
    )
    .await;
    namespace(
        &server,
        "watched",
        json!({"pod-security.kubernetes.io/warn": "restricted"}),
    )
    .await;
    let bin = rudder_testkit::kubectl_binary("1.33");
    let run = ["run", "x", "--image=busybox", "--privileged", "--restart=Never"];

    let (rc, _, err) = kubectl(&bin, &server.kubeconfig, &[&run[..], &["-n", "locked"]].concat()).await;
    assert_ne!(rc, 0);
    assert_eq!(
        err.trim(),
        format!(
            "Error from server (Forbidden): pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": {DETAIL}"
        )
    );

    let (rc, out, err) = kubectl(&bin, &server.kubeconfig, &[&run[..], &["-n", "watched"]].concat()).await;
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out.trim(), "pod/x created");
    assert_eq!(
        err.trim(),
        format!("Warning: would violate PodSecurity \"restricted:latest\": {DETAIL}")
    );
}
