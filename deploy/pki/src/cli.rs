//! Flags (kubeadm's names where kubeadm has the concept) and their validation into an
//! [`Action`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use time::Duration;

use crate::duration::{self, BadDuration};
use crate::inventory::{self, ClusterSpec, InventoryError};

#[derive(Debug, Parser)]
#[command(
    name = "rudder-pki",
    version,
    about = "Certificates, keys and kubeconfigs for a Rudder cluster, laid out as kubeadm does"
)]
pub struct Options {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the CAs, the service-account key pair, every component's certificate and the
    /// kubeconfigs; files that already exist are checked and reused.
    Init(InitOptions),
    /// Re-issue leaf certificates and kubeconfig credentials that expire soon; CAs are kept.
    Renew(RenewOptions),
    /// List every certificate with its expiry.
    Check(CheckOptions),
    /// Create a bootstrap token for kubelet TLS bootstrap: its Secret and RBAC bindings
    /// (bootstrap-token.yaml) and bootstrap-kubelet.conf for the workers.
    Token(TokenOptions),
}

#[derive(Debug, Args)]
pub struct TokenOptions {
    /// Directory `init` wrote.
    #[arg(long)]
    pub out: PathBuf,
    /// How long the token is valid (kubeadm's --ttl); 0 for ever.
    #[arg(long, default_value = "24h")]
    pub ttl: String,
    /// The extra group the token authenticates in (system:bootstrappers:...).
    #[arg(long, default_value = crate::token::DEFAULT_GROUP)]
    pub groups: String,
}

#[derive(Debug, Args)]
pub struct InitOptions {
    /// Output directory (becomes /etc/kubernetes on the machines).
    #[arg(long)]
    pub out: PathBuf,
    /// Control-plane nodes: NAME=IP,NAME=IP,...
    #[arg(long = "control-plane")]
    pub control_plane: String,
    /// Worker nodes: NAME=IP,NAME=IP,...
    #[arg(long, default_value = "")]
    pub workers: String,
    /// The Service IP range; its first address is put in the apiserver certificate.
    #[arg(long = "service-cidr", default_value = "10.96.0.0/12")]
    pub service_cidr: String,
    /// The cluster's name in kubeconfigs.
    #[arg(long = "cluster-name", default_value = "kubernetes")]
    pub cluster_name: String,
    /// The cluster DNS domain.
    #[arg(long = "service-dns-domain", default_value = "cluster.local")]
    pub service_dns_domain: String,
    /// host[:port] that kubeconfigs for admin, kubelets and kube-proxy use
    /// (default: the first control-plane node).
    #[arg(long = "control-plane-endpoint")]
    pub control_plane_endpoint: Option<String>,
    /// The port each apiserver listens on.
    #[arg(long = "apiserver-bind-port", default_value_t = 6443)]
    pub apiserver_bind_port: u16,
    /// Lifetime of leaf certificates (kubeadm's certificateValidityPeriod).
    #[arg(long = "certificate-validity-period", default_value = "8760h")]
    pub certificate_validity_period: String,
}

#[derive(Debug, Args)]
pub struct RenewOptions {
    /// Directory `init` wrote.
    #[arg(long)]
    pub out: PathBuf,
    /// Renew what expires within this long (e.g. 30d, 720h).
    #[arg(long, default_value = "30d")]
    pub within: String,
    /// Lifetime of the re-issued certificates.
    #[arg(long = "certificate-validity-period", default_value = "8760h")]
    pub certificate_validity_period: String,
}

#[derive(Debug, Args)]
pub struct CheckOptions {
    /// Directory `init` wrote.
    #[arg(long)]
    pub out: PathBuf,
}

/// A validated command.
#[derive(Debug, Clone)]
pub enum Action {
    Init {
        out: PathBuf,
        spec: ClusterSpec,
    },
    Renew {
        out: PathBuf,
        within: Duration,
        validity: Duration,
    },
    Check {
        out: PathBuf,
    },
    Token {
        out: PathBuf,
        /// `None`: no expiration.
        ttl: Option<Duration>,
        group: String,
    },
}

/// The flags do not describe something to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("{flag}: {source}")]
    Duration {
        flag: &'static str,
        #[source]
        source: BadDuration,
    },
    #[error("--certificate-validity-period must be positive")]
    NonPositiveValidity,
    #[error("--groups {0:?}: want system:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]")]
    BadGroup(String),
    #[error("--control-plane-endpoint {0:?} is not host or host:port")]
    BadEndpoint(String),
}

fn parse_duration(flag: &'static str, text: &str) -> Result<Duration, ConfigError> {
    duration::parse(text).map_err(|source| ConfigError::Duration { flag, source })
}

fn validity(text: &str) -> Result<Duration, ConfigError> {
    let d = parse_duration("--certificate-validity-period", text)?;
    if d.is_positive() {
        Ok(d)
    } else {
        Err(ConfigError::NonPositiveValidity)
    }
}

