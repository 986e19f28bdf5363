//! A pod with upstream's `kube-api-access-*` projected volume (a service account token bound
//! to the pod, the cluster CA from `kube-root-ca.crt`, the namespace) sees a token the
//! apiserver's TokenReview accepts, the CA and its namespace.

mod support;

use std::time::Duration;

use k8s_openapi::api::authentication::v1::TokenReview;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use rudder_kubelet::cri::RuntimeService;
use serde_json::json;
use support::cluster::TestNode;
use support::containerd::BUSYBOX;

fn container_id(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .and_then(|c| c.container_id.clone())
        .unwrap_or_default()
        .replace("containerd://", "")
}

async fn exec(node: &TestNode, id: &str, script: &str) -> String {
    let out = node
        .ctd
        .runtime()
        .exec_sync(id, vec!["sh".into(), "-c".into(), script.into()], 5)
        .await
        .expect("exec");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projected_service_account_token_volume() {
    let Some(node) = TestNode::start().await else {
        return;
    };
    let client = node.server.client.clone();
    // What the serviceaccount and root-ca-cert-publisher controllers would have made.
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap();
    match sas.create(&PostParams::default(), &sa).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("create service account: {e}"),
    }
    let ca = std::fs::read_to_string(node.server.cert_dir().join("ca.crt")).expect("cluster CA");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": ca}}))
            .unwrap();
    match cms.create(&PostParams::default(), &cm).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("create kube-root-ca.crt: {e}"),
    }

    let pod = node
        .create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "sa", "namespace": "default"},
            "spec": {"terminationGracePeriodSeconds": 1, "serviceAccountName": "default",
                "volumes": [{"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace",
                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}],
                "containers": [{"name": "c", "image": BUSYBOX,
                    "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                    "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}]}
        }))
        .await;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let pod = node
        .wait_pod("sa", "Running", Duration::from_secs(60), |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .await;
    let id = container_id(&pod);
    let dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    let token = exec(&node, &id, &format!("cat {dir}/token")).await;
    assert_eq!(exec(&node, &id, &format!("cat {dir}/namespace")).await, "default");
    assert_eq!(exec(&node, &id, &format!("cat {dir}/ca.crt")).await, ca);
    // Written like every atomic volume: files are symlinks through ..data.
    let listing = exec(&node, &id, &format!("ls -la {dir}")).await;
    assert!(listing.contains("token -> ..data/token"), "{listing}");

    let reviews: Api<TokenReview> = Api::all(client.clone());
    let review: TokenReview = serde_json::from_value(json!({"spec": {"token": token}})).unwrap();
    let answer = reviews
        .create(&PostParams::default(), &review)
        .await
        .expect("TokenReview");
    let status = answer.status.expect("review status");
    assert_eq!(status.authenticated, Some(true), "{status:?}");
    let user = status.user.expect("user");
    assert_eq!(
        user.username.as_deref(),
        Some("system:serviceaccount:default:default")
    );
    // Bound to this pod.
    let extra = user.extra.unwrap_or_default();
    assert_eq!(
        extra
            .get("authentication.kubernetes.io/pod-uid")
            .and_then(|v| v.first())
            .map(String::as_str),
        Some(uid.as_str()),
        "bound to the pod: {extra:?}"
    );
    // A token bound to a pod dies with it: after deletion TokenReview refuses it.
    node.delete_all_and_check_clean().await;
    let answer = reviews
        .create(&PostParams::default(), &review)
        .await
        .expect("TokenReview");
    assert_ne!(
        answer.status.and_then(|s| s.authenticated),
        Some(true),
        "token of a deleted pod"
    );
}
