//! Conformance-style black-box tests on a real rkind cluster (2 nodes: netns + containerd +
//! kubelet + kube-proxy each; apiserver, scheduler, controller-manager and the DNS add-on):
//! Services across nodes by IP and DNS name, NodePort, DaemonSet, Job, configMap volume + env,
//! and that delete leaves nothing behind. Needs root and the packages of
//! scripts/install-deps.sh; skipped loudly otherwise (a failure under CI=1).

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use rudder_e2e::rkind::spec::ProxyMode;
use serde_json::json;
use support::TestCluster;

const T: Duration = Duration::from_secs(60);

/// A busybox httpd Deployment `web` (2 replicas, one per node by anti-affinity) behind a
/// ClusterIP Service on port 80 and a NodePort Service.
async fn deploy_web(c: &TestCluster, ns: &str) {
    c.apply(
        ns,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                            {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}
                        ]}},
                        "containers": [{
                            "name": "web", "image": support::BUSYBOX, "imagePullPolicy": "Never",
                            "ports": [{"containerPort": 8080}],
                            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
                        }],
                    },
                },
            },
        }),
    )
    .await;
    c.apply(
        ns,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }),
    )
    .await;
    c.apply(
        ns,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web-np", "namespace": ns},
            "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        }),
    )
    .await;
}

/// A shell loop that fetches `/` from host:port until the page answers (30 tries, 1 s apart).
fn fetch_script(host: &str, port: u16) -> String {
    format!(
        "for i in $(seq 1 30); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} {port} | grep -q 'hello from rudder' && exit 0; sleep 1; done; exit 1"
    )
}

async fn check_service_across_nodes(c: &TestCluster, ns: &str) {
    deploy_web(c, ns).await;
    let ready = c.wait_ready_pods(ns, "app=web", 2, T).await;
    let web_nodes: Vec<String> = ready
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    assert_eq!(web_nodes.len(), 2, "one web pod per node");
    let svc: Api<Service> = Api::namespaced(c.client.clone(), ns);
    let ip = svc
        .get("web")
        .await
        .expect("get service")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("cluster IP");
    // From a pod on each node: by ClusterIP (reaching the endpoint on the other node half the
    // time, and every try goes through kube-proxy's rules) and by DNS name.
    let client_node = c.nodes()[1].clone();
    let (ok, status) = c
        .run_script(ns, "by-ip", &client_node, &fetch_script(&ip, 80), T)
        .await;
    assert!(ok, "web reachable by ClusterIP {ip} from {client_node}: {status}");
    let name = format!("web.{ns}.svc.cluster.local");
    let (ok, status) = c
        .run_script(ns, "by-name", &c.nodes()[0].clone(), &fetch_script(&name, 80), T)
        .await;
    assert!(ok, "web reachable as {name} from a pod: {status}");

    // NodePort: from the host to each node's IP, and from inside node 0's namespace to node 1.
    let port = svc
        .get("web-np")
        .await
        .expect("get service")
        .spec
        .and_then(|s| s.ports)
        .and_then(|p| p.first().and_then(|p| p.node_port))
        .expect("node port") as u16;
    for node in 0..c.nodes().len() {
        let addr = format!("{}:{port}", c.node_ip(node));
        let body = http_get(&addr).unwrap_or_else(|e| panic!("NodePort {addr} from the host: {e}"));
        assert!(body.contains("hello from rudder"), "NodePort {addr}: {body}");
    }
    let out = rudder_e2e::rkind::sys::cmd(
        "nsenter",
        [
            &format!("--net=/run/netns/{}", c.netns(0)),
            "/bin/busybox",
            "sh",
            "-c",
            &fetch_script(&c.node_ip(1), port),
        ],
    );
    assert!(
        out.is_ok(),
        "NodePort {}:{port} from node 0: {out:?}",
        c.node_ip(1)
    );
}

fn http_get(addr: &str) -> std::io::Result<String> {
    let addr: std::net::SocketAddr = addr.parse().map_err(std::io::Error::other)?;
    let mut last = None;
    for _ in 0..20 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
                let mut body = String::new();
                s.read_to_string(&mut body)?;
                return Ok(body);
            }
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no attempt")))
}