/// `host:port` from `--control-plane-endpoint` (port defaults to the bind port).
fn endpoint(flag: Option<&str>, first_ip: std::net::IpAddr, port: u16) -> Result<String, ConfigError> {
    let Some(text) = flag else {
        return Ok(match first_ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
            v4 => format!("{v4}:{port}"),
        });
    };
    let bad = || ConfigError::BadEndpoint(text.to_string());
    if text.is_empty() || text.contains('/') || text.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(format!("[{text}]:{port}"));
    }
    if text.starts_with('[') {
        return if text.contains("]:") || text.ends_with(']') {
            Ok(if text.ends_with(']') {
                format!("{text}:{port}")
            } else {
                text.to_string()
            })
        } else {
            Err(bad())
        };
    }
    match text.split_once(':') {
        Some((host, p)) if !host.is_empty() && p.parse::<u16>().is_ok() => Ok(text.to_string()),
        Some(_) => Err(bad()),
        None => Ok(format!("{text}:{port}")),
    }
}

impl Command {
    pub fn into_action(self) -> Result<Action, ConfigError> {
        match self {
            Command::Init(o) => {
                let control_plane = inventory::parse_nodes("--control-plane", &o.control_plane)?;
                let workers = inventory::parse_nodes("--workers", &o.workers)?;
                inventory::check_nodes(&control_plane, &workers)?;
                inventory::check_cluster_name(&o.cluster_name)?;
                inventory::check_domain(&o.service_dns_domain)?;
                let first_service_ip = inventory::first_service_ip(&o.service_cidr)?;
                let first_ip = control_plane
                    .first()
                    .map(|n| n.ip)
                    .ok_or(InventoryError::NoControlPlane)?;
                let endpoint = endpoint(
                    o.control_plane_endpoint.as_deref(),
                    first_ip,
                    o.apiserver_bind_port,
                )?;
                Ok(Action::Init {
                    out: o.out,
                    spec: ClusterSpec {
                        cluster_name: o.cluster_name,
                        control_plane,
                        workers,
                        first_service_ip,
                        dns_domain: o.service_dns_domain,
                        endpoint,
                        apiserver_port: o.apiserver_bind_port,
                        cert_validity: validity(&o.certificate_validity_period)?,
                    },
                })
            }
            Command::Renew(o) => Ok(Action::Renew {
                out: o.out,
                within: parse_duration("--within", &o.within)?,
                validity: validity(&o.certificate_validity_period)?,
            }),
            Command::Check(o) => Ok(Action::Check { out: o.out }),
            Command::Token(o) => {
                let ttl = parse_duration("--ttl", &o.ttl)?;
                let group_ok = o
                    .groups
                    .strip_prefix("system:bootstrappers:")
                    .is_some_and(|rest| {
                        !rest.is_empty()
                            && rest.len() <= 256
                            && rest.bytes().all(|b| {
                                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-'
                            })
                            && rest
                                .bytes()
                                .last()
                                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    });
                if !group_ok {
                    return Err(ConfigError::BadGroup(o.groups));
                }
                Ok(Action::Token {
                    out: o.out,
                    ttl: ttl.is_positive().then_some(ttl),
                    group: o.groups,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let ip = "10.0.0.1".parse().expect("ip");
        let cases = [
            (None, Some("10.0.0.1:6443")),
            (Some("api.example"), Some("api.example:6443")),
            (Some("api.example:443"), Some("api.example:443")),
            (Some("fd00::1"), Some("[fd00::1]:6443")),
            (Some("[fd00::1]:443"), Some("[fd00::1]:443")),
            (Some("https://x"), None),
            (Some("api:notaport"), None),
            (Some(""), None),
        ];
        for (flag, want) in cases {
            assert_eq!(endpoint(flag, ip, 6443).ok().as_deref(), want, "{flag:?}");
        }
        let v6 = "fd00::2".parse().expect("ip");
        assert_eq!(endpoint(None, v6, 6443).ok().as_deref(), Some("[fd00::2]:6443"));
    }

    #[test]
    fn init_flags_validate() {
        let parse = |args: &[&str]| {
            Options::try_parse_from(["rudder-pki"].iter().chain(args))
                .map_err(|e| e.to_string())
                .and_then(|o| o.command.into_action().map_err(|e| e.to_string()))
        };
        let ok = parse(&[
            "init",
            "--out",
            "x",
            "--control-plane",
            "cp1=10.0.0.1",
            "--workers",
            "w1=10.0.0.2",
        ]);
        assert!(matches!(ok, Ok(Action::Init { .. })), "{ok:?}");
        let err = |args: &[&str]| parse(args).expect_err("invalid");
        assert!(err(&["init", "--out", "x", "--control-plane", ""]).contains("at least one"));
        assert!(err(&["init", "--out", "x", "--control-plane", "cp1=1.2.3"]).contains("not an IP"));
        assert!(
            err(&[
                "init",
                "--out",
                "x",
                "--control-plane",
                "a=10.0.0.1",
                "--service-cidr",
                "10.96.0.0"
            ])
            .contains("--service-cidr")
        );
        assert!(
            err(&[
                "init",
                "--out",
                "x",
                "--control-plane",
                "a=10.0.0.1",
                "--certificate-validity-period",
                "0h"
            ])
            .contains("positive")
        );
        assert!(err(&["renew", "--out", "x", "--within", "soon"]).contains("--within"));
    }
}
