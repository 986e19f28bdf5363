//! `make bench-kubelet`: the release kubelet binary on a private containerd against an
//! in-process apiserver. Pod start latency from binding to Running (images present), p50/p99
//! over 100 single-container pods bound at a steady rate; kubelet RSS idle and with 100 pods.

#[path = "../tests/support/containerd.rs"]
#[allow(dead_code, unreachable_pub)]
mod containerd;
#[path = "kubelet/raw_cri.rs"]
mod raw_cri;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, PostParams};
use kube::runtime::watcher;
use rudder_testkit::TestApiServer;
use serde_json::json;

const PODS: usize = 100;
const BIND_RATE_PER_SEC: u64 = 10;
/// Pods bound one at a time after the burst (each once the previous one runs).
const SEQUENTIAL: usize = 30;
const NODE: &str = "bench-node";

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn kubelet_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("release/kubelet")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn met(ok: bool) -> &'static str {
    if ok { "MET" } else { "NOT MET" }
}

#[tokio::main]
async fn main() {
    let bin = kubelet_binary();
    if !bin.exists() {
        eprintln!(
            "bench-kubelet: {} missing; run `cargo build --release -p rudder-kubelet` (make bench-kubelet does)",
            bin.display()
        );
        std::process::exit(1);
    }
    let Some(ctd) = containerd::TestContainerd::start().await else {
        eprintln!("bench-kubelet: NOT RUN (containerd unavailable, see above)");
        return;
    };
    let dir = ctd.dir.path();
    let floors = raw_floors(&ctd).await;
    let server = TestApiServer::start().await;
    std::fs::write(
        dir.join("kubelet.yaml"),
        format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\npodLogsDir: {}\n",
            dir.join("pod-logs").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("kubelet.log")).unwrap();
    let mut kubelet = Command::new(&bin)
        .arg(format!("--kubeconfig={}", server.kubeconfig.display()))
        .arg(format!("--config={}", dir.join("kubelet.yaml").display()))
        .arg(format!("--hostname-override={NODE}"))
        .arg(format!("--root-dir={}", dir.join("kubelet").display()))
        .arg(format!("--container-runtime-endpoint={}", ctd.endpoint()))
        .arg(format!("--pod-cidr={}", ctd.pod_cidr))
        .arg(format!("--cni-conf-dir={}", ctd.cni_conf_dir.display()))
        .arg(format!("--cni-bridge={}", ctd.bridge))
        .arg(format!("--cni-ipam-dir={}", ctd.ipam_dir.display()))
        .arg(format!("--cgroup-root={}", ctd.cgroup_root))
        .arg("--node-ip=127.0.0.1")
        .arg("--fail-swap-on=false")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start kubelet");
    let pid = kubelet.id();
    let client = server.client.clone();
    let nodes: Api<Node> = Api::all(client.clone());
    let t0 = Instant::now();
    loop {
        let ready = nodes
            .get_opt(NODE)
            .await
            .ok()
            .flatten()
            .and_then(|n| n.status?.conditions)
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "node not Ready; kubelet log in {}",
            dir.join("kubelet.log").display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_idle = rss_mb(pid);

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..PODS {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("p{i}")},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": containerd::BUSYBOX,
                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }
    // Watch for Running before binding anything.
    let mut events = watcher(pods.clone(), watcher::Config::default()).boxed();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    tokio::spawn(async move {
        while let Some(Ok(ev)) = events.next().await {
            if let watcher::Event::Apply(p) | watcher::Event::InitApply(p) = ev
                && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            {
                let _ = tx.send((p.metadata.name.unwrap_or_default(), Instant::now()));
            }
        }
    });
    let mut bound: HashMap<String, Instant> = HashMap::new();
    let start = Instant::now();
    for i in 0..PODS {
        let name = format!("p{i}");
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}});
        let at = Instant::now();
        pods.create_subresource::<serde_json::Value, serde_json::Value>(
            "binding",
            &name,
            &PostParams::default(),
            &binding,
        )
        .await
        .expect("bind");
        bound.insert(name, at);
        let next = start + Duration::from_millis((i as u64 + 1) * 1000 / BIND_RATE_PER_SEC);
        tokio::time::sleep_until(next.into()).await;
    }
    let mut latencies: HashMap<String, Duration> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while latencies.len() < PODS && Instant::now() < deadline {
        if let Ok(Some((name, at))) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await
            && let Some(b) = bound.get(&name)
        {
            latencies.entry(name).or_insert(at.duration_since(*b));
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_100 = rss_mb(pid);
    // One at a time: bind, wait for Running, next (the kubelet's own path, no queueing).
    let mut sequential: Vec<Duration> = Vec::new();
    for i in 0..SEQUENTIAL {
        let name = format!("q{i}");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": containerd::BUSYBOX,
                "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}});
        let at = Instant::now();
        pods.create_subresource::<serde_json::Value, serde_json::Value>(
            "binding",
            &name,
            &PostParams::default(),
            &binding,
        )
        .await
        .expect("bind");
        let deadline = at + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some((n, t))) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await
                && n == name
            {
                sequential.push(t.duration_since(at));
                break;
            }
        }
    }
    sequential.sort();
    let mut sorted: Vec<Duration> = latencies.values().copied().collect();
    sorted.sort();

    println!(
        "\nkubelet benchmark (release binary, containerd {}, 2-core machine)",
        ctd.runtime_version().await
    );
    if sorted.len() < PODS {
        println!(
            "  only {} of {PODS} pods reached Running within 120 s",
            sorted.len()
        );
    }
    if !sorted.is_empty() {
        let (p50, p99) = (pct(&sorted, 0.50), pct(&sorted, 0.99));
        println!(
            "  pod start latency binding -> Running, {PODS} pods bound at {BIND_RATE_PER_SEC}/s, images present:"
        );
        println!(
            "    p50 {:>6} ms   p99 {:>6} ms   max {:>6} ms   target p99 < 1000 ms: {}",
            p50.as_millis(),
            p99.as_millis(),
            sorted[sorted.len() - 1].as_millis(),
            met(p99 < Duration::from_secs(1) && sorted.len() == PODS)
        );
    }
    for (what, floor) in &floors {
        if floor.len() < PODS {
            println!(
                "  raw CRI floor, {what}: only {} of {PODS} pods started (see above)",
                floor.len()
            );
            continue;
        }
        let (p50, p99) = (pct(floor, 0.50), pct(floor, 0.99));
        println!(
            "  raw CRI floor (no kubelet, no apiserver): {PODS} pods straight through CRI at {BIND_RATE_PER_SEC}/s, {what}:"
        );
        println!(
            "    p50 {:>6} ms   p99 {:>6} ms   max {:>6} ms",
            p50.as_millis(),
            p99.as_millis(),
            floor[floor.len() - 1].as_millis()
        );
        if sorted.len() == PODS {
            println!(
                "    kubelet burst p99 / this floor's p99: {:.2}x",
                pct(&sorted, 0.99).as_secs_f64() / p99.as_secs_f64().max(1e-3)
            );
        }
    }
    if !sequential.is_empty() {
        let (p50, p99) = (pct(&sequential, 0.50), pct(&sequential, 0.99));
        println!(
            "  pod start latency binding -> Running, {SEQUENTIAL} pods bound one at a time beside {PODS} running:"
        );
        println!(
            "    p50 {:>6} ms   p99 {:>6} ms   max {:>6} ms   target p99 < 1000 ms: {}",
            p50.as_millis(),
            p99.as_millis(),
            sequential[sequential.len() - 1].as_millis(),
            met(p99 < Duration::from_secs(1) && sequential.len() == SEQUENTIAL)
        );
    }
    println!(
        "  kubelet RSS idle:          {rss_idle:>6.1} MB   target < 50 MB: {}",
        met(rss_idle > 0.0 && rss_idle < 50.0)
    );
    println!("  kubelet RSS with {PODS} pods: {rss_100:>6.1} MB");

    // Teardown: delete the pods through the kubelet, then stop it by PID.
    for p in pods
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
    {
        let _ = pods
            .delete(p.metadata.name.as_deref().unwrap_or(""), &Default::default())
            .await;
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(120) {
        if pods
            .list(&Default::default())
            .await
            .map(|l| l.items.is_empty())
            .unwrap_or(false)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "  deleting {} pods took {:.1} s",
        PODS + SEQUENTIAL,
        t.elapsed().as_secs_f64()
    );
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
    }
    let _ = kubelet.wait();
    drop(ctd);
    simulated_nodes(&server).await;
}