async fn check_daemonset(c: &TestCluster, ns: &str) {
    c.apply(
        ns,
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": ns},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{
                        "name": "a", "image": support::BUSYBOX, "imagePullPolicy": "Never",
                        "command": ["sleep", "3600"],
                    }]},
                },
            },
        }),
    )
    .await;
    let pods = c.wait_ready_pods(ns, "app=agent", c.nodes().len(), T).await;
    let mut on: Vec<String> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    on.sort();
    let mut want = c.nodes().to_vec();
    want.sort();
    assert_eq!(on, want, "one daemon pod on every node");
    let ds: Api<DaemonSet> = Api::namespaced(c.client.clone(), ns);
    support::eventually("DaemonSet status ready on every node", T, || async {
        let s = ds.get("agent").await.expect("get ds").status.unwrap_or_default();
        let nodes = c.nodes().len() as i32;
        if s.number_ready == nodes && s.desired_number_scheduled == nodes {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
}

async fn check_job(c: &TestCluster, ns: &str) {
    c.apply(
        ns,
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "once", "namespace": ns},
            "spec": {
                "completions": 2, "parallelism": 2, "backoffLimit": 2,
                "template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "j", "image": support::BUSYBOX, "imagePullPolicy": "Never",
                        "command": ["sh", "-c", "echo done"],
                    }],
                }},
            },
        }),
    )
    .await;
    let jobs: Api<Job> = Api::namespaced(c.client.clone(), ns);
    let s = support::eventually("Job Complete", T, || async {
        let s = jobs
            .get("once")
            .await
            .expect("get job")
            .status
            .unwrap_or_default();
        let complete = s
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Complete" && c.status == "True");
        if complete { Ok(s) } else { Err(format!("{s:?}")) }
    })
    .await;
    assert_eq!(s.succeeded, Some(2));
}

async fn check_configmap_volume_and_env(c: &TestCluster, ns: &str) {
    c.apply(
        ns,
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": ns},
            "data": {"greeting": "hello-volume", "mode": "from-env"},
        }),
    )
    .await;
    c.apply(
        ns,
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "reads-config", "namespace": ns},
            "spec": {
                "restartPolicy": "Never",
                "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
                "containers": [{
                    "name": "c", "image": support::BUSYBOX, "imagePullPolicy": "Never",
                    "command": ["sh", "-c", "test \"$(cat /etc/cfg/greeting)\" = hello-volume && test \"$MODE\" = from-env"],
                    "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}}],
                    "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}],
                }],
            },
        }),
    )
    .await;
    let (ok, status) = c.wait_pod_done(ns, "reads-config", T).await;
    assert!(
        ok,
        "the pod read the configMap through a volume and env: {status}"
    );
}

/// The CI subset: one 2-node cluster (iptables proxy, embedded store), every check, then delete
/// and nothing left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_services_and_cleanup() {
    let Some(c) = TestCluster::create(2, ProxyMode::Iptables, false).await else {
        return;
    };
    eprintln!("cluster {} ready in {:.2?}", c.state.name, c.created_in);
    let svc = c.namespace("svc").await;
    let ds = c.namespace("ds").await;
    let job = c.namespace("job").await;
    let cfg = c.namespace("cfg").await;
    tokio::join!(
        check_service_across_nodes(&c, &svc),
        check_daemonset(&c, &ds),
        check_job(&c, &job),
        check_configmap_volume_and_env(&c, &cfg),
    );
    let state = c.state.clone();
    c.delete().await;
    let left = support::leftovers(&state);
    assert!(left.is_empty(), "delete left behind: {left:?}");
}

/// The same Service checks on the nftables proxy over a real etcd (`make e2e`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slower variant: make e2e runs it"]
async fn services_on_nftables_and_etcd() {
    let Some(c) = TestCluster::create(2, ProxyMode::Nftables, true).await else {
        return;
    };
    let ns = c.namespace("svc").await;
    check_service_across_nodes(&c, &ns).await;
    let state = c.state.clone();
    c.delete().await;
    let left = support::leftovers(&state);
    assert!(left.is_empty(), "delete left behind: {left:?}");
}
