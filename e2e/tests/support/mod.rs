//! A fresh rkind cluster per test (unique name), deleted when the test ends, also on failure
//! (Drop), plus helpers to run workloads and check them.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use rudder_e2e::rkind::spec::{ClusterSpec, ProxyMode};
use rudder_e2e::rkind::{self, CreateOptions, state::State, sys};
use serde_json::json;

static NEXT: AtomicU32 = AtomicU32::new(0);

pub const BUSYBOX: &str = "localhost/rudder/busybox:1";

/// Why a cluster cannot be made here, if it cannot.
fn unavailable() -> Option<String> {
    if !sys::is_root() {
        return Some("not running as root".into());
    }
    let spec = ClusterSpec {
        name: "probe".into(),
        nodes: 1,
        etcd: false,
        proxy_mode: ProxyMode::Iptables,
    };
    rkind::preflight::check(&spec).err().map(|e| e.to_string())
}

pub struct TestCluster {
    pub state: State,
    pub client: kube::Client,
    pub created_in: Duration,
    deleted: bool,
}

impl TestCluster {
    /// Creates one, or returns None after saying loudly why the test is skipped. In CI (`CI`
    /// set) a missing prerequisite is a failure.
    pub async fn create(nodes: usize, proxy_mode: ProxyMode, etcd: bool) -> Option<TestCluster> {
        if let Some(why) = unavailable() {
            if std::env::var_os("CI").is_some() {
                panic!("rkind e2e cannot run in CI: {why}");
            }
            eprintln!("\n*** SKIPPED: rkind e2e test not run: {why} ***\n");
            return None;
        }
        let name = format!(
            "e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let spec = ClusterSpec {
            name,
            nodes,
            etcd,
            proxy_mode,
        };
        let started = Instant::now();
        let opts = CreateOptions {
            progress: true,
            wait: Duration::from_secs(90),
        };
        let state = rkind::create(&spec, &opts).await.expect("rkind create cluster");
        let created_in = started.elapsed();
        let client = rkind::wait::client(&state.kubeconfig()).await.expect("client");
        Some(TestCluster {
            state,
            client,
            created_in,
            deleted: false,
        })
    }

    pub fn nodes(&self) -> &[String] {
        &self.state.nodes
    }

    /// The node's network namespace (for running host tools inside it).
    pub fn netns(&self, node: usize) -> String {
        format!("rkind-{}", self.state.nodes[node])
    }

    pub fn node_ip(&self, node: usize) -> String {
        format!("10.250.{}.{}", self.state.index, 10 + node)
    }

    /// Deletes the cluster now (the test checks what remains).
    pub async fn delete(mut self) {
        self.deleted = true;
        rkind::delete::delete_state(&self.state)
            .await
            .expect("delete cluster");
    }

