//! Pods on a real containerd (started by the test) through the in-process kubelet and a real
//! in-process apiserver.

mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ContainerStatus, Node, Pod};
use kube::api::Api;
use serde_json::json;
use support::cluster::{NODE, TestNode};
use support::containerd::BUSYBOX;

fn cond(pod: &Pod, t: &str) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| c.status.clone())
}

fn container<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == name)
}

fn waiting_reason(c: &ContainerStatus) -> Option<String> {
    c.state.as_ref()?.waiting.as_ref()?.reason.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_registers_and_a_pod_with_init_and_two_containers_runs() {
    let Some(node) = TestNode::start().await else {
        return;
    };
    let nodes: Api<Node> = Api::all(node.server.client.clone());
    let n = rudder_testkit::eventually("node Ready", Duration::from_secs(30), || async {
        let n = nodes.get_opt(NODE).await.ok().flatten()?;
        let ready = n
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        ready.then_some(n)
    })
    .await;
    let labels = n.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels["kubernetes.io/hostname"], NODE);
    assert_eq!(labels["kubernetes.io/os"], "linux");
    let status = n.status.clone().unwrap();
    for t in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert!(
            status.conditions.as_ref().unwrap().iter().any(|c| c.type_ == t),
            "{t}"
        );
    }
    assert!(status.capacity.as_ref().unwrap().contains_key("cpu"));
    assert!(status.allocatable.as_ref().unwrap().contains_key("memory"));
    assert!(
        status
            .node_info
            .as_ref()
            .unwrap()
            .container_runtime_version
            .starts_with("containerd://")
    );
    assert_eq!(
        n.spec.as_ref().unwrap().pod_cidr.as_deref(),
        Some(node.ctd.pod_cidr.as_str())
    );
    let leases: Api<Lease> = Api::namespaced(node.server.client.clone(), "kube-node-lease");
    let lease = leases.get(NODE).await.expect("node lease");
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some(NODE));

    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            "volumes": [{"name": "shared", "emptyDir": {}}],
            "initContainers": [{"name": "init", "image": BUSYBOX,
                "command": ["sh", "-c", "echo from-init | tee /shared/index.html; echo second-line"],
                "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}],
            "containers": [
                {"name": "httpd", "image": BUSYBOX, "command": ["httpd", "-f", "-p", "8080", "-h", "/shared"],
                 "ports": [{"containerPort": 8080}],
                 "readinessProbe": {"httpGet": {"path": "/index.html", "port": 8080}, "periodSeconds": 1},
                 "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]},
                {"name": "sidecar", "image": BUSYBOX, "command": ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done"],
                 "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}}
            ]
        }
    }))
    .await;
    let pod = node
        .wait_pod("web", "pod Running and Ready", Duration::from_secs(60), |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && cond(p, "Ready").as_deref() == Some("True")
        })
        .await;
    let st = pod.status.clone().unwrap();
    let init = &st.init_container_statuses.as_ref().unwrap()[0];
    let term = init
        .state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .expect("init terminated");
    assert_eq!(term.reason.as_deref(), Some("Completed"));
    assert_eq!(term.exit_code, 0);
    for name in ["httpd", "sidecar"] {
        let c = container(&pod, name).unwrap();
        assert!(c.state.as_ref().unwrap().running.is_some(), "{name} running");
        assert!(c.ready, "{name} ready");
        assert_eq!(c.restart_count, 0);
        assert_eq!(c.started, Some(true));
        assert!(c.container_id.as_deref().unwrap().starts_with("containerd://"));
    }
    for t in [
        "PodScheduled",
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
    ] {
        assert_eq!(cond(&pod, t).as_deref(), Some("True"), "{t}");
    }
    let ip = st.pod_ip.clone().expect("pod IP");
    assert!(
        ip.starts_with(node.ctd.pod_cidr.trim_end_matches("0/24")),
        "{ip} in {}",
        node.ctd.pod_cidr
    );
    assert_eq!(st.pod_ips.unwrap()[0].ip, ip);
    assert_eq!(st.host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(st.qos_class.as_deref(), Some("Burstable"));
    assert!(st.start_time.is_some());

    // The init container's output is served by the httpd container, from the pod IP.
    let body = http_get(&ip, 8080, "/index.html").await;
    assert!(body.contains("from-init"), "{body}");
    // fieldRef env reached the container, and its log is in the CRI log file.
    let rt = node.ctd.runtime();
    let id = container(&pod, "sidecar")
        .unwrap()
        .container_id
        .clone()
        .unwrap()
        .replace("containerd://", "");
    use rudder_kubelet::cri::RuntimeService;
    let out = rt
        .exec_sync(&id, vec!["sh".into(), "-c".into(), "echo $POD_NAME".into()], 5)
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "web");

    // Container logs through the kubelet server's routes (the HTTPS listener serves the same router).
    let app = rudder_kubelet::server::router(std::sync::Arc::new(node.ctd.runtime()));
    assert_eq!(get(&app, "/healthz").await, "ok");
    assert_eq!(
        get(&app, "/containerLogs/default/web/init").await,
        "from-init\nsecond-line\n"
    );
    assert_eq!(
        get(&app, "/containerLogs/default/web/init?tailLines=1").await,
        "second-line\n"
    );
    let ts = get(
        &app,
        "/containerLogs/default/web/init?tailLines=1&timestamps=true",
    )
    .await;
    assert!(ts.ends_with("Z second-line\n") && ts.starts_with("20"), "{ts}");
    let follow = follow_until(
        &app,
        "/containerLogs/default/web/sidecar?follow=true&tailLines=1",
        3,
    )
    .await;
    assert!(
        follow.lines().count() >= 3 && follow.lines().all(|l| l.starts_with("tick ")),
        "{follow}"
    );
    // The HTTPS listener is up on --port.
    tokio::net::TcpStream::connect(("127.0.0.1", node.config.port))
        .await
        .expect("kubelet port");

    node.delete_all_and_check_clean().await;
}

