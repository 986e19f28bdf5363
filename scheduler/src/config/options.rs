//! kube-scheduler's command-line flags (upstream names) and the validated [`Config`].

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use rudder_client::leader::{LeaderElectionConfig, LeaderElectionFlags};
use rudder_client::ratelimit::RateLimit;
use rudder_client::serving::ServingFlags;

use super::file::{ConfigFileError, KubeSchedulerConfiguration, ProfileConfig};
use crate::run::{ClusterApi, LEASE_NAME};

/// Upstream's default `--secure-port` of kube-scheduler.
pub const DEFAULT_SECURE_PORT: u16 = 10259;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "kube-scheduler",
    about = "The Kubernetes scheduler: assigns pods to nodes."
)]
pub struct Options {
    /// Path to kubeconfig file with authorization and master location information.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// The path to the configuration file (KubeSchedulerConfiguration).
    #[arg(long)]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub leader_election: LeaderElectionFlags,

    #[command(flatten)]
    pub serving: ServingFlags,

    /// QPS to use while talking with kubernetes apiserver (negative: no client-side limit).
    /// Overrides `clientConnection.qps` of --config.
    #[arg(long, allow_negative_numbers = true)]
    pub kube_api_qps: Option<f32>,

    /// Burst to use while talking with kubernetes apiserver. Overrides
    /// `clientConnection.burst` of --config.
    #[arg(long)]
    pub kube_api_burst: Option<u32>,

    /// Concurrent bindings in flight (Rudder-specific; upstream binds without a limit but is
    /// throttled by --kube-api-qps).
    #[arg(long, default_value_t = 64)]
    pub bind_concurrency: usize,

    /// Log verbosity.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] ConfigFileError),
    #[error(transparent)]
    LeaderElection(#[from] rudder_client::ClientError),
    #[error("{0}")]
    RateLimit(#[source] rudder_client::ClientError),
}

/// Everything `run` needs, validated.
#[derive(Clone)]
pub struct Config {
    pub kubeconfig: Option<PathBuf>,
    /// A ready client (tests); takes precedence over `kubeconfig`.
    pub client: Option<kube::Client>,
    pub leader_election: Option<LeaderElectionConfig>,
    /// `None`: no health/metrics endpoint (in-process tests).
    pub serving: Option<ServingFlags>,
    pub profiles: Vec<ProfileConfig>,
    pub percentage_of_nodes_to_score: Option<u32>,
    pub bind_concurrency: usize,
    /// Client-side rate limit (`--kube-api-qps`/`--kube-api-burst`); `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Replaces the API writer (tests, benchmarks).
    pub api: Option<Arc<dyn ClusterApi>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("kubeconfig", &self.kubeconfig)
            .field("leader_election", &self.leader_election)
            .field(
                "profiles",
                &self.profiles.iter().map(ProfileConfig::name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Config {
    /// A config for an in-process scheduler on `client`: default profile, no leader election,
    /// no serving.
    pub fn for_client(client: kube::Client) -> Config {
        Config {
            kubeconfig: None,
            client: Some(client),
            leader_election: None,
            serving: None,
            profiles: vec![ProfileConfig::default()],
            percentage_of_nodes_to_score: None,
            bind_concurrency: 64,
            rate_limit: None,
            api: None,
        }
    }
}

impl Options {
    /// Flags plus the `--config` file (whose leaderElection/kubeconfig the flags override
    /// only where given explicitly upstream; here the file fills what flags left default).
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(path) => KubeSchedulerConfiguration::load(path)?,
            None => KubeSchedulerConfiguration::default(),
        };
        let mut le_flags = self.leader_election.clone();
        if let Some(false) = file.leader_election.leader_elect {
            le_flags.leader_elect = false;
        }
        if le_flags.resource_name.is_none() {
            le_flags.resource_name = file.leader_election.resource_name.clone();
        }
        if let Some(ns) = file.leader_election.resource_namespace.clone() {
            le_flags.resource_namespace = ns;
        }
        let leader_election = le_flags.config(LEASE_NAME)?;
        let kubeconfig = self.kubeconfig.clone().or_else(|| {
            file.client_connection
                .kubeconfig
                .clone()
                .filter(|k| !k.is_empty())
                .map(PathBuf::from)
        });
        let rate_limit = RateLimit::new(
            self.kube_api_qps.unwrap_or(file.client_connection.qps),
            self.kube_api_burst.unwrap_or(file.client_connection.burst),
        )
        .map_err(ConfigError::RateLimit)?;
        Ok(Config {
            kubeconfig,
            client: None,
            leader_election,
            serving: Some(self.serving.clone()),
            profiles: file.effective_profiles(),
            percentage_of_nodes_to_score: file.percentage_of_nodes_to_score,
            bind_concurrency: self.bind_concurrency,
            rate_limit,
            api: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_with_upstream_names() {
        let o = Options::try_parse_from([
            "kube-scheduler",
            "--kubeconfig=/etc/k.conf",
            "--leader-elect=false",
            "--secure-port=0",
            "--bind-address=127.0.0.1",
        ])
        .expect("parse");
        let c = o.into_config().expect("config");
        assert!(c.leader_election.is_none());
        assert_eq!(c.kubeconfig.as_deref(), Some(std::path::Path::new("/etc/k.conf")));
        assert_eq!(c.profiles.len(), 1);
        assert_eq!(c.profiles[0].name(), "default-scheduler");

        let o =
            Options::try_parse_from(["kube-scheduler", "--leader-elect-lease-duration=20s"]).expect("parse");
        let le = o
            .into_config()
            .expect("config")
            .leader_election
            .expect("elect by default");
        assert_eq!(le.name, "kube-scheduler");
        assert_eq!(le.namespace, "kube-system");
        assert_eq!(le.lease_duration, std::time::Duration::from_secs(20));
    }

    fn rate_limit(args: &[&str]) -> Result<Option<RateLimit>, ConfigError> {
        let mut argv = vec!["kube-scheduler"];
        argv.extend_from_slice(args);
        Ok(Options::try_parse_from(argv)
            .expect("parse")
            .into_config()?
            .rate_limit)
    }

    #[test]
    fn kube_api_qps_and_burst() {
        // Upstream's clientConnection defaults.
        assert_eq!(
            rate_limit(&[]).expect("valid"),
            Some(RateLimit {
                qps: 50.0,
                burst: 100
            })
        );
        assert_eq!(
            rate_limit(&["--kube-api-qps=500", "--kube-api-burst=1000"]).expect("valid"),
            Some(RateLimit {
                qps: 500.0,
                burst: 1000
            })
        );
        assert_eq!(rate_limit(&["--kube-api-qps=-1"]).expect("valid"), None);
        assert!(rate_limit(&["--kube-api-burst=0"]).is_err());

        // From --config, flags winning.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.yaml");
        std::fs::write(
            &path,
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConnection:\n  qps: 7\n  burst: 9\n",
        )
        .expect("write config");
        let config = format!("--config={}", path.display());
        assert_eq!(
            rate_limit(&[&config]).expect("valid"),
            Some(RateLimit { qps: 7.0, burst: 9 })
        );
        assert_eq!(
            rate_limit(&[&config, "--kube-api-burst=20"]).expect("valid"),
            Some(RateLimit { qps: 7.0, burst: 20 })
        );
    }
}
