//! Pods' resolv.conf from --cluster-dns/--cluster-domain/dnsPolicy/dnsConfig, and gRPC probes
//! against a real gRPC health server, on a real containerd through the in-process kubelet.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use rudder_kubelet::cri::RuntimeService;
use serde_json::json;
use support::cluster::TestNode;
use support::containerd::BUSYBOX;

const LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 1; done";

fn container_id(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .and_then(|c| c.container_id.clone())
        .unwrap_or_default()
        .replace("containerd://", "")
}

fn running(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some())
}

fn ready(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

async fn resolv_conf(node: &TestNode, pod: &str) -> String {
    let p = node
        .wait_pod(pod, "running", Duration::from_secs(60), running)
        .await;
    let out = node
        .ctd
        .runtime()
        .exec_sync(
            &container_id(&p),
            vec!["cat".into(), "/etc/resolv.conf".into()],
            5,
        )
        .await
        .expect("exec");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_get_cluster_dns_or_the_hosts_resolv_conf() {
    let host_resolv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        host_resolv.path(),
        "nameserver 192.0.2.53\nsearch corp.example.test\noptions timeout:2\n",
    )
    .unwrap();
    let path = host_resolv.path().to_path_buf();
    let Some(node) = TestNode::start_with(|c| {
        c.cluster_dns = vec!["10.96.0.10".parse().unwrap()];
        c.cluster_domain = "cluster.local".into();
        c.resolv_conf = Some(path);
    })
    .await
    else {
        return;
    };
    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "cluster-first", "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 1,
            "dnsConfig": {"searches": ["extra.example.test"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]},
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP]}]}
    }))
    .await;
    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "default-policy", "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 1, "dnsPolicy": "Default",
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP]}]}
    }))
    .await;
    let cluster = resolv_conf(&node, "cluster-first").await;
    let lines: Vec<&str> = cluster.lines().collect();
    assert!(
        lines.contains(&"search default.svc.cluster.local svc.cluster.local cluster.local corp.example.test extra.example.test"),
        "{cluster}"
    );
    assert!(lines.contains(&"nameserver 10.96.0.10"), "{cluster}");
    assert!(!cluster.contains("192.0.2.53"), "{cluster}");
    assert!(lines.contains(&"options ndots:2 edns0"), "{cluster}");
    let host = resolv_conf(&node, "default-policy").await;
    let lines: Vec<&str> = host.lines().collect();
    assert!(lines.contains(&"nameserver 192.0.2.53"), "{host}");
    assert!(lines.contains(&"search corp.example.test"), "{host}");
    assert!(lines.contains(&"options timeout:2"), "{host}");
    node.delete_all_and_check_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_probes_follow_a_real_health_server() {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("app", tonic_health::ServingStatus::NotServing)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let Some(node) = TestNode::start().await else {
        return;
    };
    // A host-network pod: its IP is the node's (127.0.0.1), where the health server listens.
    node.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "grpc", "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 1, "hostNetwork": true,
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP],
                "readinessProbe": {"grpc": {"port": port, "service": "app"}, "periodSeconds": 1}}]}
    }))
    .await;
    let p = node
        .wait_pod("grpc", "running", Duration::from_secs(60), running)
        .await;
    assert_eq!(p.status.as_ref().unwrap().pod_ip.as_deref(), Some("127.0.0.1"));
    // NOT_SERVING keeps it unready for several periods.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ready(&node.get("grpc").await).as_deref(), Some("False"));
    reporter
        .set_service_status("app", tonic_health::ServingStatus::Serving)
        .await;
    node.wait_pod("grpc", "Ready once SERVING", Duration::from_secs(30), |p| {
        ready(p).as_deref() == Some("True")
    })
    .await;
    reporter
        .set_service_status("app", tonic_health::ServingStatus::NotServing)
        .await;
    node.wait_pod("grpc", "unready again", Duration::from_secs(30), |p| {
        ready(p).as_deref() == Some("False")
    })
    .await;
    node.delete_all_and_check_clean().await;
}