async fn get(app: &axum::Router, uri: &str) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert!(resp.status().is_success(), "{uri}: {}", resp.status());
    String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// Reads a followed log until it has `lines` lines.
async fn follow_until(app: &axum::Router, uri: &str, lines: usize) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let mut body = app.clone().oneshot(req).await.unwrap().into_body();
    let mut out = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while out.lines().count() < lines {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("follow produced lines in time");
        let Some(Ok(frame)) = frame else { break };
        if let Ok(data) = frame.into_data() {
            out.push_str(&String::from_utf8_lossy(&data));
        }
    }
    out
}

async fn http_get(ip: &str, port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect((ip, port))
        .await
        .expect("connect to pod");
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_container_goes_to_crash_loop_back_off_with_growing_delay() {
    let Some(node) = TestNode::start().await else {
        return;
    };
    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "crash", "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 1, "restartPolicy": "Always",
                 "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", "exit 1"]}]}
    }))
    .await;
    let msg_of = |p: &Pod| {
        container(p, "c")
            .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.message.clone())
            .unwrap_or_default()
    };
    // The test kubelet backs off 1 s first, doubling (upstream: 10 s doubling to 5 min).
    let first = node
        .wait_pod("crash", "CrashLoopBackOff", Duration::from_secs(60), |p| {
            container(p, "c").and_then(waiting_reason).as_deref() == Some("CrashLoopBackOff")
        })
        .await;
    let delay_of = |p: &Pod| {
        msg_of(p)
            .strip_prefix("back-off ")
            .and_then(|m| m.split('s').next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    let first_delay = delay_of(&first).unwrap_or_else(|| panic!("message {:?}", msg_of(&first)));
    assert!(
        msg_of(&first).contains("s restarting failed container=c pod=crash_default("),
        "{}",
        msg_of(&first)
    );
    let c = container(&first, "c").unwrap();
    assert_eq!(
        c.last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        1
    );
    assert_eq!(
        c.last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("Error")
    );
    let later = node
        .wait_pod("crash", "a longer back-off", Duration::from_secs(60), |p| {
            delay_of(p).is_some_and(|d| d > first_delay)
        })
        .await;
    assert_eq!(delay_of(&later), Some(first_delay * 2), "the delay doubles");
    assert!(container(&later, "c").unwrap().restart_count > container(&first, "c").unwrap().restart_count);
    assert_eq!(later.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
    node.delete_all_and_check_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_restarts_and_readiness_gates_ready() {
    let Some(node) = TestNode::start().await else {
        return;
    };
    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "probed", "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [
            {"name": "live", "image": BUSYBOX,
             "command": ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/healthy; sleep 2; rm /tmp/healthy; while true; do sleep 1; done"],
             "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1, "failureThreshold": 1}},
            {"name": "ready", "image": BUSYBOX,
             "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3; touch /tmp/ready; while true; do sleep 1; done"],
             "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1},
             "startupProbe": {"tcpSocket": {"port": 1}, "periodSeconds": 1, "failureThreshold": 100000}}
        ]}
    }))
    .await;
    // 'ready' has a startup probe on a closed port that never passes: it stays not started
    // and so not ready although its readiness probe would pass.
    let running = node
        .wait_pod("probed", "both running", Duration::from_secs(60), |p| {
            ["live", "ready"].iter().all(|n| {
                container(p, n).is_some_and(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
            })
        })
        .await;
    assert_eq!(cond(&running, "Ready").as_deref(), Some("False"));
    assert_eq!(
        container(&running, "ready").unwrap().started,
        Some(false),
        "startup probe has not passed"
    );
    let restarted = node
        .wait_pod("probed", "liveness restart", Duration::from_secs(60), |p| {
            container(p, "live").is_some_and(|c| c.restart_count >= 1)
        })
        .await;
    assert_eq!(
        cond(&restarted, "Ready").as_deref(),
        Some("False"),
        "startup probe still gates 'ready'"
    );
    node.delete_all_and_check_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_probe_gates_the_ready_condition() {
    let Some(node) = TestNode::start().await else {
        return;
    };
    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "gate", "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [
            {"name": "c", "image": BUSYBOX,
             "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3; touch /tmp/ready; while true; do sleep 1; done"],
             "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}}
        ]}
    }))
    .await;
    let not_ready = node
        .wait_pod("gate", "running, not ready", Duration::from_secs(60), |p| {
            container(p, "c").is_some_and(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
        })
        .await;
    assert_eq!(cond(&not_ready, "Ready").as_deref(), Some("False"));
    assert!(!container(&not_ready, "c").unwrap().ready);
    node.wait_pod("gate", "Ready", Duration::from_secs(30), |p| {
        cond(p, "Ready").as_deref() == Some("True")
    })
    .await;
    node.delete_all_and_check_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_pod_runs_and_appears_as_a_mirror_pod() {
    let manifests = tempfile::tempdir().unwrap();
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: static-web\n  labels: {{app: s}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: {BUSYBOX}\n    command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n"
    );
    std::fs::write(manifests.path().join("web.yaml"), manifest).unwrap();
    let dir = manifests.path().to_path_buf();
    let Some(node) = TestNode::start_with(|c| c.pod_manifest_path = Some(dir)).await else {
        return;
    };
    let name = format!("static-web-{NODE}");
    let mirror = node
        .wait_pod(&name, "mirror pod Running", Duration::from_secs(60), |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        })
        .await;
    let ann = mirror.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(ann["kubernetes.io/config.source"], "file");
    assert_eq!(
        ann["kubernetes.io/config.mirror"],
        ann["kubernetes.io/config.hash"]
    );
    assert_eq!(mirror.metadata.owner_references.as_ref().unwrap()[0].kind, "Node");
    assert!(container(&mirror, "c").unwrap().ready);
    // Deleting the mirror pod does not stop the static pod: the kubelet recreates the mirror.
    let old_uid = mirror.metadata.uid.clone();
    node.pods().delete(&name, &Default::default()).await.unwrap();
    node.wait_pod(&name, "mirror recreated", Duration::from_secs(30), |p| {
        p.metadata.uid != old_uid && p.metadata.deletion_timestamp.is_none()
    })
    .await;
    // Removing the manifest stops the pod and removes the mirror.
    std::fs::remove_file(manifests.path().join("web.yaml")).unwrap();
    let api = node.pods();
    rudder_testkit::eventually("mirror removed", Duration::from_secs(30), || async {
        api.get_opt(&name).await.ok().flatten().is_none().then_some(())
    })
    .await;
    node.delete_all_and_check_clean().await;
}
