//! Command-line flags (upstream's names and defaults) and the validated [`Config`] they become.
//!
//! Tests never parse argv: they build a [`Config`] directly (see [`Config::for_tests`]).

use std::net::IpAddr;
use std::path::PathBuf;

use crate::controllers::{ControllersConfig, Selection, SelectionError};
use rudder_client::ClientError;
use rudder_client::duration::parse_go_duration;
use rudder_client::leader::{LeaderElectionConfig, LeaderElectionFlags};
use rudder_client::ratelimit::RateLimit;

/// kube-controller-manager's `--secure-port` default (upstream `KubeControllerManagerPort`).
pub const DEFAULT_SECURE_PORT: u16 = 10257;

/// `kube-controller-manager` flags. Only the flags Rudder acts on are declared; every name and
/// default is upstream's (`cmd/kube-controller-manager/app/options`).
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "kube-controller-manager",
    version,
    about = "Runs the Kubernetes control loops"
)]
pub struct Options {
    /// Path to a kubeconfig file with authorization and master location information.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// If set, this root certificate authority will be included in service account's token
    /// secret and published as the kube-root-ca.crt ConfigMap in every namespace.
    #[arg(long)]
    pub root_ca_file: Option<PathBuf>,

    /// The IP address on which to listen for the --secure-port port.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,

    /// The port on which to serve HTTPS /healthz and /metrics. 0 disables serving.
    #[arg(long, default_value_t = DEFAULT_SECURE_PORT)]
    pub secure_port: u16,

    #[command(flatten)]
    pub leader_election: LeaderElectionFlags,

    /// QPS to use while talking with kubernetes apiserver (negative: no client-side limit).
    #[arg(long, default_value_t = 20.0, allow_negative_numbers = true)]
    pub kube_api_qps: f32,
    /// Burst to use while talking with kubernetes apiserver.
    #[arg(long, default_value_t = 30)]
    pub kube_api_burst: u32,

    /// Controllers to enable: `*` enables every default-on controller, `foo` enables foo,
    /// `-foo` disables foo. Names and aliases are upstream's (`deployment`, `deployment-controller`).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub controllers: Vec<String>,

    /// CIDR range for pods in the cluster (used when --allocate-node-cidrs is true).
    #[arg(long, default_value = "")]
    pub cluster_cidr: String,
    /// Whether pod CIDRs are allocated and set on nodes.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub allocate_node_cidrs: bool,
    /// Mask size for node CIDRs in the cluster (IPv4).
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// CIDR range for Services in the cluster.
    #[arg(long, default_value = "")]
    pub service_cluster_ip_range: String,

    /// How long a node may go without a heartbeat before it is marked unhealthy.
    #[arg(long, default_value = "40s")]
    pub node_monitor_grace_period: String,
    /// How often node status is checked.
    #[arg(long, default_value = "5s")]
    pub node_monitor_period: String,
    /// How long a starting node may be unresponsive before it is marked unhealthy.
    #[arg(long, default_value = "1m0s")]
    pub node_startup_grace_period: String,
    /// Nodes per second whose pods are evicted when a zone is healthy.
    #[arg(long, default_value_t = 0.1)]
    pub node_eviction_rate: f32,

    /// Number of terminated pods that can exist before the pod GC starts deleting them
    /// (<= 0 disables it).
    #[arg(long, default_value_t = 12500)]
    pub terminated_pod_gc_threshold: i32,

    /// Period for syncing horizontal pod autoscalers.
    #[arg(long, default_value = "15s")]
    pub horizontal_pod_autoscaler_sync_period: String,
    /// Period for syncing quota usage status.
    #[arg(long, default_value = "5m0s")]
    pub resource_quota_sync_period: String,

