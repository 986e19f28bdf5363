//! InterPodAffinity: required pod affinity / anti-affinity filter nodes (incl. existing pods'
//! anti-affinity towards the incoming pod); preferred terms (both ways) score them.

mod filtering;
mod scoring;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::framework::{NodeInfo, Plugin, PodInfo, Snapshot};

use super::names::INTER_POD_AFFINITY;

pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const ERR_REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// (topology key, value) → number of matching terms.
pub(crate) type TopologyCounts = HashMap<(String, String), i64>;

#[derive(Debug)]
pub struct InterPodAffinity {
    /// Weight of existing pods' required affinity terms in scoring (upstream default 1).
    pub hard_pod_affinity_weight: i64,
}

impl Default for InterPodAffinity {
    fn default() -> Self {
        InterPodAffinity {
            hard_pod_affinity_weight: 1,
        }
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        INTER_POD_AFFINITY
    }
}

fn ns_labels<'a>(
    snapshot: &'a Snapshot,
    pod: &PodInfo,
) -> Option<&'a std::collections::BTreeMap<String, String>> {
    snapshot.ns_labels(pod.namespace())
}

fn bump(counts: &mut TopologyCounts, node: &NodeInfo, key: &str, by: i64) {
    if let Some(v) = node.label(key) {
        let e = counts.entry((key.to_string(), v.to_string())).or_default();
        *e += by;
        if *e == 0 {
            counts.remove(&(key.to_string(), v.to_string()));
        }
    }
}
