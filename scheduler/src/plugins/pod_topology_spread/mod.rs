//! PodTopologySpread: `topologySpreadConstraints` keep matching pods evenly spread over
//! topology domains. DoNotSchedule constraints filter; ScheduleAnyway ones (and the system
//! default constraints for pods of a Service/ReplicaSet/StatefulSet/ReplicationController) score.

mod filtering;
mod scoring;

#[cfg(test)]
mod tests;

use std::fmt::Debug;
use std::sync::Arc;

use crate::framework::selectors::{Selector, tolerated};
use crate::framework::{NodeInfo, Plugin, PodInfo};

use super::names::POD_TOPOLOGY_SPREAD;
use super::node_affinity::required_matches;

pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str = "node(s) didn't match pod topology spread constraints";
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

/// Finds the selector of the workloads (Services, ReplicaSets, ...) a pod belongs to, for the
/// system default constraints (upstream `helper.DefaultSelector`).
pub trait WorkloadSelectors: Send + Sync + Debug {
    /// `None` when no workload selects the pod.
    fn default_selector(&self, pod: &PodInfo) -> Option<Selector>;
}

/// A compiled constraint.
#[derive(Debug, Clone)]
pub(crate) struct Constraint {
    pub(crate) max_skew: i64,
    pub(crate) topology_key: String,
    pub(crate) selector: Selector,
    pub(crate) min_domains: i64,
    pub(crate) honor_node_affinity: bool,
    pub(crate) honor_node_taints: bool,
}

#[derive(Debug)]
pub struct PodTopologySpread {
    /// (maxSkew, topologyKey) applied as ScheduleAnyway to pods without constraints.
    pub default_constraints: Vec<(i64, String)>,
    pub workloads: Option<Arc<dyn WorkloadSelectors>>,
}

impl Default for PodTopologySpread {
    /// Upstream's system defaults: hostname maxSkew 3, zone maxSkew 5.
    fn default() -> Self {
        PodTopologySpread {
            default_constraints: vec![(3, LABEL_HOSTNAME.into()), (5, LABEL_ZONE.into())],
            workloads: None,
        }
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        POD_TOPOLOGY_SPREAD
    }
}

/// The pod's own constraints with the given `whenUnsatisfiable`.
pub(crate) fn pod_constraints(pod: &PodInfo, when: &str) -> Vec<Constraint> {
    let labels = pod.labels();
    pod.topology_spread_constraints
        .iter()
        .filter(|c| c.when_unsatisfiable == when)
        .map(|c| {
            let mut selector = Selector::from_label_selector(c.label_selector.as_ref());
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = labels.and_then(|l| l.get(key)) {
                    selector = selector.and_equals(key, v);
                }
            }
            Constraint {
                max_skew: i64::from(c.max_skew),
                topology_key: c.topology_key.clone(),
                selector,
                min_domains: i64::from(c.min_domains.unwrap_or(1)),
                honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

pub(crate) fn has_own_constraints(pod: &PodInfo) -> bool {
    !pod.topology_spread_constraints.is_empty()
}

/// Upstream `nodeLabelsMatchSpreadConstraints`: the node has every constraint's key.
pub(crate) fn node_has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    constraints.iter().all(|c| node.label(&c.topology_key).is_some())
}

/// Node inclusion policies: whether pods on `node` count towards the spread of `pod`.
pub(crate) fn node_included(c: &Constraint, pod: &PodInfo, node: &NodeInfo) -> bool {
    if c.honor_node_affinity && !required_matches(pod, node) {
        return false;
    }
    if c.honor_node_taints {
        let tols = &pod.tolerations;
        let blocked = node
            .taints()
            .iter()
            .any(|t| (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(tols, t));
        if blocked {
            return false;
        }
    }
    true
}

/// Upstream `countPodsMatchSelector`: same namespace, not terminating, labels match.
pub(crate) fn count_matching(pods: &[Arc<PodInfo>], selector: &Selector, ns: &str) -> i64 {
    pods.iter()
        .filter(|p| p.namespace() == ns && !p.is_terminating() && selector.matches(p.labels()))
        .count() as i64
}
