//! The EndpointSlices a Service should have: upstream `pkg/controller/endpointslice`
//! (`reconciler.go`, `utils.go`) as a pure function from the Service, its pods and the slices
//! that exist now to the creates, updates and deletes that close the gap.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::controllers::endpoints::pods;

/// `kubernetes.io/service-name`: the Service a slice belongs to.
pub(crate) const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// `endpointslice.kubernetes.io/managed-by`, with [`CONTROLLER_NAME`] as value.
pub(crate) const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub(crate) const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// `--max-endpoints-per-slice` default.
pub(crate) const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// The writes that bring one Service's slices to the desired state.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SlicePlan {
    pub(crate) create: Vec<EndpointSlice>,
    pub(crate) update: Vec<EndpointSlice>,
    /// Names of slices to delete.
    pub(crate) delete: Vec<String>,
}

impl SlicePlan {
    pub(crate) fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// Sorted ports plus address type: endpoints with the same key share slices.
type GroupKey = (String, Vec<PortKey>);
type PortKey = (String, i32, String, Option<String>);

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.name.clone().unwrap_or_default(),
        p.port.unwrap_or_default(),
        p.protocol.clone().unwrap_or_else(|| "TCP".into()),
        p.app_protocol.clone(),
    )
}

fn group_key(address_type: &str, ports: &[EndpointPort]) -> GroupKey {
    let mut keys: Vec<PortKey> = ports.iter().map(port_key).collect();
    keys.sort();
    (address_type.to_string(), keys)
}

/// An endpoint's identity across syncs: its pod, else its first address.
fn endpoint_id(e: &Endpoint) -> String {
    e.target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .or_else(|| e.addresses.first().cloned())
        .unwrap_or_default()
}

fn same_endpoint(a: &Endpoint, b: &Endpoint) -> bool {
    let strip = |e: &Endpoint| {
        let mut e = e.clone();
        if let Some(r) = e.target_ref.as_mut() {
            r.resource_version = None;
        }
        e
    };
    strip(a) == strip(b)
}

/// Address types the Service is served on (`getAddressTypesForService`).
pub(crate) fn address_types(service: &Service) -> Vec<&'static str> {
    let spec = service.spec.as_ref();
    let families: Vec<&'static str> = spec
        .and_then(|s| s.ip_families.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|f| match f.as_str() {
            "IPv4" => Some("IPv4"),
            "IPv6" => Some("IPv6"),
            _ => None,
        })
        .collect();
    if !families.is_empty() {
        return families;
    }
    match spec.and_then(|s| s.cluster_ip.as_deref()) {
        Some(ip) if !ip.is_empty() && ip != "None" && pods::is_ipv6(ip) => vec!["IPv6"],
        _ => vec!["IPv4"],
    }
}

/// `podToEndpoint`: readiness, serving, terminating, node, zone and hostname of one pod.
pub(crate) fn pod_to_endpoint(
    pod: &Pod,
    zone: Option<String>,
    service: &Service,
    address_type: &str,
) -> Option<Endpoint> {
    let ip = pods::pod_ip_of_family(pod, address_type == "IPv6")?;
    let serving = pods::is_pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let publish = service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    // Compatibility: "ready" is never true for a terminating pod unless not-ready addresses
    // are published.
    let ready = publish || (serving && !terminating);
    let spec = pod.spec.as_ref();
    Some(Endpoint {
        addresses: vec![ip.to_string()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
        node_name: spec.and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()),
        zone: zone.filter(|z| !z.is_empty()),
        hostname: pods::should_set_hostname(pod, service)
            .then(|| spec.and_then(|s| s.hostname.clone()))
            .flatten(),
        ..Default::default()
    })
}

/// The ports a pod offers for the Service (`getEndpointPorts`): unresolvable ones are skipped.
fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let ports = service.spec.as_ref().and_then(|s| s.ports.as_ref());
    ports
        .into_iter()
        .flatten()
        .filter_map(|sp| {
            let number = pods::find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(number),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// The labels every slice of the Service carries (`setEndpointSliceLabels`).
pub(crate) fn slice_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = service
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != LABEL_SERVICE_NAME && k != LABEL_MANAGED_BY)
        .collect();
    if service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(
        LABEL_SERVICE_NAME.into(),
        service.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    labels
}

fn owner_ref(service: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: service.metadata.name.clone().unwrap_or_default(),
        uid: service.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn new_slice(service: &Service, address_type: &str, ports: Vec<EndpointPort>) -> EndpointSlice {
    let name = service.metadata.name.clone().unwrap_or_default();
    // A generateName prefix must itself be a valid name prefix; long names fall back.
    let prefix = if name.len() < 58 {
        format!("{name}-")
    } else {
        "endpointslice-".to_string()
    };
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: service.metadata.namespace.clone(),
            labels: Some(slice_labels(service)),
            owner_references: Some(vec![owner_ref(service)]),
            ..Default::default()
        },
        address_type: address_type.to_string(),
        endpoints: Vec::new(),
        ports: Some(ports),
    }
}

