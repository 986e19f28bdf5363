//! `make bench-cluster`: the local cluster's speed and footprint, printed against the targets.
//!
//! 1. `rkind create` of a 3-node cluster → every node Ready and `kubectl get nodes` answering
//!    (target < 5 s; kind takes 12–17 s).
//! 2. A 10-replica Deployment applied → all 10 pods Running (target < 2 s; k3d: 3 s), and → its
//!    NodePort Service answering from the host.
//! 3. RSS of every component with the cluster idle; control plane (apiserver + scheduler +
//!    controller-manager) target < 100 MB in total (k3s idles at about 550 MB).
//!
//! Uses the binaries rkind finds (`RKIND_BIN_DIR`, set to target/release by the Makefile).

#[path = "cluster/timeline.rs"]
mod timeline;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams};
use rudder_e2e::rkind::spec::{ClusterSpec, ProxyMode};
use rudder_e2e::rkind::{self, CreateOptions, state::State, sys};
use serde_json::json;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn http_get(addr: &str) -> Option<String> {
    let addr: std::net::SocketAddr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "MISSED" }
}

struct Guard(Option<State>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(st) = self.0.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    let _ = rt.block_on(rkind::delete::delete_state(&st));
                }
            })
            .join();
        }
    }
}

async fn bench() -> anyhow::Result<()> {
    let spec = ClusterSpec {
        name: format!("bench-{}", std::process::id()),
        nodes: 3,
        etcd: false,
        proxy_mode: ProxyMode::Iptables,
    };
    // Build or find binaries and images first: create's timing is the cluster, not the build.
    let bins = rkind::binaries::locate(&|m| eprintln!("{m}"))?;
    rkind::images::build(&bins)?;
    eprintln!("binaries: {}", bins.dir.display());

    let t0 = Instant::now();
    let st = rkind::create(
        &spec,
        &CreateOptions {
            progress: true,
            wait: Duration::from_secs(120),
        },
    )
    .await?;
    let create = t0.elapsed();
    let mut guard = Guard(Some(st.clone()));
    let client = rkind::wait::client(&st.kubeconfig()).await?;

    // 10 replicas and a NodePort Service.
    let deploy = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {
            "replicas": 10,
            "selector": {"matchLabels": {"app": "bench"}},
            "template": {
                "metadata": {"labels": {"app": "bench"}},
                "spec": {"containers": [{
                    "name": "web", "image": "localhost/rudder/busybox:1", "imagePullPolicy": "Never",
                    "ports": [{"containerPort": 8080}],
                }]},
            },
        },
    });
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {"type": "NodePort", "selector": {"app": "bench"}, "ports": [{"port": 80, "targetPort": 8080}]},
    });
    let pp = PatchParams::apply("bench").force();
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services.patch("bench", &pp, &Patch::Apply(&svc)).await?;
    let node_port = services
        .get("bench")
        .await?
        .spec
        .and_then(|s| s.ports)
        .and_then(|p| p.first().and_then(|p| p.node_port))
        .unwrap_or(0);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let timeline = timeline::Timeline::watch(&client, "default", "app=bench").await;
    let t1 = timeline.started();
    deployments.patch("bench", &pp, &Patch::Apply(&deploy)).await?;
    let deadline = t1 + Duration::from_secs(120);
    let node_addr = format!("10.250.{}.10:{node_port}", st.index);
    // The NodePort probe blocks (connect and read time-outs), so it runs on its own thread:
    // polled inline it would delay noticing the pods Running by up to its time-outs.
    let probe = {
        let node_addr = node_addr.clone();
        tokio::task::spawn_blocking(move || {
            while Instant::now() < deadline {
                if http_get(&node_addr).is_some_and(|b| b.contains("hello from rudder")) {
                    return Some(t1.elapsed());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            None
        })
    };
    let running = loop {
        let list = pods.list(&ListParams::default().labels("app=bench")).await?;
        let n = list
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        if n >= 10 {
            break t1.elapsed();
        }
        anyhow::ensure!(Instant::now() < deadline, "only {n}/10 pods Running after 120 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let answered = probe
        .await?
        .ok_or_else(|| anyhow::anyhow!("NodePort {node_addr} never answered"))?;

    let kubelet_logs: Vec<&std::path::Path> = st
        .processes
        .iter()
        .filter(|p| p.role == "kubelet")
        .map(|p| p.log.as_path())
        .collect();
    let timeline = timeline.report(&kubelet_logs, "bench-");

    // Idle: let the startup work settle, then read every component's RSS.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let marker = st.dir().display().to_string();
    let mut by_role: Vec<(String, u64)> = Vec::new();
    for p in &st.processes {
        if !sys::owned_and_alive(p.pid, &marker) {
            continue;
        }
        let label = match &p.node {
            Some(n) => format!("{} ({n})", p.role),
            None => p.role.clone(),
        };
        by_role.push((label, rss_kib(p.pid)));
    }
    let control: u64 = by_role
        .iter()
        .filter(|(r, _)| {
            ["kube-apiserver", "kube-scheduler", "kube-controller-manager"].contains(&r.as_str())
        })
        .map(|(_, k)| *k)
        .sum();

    let t2 = Instant::now();
    if let Some(st) = guard.0.take() {
        rkind::delete::delete_state(&st).await?;
    }
    let delete = t2.elapsed();

    println!("\n== rkind cluster benchmark (3 nodes, iptables, embedded store) ==");
    println!(
        "create -> 3 nodes Ready + kubectl get nodes : {:>7.2} s   target < 5 s   {}",
        create.as_secs_f64(),
        verdict(create < Duration::from_secs(5))
    );
    println!(
        "10-replica Deployment -> 10 pods Running    : {:>7.2} s   target < 2 s   {}",
        running.as_secs_f64(),
        verdict(running < Duration::from_secs(2))
    );
    println!(
        "10-replica Deployment -> NodePort answers   : {:>7.2} s",
        answered.as_secs_f64()
    );
    print!("{timeline}");
    println!("idle RSS per process:");
    for (role, kib) in &by_role {
        println!("  {role:<40} {:>8.1} MiB", *kib as f64 / 1024.0);
    }
    println!(
        "control plane (apiserver+scheduler+cm)      : {:>7.1} MiB target < 100 MB {}",
        control as f64 / 1024.0,
        verdict(control * 1024 < 100_000_000)
    );
    println!(
        "delete                                      : {:>7.2} s",
        delete.as_secs_f64()
    );
    Ok(())
}

fn main() {
    if !sys::is_root() {
        eprintln!("bench-cluster needs root (rkind creates network namespaces and a bridge)");
        std::process::exit(1);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(bench()) {
        eprintln!("bench-cluster failed: {e:#}");
        std::process::exit(1);
    }
}
