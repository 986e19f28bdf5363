//! Flags (upstream names) and `--config` (KubeProxyConfiguration YAML) → validated [`Config`].
//! Values from the file are the base; flags given on the command line override them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rudder_client::duration::parse_go_duration;
use serde::Deserialize;

use crate::backend::ProxyMode;
use crate::exec::{CommandExecutor, Executor};
use crate::model::Cidr;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "kube-proxy",
    about = "The Kubernetes network proxy runs on each node."
)]
pub struct Options {
    /// Path to kubeconfig file with authorization information.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The path to the configuration file (KubeProxyConfiguration).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// If non-empty, will be used as the name of the Node that kube-proxy is running on.
    #[arg(long = "hostname-override")]
    pub hostname_override: Option<String>,
    /// Which proxy mode to use: 'iptables' (default) or 'nftables'.
    #[arg(long = "proxy-mode")]
    pub proxy_mode: Option<String>,
    /// The CIDR range of the pods in the cluster; traffic to services from outside it is masqueraded.
    #[arg(long = "cluster-cidr")]
    pub cluster_cidr: Option<String>,
    /// SNAT all traffic sent via Service cluster IPs.
    #[arg(long = "masquerade-all", num_args = 0..=1, default_missing_value = "true")]
    pub masquerade_all: Option<bool>,
    /// The minimum period between proxy rule resyncs (e.g. '5s', '1m').
    #[arg(long = "iptables-min-sync-period")]
    pub min_sync_period: Option<String>,
    /// An interval (e.g. '5s', '1m') at which proxy rules are refreshed.
    #[arg(long = "iptables-sync-period")]
    pub sync_period: Option<String>,
    /// ip:port for the health check server; empty to disable.
    #[arg(long = "healthz-bind-address")]
    pub healthz_bind_address: Option<String>,
    /// ip:port for the metrics server; empty to disable.
    #[arg(long = "metrics-bind-address")]
    pub metrics_bind_address: Option<String>,
    /// Log verbosity.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
}

/// The validated configuration `run` takes.
#[derive(Clone, Debug)]
pub struct Config {
    pub kubeconfig: Option<PathBuf>,
    pub node_name: String,
    pub mode: ProxyMode,
    pub cluster_cidr: Option<Cidr>,
    pub masquerade_all: bool,
    pub min_sync_period: Duration,
    pub sync_period: Duration,
    pub healthz_bind_address: Option<SocketAddr>,
    pub metrics_bind_address: Option<SocketAddr>,
    /// Where iptables/nft/conntrack run (the host by default; a netns in tests).
    pub executor: Arc<dyn Executor>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("decoding KubeProxyConfiguration: {0}")]
    Decode(String),
    #[error("invalid {field}: {message}")]
    Invalid { field: &'static str, message: String },
}

/// The subset of `kubeproxy.config.k8s.io/v1alpha1` KubeProxyConfiguration we honour.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeProxyConfiguration {
    pub kind: Option<String>,
    #[serde(default)]
    pub client_connection: ClientConnection,
    pub hostname_override: Option<String>,
    pub mode: Option<String>,
    #[serde(rename = "clusterCIDR")]
    pub cluster_cidr: Option<String>,
    pub healthz_bind_address: Option<String>,
    pub metrics_bind_address: Option<String>,
    /// Newer top-level sync periods (v1alpha1 since 1.31); `iptables.*` is the older place.
    pub sync_period: Option<String>,
    pub min_sync_period: Option<String>,
    #[serde(default)]
    pub iptables: IptablesConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientConnection {
    pub kubeconfig: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IptablesConfig {
    pub masquerade_all: Option<bool>,
    pub sync_period: Option<String>,
    pub min_sync_period: Option<String>,
}

impl KubeProxyConfiguration {
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let cfg: Self = serde_saphyr::from_str(text).map_err(|e| ConfigError::Decode(e.to_string()))?;
        if let Some(kind) = cfg.kind.as_deref()
            && kind != "KubeProxyConfiguration"
        {
            return Err(ConfigError::Decode(format!("unexpected kind {kind:?}")));
        }
        Ok(cfg)
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        message: message.into(),
    }
}

fn duration(field: &'static str, s: &str) -> Result<Duration, ConfigError> {
    parse_go_duration(s).map_err(|e| invalid(field, e.to_string()))
}

fn bind(field: &'static str, s: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| invalid(field, format!("{s:?} is not ip:port")))
}

/// This machine's hostname, lower-cased as upstream's `GetHostname` does.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_lowercase())
        .unwrap_or_default()
}