/// The whole plan for one Service. `existing` are the slices this controller manages for it;
/// `zone_of` gives a node's `topology.kubernetes.io/zone`.
pub(crate) fn plan(
    service: &Service,
    pods: &[&Pod],
    existing: &[&EndpointSlice],
    zone_of: &dyn Fn(&str) -> Option<String>,
    max_per_slice: usize,
) -> SlicePlan {
    let mut out = SlicePlan::default();
    if service.metadata.deletion_timestamp.is_some() {
        return out;
    }
    let Some(selector) = pods::service_selector(service) else {
        // Without a selector the slices are someone else's; ours (left from an earlier
        // selector) go.
        out.delete = existing.iter().filter_map(|s| s.metadata.name.clone()).collect();
        return out;
    };
    let max_per_slice = max_per_slice.max(1);

    // Desired endpoints, grouped by (address type, ports).
    let mut desired: BTreeMap<GroupKey, (Vec<EndpointPort>, Vec<Endpoint>)> = BTreeMap::new();
    let mut sorted: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| {
            p.metadata.namespace == service.metadata.namespace
                && pods::selector_matches(selector, p.metadata.labels.as_ref())
                && pods::should_pod_be_in_endpoints(p, true)
        })
        .collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for address_type in address_types(service) {
        for pod in &sorted {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
            let zone = node.and_then(zone_of);
            let Some(ep) = pod_to_endpoint(pod, zone, service, address_type) else {
                continue;
            };
            let ports = endpoint_ports(service, pod);
            let entry = desired
                .entry(group_key(address_type, &ports))
                .or_insert_with(|| (ports.clone(), Vec::new()));
            entry.1.push(ep);
        }
    }

    let labels = slice_labels(service);
    let owner = owner_ref(service);
    let mut by_group: BTreeMap<GroupKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for s in existing {
        let key = group_key(&s.address_type, s.ports.as_deref().unwrap_or(&[]));
        by_group.entry(key).or_default().push(s);
    }

    if desired.is_empty() {
        return placeholder_plan(service, existing, &labels, &owner);
    }

    for (key, slices) in &by_group {
        if !desired.contains_key(key) {
            out.delete
                .extend(slices.iter().filter_map(|s| s.metadata.name.clone()));
        }
    }
    for (key, (ports, wanted)) in desired {
        let slices = by_group.remove(&key).unwrap_or_default();
        reconcile_group(
            service,
            &key.0,
            ports,
            wanted,
            &slices,
            &labels,
            &owner,
            max_per_slice,
            &mut out,
        );
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn reconcile_group(
    service: &Service,
    address_type: &str,
    ports: Vec<EndpointPort>,
    wanted: Vec<Endpoint>,
    slices: &[&EndpointSlice],
    labels: &BTreeMap<String, String>,
    owner: &OwnerReference,
    max_per_slice: usize,
    out: &mut SlicePlan,
) {
    let mut want: HashMap<String, Endpoint> = wanted.iter().map(|e| (endpoint_id(e), e.clone())).collect();
    let order: Vec<String> = wanted.iter().map(endpoint_id).collect();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    // Existing slices keep the endpoints that are still wanted, refreshed in place.
    let mut kept: Vec<(EndpointSlice, bool)> = Vec::new();
    for s in slices {
        let mut next = (*s).clone();
        let mut changed = false;
        next.endpoints = Vec::new();
        for e in &s.endpoints {
            let id = endpoint_id(e);
            match want.get(&id) {
                Some(w) if !placed.contains(&id) && next.endpoints.len() < max_per_slice => {
                    if !same_endpoint(e, w) {
                        changed = true;
                    }
                    next.endpoints.push(w.clone());
                    placed.insert(id);
                }
                _ => changed = true,
            }
        }
        if next.metadata.labels.as_ref() != Some(labels) {
            next.metadata.labels = Some(labels.clone());
            changed = true;
        }
        if next.metadata.owner_references.as_deref() != Some(std::slice::from_ref(owner)) {
            next.metadata.owner_references = Some(vec![owner.clone()]);
            changed = true;
        }
        kept.push((next, changed));
    }
    // New endpoints go into slices already being written, then into others with room, then
    // into new slices (upstream prefers touching as few slices as possible).
    let mut pending: Vec<Endpoint> = order
        .iter()
        .filter(|id| !placed.contains(*id))
        .filter_map(|id| want.remove(id))
        .collect();
    pending.reverse();
    kept.sort_by_key(|(_, changed)| !*changed);
    for (slice, changed) in kept.iter_mut() {
        while slice.endpoints.len() < max_per_slice {
            let Some(e) = pending.pop() else { break };
            slice.endpoints.push(e);
            *changed = true;
        }
    }
    while !pending.is_empty() {
        let mut slice = new_slice(service, address_type, ports.clone());
        while slice.endpoints.len() < max_per_slice {
            let Some(e) = pending.pop() else { break };
            slice.endpoints.push(e);
        }
        out.create.push(slice);
    }
    for (slice, changed) in kept {
        if slice.endpoints.is_empty() {
            out.delete.extend(slice.metadata.name.clone());
        } else if changed {
            out.update.push(slice);
        }
    }
}

/// A Service without endpoints keeps exactly one empty slice (upstream's placeholder).
fn placeholder_plan(
    service: &Service,
    existing: &[&EndpointSlice],
    labels: &BTreeMap<String, String>,
    owner: &OwnerReference,
) -> SlicePlan {
    let mut out = SlicePlan::default();
    let address_type = address_types(service)[0];
    let is_placeholder = |s: &EndpointSlice| {
        s.endpoints.is_empty()
            && s.ports.as_deref().unwrap_or(&[]).is_empty()
            && s.address_type == address_type
    };
    let keep = existing.iter().find(|s| is_placeholder(s));
    for s in existing {
        if keep.is_some_and(|k| k.metadata.name == s.metadata.name) {
            continue;
        }
        out.delete.extend(s.metadata.name.clone());
    }
    match keep {
        Some(k) => {
            let labels_ok = k.metadata.labels.as_ref() == Some(labels);
            let owner_ok = k.metadata.owner_references.as_deref() == Some(std::slice::from_ref(owner));
            if !labels_ok || !owner_ok {
                let mut next = (*k).clone();
                next.metadata.labels = Some(labels.clone());
                next.metadata.owner_references = Some(vec![owner.clone()]);
                out.update.push(next);
            }
        }
        None => out.create.push(new_slice(service, address_type, Vec::new())),
    }
    out
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
