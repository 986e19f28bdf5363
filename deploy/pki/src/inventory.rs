//! The cluster being described: its machines (`NAME=IP` lists, as the flags give them), the
//! service range and the names clients use. Pure parsing and validation, no I/O.

use std::collections::HashSet;
use std::net::IpAddr;

use time::Duration;

/// One machine of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub ip: IpAddr,
}

/// What `init` needs to know about the cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// kubeconfig cluster name (kubeadm's `clusterName`, default `kubernetes`).
    pub cluster_name: String,
    pub control_plane: Vec<Node>,
    pub workers: Vec<Node>,
    /// The first address of the service range: the in-cluster `kubernetes` Service's ClusterIP.
    pub first_service_ip: IpAddr,
    /// Cluster DNS domain (`--service-dns-domain`, default `cluster.local`).
    pub dns_domain: String,
    /// `host:port` that admin, kubelets and kube-proxy talk to (`--control-plane-endpoint`).
    pub endpoint: String,
    /// Port every apiserver listens on; local components talk to `127.0.0.1:<port>`.
    pub apiserver_port: u16,
    /// Lifetime of issued leaf certificates.
    pub cert_validity: Duration,
}

/// Why the description of the cluster is not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InventoryError {
    #[error("{flag}: entry {entry:?} is not NAME=IP")]
    NotNameIp { flag: &'static str, entry: String },
    #[error("{flag}: {name:?} is not a valid node name (lowercase letters, digits, '-' and '.')")]
    BadName { flag: &'static str, name: String },
    #[error("{flag}: {ip:?} is not an IP address")]
    BadIp { flag: &'static str, ip: String },
    #[error("node name {0:?} is given twice")]
    DuplicateName(String),
    #[error("IP address {0} is given to two nodes")]
    DuplicateIp(IpAddr),
    #[error("--control-plane: at least one control-plane node is needed")]
    NoControlPlane,
    #[error("--service-cidr {0:?} is not a CIDR such as 10.96.0.0/12")]
    BadCidr(String),
    #[error("--cluster-name {0:?} is empty or contains whitespace")]
    BadClusterName(String),
    #[error("--service-dns-domain {0:?} is not a DNS domain")]
    BadDomain(String),
}

/// Parse `NAME=IP,NAME=IP,...` (empty string: no nodes).
pub fn parse_nodes(flag: &'static str, list: &str) -> Result<Vec<Node>, InventoryError> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (name, ip) = entry.split_once('=').ok_or_else(|| InventoryError::NotNameIp {
                flag,
                entry: entry.to_string(),
            })?;
            if !is_dns_subdomain(name) {
                return Err(InventoryError::BadName {
                    flag,
                    name: name.to_string(),
                });
            }
            let ip = ip.parse().map_err(|_| InventoryError::BadIp {
                flag,
                ip: ip.to_string(),
            })?;
            Ok(Node {
                name: name.to_string(),
                ip,
            })
        })
        .collect()
}

/// Node names must be unique, and so must addresses; a cluster needs a control plane.
pub fn check_nodes(control_plane: &[Node], workers: &[Node]) -> Result<(), InventoryError> {
    if control_plane.is_empty() {
        return Err(InventoryError::NoControlPlane);
    }
    let mut names = HashSet::new();
    let mut ips = HashSet::new();
    for node in control_plane.iter().chain(workers) {
        if !names.insert(node.name.as_str()) {
            return Err(InventoryError::DuplicateName(node.name.clone()));
        }
        if !ips.insert(node.ip) {
            return Err(InventoryError::DuplicateIp(node.ip));
        }
    }
    Ok(())
}