/// The raw-CRI floors on this containerd, before the kubelet starts: the kubelet's bridge
/// conflist written as the kubelet writes it, then the same pods straight through CRI, with no
/// bound on concurrency and with the kubelet's default bound.
async fn raw_floors(ctd: &containerd::TestContainerd) -> Vec<(String, Vec<Duration>)> {
    let net = rudder_kubelet::cni::BridgeNetwork {
        name: "rudder".into(),
        bridge: ctd.bridge.clone(),
        subnet: ctd.pod_cidr.clone(),
        ipam_data_dir: Some(ctd.ipam_dir.clone()),
    };
    if let Err(e) = rudder_kubelet::cni::write_conflist(&ctd.cni_conf_dir, &net) {
        eprintln!("raw CRI floor: writing the conflist: {e}");
        return Vec::new();
    }
    // containerd picks the conflist up asynchronously; a sandbox before that has no network.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut config = rudder_kubelet::config::Config::new(NODE);
    config.pod_logs_dir = ctd.dir.path().join("floor-logs");
    config.cgroup_root = ctd.cgroup_root.clone();
    let bound = config.parallel_starts();
    let runs = [
        ("unbounded concurrency".to_string(), None),
        (
            format!("at most {bound} at once (the kubelet's bound)"),
            Some(bound),
        ),
    ];
    let mut floors = Vec::new();
    for (what, limit) in runs {
        let endpoint = ctd.endpoint();
        let floor = raw_cri::floor(
            &endpoint,
            config.clone(),
            containerd::BUSYBOX,
            PODS,
            BIND_RATE_PER_SEC,
            limit,
        );
        floors.push((what, floor.await));
    }
    floors
}

