//! The addresses and names of one cluster, derived from its index (pure; no I/O).
//!
//! Cluster `X` (0..MAX_CLUSTERS) owns:
//! - the host bridge `rkindX` with the host address 10.250.X.1/24, where the control plane
//!   listens (nothing listens on other host interfaces);
//! - node `i` (0-based): netns `rkind-<node name>`, veth `rkXnI` on the bridge, node IP
//!   10.250.X.(10+i), pod CIDR 10.(128+X).(i+1).0/24 out of the cluster CIDR 10.(128+X).0.0/16.
//!
//! 10.128/9..10.191 stays clear of the service range 10.96.0.0/12 (shared by every cluster:
//! it only exists inside node namespaces) and of the kubelet tests' 10.222.x.0/24 bridges.

use std::net::Ipv4Addr;

/// Clusters that can exist at once on one machine.
pub const MAX_CLUSTERS: u8 = 64;
/// Nodes per cluster (node IPs 10..=250 in the bridge's /24).
pub const MAX_NODES: usize = 240;
/// The service range; the DNS add-on's Service is at its tenth address.
pub const SERVICE_CIDR: &str = "10.96.0.0/12";
pub const DNS_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);
pub const CLUSTER_DOMAIN: &str = "cluster.local";
pub const APISERVER_PORT: u16 = 6443;

/// One node's names and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    /// Kubernetes node name (kind's style: `<cluster>-worker`, `<cluster>-worker2`, ...).
    pub name: String,
    pub netns: String,
    /// The host end of the node's veth (the node end is `eth0` inside the netns).
    pub veth: String,
    pub ip: Ipv4Addr,
    pub pod_cidr: String,
}

/// A whole cluster's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPlan {
    pub index: u8,
    pub bridge: String,
    /// The host's address on the bridge: the apiserver, scheduler and controller-manager bind here.
    pub host_ip: Ipv4Addr,
    pub prefix_len: u8,
    pub cluster_cidr: String,
    pub nodes: Vec<NodePlan>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("cluster index {0} is out of range (at most {MAX_CLUSTERS} clusters)")]
    Index(u8),
    #[error("{0} nodes requested: between 1 and {MAX_NODES} are supported")]
    Nodes(usize),
}

/// kind's node names: the first worker is `<cluster>-worker`, then `-worker2`, `-worker3`, ...
pub fn node_name(cluster: &str, i: usize) -> String {
    if i == 0 {
        format!("{cluster}-worker")
    } else {
        format!("{cluster}-worker{}", i + 1)
    }
}

/// The plan of cluster `index` named `cluster` with `nodes` nodes.
pub fn plan(cluster: &str, index: u8, nodes: usize) -> Result<NetworkPlan, PlanError> {
    if index >= MAX_CLUSTERS {
        return Err(PlanError::Index(index));
    }
    if nodes == 0 || nodes > MAX_NODES {
        return Err(PlanError::Nodes(nodes));
    }
    let nodes = (0..nodes)
        .map(|i| {
            let name = node_name(cluster, i);
            NodePlan {
                netns: format!("rkind-{name}"),
                veth: format!("rk{index}n{i}"),
                // Both casts are in range: i < MAX_NODES = 240.
                ip: Ipv4Addr::new(10, 250, index, 10 + i as u8),
                pod_cidr: format!("10.{}.{}.0/24", 128 + index, i + 1),
                name,
            }
        })
        .collect();
    Ok(NetworkPlan {
        index,
        bridge: format!("rkind{index}"),
        host_ip: Ipv4Addr::new(10, 250, index, 1),
        prefix_len: 24,
        cluster_cidr: format!("10.{}.0.0/16", 128 + index),
        nodes,
    })
}

impl NetworkPlan {
    pub fn apiserver_url(&self) -> String {
        format!("https://{}:{APISERVER_PORT}", self.host_ip)
    }

    /// `10.250.X.0/24`: what a running cluster's bridge address falls in.
    pub fn bridge_subnet(&self) -> String {
        format!("10.250.{}.0/{}", self.index, self.prefix_len)
    }
}

/// Whether `cidr` (e.g. from `ip -4 addr`) overlaps the bridge subnet of index `x`.
pub fn address_uses_index(addr: Ipv4Addr, x: u8) -> bool {
    let o = addr.octets();
    (o[0] == 10 && o[1] == 250 && o[2] == x) || (o[0] == 10 && o[1] == 128 + x)
}

/// The lowest index not in `taken`.
pub fn free_index(taken: &[u8]) -> Option<u8> {
    (0..MAX_CLUSTERS).find(|i| !taken.contains(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses() {
        let p = plan("dev", 3, 3).unwrap();
        assert_eq!(p.bridge, "rkind3");
        assert_eq!(p.host_ip, Ipv4Addr::new(10, 250, 3, 1));
        assert_eq!(p.cluster_cidr, "10.131.0.0/16");
        assert_eq!(p.apiserver_url(), "https://10.250.3.1:6443");
        let names: Vec<_> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["dev-worker", "dev-worker2", "dev-worker3"]);
        assert_eq!(p.nodes[1].netns, "rkind-dev-worker2");
        assert_eq!(p.nodes[1].veth, "rk3n1");
        assert_eq!(p.nodes[1].ip, Ipv4Addr::new(10, 250, 3, 11));
        assert_eq!(p.nodes[2].pod_cidr, "10.131.3.0/24");
    }

    #[test]
    fn limits() {
        assert_eq!(plan("a", 64, 1), Err(PlanError::Index(64)));
        assert_eq!(plan("a", 0, 0), Err(PlanError::Nodes(0)));
        assert_eq!(plan("a", 0, 241), Err(PlanError::Nodes(241)));
        let big = plan("a", 63, 240).unwrap();
        let last = big.nodes.last().unwrap();
        assert_eq!(last.ip, Ipv4Addr::new(10, 250, 63, 249));
        assert_eq!(last.pod_cidr, "10.191.240.0/24");
        assert!(last.veth.len() <= 15, "interface names fit IFNAMSIZ");
    }

    #[test]
    fn index_allocation() {
        assert_eq!(free_index(&[]), Some(0));
        assert_eq!(free_index(&[0, 1, 3]), Some(2));
        let all: Vec<u8> = (0..MAX_CLUSTERS).collect();
        assert_eq!(free_index(&all), None);
        assert!(address_uses_index(Ipv4Addr::new(10, 250, 2, 1), 2));
        assert!(address_uses_index(Ipv4Addr::new(10, 130, 9, 1), 2));
        assert!(!address_uses_index(Ipv4Addr::new(10, 250, 3, 1), 2));
        assert!(!address_uses_index(Ipv4Addr::new(192, 168, 2, 1), 2));
    }
}
