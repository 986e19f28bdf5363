//! `--use-service-account-credentials`: the ReplicaSet controller creates its pods as
//! `system:serviceaccount:kube-system:replicaset-controller` (its account is created, its token
//! requested, and the default `system:controller:replicaset-controller` role lets it), as the
//! apiserver's audit log records.

mod common;

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::Api;
use kube::api::{ListParams, PostParams};
use rudder_component::shutdown::Shutdown;
use rudder_controller_manager::options::Config;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::{Value, json};

const POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: Metadata
    resources: [{group: "", resources: ["pods"]}]
  - level: None
"#;

#[tokio::test]
async fn controllers_act_as_their_own_service_accounts() {
    let dir = tempfile::tempdir().expect("dir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).expect("policy");
    let log = dir.path().join("audit.log");
    let log_path = log.clone();
    let server = TestApiServer::start_with(move |c| {
        c.auth.audit_log_path = Some(log_path);
        c.auth.audit_policy_file = Some(policy);
    })
    .await;
    let mut config = Config::for_tests(&["replicaset"]);
    config.kubeconfig = Some(server.kubeconfig.clone());
    config.use_service_account_credentials = true;
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(rudder_controller_manager::run(config, shutdown));

    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
    }))
    .expect("rs");
    Api::<ReplicaSet>::namespaced(server.client.clone(), "default")
        .create(&PostParams::default(), &rs)
        .await
        .expect("create rs");
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "default");
    eventually("the ReplicaSet's pods", common::WAIT, || {
        let pods = pods.clone();
        async move {
            let list = pods.list(&ListParams::default().labels("app=web")).await.ok()?;
            (list.items.len() == 2).then_some(())
        }
    })
    .await;
    Api::<ServiceAccount>::namespaced(server.client.clone(), "kube-system")
        .get("replicaset-controller")
        .await
        .expect("the controller's service account was created");

    let creators = eventually(
        "the pod creations in the audit log",
        Duration::from_secs(10),
        || {
            let log = log.clone();
            async move {
                let text = std::fs::read_to_string(&log).ok()?;
                let users: Vec<String> = text
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter(|e| {
                        e["verb"] == "create"
                            && e["objectRef"]["resource"] == "pods"
                            && e["objectRef"]["subresource"].is_null()
                            && e["stage"] == "ResponseComplete"
                            && e["responseStatus"]["code"] == 201
                    })
                    .map(|e| e["user"]["username"].as_str().unwrap_or_default().to_string())
                    .collect();
                (users.len() == 2).then_some(users)
            }
        },
    )
    .await;
    for user in creators {
        assert_eq!(user, "system:serviceaccount:kube-system:replicaset-controller");
    }
    trigger.trigger();
}