    /// Concurrent syncs per controller (upstream `--concurrent-*-syncs`).
    #[arg(long, default_value_t = 5)]
    pub concurrent_deployment_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_replicaset_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_rc_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_statefulset_syncs: usize,
    #[arg(long, default_value_t = 2)]
    pub concurrent_daemonset_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_job_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_cron_job_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_endpoint_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_service_endpoint_syncs: usize,
    #[arg(long, default_value_t = 10)]
    pub concurrent_namespace_syncs: usize,
    #[arg(long, default_value_t = 20)]
    pub concurrent_gc_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_resource_quota_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_ttl_after_finished_syncs: usize,
    #[arg(long, default_value_t = 5)]
    pub concurrent_horizontal_pod_autoscaler_syncs: usize,

    /// Filename containing a PEM-encoded X509 CA certificate used to issue cluster-scoped
    /// certificates (the kubernetes.io signers of csrsigning).
    #[arg(long, default_value = "/etc/kubernetes/ca/ca.pem")]
    pub cluster_signing_cert_file: PathBuf,
    /// Filename containing a PEM-encoded private key used to sign cluster-scoped certificates.
    #[arg(long, default_value = "/etc/kubernetes/ca/ca.key")]
    pub cluster_signing_key_file: PathBuf,
    /// The max length of duration signed certificates will be given. Individual CSRs may request
    /// shorter certs by setting spec.expirationSeconds.
    #[arg(long, default_value = "8760h0m0s")]
    pub cluster_signing_duration: String,

    /// If true, use individual service account credentials for each controller.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub use_service_account_credentials: bool,

    /// Log verbosity, as upstream's -v.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
}

