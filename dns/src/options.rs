//! Command-line flags (CoreDNS's kubernetes-plugin settings as flags) → a validated [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::resolv;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "rudder-dns",
    about = "Cluster DNS: serves the cluster domain from Services and EndpointSlices, forwards the rest."
)]
pub struct Options {
    /// Path to a kubeconfig; without it $KUBECONFIG, ~/.kube/config, then in-cluster.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Address for DNS over UDP and TCP (port 0: any free port, the same for both).
    #[arg(long, default_value = "0.0.0.0:53")]
    pub listen: SocketAddr,
    /// The cluster domain served authoritatively.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Upstream resolvers (`IP` or `IP:port`, repeatable or comma-separated); default: the
    /// nameservers of /etc/resolv.conf.
    #[arg(long, value_delimiter = ',')]
    pub upstream: Vec<String>,
    /// TTL of answers from the cluster domain, in seconds.
    #[arg(long, default_value_t = 30)]
    pub ttl: u32,
    /// Port of `/health` (CoreDNS's `health` plugin), on the --listen IP.
    #[arg(long, default_value_t = 8080)]
    pub health_port: u16,
    /// Port of `/ready` (CoreDNS's `ready` plugin): 200 once the informers have synced.
    #[arg(long, default_value_t = 8181)]
    pub ready_port: u16,
    /// Port of `/metrics` (CoreDNS's `prometheus` plugin).
    #[arg(long, default_value_t = 9153)]
    pub metrics_port: u16,
    /// Log verbosity (like klog's -v).
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub kubeconfig: Option<PathBuf>,
    pub listen: SocketAddr,
    /// Lower-case, no trailing dot.
    pub cluster_domain: String,
    pub upstreams: Vec<SocketAddr>,
    pub ttl: u32,
    pub health_port: u16,
    pub ready_port: u16,
    pub metrics_port: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--cluster-domain {0:?} is not a domain name")]
    ClusterDomain(String),
    #[error("--upstream {0:?} is not an IP or IP:port")]
    Upstream(String),
    #[error("no --upstream given and /etc/resolv.conf has no usable nameserver")]
    NoUpstreams,
}

impl Options {
    /// Validate; `resolv_conf` is the text of /etc/resolv.conf (read by the caller) used when no
    /// `--upstream` is given.
    pub fn into_config(self, resolv_conf: Option<&str>) -> Result<Config, ConfigError> {
        let domain = self.cluster_domain.trim_end_matches('.').to_ascii_lowercase();
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if domain.is_empty() || domain.len() > 253 || !domain.split('.').all(valid_label) {
            return Err(ConfigError::ClusterDomain(self.cluster_domain));
        }
        let upstreams = if self.upstream.is_empty() {
            let found = resolv::nameservers(resolv_conf.unwrap_or_default());
            if found.is_empty() {
                return Err(ConfigError::NoUpstreams);
            }
            found
        } else {
            self.upstream
                .iter()
                .map(|u| resolv::parse_upstream(u.trim()).ok_or_else(|| ConfigError::Upstream(u.clone())))
                .collect::<Result<_, _>>()?
        };
        Ok(Config {
            kubeconfig: self.kubeconfig,
            listen: self.listen,
            cluster_domain: domain,
            upstreams,
            ttl: self.ttl,
            health_port: self.health_port,
            ready_port: self.ready_port,
            metrics_port: self.metrics_port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("rudder-dns").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_follow_coredns() {
        let c = parse(&[]).into_config(Some("nameserver 10.1.1.1\n")).unwrap();
        assert_eq!(c.listen, "0.0.0.0:53".parse().unwrap());
        assert_eq!(c.cluster_domain, "cluster.local");
        assert_eq!(c.upstreams, vec!["10.1.1.1:53".parse().unwrap()]);
        assert_eq!(
            (c.ttl, c.health_port, c.ready_port, c.metrics_port),
            (30, 8080, 8181, 9153)
        );
    }

    #[test]
    fn flags_override_and_validate() {
        let c = parse(&[
            "--cluster-domain",
            "Example.Org.",
            "--upstream",
            "127.0.0.1:5353,10.0.0.1",
            "--ttl",
            "5",
        ])
        .into_config(None)
        .unwrap();
        assert_eq!(c.cluster_domain, "example.org");
        assert_eq!(c.upstreams.len(), 2);
        assert_eq!(c.ttl, 5);
        assert!(matches!(
            parse(&["--cluster-domain", "bad_domain"]).into_config(Some("nameserver 1.1.1.1")),
            Err(ConfigError::ClusterDomain(_))
        ));
        assert!(matches!(
            parse(&["--upstream", "resolver.example"]).into_config(None),
            Err(ConfigError::Upstream(_))
        ));
        assert!(matches!(
            parse(&[]).into_config(Some("search x\n")),
            Err(ConfigError::NoUpstreams)
        ));
    }
}
