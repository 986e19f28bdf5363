//! The Endpoints a Service should have: upstream `syncService` in
//! `pkg/controller/endpoint/endpoints_controller.go`, as a pure function.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::pods;

/// Addresses an Endpoints object may hold before it is truncated.
pub(crate) const MAX_CAPACITY: usize = 1000;
/// Annotation set when the addresses were truncated to [`MAX_CAPACITY`].
pub(crate) const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Label recognising Endpoints this controller manages, with [`CONTROLLER_NAME`].
pub(crate) const LABEL_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
pub(crate) const CONTROLLER_NAME: &str = "endpoint-controller";
/// Label on the Endpoints of a headless Service.
pub(crate) const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

/// What to write for one Service.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EndpointsPlan {
    /// The Service has no selector (its Endpoints are someone else's) or nothing changed.
    Nothing,
    Create(Endpoints),
    Update(Endpoints),
}

/// The repacked subsets the Service's pods yield.
pub(crate) fn desired_subsets(service: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let spec = service.spec.clone().unwrap_or_default();
    let tolerate_unready = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.unwrap_or_default();
    let headless = spec.cluster_ip.as_deref() == Some("None");
    let mut subsets = Vec::new();
    for pod in pods {
        if !pods::should_pod_be_in_endpoints(pod, tolerate_unready) {
            continue;
        }
        let ipv6 = pods::service_wants_ipv6(service, pod);
        let Some(ip) = pods::pod_ip_of_family(pod, ipv6) else {
            continue;
        };
        let address = EndpointAddress {
            ip: ip.to_string(),
            hostname: pods::should_set_hostname(pod, service)
                .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
                .flatten(),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                namespace: pod.metadata.namespace.clone(),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            }),
        };
        let ready = tolerate_unready || pods::is_pod_ready(pod);
        if ports.is_empty() {
            // A headless Service may have no ports; its pods are still its endpoints.
            if headless {
                subsets.push(subset(address.clone(), None, ready));
            }
            continue;
        }
        for sp in &ports {
            let Some(number) = pods::find_port(pod, sp) else {
                continue;
            };
            let port = EndpointPort {
                name: sp.name.clone().filter(|n| !n.is_empty()),
                port: number,
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            };
            subsets.push(subset(address.clone(), Some(port), ready));
        }
    }
    repack_subsets(subsets)
}

fn subset(address: EndpointAddress, port: Option<EndpointPort>, ready: bool) -> EndpointSubset {
    let (addresses, not_ready) = if ready {
        (Some(vec![address]), None)
    } else {
        (None, Some(vec![address]))
    };
    EndpointSubset {
        addresses,
        not_ready_addresses: not_ready,
        ports: Some(port.into_iter().collect()),
    }
}

type PortKey = (Option<String>, i32, Option<String>, Option<String>);
type AddrKey = (String, Option<String>);

fn port_key(p: &EndpointPort) -> PortKey {
    (p.name.clone(), p.port, p.protocol.clone(), p.app_protocol.clone())
}

fn addr_key(a: &EndpointAddress) -> AddrKey {
    (a.ip.clone(), a.target_ref.as_ref().and_then(|r| r.uid.clone()))
}

/// `endpoints.RepackSubsets`: one subset per distinct set of (address, readiness) offering
/// the same ports, addresses and ports sorted so equal inputs give equal objects.
pub(crate) fn repack_subsets(subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
    // Port (None = the "no ports" sentinel) → address → ready.
    let mut by_port: BTreeMap<Option<PortKey>, BTreeMap<AddrKey, bool>> = BTreeMap::new();
    let mut all_addrs: BTreeMap<AddrKey, EndpointAddress> = BTreeMap::new();
    let mut all_ports: BTreeMap<PortKey, EndpointPort> = BTreeMap::new();
    for s in subsets {
        let ports: Vec<Option<PortKey>> = match s.ports.as_deref() {
            None | Some([]) => vec![None],
            Some(ps) => ps
                .iter()
                .map(|p| {
                    all_ports.insert(port_key(p), p.clone());
                    Some(port_key(p))
                })
                .collect(),
        };
        for port in ports {
            let entry = by_port.entry(port).or_default();
            for a in s.addresses.iter().flatten() {
                all_addrs.entry(addr_key(a)).or_insert_with(|| a.clone());
                entry.insert(addr_key(a), true);
            }
            for a in s.not_ready_addresses.iter().flatten() {
                all_addrs.entry(addr_key(a)).or_insert_with(|| a.clone());
                entry.entry(addr_key(a)).or_insert(false);
            }
        }
    }
    // Group ports by the exact address set offering them.
    let mut groups: BTreeMap<Vec<(AddrKey, bool)>, BTreeSet<Option<PortKey>>> = BTreeMap::new();
    for (port, addrs) in by_port {
        groups
            .entry(addrs.into_iter().collect())
            .or_default()
            .insert(port);
    }
    groups
        .into_iter()
        .map(|(addrs, ports)| {
            let pick = |ready: bool| -> Option<Vec<EndpointAddress>> {
                let v: Vec<EndpointAddress> = addrs
                    .iter()
                    .filter(|(_, r)| *r == ready)
                    .filter_map(|(k, _)| all_addrs.get(k).cloned())
                    .collect();
                (!v.is_empty()).then_some(v)
            };
            EndpointSubset {
                addresses: pick(true),
                not_ready_addresses: pick(false),
                ports: Some(
                    ports
                        .into_iter()
                        .flatten()
                        .filter_map(|k| all_ports.get(&k).cloned())
                        .collect(),
                )
                .filter(|v: &Vec<EndpointPort>| !v.is_empty()),
            }
        })
        .collect()
}

