//! What every controller is started with.

use std::sync::Arc;
use std::time::Duration;

use rudder_client::informer::InformerFactory;
use rudder_component::shutdown::Shutdown;

use super::util::events::Recorder;

/// Settings controllers read, from the validated flags (upstream `KubeControllerManagerConfiguration`).
#[derive(Debug, Clone)]
pub struct ControllersConfig {
    /// `--cluster-cidr` (None when empty).
    pub cluster_cidr: Option<String>,
    /// `--allocate-node-cidrs`.
    pub allocate_node_cidrs: bool,
    /// `--node-cidr-mask-size`.
    pub node_cidr_mask_size: u8,
    /// `--service-cluster-ip-range` (None when empty).
    pub service_cluster_ip_range: Option<String>,
    /// `--node-monitor-grace-period`.
    pub node_monitor_grace_period: Duration,
    /// `--node-monitor-period`.
    pub node_monitor_period: Duration,
    /// `--node-startup-grace-period`.
    pub node_startup_grace_period: Duration,
    /// `--node-eviction-rate` (nodes per second).
    pub node_eviction_rate: f32,
    /// `--terminated-pod-gc-threshold` (<= 0 disables terminated-pod collection).
    pub terminated_pod_gc_threshold: i32,
    /// How often the pod GC runs (upstream's constant `gcCheckPeriod`, 20 s; not a flag).
    pub pod_gc_period: Duration,
    /// `--horizontal-pod-autoscaler-sync-period`.
    pub horizontal_pod_autoscaler_sync_period: Duration,
    /// `--resource-quota-sync-period`.
    pub resource_quota_sync_period: Duration,
    /// Workers per controller (`--concurrent-*-syncs`).
    pub concurrent_deployment_syncs: usize,
    pub concurrent_replicaset_syncs: usize,
    pub concurrent_rc_syncs: usize,
    pub concurrent_statefulset_syncs: usize,
    pub concurrent_daemonset_syncs: usize,
    pub concurrent_job_syncs: usize,
    pub concurrent_cron_job_syncs: usize,
    pub concurrent_endpoint_syncs: usize,
    pub concurrent_service_endpoint_syncs: usize,
    pub concurrent_namespace_syncs: usize,
    pub concurrent_gc_syncs: usize,
    pub concurrent_resource_quota_syncs: usize,
    pub concurrent_ttl_after_finished_syncs: usize,
    pub concurrent_horizontal_pod_autoscaler_syncs: usize,
    /// `--root-ca-file`: the CA bundle root-ca-cert-publisher publishes (None: the CA of the
    /// kubeconfig below).
    pub root_ca_file: Option<std::path::PathBuf>,
    /// `--cluster-signing-cert-file` and `--cluster-signing-key-file`: the CA csrsigning signs
    /// with (None when empty).
    pub cluster_signing_cert_file: Option<std::path::PathBuf>,
    pub cluster_signing_key_file: Option<std::path::PathBuf>,
    /// `--cluster-signing-duration`: the longest certificate csrsigning issues.
    pub cluster_signing_duration: Duration,
    /// How often csrcleaner looks (upstream's constant `pollingInterval`, 1 h; not a flag).
    pub csr_cleaner_period: Duration,
    /// `--kubeconfig`, for the CA fallback (None: $KUBECONFIG, ~/.kube/config, in-cluster).
    pub kubeconfig: Option<std::path::PathBuf>,
}

/// Handed to every controller's `start`. Cheap to clone.
#[derive(Clone)]
pub struct ControllerContext {
    /// Authenticated client to the apiserver.
    pub client: kube::Client,
    /// The process's shared informers: ask for `informers.informer::<K>()`, never list+watch
    /// yourself. Started by `run` after every controller has asked for its informers.
    pub informers: InformerFactory,
    /// Controller settings.
    pub config: Arc<ControllersConfig>,
    /// Fires when the process stops or leadership is lost; `start` returns soon after.
    pub shutdown: Shutdown,
}

impl std::fmt::Debug for ControllerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerContext")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ControllerContext {
    /// An event recorder for `component` (upstream's controller name, e.g. `deployment-controller`).
    pub fn recorder(&self, component: &str) -> Recorder {
        Recorder::new(self.client.clone(), component)
    }
}
