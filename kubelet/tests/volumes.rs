//! Volumes and graceful termination on a real containerd through the in-process kubelet.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use rudder_kubelet::cri::RuntimeService;
use serde_json::json;
use support::cluster::TestNode;
use support::containerd::BUSYBOX;

fn container_id(pod: &Pod, name: &str) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == name))
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
async fn config_map_secret_downward_and_projected_volumes_follow_updates() {
    let Some(node) = TestNode::start().await else {
        return;
    };
    let client = node.server.client.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "cfg"}, "data": {"greeting": "hello", "other": "x"}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let s: Secret =
        serde_json::from_value(json!({"metadata": {"name": "sec"}, "stringData": {"password": "s3cret"}}))
            .unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();

    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "vols", "namespace": "default", "labels": {"app": "vols"}},
        "spec": {"terminationGracePeriodSeconds": 1,
            "volumes": [
                {"name": "cm", "configMap": {"name": "cfg"}},
                {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 384}},
                {"name": "down", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                                           {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"name": "proj", "projected": {"sources": [
                    {"configMap": {"name": "cfg", "items": [{"key": "greeting", "path": "g"}]}},
                    {"secret": {"name": "sec"}}]}}
            ],
            "containers": [{"name": "c", "image": BUSYBOX,
                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
                "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
                        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}}],
                "volumeMounts": [{"name": "cm", "mountPath": "/etc/cm"}, {"name": "sec", "mountPath": "/etc/sec", "readOnly": true},
                                 {"name": "down", "mountPath": "/etc/down"}, {"name": "proj", "mountPath": "/etc/proj"}]}]}
    }))
    .await;
    let pod = node
        .wait_pod("vols", "Running", Duration::from_secs(60), |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .await;
    let id = container_id(&pod, "c");
    assert_eq!(exec(&node, &id, "cat /etc/cm/greeting").await, "hello");
    assert_eq!(exec(&node, &id, "cat /etc/sec/password").await, "s3cret");
    assert_eq!(
        exec(&node, &id, "stat -L -c %a /etc/sec/password").await.trim(),
        "600"
    );
    assert_eq!(exec(&node, &id, "cat /etc/down/name").await, "vols");
    assert_eq!(exec(&node, &id, "cat /etc/down/labels").await, "app=\"vols\"");
    assert_eq!(
        exec(&node, &id, "cat /etc/proj/g; echo; cat /etc/proj/password").await,
        "hello\ns3cret"
    );
    assert_eq!(
        exec(&node, &id, "echo $GREETING $PASSWORD").await.trim(),
        "hello s3cret"
    );

    cms.patch(
        "cfg",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"greeting": "bonjour"}})),
    )
    .await
    .unwrap();
    secrets
        .patch(
            "sec",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"password": "changed"}})),
        )
        .await
        .unwrap();
    rudder_testkit::eventually("updates reach the volumes", Duration::from_secs(30), || async {
        let out = exec(
            &node,
            &id,
            "cat /etc/cm/greeting; echo; cat /etc/sec/password; echo; cat /etc/proj/g",
        )
        .await;
        (out == "bonjour\nchanged\nbonjour").then_some(())
    })
    .await;
    node.delete_all_and_check_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_pod_runs_pre_stop_gets_sigterm_and_is_removed() {
    let Some(node) = TestNode::start().await else {
        return;
    };
    let out = node.ctd.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "graceful", "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 10,
            "volumes": [{"name": "out", "hostPath": {"path": out.display().to_string(), "type": "Directory"}}],
            "containers": [
                {"name": "polite", "image": BUSYBOX,
                 "command": ["sh", "-c", "trap 'echo TERM > /out/polite; exit 0' TERM; while true; do sleep 0.2; done"],
                 "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "echo prestop > /out/prestop"]}}},
                 "volumeMounts": [{"name": "out", "mountPath": "/out"}]},
                {"name": "stubborn", "image": BUSYBOX,
                 "command": ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]}
            ]}
    }))
    .await;
    node.wait_pod("graceful", "Running", Duration::from_secs(60), |p| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| {
                cs.len() == 2
                    && cs
                        .iter()
                        .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
            })
    })
    .await;
    let api = node.pods();
    api.delete(
        "graceful",
        &DeleteParams {
            grace_period_seconds: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // Marked for deletion first; the kubelet removes the object once everything stopped.
    let marked = api.get_opt("graceful").await.unwrap();
    assert!(marked.is_none_or(|p| p.metadata.deletion_timestamp.is_some()));
    rudder_testkit::eventually("pod removed", Duration::from_secs(30), || async {
        api.get_opt("graceful")
            .await
            .ok()
            .flatten()
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(out.join("prestop")).unwrap().trim(),
        "prestop",
        "preStop hook ran"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("polite")).unwrap().trim(),
        "TERM",
        "SIGTERM delivered"
    );
    // 'stubborn' ignored SIGTERM: it was killed when the grace period ran out.
    node.delete_all_and_check_clean().await;
}
