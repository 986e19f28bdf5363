//! A pod as the scheduler keeps it: a compact record of only what scheduling reads, with its
//! requests, host ports and affinity terms computed once (upstream `framework.PodInfo`).
//!
//! Every cached pod — pending ones in the queue and, above all, the scheduled pods on every
//! node — is one of these, built once when the informer decodes the pod and shared by `Arc`
//! between the informer's store, the cache, the queue and the plugins. The full `Pod` is
//! dropped right after conversion: binding, status patches and events need only the identity
//! and the `PodScheduled` condition kept here.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    NodeAffinity, Pod, PodAffinityTerm, PodCondition, TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::jiff::Timestamp;

use super::intern::{Interner, Tolerations};
use super::resource::{Resource, pod_non_zero_requests, pod_requests};
use super::selectors::Selector;

/// A compiled `PodAffinityTerm`.
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityTerm {
    /// Namespaces the term looks in; empty with a namespace selector means "by selector only".
    pub namespaces: Vec<String>,
    pub namespace_selector: Option<Selector>,
    pub selector: Selector,
    pub topology_key: String,
    pub weight: i32,
}

impl AffinityTerm {
    fn new(owner_ns: &str, term: &PodAffinityTerm, weight: i32) -> AffinityTerm {
        let mut namespaces = term.namespaces.clone().unwrap_or_default();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(owner_ns.to_string());
        }
        AffinityTerm {
            namespaces,
            namespace_selector: term
                .namespace_selector
                .as_ref()
                .map(|s| Selector::from_label_selector(Some(s))),
            selector: Selector::from_label_selector(term.label_selector.as_ref()),
            topology_key: term.topology_key.clone(),
            weight,
        }
    }

    /// Upstream `AffinityTerm.Matches`: the pod is in one of the namespaces (or its namespace's
    /// labels match the namespace selector) and its labels match.
    pub fn matches(&self, pod: &PodInfo, ns_labels: Option<&BTreeMap<String, String>>) -> bool {
        let in_ns = self.namespaces.iter().any(|n| n == pod.namespace())
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.is_everything() || s.matches(ns_labels));
        in_ns && self.selector.matches(pod.labels())
    }
}

/// A host port a container asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

/// What the scheduler keeps of a pod: identity, and the scheduling facts precomputed. Shared by
/// `Arc` between the informer's store, the queue, the cache and the node infos, never cloned
/// per node. Values many pods have in common (namespace, labels, tolerations, images, node and
/// scheduler names) are shared between records (see [`Interner`]).
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// Cache key: the UID, or namespace/name when the UID is missing.
    pub key: String,
    pub uid: String,
    pub namespace: Arc<str>,
    pub name: String,
    pub resource_version: String,
    /// `spec.nodeName` when set and not empty.
    pub node_name: Option<Arc<str>>,
    /// `spec.schedulerName` (empty when unset).
    pub scheduler_name: Arc<str>,
    /// The resolved priority (spec.priority, else from its class).
    pub priority: i32,
    /// `spec.preemptionPolicy: Never`.
    pub preemption_never: bool,
    pub labels: Option<Arc<BTreeMap<String, String>>>,
    pub requests: Resource,
    pub non_zero_requests: Resource,
    pub host_ports: Vec<HostPort>,
    pub node_selector: Option<BTreeMap<String, String>>,
    pub node_affinity: Option<Box<NodeAffinity>>,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<AffinityTerm>,
    pub preferred_anti_affinity: Vec<AffinityTerm>,
    pub tolerations: Arc<Tolerations>,
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Claims of `persistentVolumeClaim` volumes and of generic ephemeral volumes (named
    /// `<pod>-<volume>`), for VolumeBinding.
    pub claims: Vec<String>,
    /// Images of the init containers then the containers (`None` for a container without one),
    /// for ImageLocality.
    pub images: Arc<[Option<String>]>,
    /// Whether `spec.schedulingGates` is not empty.
    pub gated: bool,
    pub nominated_node_name: Option<String>,
    /// `metadata.deletionTimestamp` is set.
    pub terminating: bool,
    pub phase: Option<Arc<str>>,
    /// `status.startTime`, else the creation time (preemption's victim order).
    pub start_time: Option<Timestamp>,
    /// The `PodScheduled` condition, so that an unchanged one is not written again.
    pub scheduled_condition: Option<Box<PodCondition>>,
}

fn compile(ns: &str, terms: Option<&Vec<PodAffinityTerm>>) -> Vec<AffinityTerm> {
    terms
        .into_iter()
        .flatten()
        .map(|t| AffinityTerm::new(ns, t, 1))
        .collect()
}

fn compile_weighted(ns: &str, terms: Option<&Vec<WeightedPodAffinityTerm>>) -> Vec<AffinityTerm> {
    terms
        .into_iter()
        .flatten()
        .map(|t| AffinityTerm::new(ns, &t.pod_affinity_term, t.weight))
        .collect()
}

pub fn pod_key(pod: &Pod) -> String {
    match pod.metadata.uid.as_deref() {
        Some(uid) if !uid.is_empty() => uid.to_string(),
        _ => format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pod.metadata.name.as_deref().unwrap_or("")
        ),
    }
}

fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let mut ports = Vec::new();
    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        for p in c.ports.iter().flatten() {
            if let Some(hp) = p.host_port.filter(|hp| *hp > 0) {
                ports.push(HostPort {
                    ip: p.host_ip.clone().unwrap_or_default(),
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    port: hp,
                });
            }
        }
    }
    ports
}

fn claims(pod: &Pod) -> Vec<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| {
            if let Some(c) = v.persistent_volume_claim.as_ref() {
                Some(c.claim_name.clone())
            } else {
                v.ephemeral.as_ref().map(|_| format!("{name}-{}", v.name))
            }
        })
        .collect()
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl PodInfo {
    /// Converts `pod`, keeping only what scheduling reads. `priority` is the pod's resolved
    /// priority (spec.priority, else from its class).
    pub fn new(pod: Pod, priority: i32) -> PodInfo {
        PodInfo::new_shared(pod, priority, &mut Interner::new())
    }

    /// [`new`](Self::new), sharing common values with earlier records through `interner`.
    pub fn new_shared(pod: Pod, priority: i32, interner: &mut Interner) -> PodInfo {
        let key = pod_key(&pod);
        let requests = pod_requests(&pod);
        let non_zero_requests = pod_non_zero_requests(&pod);
        let host_ports = host_ports(&pod);
        let claims = claims(&pod);
        let Pod {
            metadata,
            spec,
            status,
            ..
        } = pod;
        let ns = metadata.namespace.unwrap_or_default();
        let mut spec = spec.unwrap_or_default();
        let affinity = spec.affinity.take().unwrap_or_default();
        let pa = affinity.pod_affinity.as_ref();
        let paa = affinity.pod_anti_affinity.as_ref();
        let images = interner.images(
            spec.init_containers
                .iter()
                .flatten()
                .chain(spec.containers.iter())
                .map(|c| c.image.clone())
                .collect(),
        );
        let status = status.unwrap_or_default();
        let scheduled_condition = status
            .conditions
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled")
            .map(Box::new);
        PodInfo {
            key,
            uid: metadata.uid.unwrap_or_default(),
            name: metadata.name.unwrap_or_default(),
            resource_version: metadata.resource_version.unwrap_or_default(),
            node_name: non_empty(spec.node_name).map(|n| interner.string(&n)),
            scheduler_name: interner.string(spec.scheduler_name.as_deref().unwrap_or("")),
            priority,
            preemption_never: spec.preemption_policy.as_deref() == Some("Never"),
            labels: metadata.labels.map(|l| interner.labels(l)),
            requests,
            non_zero_requests,
            host_ports,
            node_selector: spec.node_selector,
            node_affinity: affinity.node_affinity.map(Box::new),
            required_affinity: compile(
                &ns,
                pa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref()),
            ),
            required_anti_affinity: compile(
                &ns,
                paa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref()),
            ),
            preferred_affinity: compile_weighted(
                &ns,
                pa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref()),
            ),
            preferred_anti_affinity: compile_weighted(
                &ns,
                paa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref()),
            ),
            tolerations: interner.tolerations(spec.tolerations.unwrap_or_default()),
            topology_spread_constraints: spec.topology_spread_constraints.unwrap_or_default(),
            claims,
            images,
            gated: spec.scheduling_gates.is_some_and(|g| !g.is_empty()),
            nominated_node_name: non_empty(status.nominated_node_name),
            terminating: metadata.deletion_timestamp.is_some(),
            phase: status.phase.map(|p| interner.string(&p)),
            start_time: status.start_time.or(metadata.creation_timestamp).map(|t| t.0),
            scheduled_condition,
            namespace: interner.string(&ns),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.labels.as_deref()
    }

    pub fn node_name(&self) -> Option<&str> {
        self.node_name.as_deref()
    }

    /// `namespace/name`, for logs and messages.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Has any affinity or anti-affinity term (upstream `podsWithAffinity`).
    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        !self.required_anti_affinity.is_empty()
    }

    pub fn is_terminating(&self) -> bool {
        self.terminating
    }

    /// `Succeeded` or `Failed`: the pod holds nothing on its node any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self.phase.as_deref(), Some("Succeeded" | "Failed"))
    }

    /// Whether what scheduling reads differs from `other` (upstream `isPodUpdated` ignores
    /// status and metadata bookkeeping): an unschedulable pod changed this way is retried.
    pub fn scheduling_differs(&self, other: &PodInfo) -> bool {
        self.labels != other.labels
            || self.scheduler_name != other.scheduler_name
            || self.priority != other.priority
            || self.preemption_never != other.preemption_never
            || self.requests != other.requests
            || self.host_ports != other.host_ports
            || self.node_selector != other.node_selector
            || self.node_affinity != other.node_affinity
            || self.required_affinity != other.required_affinity
            || self.required_anti_affinity != other.required_anti_affinity
            || self.preferred_affinity != other.preferred_affinity
            || self.preferred_anti_affinity != other.preferred_anti_affinity
            || self.tolerations != other.tolerations
            || self.topology_spread_constraints != other.topology_spread_constraints
            || self.claims != other.claims
            || self.images != other.images
            || self.gated != other.gated
    }
}

#[cfg(test)]
mod tests;
