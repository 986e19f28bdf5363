//! The validated configuration `run` takes. Built from flags and the KubeletConfiguration file
//! by `options`, or directly by tests.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Taint;

use crate::node::machine::Amounts;

/// Which container runtime the kubelet drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// CRI over gRPC at this endpoint (`unix:///run/containerd/containerd.sock`).
    Remote { endpoint: String },
    /// The in-memory fake: pods go Running without containers (scale tests only).
    Simulated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupDriver {
    Cgroupfs,
    Systemd,
}

/// The CNI conflist the kubelet writes for its pod CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniConfig {
    /// The runtime's CNI config dir.
    pub conf_dir: PathBuf,
    pub bridge: String,
    /// host-local IPAM state dir (None: the plugin's default).
    pub ipam_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// None: $KUBECONFIG, ~/.kube/config, in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// --bootstrap-kubeconfig: credentials to obtain a client certificate with when
    /// `kubeconfig` holds no valid one (TLS bootstrap).
    pub bootstrap_kubeconfig: Option<PathBuf>,
    /// --cert-dir (None: `<root_dir>/pki`).
    pub cert_dir: Option<PathBuf>,
    pub node_name: String,
    pub root_dir: PathBuf,
    /// Where container logs go (`<dir>/<ns>_<pod>_<uid>/<container>/<n>.log`).
    pub pod_logs_dir: PathBuf,
    pub node_ip: Option<IpAddr>,
    /// Address the kubelet server listens on (--address, 0.0.0.0).
    pub address: IpAddr,
    /// Its port (--port, 10250); 0 disables the server.
    pub port: u16,
    pub cgroup_driver: CgroupDriver,
    /// Parent of the kubepods cgroup tree ("/" by default).
    pub cgroup_root: String,
    pub fail_swap_on: bool,
    pub cluster_dns: Vec<IpAddr>,
    pub cluster_domain: String,
    /// The resolver config Default-policy pods get and ClusterFirst pods extend their search
    /// with (--resolv-conf); None for `--resolv-conf=""`.
    pub resolv_conf: Option<PathBuf>,
    pub runtime: Runtime,
    pub pod_manifest_path: Option<PathBuf>,
    pub register_with_taints: Vec<Taint>,
    pub node_labels: std::collections::BTreeMap<String, String>,
    /// --pod-cidr; otherwise node.spec.podCIDR once allocated.
    pub pod_cidr: Option<String>,
    pub kube_reserved: Amounts,
    pub system_reserved: Amounts,
    pub max_pods: i64,
    /// Hard eviction thresholds (--eviction-hard / evictionHard).
    pub eviction_hard: crate::eviction::Thresholds,
    /// How often the eviction manager looks at the signals (upstream 10 s).
    pub eviction_monitoring_period: Duration,
    pub cni: CniConfig,
    /// How often node status is computed (upstream nodeStatusUpdateFrequency, 10 s).
    pub node_status_update_frequency: Duration,
    /// Node status is written when it changed, or at least this often (5 min).
    pub node_status_report_frequency: Duration,
    /// Lease duration (40 s); renewed every quarter of it.
    pub node_lease_duration_seconds: i32,
    /// Crash-loop back-off: first delay and cap (10 s doubling to 5 min).
    pub crash_loop_backoff_initial: Duration,
    pub crash_loop_backoff_max: Duration,
    /// How often a running pod is re-synced without events (configMap/secret volume refresh, a
    /// fresh look at its containers). Runtime changes wake a pod's worker sooner through the
    /// relist.
    pub pod_resync_period: Duration,
    /// Sandbox and container creations in flight at once (Rudder; 0: twice the CPUs). On a
    /// burst, an unbounded number shares the runtime's CPU so every pod finishes late; a bound
    /// lets the first ones finish first.
    pub max_parallel_starts: usize,
    /// How often all sandboxes and containers are relisted to find pods whose runtime state
    /// changed (upstream's PLEG relist period, 1 s).
    pub pleg_relist_period: Duration,
    /// Dead-container collection (upstream's fixed policy: min age 0, one dead instance per
    /// container, no node-wide limit) and how often it runs (upstream ContainerGCPeriod, 1 min).
    pub container_gc: crate::gc::containers::Policy,
    pub container_gc_period: Duration,
    /// imageGCHighThresholdPercent / imageGCLowThresholdPercent / imageMinimumGCAge, and how
    /// often image collection runs (upstream ImageGCPeriod, 5 min).
    pub image_gc: crate::gc::images::Policy,
    pub image_gc_period: Duration,
    /// Who may call the kubelet's API on `port` (KubeletConfiguration `authentication` and
    /// `authorization`).
    pub server_auth: ServerAuth,
}