impl Options {
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                KubeProxyConfiguration::parse(&text)?
            }
            None => KubeProxyConfiguration::default(),
        };
        let kubeconfig = self.kubeconfig.or(file
            .client_connection
            .kubeconfig
            .filter(|k| !k.is_empty())
            .map(PathBuf::from));
        let node_name = self
            .hostname_override
            .or(file.hostname_override)
            .filter(|h| !h.trim().is_empty())
            .map(|h| h.trim().to_lowercase())
            .unwrap_or_else(hostname);
        if node_name.is_empty() {
            return Err(invalid("hostname-override", "cannot determine the node name"));
        }
        let mode: ProxyMode = self
            .proxy_mode
            .or(file.mode)
            .unwrap_or_default()
            .parse()
            .map_err(|e: String| invalid("proxy-mode", e))?;
        let cluster_cidr = match self.cluster_cidr.or(file.cluster_cidr).filter(|c| !c.is_empty()) {
            // Dual-stack lists: this proxier programs IPv4 only, so take the IPv4 entry.
            Some(list) => Some(
                list.split(',')
                    .find_map(|c| c.parse::<Cidr>().ok())
                    .ok_or_else(|| invalid("cluster-cidr", format!("no IPv4 CIDR in {list:?}")))?,
            ),
            None => None,
        };
        let masquerade_all = self
            .masquerade_all
            .or(file.iptables.masquerade_all)
            .unwrap_or(false);
        let min_sync_period = duration(
            "iptables-min-sync-period",
            &self
                .min_sync_period
                .or(file.min_sync_period)
                .or(file.iptables.min_sync_period)
                .unwrap_or_else(|| "1s".into()),
        )?;
        let sync_period = duration(
            "iptables-sync-period",
            &self
                .sync_period
                .or(file.sync_period)
                .or(file.iptables.sync_period)
                .unwrap_or_else(|| "30s".into()),
        )?;
        if sync_period.is_zero() {
            return Err(invalid("iptables-sync-period", "must be greater than 0"));
        }
        if min_sync_period > sync_period {
            return Err(invalid(
                "iptables-min-sync-period",
                "must not exceed --iptables-sync-period",
            ));
        }
        let healthz_bind_address = bind(
            "healthz-bind-address",
            &self
                .healthz_bind_address
                .or(file.healthz_bind_address)
                .unwrap_or_else(|| "0.0.0.0:10256".into()),
        )?;
        let metrics_bind_address = bind(
            "metrics-bind-address",
            &self
                .metrics_bind_address
                .or(file.metrics_bind_address)
                .unwrap_or_else(|| "127.0.0.1:10249".into()),
        )?;
        Ok(Config {
            kubeconfig,
            node_name,
            mode,
            cluster_cidr,
            masquerade_all,
            min_sync_period,
            sync_period,
            healthz_bind_address,
            metrics_bind_address,
            executor: Arc::new(CommandExecutor::host()),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut all = vec!["kube-proxy", "--hostname-override=Node-1"];
        all.extend(args);
        Options::try_parse_from(all).expect("flags parse").into_config()
    }

    #[test]
    fn defaults_are_upstreams() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.node_name, "node-1");
        assert_eq!(c.mode, ProxyMode::Iptables);
        assert_eq!(c.min_sync_period, Duration::from_secs(1));
        assert_eq!(c.sync_period, Duration::from_secs(30));
        assert_eq!(c.healthz_bind_address, Some("0.0.0.0:10256".parse().unwrap()));
        assert_eq!(c.metrics_bind_address, Some("127.0.0.1:10249".parse().unwrap()));
        assert!(!c.masquerade_all);
        assert!(c.cluster_cidr.is_none());
    }

    #[test]
    fn flags_and_errors() {
        let c = parse(&[
            "--proxy-mode=nftables",
            "--masquerade-all",
            "--cluster-cidr=10.244.0.0/16,fd00::/48",
            "--iptables-min-sync-period=0s",
            "--iptables-sync-period=1m",
            "--metrics-bind-address=",
        ])
        .unwrap();
        assert_eq!(c.mode, ProxyMode::Nftables);
        assert!(c.masquerade_all);
        assert_eq!(c.cluster_cidr.unwrap().to_string(), "10.244.0.0/16");
        assert_eq!(c.sync_period, Duration::from_secs(60));
        assert_eq!(c.metrics_bind_address, None);
        for bad in [
            &["--proxy-mode=ipvs"][..],
            &["--cluster-cidr=nope"],
            &["--iptables-sync-period=5x"],
            &["--iptables-min-sync-period=1m", "--iptables-sync-period=30s"],
            &["--healthz-bind-address=10256"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn config_file_with_flag_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kp.yaml");
        std::fs::write(&path, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\nclusterCIDR: 10.100.0.0/16\nclientConnection:\n  kubeconfig: /etc/kp.conf\niptables:\n  masqueradeAll: true\n  syncPeriod: 10s\n  minSyncPeriod: 2s\nhealthzBindAddress: 127.0.0.1:12345\n").unwrap();
        let c = parse(&[
            &format!("--config={}", path.display()),
            "--iptables-sync-period=20s",
        ])
        .unwrap();
        assert_eq!(c.mode, ProxyMode::Nftables);
        assert_eq!(c.cluster_cidr.unwrap().to_string(), "10.100.0.0/16");
        assert_eq!(c.kubeconfig, Some(PathBuf::from("/etc/kp.conf")));
        assert!(c.masquerade_all);
        assert_eq!(c.sync_period, Duration::from_secs(20), "flag wins");
        assert_eq!(c.min_sync_period, Duration::from_secs(2));
        assert_eq!(c.healthz_bind_address, Some("127.0.0.1:12345".parse().unwrap()));
        std::fs::write(&path, "kind: KubeletConfiguration\n").unwrap();
        assert!(parse(&[&format!("--config={}", path.display())]).is_err());
    }
}
