//! One node for a test: an in-process apiserver, a private containerd, and the kubelet
//! running in-process against both.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_kubelet::config::{CniConfig, Config, Runtime};
use rudder_testkit::{TestApiServer, eventually};

use super::containerd::TestContainerd;

pub const NODE: &str = "node-1";

/// A port free right now on 127.0.0.1 (for the kubelet server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct TestNode {
    pub server: TestApiServer,
    pub config: Config,
    trigger: ShutdownTrigger,
    task: Option<tokio::task::JoinHandle<()>>,
    // Dropped last: containerd is stopped and cleaned after the kubelet is gone.
    pub ctd: TestContainerd,
}

impl TestNode {
    /// None (after a loud message) where containerd tests cannot run.
    pub async fn start() -> Option<TestNode> {
        Self::start_with(|_| {}).await
    }

    /// Like `start`, with the kubelet's config adjusted first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Option<TestNode> {
        let ctd = TestContainerd::start().await?;
        let server = TestApiServer::start().await;
        let mut config = Config::new(NODE);
        config.kubeconfig = Some(server.kubeconfig.clone());
        config.root_dir = ctd.dir.path().join("kubelet");
        config.pod_logs_dir = ctd.dir.path().join("pod-logs");
        config.node_ip = Some([127, 0, 0, 1].into());
        config.runtime = Runtime::Remote {
            endpoint: ctd.endpoint(),
        };
        config.cgroup_root = ctd.cgroup_root.clone();
        config.pod_cidr = Some(ctd.pod_cidr.clone());
        config.fail_swap_on = false;
        config.address = [127, 0, 0, 1].into();
        config.port = free_port();
        // The apiserver presents its kubelet client certificate, signed by its CA.
        config.server_auth.client_ca_file = Some(server.cert_dir().join("ca.crt"));
        config.cni = CniConfig {
            conf_dir: ctd.cni_conf_dir.clone(),
            bridge: ctd.bridge.clone(),
            ipam_dir: Some(ctd.ipam_dir.clone()),
        };
        config.node_status_update_frequency = Duration::from_secs(1);
        config.crash_loop_backoff_initial = Duration::from_secs(1);
        config.crash_loop_backoff_max = Duration::from_secs(8);
        config.pod_resync_period = Duration::from_secs(1);
        // As kind does: a shared build machine's disk may well be over 90% full, and the tests
        // are not about disk pressure (eviction tests set their own thresholds).
        config.eviction_hard.nodefs_available = rudder_kubelet::eviction::Threshold::Percent(0.0);
        adjust(&mut config);
        let (trigger, shutdown) = Shutdown::new();
        let task = tokio::spawn({
            let config = config.clone();
            let client = server.client.clone();
            async move {
                if let Err(e) = rudder_kubelet::run::run_with_client(config, client, shutdown).await {
                    panic!("kubelet: {e}");
                }
            }
        });
        Some(TestNode {
            server,
            config,
            trigger,
            task: Some(task),
            ctd,
        })
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.server.client.clone(), "default")
    }

    pub async fn create(&self, pod: serde_json::Value) -> Pod {
        let mut pod: Pod = serde_json::from_value(pod).expect("pod json");
        pod.spec.as_mut().expect("spec").node_name = Some(NODE.into());
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("create pod")
    }

    pub async fn get(&self, name: &str) -> Pod {
        self.pods().get(name).await.expect("get pod")
    }

    /// Waits until `check` holds for the pod, with the pod's status in the failure message.
    pub async fn wait_pod(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Pod) -> bool,
    ) -> Pod {
        let api = self.pods();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pod = api.get_opt(name).await.expect("get pod");
            if let Some(pod) = &pod
                && check(pod)
            {
                return pod.clone();
            }
            if tokio::time::Instant::now() > deadline {
                let pod = pod.unwrap_or_default();
                panic!(
                    "timed out waiting for {what}: status {}\ncontainerd log:\n{}",
                    serde_json::to_string_pretty(&pod.status).unwrap_or_default(),
                    self.ctd.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Deletes every pod and waits until the kubelet removed them and everything of them.
    pub async fn delete_all_and_check_clean(&self) {
        let api = self.pods();
        let list = api.list(&Default::default()).await.expect("list pods");
        for p in list.items {
            let _ = api
                .delete(p.metadata.name.as_deref().unwrap_or(""), &Default::default())
                .await;
        }
        eventually(
            "all pods removed by the kubelet",
            Duration::from_secs(60),
            || async {
                api.list(&Default::default())
                    .await
                    .ok()
                    .filter(|l| l.items.is_empty())
                    .map(|_| ())
            },
        )
        .await;
        let mut left = (usize::MAX, usize::MAX);
        for _ in 0..100 {
            left = self.ctd.leftovers().await;
            if left == (0, 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(left, (0, 0), "sandboxes and containers left in containerd");
        let pods_dir = self.config.root_dir.join("pods");
        let dirs: Vec<_> = std::fs::read_dir(&pods_dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(dirs.is_empty(), "pod dirs left: {dirs:?}");
        let logs: Vec<_> = std::fs::read_dir(&self.config.pod_logs_dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(logs.is_empty(), "pod log dirs left: {logs:?}");
        let cg = std::path::Path::new("/sys/fs/cgroup/memory")
            .join(self.ctd.cgroup_root.trim_start_matches('/'))
            .join("kubepods/besteffort");
        let cgs: Vec<_> = std::fs::read_dir(&cg)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        assert!(cgs.is_empty(), "pod cgroups left: {cgs:?}");
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.trigger.trigger();
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