/// `--runtime=simulated` kubelets in this process (sharing one client, like a kwok-style
/// scale rig): the memory each one adds, with one pod per node Running.
async fn simulated_nodes(server: &TestApiServer) {
    // RUDDER_BENCH_SIM_NODES overrides the count (the figure is 1,000).
    let nodes: usize = std::env::var("RUDDER_BENCH_SIM_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let own_pid = std::process::id();
    let before = rss_mb(own_pid);
    let (trigger, shutdown) = rudder_component::shutdown::Shutdown::new();
    let t0 = Instant::now();
    for i in 0..nodes {
        let name = format!("sim-{i}");
        let mut c = rudder_kubelet::config::Config::new(&name);
        c.root_dir = dir.path().join(&name);
        c.pod_logs_dir = dir.path().join(&name).join("logs");
        c.cni.conf_dir = dir.path().join(&name).join("net.d");
        c.runtime = rudder_kubelet::config::Runtime::Simulated;
        c.node_ip = Some([127, 0, 0, 1].into());
        c.port = 0;
        c.fail_swap_on = false;
        c.pod_cidr = Some(format!("10.{}.{}.0/24", 100 + i / 250, i % 250));
        let rt = std::sync::Arc::new(rudder_kubelet::cri::fake::FakeRuntime::simulated());
        let (client, shutdown) = (server.client.clone(), shutdown.clone());
        tokio::spawn(async move {
            rudder_kubelet::run::run_with_runtime(c, client, rt.clone(), rt, shutdown).await
        });
    }
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "sim");
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "sim"}})).unwrap();
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(server.client.clone())
        .create(&PostParams::default(), &ns)
        .await;
    for i in 0..nodes {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": format!("s{i}")},
            "spec": {"nodeName": format!("sim-{i}"), "containers": [{"name": "c", "image": "simulated:1"}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
    }
    let mut running = 0;
    while t0.elapsed() < Duration::from_secs(300) {
        running = pods
            .list(&Default::default())
            .await
            .map(|l| {
                l.items
                    .iter()
                    .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                    .count()
            })
            .unwrap_or(0);
        if running == nodes {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_mb(own_pid);
    let per_node = (after - before) / nodes as f64;
    println!(
        "  simulated runtime: {nodes} kubelets in one process, {running}/{nodes} pods Running after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    println!(
        "    memory added {:.1} MB (incl. the in-process apiserver's growth), {per_node:.2} MB per simulated node   target < 2 MB: {}",
        after - before,
        met(per_node < 2.0 && running == nodes)
    );
    trigger.trigger();
    tokio::time::sleep(Duration::from_millis(500)).await;
}