/// `truncateEndpoints`: keep at most [`MAX_CAPACITY`] addresses, ready ones first, spread over
/// the subsets in proportion. Returns whether anything was cut.
pub(crate) fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let count = |s: &EndpointSubset, ready: bool| {
        if ready {
            s.addresses.as_ref().map_or(0, Vec::len)
        } else {
            s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        }
    };
    let total_ready: usize = subsets.iter().map(|s| count(s, true)).sum();
    let total_not_ready: usize = subsets.iter().map(|s| count(s, false)).sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_CAPACITY;
    let (max, num_total) = if truncate_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut can_be_added = max;
    for s in subsets.iter_mut() {
        let in_subset = count(s, truncate_ready);
        let share = (in_subset as f64 / num_total as f64 * max as f64).ceil() as usize;
        let to_add = share.min(can_be_added);
        if truncate_ready {
            if let Some(a) = s.addresses.as_mut() {
                a.truncate(to_add);
                can_be_added -= a.len();
            }
            s.not_ready_addresses = None;
        } else if let Some(a) = s.not_ready_addresses.as_mut() {
            a.truncate(to_add);
            can_be_added -= a.len();
        }
    }
    true
}

/// The labels the Endpoints carries: the Service's, plus managed-by and the headless marker.
fn desired_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    if pods::is_service_ip_set(service) {
        labels.remove(HEADLESS_LABEL);
    } else {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

/// Compares subsets ignoring target resourceVersions, as upstream does.
fn same_subsets(a: &[EndpointSubset], b: &[EndpointSubset]) -> bool {
    let strip = |v: &[EndpointSubset]| {
        let mut v = v.to_vec();
        for s in &mut v {
            for a in s
                .addresses
                .iter_mut()
                .flatten()
                .chain(s.not_ready_addresses.iter_mut().flatten())
            {
                if let Some(r) = a.target_ref.as_mut() {
                    r.resource_version = None;
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// The whole plan for one Service given its pods (already filtered by namespace; this
/// applies the selector) and the current Endpoints, if any.
pub(crate) fn plan(service: &Service, pods: &[&Pod], current: Option<&Endpoints>) -> EndpointsPlan {
    if service.metadata.deletion_timestamp.is_some() {
        return EndpointsPlan::Nothing;
    }
    let Some(selector) = pods::service_selector(service) else {
        return EndpointsPlan::Nothing;
    };
    let selected: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| {
            p.metadata.namespace == service.metadata.namespace
                && pods::selector_matches(selector, p.metadata.labels.as_ref())
        })
        .collect();
    let mut subsets = desired_subsets(service, &selected);
    let truncated = truncate(&mut subsets);
    let labels = desired_labels(service);

    let mut next = current.cloned().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            ..Default::default()
        },
        subsets: None,
    });
    let mut annotations = next.metadata.annotations.clone().unwrap_or_default();
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    if let Some(cur) = current {
        let unchanged = same_subsets(cur.subsets.as_deref().unwrap_or(&[]), &subsets)
            && cur.metadata.labels.clone().unwrap_or_default() == labels
            && cur.metadata.annotations.clone().unwrap_or_default() == annotations;
        if unchanged {
            return EndpointsPlan::Nothing;
        }
    }
    next.subsets = (!subsets.is_empty()).then_some(subsets);
    next.metadata.labels = Some(labels);
    next.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    if current.is_some() {
        EndpointsPlan::Update(next)
    } else {
        EndpointsPlan::Create(next)
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