/// Why the flags do not make a working configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--{flag}: {source}")]
    Duration {
        flag: &'static str,
        #[source]
        source: ClientError,
    },
    #[error("leader election: {0}")]
    LeaderElection(#[source] ClientError),
    #[error("--controllers: {0}")]
    Controllers(#[from] SelectionError),
    #[error("--allocate-node-cidrs requires --cluster-cidr")]
    MissingClusterCidr,
    #[error("--{flag} must be at least 1")]
    ZeroConcurrency { flag: &'static str },
    #[error("{0}")]
    RateLimit(#[source] ClientError),
}

/// The validated configuration `run` starts from.
#[derive(Debug, Clone)]
pub struct Config {
    pub kubeconfig: Option<PathBuf>,
    pub bind_address: IpAddr,
    /// 0 disables serving.
    pub secure_port: u16,
    /// `None` with `--leader-elect=false`.
    pub leader_election: Option<LeaderElectionConfig>,
    /// `--kube-api-qps`/`--kube-api-burst`; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Which controllers run.
    pub controllers: Selection,
    /// `--use-service-account-credentials`: each controller as `kube-system/<its account>`.
    pub use_service_account_credentials: bool,
    /// Settings the controllers read.
    pub controllers_config: ControllersConfig,
}

impl Options {
    /// Validates the flags.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let dur = |flag: &'static str, value: &str| {
            parse_go_duration(value).map_err(|source| ConfigError::Duration { flag, source })
        };
        if self.allocate_node_cidrs && self.cluster_cidr.trim().is_empty() {
            return Err(ConfigError::MissingClusterCidr);
        }
        let concurrency = [
            ("concurrent-deployment-syncs", self.concurrent_deployment_syncs),
            ("concurrent-replicaset-syncs", self.concurrent_replicaset_syncs),
            ("concurrent-rc-syncs", self.concurrent_rc_syncs),
            ("concurrent-statefulset-syncs", self.concurrent_statefulset_syncs),
            ("concurrent-daemonset-syncs", self.concurrent_daemonset_syncs),
            ("concurrent-job-syncs", self.concurrent_job_syncs),
            ("concurrent-cron-job-syncs", self.concurrent_cron_job_syncs),
            ("concurrent-endpoint-syncs", self.concurrent_endpoint_syncs),
            (
                "concurrent-service-endpoint-syncs",
                self.concurrent_service_endpoint_syncs,
            ),
            ("concurrent-namespace-syncs", self.concurrent_namespace_syncs),
            ("concurrent-gc-syncs", self.concurrent_gc_syncs),
            (
                "concurrent-resource-quota-syncs",
                self.concurrent_resource_quota_syncs,
            ),
            (
                "concurrent-ttl-after-finished-syncs",
                self.concurrent_ttl_after_finished_syncs,
            ),
            (
                "concurrent-horizontal-pod-autoscaler-syncs",
                self.concurrent_horizontal_pod_autoscaler_syncs,
            ),
        ];
        if let Some((flag, _)) = concurrency.iter().find(|(_, n)| *n == 0) {
            return Err(ConfigError::ZeroConcurrency { flag });
        }
        let controllers_config = ControllersConfig {
            cluster_cidr: non_empty(self.cluster_cidr),
            allocate_node_cidrs: self.allocate_node_cidrs,
            node_cidr_mask_size: self.node_cidr_mask_size,
            service_cluster_ip_range: non_empty(self.service_cluster_ip_range),
            node_monitor_grace_period: dur("node-monitor-grace-period", &self.node_monitor_grace_period)?,
            node_monitor_period: dur("node-monitor-period", &self.node_monitor_period)?,
            node_startup_grace_period: dur("node-startup-grace-period", &self.node_startup_grace_period)?,
            node_eviction_rate: self.node_eviction_rate,
            terminated_pod_gc_threshold: self.terminated_pod_gc_threshold,
            pod_gc_period: std::time::Duration::from_secs(20),
            horizontal_pod_autoscaler_sync_period: dur(
                "horizontal-pod-autoscaler-sync-period",
                &self.horizontal_pod_autoscaler_sync_period,
            )?,
            resource_quota_sync_period: dur("resource-quota-sync-period", &self.resource_quota_sync_period)?,
            concurrent_deployment_syncs: self.concurrent_deployment_syncs,
            concurrent_replicaset_syncs: self.concurrent_replicaset_syncs,
            concurrent_rc_syncs: self.concurrent_rc_syncs,
            concurrent_statefulset_syncs: self.concurrent_statefulset_syncs,
            concurrent_daemonset_syncs: self.concurrent_daemonset_syncs,
            concurrent_job_syncs: self.concurrent_job_syncs,
            concurrent_cron_job_syncs: self.concurrent_cron_job_syncs,
            concurrent_endpoint_syncs: self.concurrent_endpoint_syncs,
            concurrent_service_endpoint_syncs: self.concurrent_service_endpoint_syncs,
            concurrent_namespace_syncs: self.concurrent_namespace_syncs,
            concurrent_gc_syncs: self.concurrent_gc_syncs,
            concurrent_resource_quota_syncs: self.concurrent_resource_quota_syncs,
            concurrent_ttl_after_finished_syncs: self.concurrent_ttl_after_finished_syncs,
            concurrent_horizontal_pod_autoscaler_syncs: self.concurrent_horizontal_pod_autoscaler_syncs,
            root_ca_file: self.root_ca_file.clone().filter(|p| !p.as_os_str().is_empty()),
            kubeconfig: self.kubeconfig.clone(),
            cluster_signing_cert_file: Some(self.cluster_signing_cert_file.clone())
                .filter(|p| !p.as_os_str().is_empty()),
            cluster_signing_key_file: Some(self.cluster_signing_key_file.clone())
                .filter(|p| !p.as_os_str().is_empty()),
            cluster_signing_duration: dur("cluster-signing-duration", &self.cluster_signing_duration)?,
            csr_cleaner_period: std::time::Duration::from_secs(3600),
        };
        Ok(Config {
            kubeconfig: self.kubeconfig,
            bind_address: self.bind_address,
            secure_port: self.secure_port,
            leader_election: self
                .leader_election
                .config("kube-controller-manager")
                .map_err(ConfigError::LeaderElection)?,
            rate_limit: RateLimit::new(self.kube_api_qps, self.kube_api_burst)
                .map_err(ConfigError::RateLimit)?,
            controllers: Selection::parse(&self.controllers)?,
            use_service_account_credentials: self.use_service_account_credentials,
            controllers_config,
        })
    }
}

impl Config {
    /// Upstream defaults with only `controllers` running, no leader election, no serving and
    /// no client-side rate limit: what integration tests start in-process.
    pub fn for_tests(controllers: &[&str]) -> Config {
        let names: Vec<String> = controllers.iter().map(|s| (*s).to_string()).collect();
        let options = <Options as clap::Parser>::parse_from(["kube-controller-manager"]);
        let mut config = match options.into_config() {
            Ok(config) => config,
            // The defaults are constants checked by the unit tests below.
            Err(e) => unreachable!("default flags are valid: {e}"),
        };
        config.leader_election = None;
        config.secure_port = 0;
        config.rate_limit = None;
        config.controllers = Selection::parse(&names).unwrap_or_else(|e| panic!("test controllers: {e}"));
        config
    }
}

fn non_empty(s: String) -> Option<String> {
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["kube-controller-manager"];
        argv.extend_from_slice(args);
        Options::try_parse_from(argv).expect("flags parse").into_config()
    }

    #[test]
    fn defaults_are_upstreams() {
        let c = parse(&[]).expect("valid");
        assert_eq!(c.secure_port, 10257);
        let le = c.leader_election.as_ref().expect("leader election on by default");
        assert_eq!(
            (le.namespace.as_str(), le.name.as_str()),
            ("kube-system", "kube-controller-manager")
        );
        assert_eq!(le.lease_duration, Duration::from_secs(15));
        assert_eq!(
            c.controllers_config.node_monitor_grace_period,
            Duration::from_secs(40)
        );
        assert_eq!(c.controllers_config.concurrent_deployment_syncs, 5);
        assert!(c.controllers.is_enabled("deployment"));
        assert_eq!(c.rate_limit, Some(RateLimit { qps: 20.0, burst: 30 }));
    }

    #[test]
    fn kube_api_qps_and_burst() {
        let c = parse(&["--kube-api-qps=100", "--kube-api-burst=200"]).expect("valid");
        assert_eq!(
            c.rate_limit,
            Some(RateLimit {
                qps: 100.0,
                burst: 200
            })
        );
        let c = parse(&["--kube-api-qps=-1"]).expect("valid");
        assert_eq!(c.rate_limit, None);
        assert!(matches!(
            parse(&["--kube-api-qps=0"]),
            Err(ConfigError::RateLimit(_))
        ));
    }

    #[test]
    fn leader_elect_false_and_controllers_list() {
        let c = parse(&[
            "--leader-elect=false",
            "--controllers=*,-deployment",
            "--secure-port=0",
        ])
        .expect("valid");
        assert!(c.leader_election.is_none());
        assert!(!c.controllers.is_enabled("deployment"));
        assert!(!c.controllers.is_enabled("deployment-controller"));
        assert!(c.controllers.is_enabled("replicaset"));
        assert_eq!(c.secure_port, 0);
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(matches!(
            parse(&["--node-monitor-grace-period=forty"]),
            Err(ConfigError::Duration {
                flag: "node-monitor-grace-period",
                ..
            })
        ));
        assert!(matches!(
            parse(&["--allocate-node-cidrs=true"]),
            Err(ConfigError::MissingClusterCidr)
        ));
        assert!(matches!(
            parse(&["--controllers=nosuch"]),
            Err(ConfigError::Controllers(_))
        ));
        assert!(matches!(
            parse(&["--concurrent-gc-syncs=0"]),
            Err(ConfigError::ZeroConcurrency { .. })
        ));
    }

    #[test]
    fn for_tests_runs_only_the_named_controllers() {
        let c = Config::for_tests(&["deployment", "replicaset"]);
        assert!(c.controllers.is_enabled("deployment"));
        assert!(!c.controllers.is_enabled("namespace"));
        assert!(c.leader_election.is_none());
    }
}
