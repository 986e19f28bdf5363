//! DefaultPreemption (PostFilter): when a pod fits nowhere, find a node where deleting pods of
//! lower priority makes it fit, keeping as many (and as important) pods as possible, and
//! nominate that node. The caller deletes the victims and sets `status.nominatedNodeName`.
//! PodDisruptionBudgets steer the choice: victims whose deletion keeps every budget are
//! preferred, and so are nodes needing fewer budget violations (never forbidden, as upstream).

pub mod pdb;
mod select;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::framework::{
    Code, CycleState, Diagnosis, FitError, Handle, NodeInfo, Plugin, PodInfo, PostFilterPlugin,
    PostFilterResult, Snapshot, Status,
};

use super::names::DEFAULT_PREEMPTION;

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

pub use pdb::PdbLister;

#[derive(Debug)]
pub struct DefaultPreemption {
    /// Dry-run at least this share of the candidate nodes (upstream `minCandidateNodesPercentage`).
    pub min_candidate_nodes_percentage: usize,
    /// ... and at least this many (upstream `minCandidateNodesAbsolute`).
    pub min_candidate_nodes_absolute: usize,
    /// Budgets to respect; `None` treats every pod as free to go.
    pub pdbs: Option<Arc<dyn PdbLister>>,
}

impl Default for DefaultPreemption {
    fn default() -> Self {
        DefaultPreemption {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
            pdbs: None,
        }
    }
}

/// A node where preemption would make the pod fit, and the pods to delete there.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub node: String,
    /// Most important first.
    pub victims: Vec<Arc<PodInfo>>,
    /// How many victims' deletion takes a PodDisruptionBudget below zero allowed disruptions.
    pub num_pdb_violations: usize,
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        DEFAULT_PREEMPTION
    }
}

fn preemption_policy_never(pod: &PodInfo) -> bool {
    pod.preemption_never
}

/// Upstream `PodEligibleToPreemptOthers`: `None` when eligible, else the reason.
fn ineligible_reason(pod: &PodInfo, snapshot: &Snapshot, diagnosis: &Diagnosis) -> Option<&'static str> {
    if preemption_policy_never(pod) {
        return Some("not eligible due to preemptionPolicy=Never.");
    }
    let nominated = pod.nominated_node_name.as_deref()?;
    if nominated.is_empty() {
        return None;
    }
    // A previous preemption is still freeing that node; wait for it rather than preempt again.
    let unresolvable = diagnosis
        .node_to_status
        .get(nominated)
        .is_some_and(|s| s.code == Code::UnschedulableAndUnresolvable);
    if !unresolvable
        && let Some(node) = snapshot.get(nominated)
        && node
            .pods
            .iter()
            .any(|p| p.is_terminating() && p.priority < pod.priority)
    {
        return Some("not eligible due to a terminating pod on the nominated node.");
    }
    None
}

impl DefaultPreemption {
    fn num_candidates(&self, total: usize) -> usize {
        let n = total * self.min_candidate_nodes_percentage / 100;
        n.max(self.min_candidate_nodes_absolute).min(total)
    }

    /// Upstream `SelectVictimsOnNode`: remove every lower-priority pod, check the pod fits,
    /// then add pods back while it still fits: first those whose deletion would violate a
    /// PodDisruptionBudget, then the others, each group most important first. Returns the
    /// victims (most important first) and how many of them violate a budget.
    pub fn select_victims(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        pdbs: &[Arc<PodDisruptionBudget>],
        handle: &dyn Handle,
    ) -> Result<(Vec<Arc<PodInfo>>, usize), Status> {
        let mut state = state.clone();
        let mut info = node.clone();
        let mut potential: Vec<Arc<PodInfo>> = node
            .pods
            .iter()
            .filter(|p| p.priority < pod.priority)
            .cloned()
            .collect();
        if potential.is_empty() {
            return Err(Status::unresolvable(NO_VICTIMS));
        }
        for p in &potential {
            info.remove_pod(&p.key);
            handle.run_remove_pod(&mut state, pod, p, &info);
        }
        let fits = handle.run_filters(&state, pod, &info);
        if !fits.is_success() {
            return Err(fits);
        }
        select::sort_most_important_first(&mut potential);
        let (violating, non_violating) = pdb::split_by_violation(potential, pdbs);
        let mixed = !violating.is_empty() && !non_violating.is_empty();
        let mut victims = Vec::new();
        let mut num_violations = 0;
        let mut reprieve = |p: Arc<PodInfo>, victims: &mut Vec<Arc<PodInfo>>| -> bool {
            info.add_pod(p.clone());
            handle.run_add_pod(&mut state, pod, &p, &info);
            if handle.run_filters(&state, pod, &info).is_success() {
                return true;
            }
            info.remove_pod(&p.key);
            handle.run_remove_pod(&mut state, pod, &p, &info);
            victims.push(p);
            false
        };
        for p in violating {
            if !reprieve(p, &mut victims) {
                num_violations += 1;
            }
        }
        for p in non_violating {
            reprieve(p, &mut victims);
        }
        // Two groups went in one after the other: restore most-important-first overall.
        if mixed {
            select::sort_most_important_first(&mut victims);
        }
        Ok((victims, num_violations))
    }
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        diagnosis: &Diagnosis,
        handle: &dyn Handle,
    ) -> PostFilterResult {
        let fail = |msg: String| PostFilterResult {
            status: Status::unschedulable(format!("preemption: {msg}")),
            nominated_node: None,
            victims: Vec::new(),
        };
        if let Some(reason) = ineligible_reason(pod, snapshot, diagnosis) {
            return fail(reason.to_string());
        }
        // Nodes rejected only for resolvable reasons (missing statuses were never filtered).
        let potential: Vec<&Arc<NodeInfo>> = snapshot
            .nodes
            .iter()
            .filter(|n| {
                diagnosis
                    .node_to_status
                    .get(&n.name)
                    .is_some_and(|s| s.code == Code::Unschedulable)
            })
            .collect();
        let wanted = self.num_candidates(potential.len());
        let pdbs = self.pdbs.as_ref().map(|l| l.list()).unwrap_or_default();
        // Upstream DryRunPreemption: candidates that violate no budget come first, and the
        // search only stops early once at least one of those is found.
        let mut non_violating = Vec::new();
        let mut violating = Vec::new();
        let mut statuses = std::collections::HashMap::new();
        for node in potential {
            match self.select_victims(state, pod, node, &pdbs, handle) {
                Ok((victims, num_pdb_violations)) => {
                    let c = Candidate {
                        node: node.name.clone(),
                        victims,
                        num_pdb_violations,
                    };
                    if num_pdb_violations == 0 {
                        non_violating.push(c);
                    } else {
                        violating.push(c);
                    }
                    if !non_violating.is_empty() && non_violating.len() + violating.len() >= wanted {
                        break;
                    }
                }
                Err(status) => {
                    statuses.insert(node.name.clone(), status);
                }
            }
        }
        let mut candidates = non_violating;
        candidates.append(&mut violating);
        let Some(best) = select::pick_one(&candidates) else {
            let err = FitError {
                num_all_nodes: snapshot.len(),
                diagnosis: Diagnosis {
                    node_to_status: statuses,
                    absent_nodes_status: Some(Status::unresolvable(NOT_HELPFUL)),
                    ..Diagnosis::default()
                },
            };
            return fail(err.message());
        };
        PostFilterResult {
            status: Status::success(),
            nominated_node: Some(best.node.clone()),
            victims: best.victims.clone(),
        }
    }
}
