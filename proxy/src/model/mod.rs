//! The pure model: Services + EndpointSlices (+ this node) → the desired proxy state, one
//! [`ServicePortState`] per service port. Backends only render this; they decide nothing.

mod build;
mod cidr;
mod topology;

use std::fmt;
use std::net::Ipv4Addr;

pub use build::{NodeContext, build_state};
pub use cidr::{Cidr, CidrError};
pub use topology::categorize;

/// Upstream's default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
pub const DEFAULT_AFFINITY_TIMEOUT: u32 = 10800;

/// The L4 protocols a Service port can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// From the API's `TCP`/`UDP`/`SCTP` (absent means TCP, as the API defaults it).
    pub fn parse(s: Option<&str>) -> Option<Protocol> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Lower case, as iptables, nft and upstream's chain-name hash spell it.
    pub fn lower(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// Upstream's `ServicePortName`: `namespace/name:port` (no `:port` for an unnamed port).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePortName {
    pub namespace: String,
    pub name: String,
    pub port: String,
    pub protocol: Protocol,
}

impl fmt::Display for ServicePortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        if !self.port.is_empty() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// One port of one Service, with everything that decides how its traffic is handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    pub name: ServicePortName,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    pub node_port: Option<u16>,
    pub external_ips: Vec<Ipv4Addr>,
    pub load_balancer_ips: Vec<Ipv4Addr>,
    /// `sessionAffinity: ClientIP` → its timeout in seconds.
    pub affinity_timeout: Option<u32>,
    /// `externalTrafficPolicy: Local` on an externally reachable service.
    pub external_policy_local: bool,
    /// `internalTrafficPolicy: Local`.
    pub internal_policy_local: bool,
    pub health_check_node_port: Option<u16>,
}

impl ServicePort {
    /// Upstream's `ExternallyAccessible`: a NodePort, an external IP or a load-balancer IP.
    pub fn externally_accessible(&self) -> bool {
        self.node_port.is_some() || !self.external_ips.is_empty() || !self.load_balancer_ips.is_empty()
    }

    /// Cluster-policy endpoints are needed for Cluster internal policy, and for any external
    /// traffic (short-circuit of pod/host traffic even under `externalTrafficPolicy: Local`).
    pub fn uses_cluster_endpoints(&self) -> bool {
        !self.internal_policy_local || self.externally_accessible()
    }

    pub fn uses_local_endpoints(&self) -> bool {
        self.internal_policy_local || (self.external_policy_local && self.externally_accessible())
    }
}

/// One backend of a service port, with its EndpointSlice conditions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    /// On this node (`nodeName` equals ours).
    pub local: bool,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

/// A service port and the endpoints each traffic policy uses, as upstream's
/// `CategorizeEndpoints` chose them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePortState {
    pub port: ServicePort,
    pub cluster_endpoints: Vec<Endpoint>,
    pub local_endpoints: Vec<Endpoint>,
    /// The union of the two: every endpoint this node sends traffic to.
    pub reachable_endpoints: Vec<Endpoint>,
    /// Whether there is a usable endpoint anywhere in the cluster.
    pub has_any_endpoints: bool,
}

impl ServicePortState {
    /// Endpoints for traffic to the cluster IP (upstream's `hasInternalEndpoints`).
    pub fn internal_endpoints(&self) -> &[Endpoint] {
        if self.port.internal_policy_local {
            &self.local_endpoints
        } else {
            &self.cluster_endpoints
        }
    }

    /// Endpoints for traffic to NodePorts, external and LB IPs (upstream's `hasExternalEndpoints`).
    pub fn external_endpoints(&self) -> &[Endpoint] {
        if self.port.external_policy_local {
            &self.local_endpoints
        } else {
            &self.cluster_endpoints
        }
    }

    /// For a health check node port: how many local endpoints answer (upstream serves 200 when > 0).
    pub fn local_endpoint_count(&self) -> usize {
        self.local_endpoints.len()
    }
}

/// Everything a backend programs in one sync, sorted by service port name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyState {
    pub services: Vec<ServicePortState>,
}