impl Config {
    /// `max_parallel_starts`, with 0 resolved to twice the CPUs (at least 2).
    pub fn parallel_starts(&self) -> usize {
        match self.max_parallel_starts {
            0 => std::thread::available_parallelism()
                .map_or(2, |n| n.get() * 2)
                .max(2),
            n => n,
        }
    }

    /// Where TLS bootstrap keeps the client key and certificate.
    pub fn cert_dir(&self) -> PathBuf {
        self.cert_dir.clone().unwrap_or_else(|| self.root_dir.join("pki"))
    }

    /// Upstream's defaults for a node called `node_name`.
    pub fn new(node_name: &str) -> Config {
        Config {
            kubeconfig: None,
            bootstrap_kubeconfig: None,
            cert_dir: None,
            node_name: node_name.into(),
            root_dir: "/var/lib/kubelet".into(),
            pod_logs_dir: "/var/log/pods".into(),
            node_ip: None,
            address: IpAddr::from([0, 0, 0, 0]),
            port: 10250,
            cgroup_driver: CgroupDriver::Cgroupfs,
            cgroup_root: "/".into(),
            fail_swap_on: true,
            cluster_dns: vec![],
            cluster_domain: "cluster.local".into(),
            resolv_conf: Some("/etc/resolv.conf".into()),
            runtime: Runtime::Remote {
                endpoint: "unix:///run/containerd/containerd.sock".into(),
            },
            pod_manifest_path: None,
            register_with_taints: vec![],
            node_labels: Default::default(),
            pod_cidr: None,
            kube_reserved: Amounts::new(),
            system_reserved: Amounts::new(),
            max_pods: 110,
            eviction_hard: Default::default(),
            eviction_monitoring_period: Duration::from_secs(10),
            cni: CniConfig {
                conf_dir: "/etc/cni/net.d".into(),
                bridge: "cni0".into(),
                ipam_dir: None,
            },
            node_status_update_frequency: Duration::from_secs(10),
            node_status_report_frequency: Duration::from_secs(300),
            node_lease_duration_seconds: 40,
            crash_loop_backoff_initial: Duration::from_secs(10),
            crash_loop_backoff_max: Duration::from_secs(300),
            pod_resync_period: Duration::from_secs(10),
            pleg_relist_period: Duration::from_secs(1),
            container_gc: Default::default(),
            container_gc_period: Duration::from_secs(60),
            image_gc: Default::default(),
            image_gc_period: Duration::from_secs(300),
            max_parallel_starts: 0,
            server_auth: ServerAuth::default(),
        }
    }
}

/// How the kubelet's API authenticates and authorizes its callers (upstream's
/// `pkg/kubelet/apis/config` `KubeletAuthentication` and `KubeletAuthorization`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAuth {
    /// x509 client certificates chaining to this bundle authenticate as CN in groups O
    /// (`--client-ca-file`, `authentication.x509.clientCAFile`).
    pub client_ca_file: Option<PathBuf>,
    /// Requests without credentials run as `system:anonymous` (`--anonymous-auth`). Rudder's
    /// default is false, as the CIS benchmark asks; upstream's flag default is true.
    pub anonymous: bool,
    /// Bearer tokens are checked with the apiserver's TokenReview
    /// (`--authentication-token-webhook`, `authentication.webhook.enabled`).
    pub token_webhook: bool,
    /// How long a TokenReview answer is kept, either way (`authentication.webhook.cacheTTL`).
    pub token_webhook_cache_ttl: Duration,
    pub authorization_mode: AuthorizationMode,
    /// How long an allowing SubjectAccessReview answer is kept
    /// (`authorization.webhook.cacheAuthorizedTTL`).
    pub authorized_cache_ttl: Duration,
    /// How long a denying one is kept (`authorization.webhook.cacheUnauthorizedTTL`).
    pub unauthorized_cache_ttl: Duration,
}

impl Default for ServerAuth {
    /// The KubeletConfiguration v1beta1 defaults: no client CA, anonymous off, token webhook on
    /// (2 min), Webhook authorization (5 min allowed, 30 s denied).
    fn default() -> Self {
        ServerAuth {
            client_ca_file: None,
            anonymous: false,
            token_webhook: true,
            token_webhook_cache_ttl: Duration::from_secs(120),
            authorization_mode: AuthorizationMode::Webhook,
            authorized_cache_ttl: Duration::from_secs(300),
            unauthorized_cache_ttl: Duration::from_secs(30),
        }
    }
}

/// `--authorization-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationMode {
    /// Every authenticated request is allowed.
    AlwaysAllow,
    /// A SubjectAccessReview per request (cached) decides.
    Webhook,
}