/// The first usable address of a service CIDR (network address + 1), as upstream's
/// `GetAPIServerVirtualIP` computes the `kubernetes` Service's ClusterIP.
pub fn first_service_ip(cidr: &str) -> Result<IpAddr, InventoryError> {
    let bad = || InventoryError::BadCidr(cidr.to_string());
    let (ip, len) = cidr.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    match ip {
        IpAddr::V4(v4) => {
            if !(1..=30).contains(&len) {
                return Err(bad());
            }
            let mask = u32::MAX << (32 - len);
            Ok(IpAddr::V4(((u32::from(v4) & mask) + 1).into()))
        }
        IpAddr::V6(v6) => {
            if !(1..=126).contains(&len) {
                return Err(bad());
            }
            let mask = u128::MAX << (128 - len);
            Ok(IpAddr::V6(((u128::from(v6) & mask) + 1).into()))
        }
    }
}

pub fn check_cluster_name(name: &str) -> Result<(), InventoryError> {
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(InventoryError::BadClusterName(name.to_string()));
    }
    Ok(())
}

pub fn check_domain(domain: &str) -> Result<(), InventoryError> {
    if !is_dns_subdomain(domain) {
        return Err(InventoryError::BadDomain(domain.to_string()));
    }
    Ok(())
}

/// RFC 1123 subdomain, as upstream validates node names.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, ip: &str) -> Node {
        Node {
            name: name.into(),
            ip: ip.parse().expect("ip"),
        }
    }

    #[test]
    fn node_lists_parse() {
        let cases: &[(&str, Result<Vec<Node>, InventoryError>)] = &[
            ("", Ok(vec![])),
            ("cp1=10.0.0.1", Ok(vec![node("cp1", "10.0.0.1")])),
            (
                "cp1=10.0.0.1, cp2=fd00::2",
                Ok(vec![node("cp1", "10.0.0.1"), node("cp2", "fd00::2")]),
            ),
            (
                "cp1",
                Err(InventoryError::NotNameIp {
                    flag: "--workers",
                    entry: "cp1".into(),
                }),
            ),
            (
                "CP1=10.0.0.1",
                Err(InventoryError::BadName {
                    flag: "--workers",
                    name: "CP1".into(),
                }),
            ),
            (
                "-a=10.0.0.1",
                Err(InventoryError::BadName {
                    flag: "--workers",
                    name: "-a".into(),
                }),
            ),
            (
                "a=10.0.0.300",
                Err(InventoryError::BadIp {
                    flag: "--workers",
                    ip: "10.0.0.300".into(),
                }),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(&parse_nodes("--workers", input), want, "{input:?}");
        }
    }

    #[test]
    fn nodes_are_unique() {
        let a = node("a", "10.0.0.1");
        let b = node("b", "10.0.0.2");
        let (one_a, one_b) = (std::slice::from_ref(&a), std::slice::from_ref(&b));
        assert_eq!(check_nodes(one_a, one_b), Ok(()));
        assert_eq!(check_nodes(&[], one_b), Err(InventoryError::NoControlPlane));
        assert_eq!(
            check_nodes(one_a, &[node("a", "10.0.0.9")]),
            Err(InventoryError::DuplicateName("a".into()))
        );
        assert_eq!(
            check_nodes(one_a, &[node("c", "10.0.0.1")]),
            Err(InventoryError::DuplicateIp("10.0.0.1".parse().expect("ip")))
        );
    }

    #[test]
    fn first_service_ip_is_network_plus_one() {
        let cases = [
            ("10.96.0.0/12", Some("10.96.0.1")),
            ("10.96.5.7/12", Some("10.96.0.1")),
            ("10.0.0.0/24", Some("10.0.0.1")),
            ("fd00:10:96::/108", Some("fd00:10:96::1")),
            ("10.96.0.0", None),
            ("10.96.0.0/33", None),
            ("10.96.0.0/0", None),
            ("x/12", None),
        ];
        for (cidr, want) in cases {
            let got = first_service_ip(cidr).ok().map(|ip| ip.to_string());
            assert_eq!(got.as_deref(), want, "{cidr}");
        }
    }

    #[test]
    fn names_and_domains() {
        assert!(check_domain("cluster.local").is_ok());
        assert!(check_domain("Cluster.local").is_err());
        assert!(check_domain("a..b").is_err());
        assert!(check_cluster_name("kubernetes").is_ok());
        assert!(check_cluster_name("").is_err());
        assert!(check_cluster_name("a b").is_err());
    }
}
