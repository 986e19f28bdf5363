//! Required affinity and anti-affinity (upstream `interpodaffinity/filtering.go`).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::framework::{CycleState, FilterPlugin, NodeInfo, PodInfo, PreFilterPlugin, Snapshot, Status};

use super::{
    ERR_REASON_AFFINITY, ERR_REASON_ANTI_AFFINITY, ERR_REASON_EXISTING_ANTI_AFFINITY, InterPodAffinity,
    TopologyCounts, bump, ns_labels,
};

const STATE_KEY: &str = "PreFilterInterPodAffinity";

#[derive(Debug, Clone, Default)]
struct PreFilterState {
    /// Existing pods' required anti-affinity terms that match the incoming pod.
    existing_anti: TopologyCounts,
    /// Incoming pod's required affinity terms (all of them) matched by existing pods.
    affinity: TopologyCounts,
    /// Incoming pod's required anti-affinity terms matched by existing pods.
    anti: TopologyCounts,
    /// Labels of the incoming pod's namespace.
    ns_labels: Option<BTreeMap<String, String>>,
}

impl PreFilterState {
    /// Accounts `existing` on `node` with multiplier `by` (+1 add, -1 remove).
    fn update(
        &mut self,
        pod: &PodInfo,
        existing: &PodInfo,
        existing_ns: Option<&BTreeMap<String, String>>,
        node: &NodeInfo,
        by: i64,
    ) {
        for t in &existing.required_anti_affinity {
            if t.matches(pod, self.ns_labels.as_ref()) {
                bump(&mut self.existing_anti, node, &t.topology_key, by);
            }
        }
        if !pod.required_affinity.is_empty()
            && pod
                .required_affinity
                .iter()
                .all(|t| t.matches(existing, existing_ns))
        {
            for t in &pod.required_affinity {
                bump(&mut self.affinity, node, &t.topology_key, by);
            }
        }
        for t in &pod.required_anti_affinity {
            if t.matches(existing, existing_ns) {
                bump(&mut self.anti, node, &t.topology_key, by);
            }
        }
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let has_terms = !pod.required_affinity.is_empty() || !pod.required_anti_affinity.is_empty();
        if !has_terms && snapshot.have_pods_with_required_anti_affinity.is_empty() {
            return Status::skip();
        }
        let mut s = PreFilterState {
            ns_labels: ns_labels(snapshot, pod).cloned(),
            ..PreFilterState::default()
        };
        if has_terms {
            for node in &snapshot.nodes {
                for existing in &node.pods {
                    let ens = snapshot.ns_labels(existing.namespace());
                    s.update(pod, existing, ens, node, 1);
                }
            }
        } else {
            for &i in &snapshot.have_pods_with_required_anti_affinity {
                let node = &snapshot.nodes[i];
                for existing in &node.pods_with_required_anti_affinity {
                    let ens = snapshot.ns_labels(existing.namespace());
                    s.update(pod, existing, ens, node, 1);
                }
            }
        }
        state.write(STATE_KEY, s);
        Status::success()
    }

    fn add_pod(&self, state: &mut CycleState, pod: &PodInfo, added: &Arc<PodInfo>, node: &NodeInfo) {
        if let Some(s) = state.read::<PreFilterState>(STATE_KEY) {
            let mut s = s.clone();
            s.update(pod, added, None, node, 1);
            state.write(STATE_KEY, s);
        }
    }

    fn remove_pod(&self, state: &mut CycleState, pod: &PodInfo, removed: &Arc<PodInfo>, node: &NodeInfo) {
        if let Some(s) = state.read::<PreFilterState>(STATE_KEY) {
            let mut s = s.clone();
            s.update(pod, removed, None, node, -1);
            state.write(STATE_KEY, s);
        }
    }
}

fn satisfies_affinity(s: &PreFilterState, pod: &PodInfo, node: &NodeInfo) -> bool {
    let mut pods_exist = true;
    for t in &pod.required_affinity {
        match node.label(&t.topology_key) {
            Some(v) => {
                if s.affinity
                    .get(&(t.topology_key.clone(), v.to_string()))
                    .copied()
                    .unwrap_or(0)
                    <= 0
                {
                    pods_exist = false;
                }
            }
            // The node lacks the topology label: the term can never be met here.
            None => return false,
        }
    }
    if pods_exist {
        return true;
    }
    // No pod anywhere matches: the first pod of a group that is affine to itself may go anywhere.
    s.affinity.is_empty()
        && pod
            .required_affinity
            .iter()
            .all(|t| t.matches(pod, s.ns_labels.as_ref()))
}

fn satisfies_anti_affinity(s: &PreFilterState, pod: &PodInfo, node: &NodeInfo) -> bool {
    if s.anti.is_empty() {
        return true;
    }
    pod.required_anti_affinity
        .iter()
        .all(|t| match node.label(&t.topology_key) {
            Some(v) => {
                s.anti
                    .get(&(t.topology_key.clone(), v.to_string()))
                    .copied()
                    .unwrap_or(0)
                    <= 0
            }
            None => true,
        })
}

fn satisfies_existing_anti_affinity(s: &PreFilterState, node: &NodeInfo) -> bool {
    if s.existing_anti.is_empty() {
        return true;
    }
    node.labels()
        .into_iter()
        .flatten()
        .all(|(k, v)| s.existing_anti.get(&(k.clone(), v.clone())).copied().unwrap_or(0) <= 0)
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(STATE_KEY) else {
            return Status::success();
        };
        if !satisfies_affinity(s, pod, node) {
            return Status::unresolvable(ERR_REASON_AFFINITY);
        }
        if !satisfies_anti_affinity(s, pod, node) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY);
        }
        if !satisfies_existing_anti_affinity(s, node) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}
