//! From API objects to [`ProxyState`] (upstream's ServiceChangeTracker + EndpointSliceCache).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::{
    DEFAULT_AFFINITY_TIMEOUT, Endpoint, Protocol, ProxyState, ServicePort, ServicePortName, ServicePortState,
    categorize,
};

/// The label tying an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// What the model needs to know about the node it runs on.
#[derive(Clone, Debug, Default)]
pub struct NodeContext {
    pub node_name: String,
}

/// Key of a slice port: (namespace, service, port name, protocol).
type SliceKey = (String, String, String, Protocol);

/// The desired state for every service port. Services without a cluster IP (headless,
/// ExternalName) and non-IPv4 slices are ignored, as an IPv4 single-stack proxier does.
pub fn build_state(services: &[Service], slices: &[EndpointSlice], node: &NodeContext) -> ProxyState {
    let endpoints = endpoints_by_port(slices, node);
    let mut out = Vec::new();
    for svc in services {
        for port in service_ports(svc) {
            let key = (
                port.name.namespace.clone(),
                port.name.name.clone(),
                port.name.port.clone(),
                port.name.protocol,
            );
            let eps: Vec<Endpoint> = endpoints
                .get(&key)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            let (cluster_endpoints, local_endpoints, reachable_endpoints, has_any_endpoints) =
                categorize(&eps, &port);
            out.push(ServicePortState {
                port,
                cluster_endpoints,
                local_endpoints,
                reachable_endpoints,
                has_any_endpoints,
            });
        }
    }
    out.sort_by(|a, b| a.port.name.cmp(&b.port.name));
    ProxyState { services: out }
}

/// The ports of one Service, or none if the proxy does not handle it.
pub(crate) fn service_ports(svc: &Service) -> Vec<ServicePort> {
    let (Some(namespace), Some(name), Some(spec)) = (
        svc.metadata.namespace.as_deref(),
        svc.metadata.name.as_deref(),
        svc.spec.as_ref(),
    ) else {
        return Vec::new();
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return Vec::new();
    }
    let Some(cluster_ip) = spec
        .cluster_ip
        .as_deref()
        .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
    else {
        // Headless ("None"), unallocated, or IPv6: nothing to program here.
        return Vec::new();
    };
    let parse_ips = |ips: Option<&Vec<String>>| -> Vec<Ipv4Addr> {
        let mut v: Vec<Ipv4Addr> = ips.into_iter().flatten().filter_map(|s| s.parse().ok()).collect();
        v.sort();
        v.dedup();
        v
    };
    let external_ips = parse_ips(spec.external_ips.as_ref());
    let is_lb = spec.type_.as_deref() == Some("LoadBalancer");
    let mut load_balancer_ips: Vec<Ipv4Addr> = if is_lb {
        svc.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.as_deref()?.parse().ok())
            .collect()
    } else {
        Vec::new()
    };
    load_balancer_ips.sort();
    load_balancer_ips.dedup();
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT)
    });
    let node_port_type = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
    let internal_policy_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let etp_local = spec.external_traffic_policy.as_deref() == Some("Local");
    let health_check_node_port = if node_port_type && etp_local {
        spec.health_check_node_port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
    } else {
        None
    };

    let mut ports = Vec::new();
    for p in spec.ports.iter().flatten() {
        let (Some(protocol), Ok(port)) = (Protocol::parse(p.protocol.as_deref()), u16::try_from(p.port))
        else {
            continue;
        };
        let node_port = if node_port_type {
            p.node_port.and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 0)
        } else {
            None
        };
        let mut sp = ServicePort {
            name: ServicePortName {
                namespace: namespace.to_string(),
                name: name.to_string(),
                port: p.name.clone().unwrap_or_default(),
                protocol,
            },
            cluster_ip,
            port,
            node_port,
            external_ips: external_ips.clone(),
            load_balancer_ips: load_balancer_ips.clone(),
            affinity_timeout,
            external_policy_local: false,
            internal_policy_local,
            health_check_node_port,
        };
        // Upstream's ExternalPolicyLocal: only meaningful when external traffic can arrive.
        sp.external_policy_local = etp_local && sp.externally_accessible();
        ports.push(sp);
    }
    ports
}

/// Endpoints per service port, merged across slices and de-duplicated by `ip:port` (a ready copy
/// wins over a not-ready one, as in upstream's EndpointSliceCache).
fn endpoints_by_port(
    slices: &[EndpointSlice],
    node: &NodeContext,
) -> BTreeMap<SliceKey, BTreeMap<(Ipv4Addr, u16), Endpoint>> {
    let mut out: BTreeMap<SliceKey, BTreeMap<(Ipv4Addr, u16), Endpoint>> = BTreeMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        let (Some(namespace), Some(service)) = (
            slice.metadata.namespace.as_deref(),
            slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL)),
        ) else {
            continue;
        };
        for port in slice.ports.iter().flatten() {
            let (Some(number), Some(protocol)) = (
                port.port.and_then(|n| u16::try_from(n).ok()),
                Protocol::parse(port.protocol.as_deref()),
            ) else {
                continue;
            };
            let key = (
                namespace.to_string(),
                service.clone(),
                port.name.clone().unwrap_or_default(),
                protocol,
            );
            let entry = out.entry(key).or_default();
            for ep in &slice.endpoints {
                let Some(ip) = ep.addresses.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) else {
                    continue;
                };
                let cond = ep.conditions.as_ref();
                let endpoint = Endpoint {
                    ip,
                    port: number,
                    ready: cond.and_then(|c| c.ready).unwrap_or(true),
                    serving: cond.and_then(|c| c.serving).unwrap_or(true),
                    terminating: cond.and_then(|c| c.terminating).unwrap_or(false),
                    local: ep.node_name.as_deref() == Some(node.node_name.as_str()),
                };
                match entry.get(&(ip, number)) {
                    Some(existing) if existing.ready || !endpoint.ready => {}
                    _ => {
                        entry.insert((ip, number), endpoint);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