    pub async fn namespace(&self, name: &str) -> String {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        // As upstream's e2e framework: pods are refused (ServiceAccount admission) until the
        // serviceaccount controller has made the namespace's `default` account.
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), name);
        eventually(
            &format!("ServiceAccount {name}/default"),
            Duration::from_secs(30),
            || async {
                accounts
                    .get_opt("default")
                    .await
                    .ok()
                    .flatten()
                    .map(|_| ())
                    .ok_or_else(|| "absent".to_string())
            },
        )
        .await;
        name.to_string()
    }

    /// Runs a one-shot busybox pod on `node` with `script`, and returns whether it Succeeded
    /// (false: Failed), with its status for the message.
    pub async fn run_script(
        &self,
        ns: &str,
        name: &str,
        node: &str,
        script: &str,
        timeout: Duration,
    ) -> (bool, String) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "nodeName": node,
                "restartPolicy": "Never",
                "containers": [{
                    "name": "c", "image": BUSYBOX, "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
                }],
            },
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
        self.wait_pod_done(ns, name, timeout).await
    }

    /// Like `run_script`, and returns the pod's log too (what the script printed).
    pub async fn run_script_logs(
        &self,
        ns: &str,
        name: &str,
        node: &str,
        script: &str,
        timeout: Duration,
    ) -> (bool, String) {
        let (ok, status) = self.run_script(ns, name, node, script, timeout).await;
        let logs = self.logs(ns, name).await;
        let detail = if ok {
            logs
        } else {
            format!("{logs}\nstatus: {status}")
        };
        (ok, detail)
    }

    /// Creates a pod from JSON.
    pub async fn create_pod(&self, ns: &str, pod: serde_json::Value) -> Pod {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let pod: Pod = serde_json::from_value(pod).expect("pod JSON");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod")
    }

    /// The pod's log (empty when it cannot be read yet).
    pub async fn logs(&self, ns: &str, name: &str) -> String {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        pods.logs(name, &Default::default()).await.unwrap_or_default()
    }

    /// The stock kubectl on PATH against this cluster (its own cache dir per cluster).
    pub fn kubectl(&self, args: &[&str]) -> std::process::Output {
        self.kubectl_bin(std::path::Path::new("kubectl"), args)
    }

    /// A given kubectl binary against this cluster.
    pub fn kubectl_bin(&self, bin: &std::path::Path, args: &[&str]) -> std::process::Output {
        self.kubectl_command(bin, args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run kubectl")
    }

    pub fn kubectl_command(&self, bin: &std::path::Path, args: &[&str]) -> std::process::Command {
        let home = self.state.dir().join("kubectl-home");
        let mut cmd = std::process::Command::new(bin);
        cmd.args(args)
            .env("KUBECONFIG", self.state.kubeconfig())
            .env("HOME", &home)
            .env("KUBECACHEDIR", home.join("cache"));
        cmd
    }

    pub async fn wait_pod_done(&self, ns: &str, name: &str, timeout: Duration) -> (bool, String) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let deadline = Instant::now() + timeout;
        loop {
            let p = pods.get(name).await.expect("get pod");
            let phase = p
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            let status = serde_json::to_string(&p.status).unwrap_or_default();
            match phase.as_str() {
                "Succeeded" => return (true, status),
                "Failed" => return (false, status),
                _ if Instant::now() > deadline => return (false, format!("timed out in {phase}: {status}")),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Pods matching `selector` in `ns` that are Running and Ready.
    pub async fn ready_pods(&self, ns: &str, selector: &str) -> Vec<Pod> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let list = pods
            .list(&ListParams::default().labels(selector))
            .await
            .expect("list pods");
        list.items
            .into_iter()
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .collect()
    }

    /// Polls until `n` pods matching `selector` are Ready, returns them.
    pub async fn wait_ready_pods(&self, ns: &str, selector: &str, n: usize, timeout: Duration) -> Vec<Pod> {
        eventually(
            &format!("{n} ready pods for {selector} in {ns}"),
            timeout,
            || async {
                let ready = self.ready_pods(ns, selector).await;
                if ready.len() >= n {
                    Ok(ready)
                } else {
                    Err(format!("only {}", ready.len()))
                }
            },
        )
        .await
    }

    /// Applies a JSON object through server-side apply, by its apiVersion/kind.
    pub async fn apply(&self, ns: &str, obj: serde_json::Value) {
        use kube::api::{DynamicObject, Patch, PatchParams};
        use kube::core::{ApiResource, GroupVersionKind};
        let api_version = obj["apiVersion"].as_str().unwrap().to_string();
        let kind = obj["kind"].as_str().unwrap().to_string();
        let name = obj["metadata"]["name"].as_str().unwrap().to_string();
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        let plural = format!("{}s", kind.to_ascii_lowercase());
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &kind), &plural);
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
        api.patch(&name, &PatchParams::apply("e2e").force(), &Patch::Apply(&obj))
            .await
            .unwrap_or_else(|e| panic!("apply {kind} {name}: {e}"));
    }
}

impl std::fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCluster")
            .field("name", &self.state.name)
            .finish()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let state = self.state.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                let _ = rt.block_on(rkind::delete::delete_state(&state));
            }
        })
        .join();
    }
}

/// What a deleted cluster may not leave behind.
pub fn leftovers(state: &State) -> Vec<String> {
    let mut out = Vec::new();
    if state.dir().exists() {
        out.push(format!("dir {}", state.dir().display()));
    }
    let netns = sys::cmd("ip", ["netns", "list"]).unwrap_or_default();
    for ns in &state.netns {
        if netns.lines().any(|l| l.split_whitespace().next() == Some(ns)) {
            out.push(format!("netns {ns}"));
        }
    }
    for link in &state.links {
        if sys::cmd("ip", ["link", "show", link]).is_ok() {
            out.push(format!("link {link}"));
        }
    }
    let routes = sys::cmd("ip", ["-4", "route"]).unwrap_or_default();
    for r in &state.routes {
        if routes
            .lines()
            .any(|l| l.starts_with(r.split_whitespace().next().unwrap_or("-")))
        {
            out.push(format!("route {r}"));
        }
    }
    let marker = state.dir().display().to_string();
    for pid in sys::pids_mentioning(&marker) {
        out.push(format!("process {pid}"));
    }
    for root in &state.cgroup_roots {
        if std::path::Path::new("/sys/fs/cgroup/memory")
            .join(root.trim_start_matches('/'))
            .exists()
        {
            out.push(format!("cgroup {root}"));
        }
    }
    out
}

/// Polls `check` every 200 ms until it gives `Ok`; past `timeout` the test fails with `what` and
/// the last `Err` (the state seen last, so a failure says where things stood).
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}: {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
