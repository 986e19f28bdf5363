//! The DaemonSet controller's pure step (upstream `daemon_controller.go` `manage` and
//! `podsShouldBeOnNode`, `update.go` `rollingUpdate`, and `updateDaemonSetStatus`): from the
//! DaemonSet, the nodes and its pods, decide on which nodes to create a pod, which pods to
//! delete, and the status.

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::eligibility::{self, should_run, target_node};
use crate::controllers::util::{owner, pod as podutil, template};

/// Label carrying the template hash on daemon pods.
pub const HASH_LABEL: &str = "controller-revision-hash";
/// Legacy label carrying the template generation.
pub const GENERATION_LABEL: &str = "pod-template-generation";
/// Annotation on the DaemonSet carrying its template generation.
pub const GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// What the sync sees.
#[derive(Debug)]
pub struct Observed<'a> {
    pub ds: &'a DaemonSet,
    pub nodes: Vec<&'a Node>,
    /// Pods the DaemonSet controls.
    pub pods: Vec<&'a Pod>,
    /// Hash of the current template (the current ControllerRevision's).
    pub hash: &'a str,
    pub now: Timestamp,
    /// Nodes where a failed daemon pod was killed recently: its replacement's failure waits
    /// out the back-off before being killed again (upstream `failedPodsBackoff`).
    pub failed_backoff: &'a HashSet<String>,
}

/// An Event to record against the DaemonSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Nodes to create a daemon pod for.
    pub create_on: Vec<String>,
    /// Pods to delete, by name.
    pub delete: Vec<String>,
    pub events: Vec<PlannedEvent>,
    /// Status as observed (before this plan's changes), upstream-style.
    pub status: DaemonSetStatus,
    /// Nodes whose failed pod is deleted now (their back-off steps up).
    pub failed_on: Vec<String>,
    /// A failed pod was left alone because its node is in back-off.
    pub waiting_on_backoff: bool,
}

fn generation(ds: &DaemonSet) -> Option<&str> {
    ds.metadata
        .annotations
        .as_ref()?
        .get(GENERATION_ANNOTATION)
        .map(String::as_str)
}

/// Upstream `IsPodUpdated`: the hash or the template generation matches.
pub fn is_updated(pod: &Pod, hash: &str, ds: &DaemonSet) -> bool {
    let labels = pod.metadata.labels.as_ref();
    let get = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    (!hash.is_empty() && get(HASH_LABEL) == Some(hash))
        || (generation(ds).is_some() && get(GENERATION_LABEL) == generation(ds))
}

/// A daemon pod for `node` (upstream `CreatePodTemplate` + node affinity pinning).
pub fn new_pod(ds: &DaemonSet, node: &str, hash: &str) -> Pod {
    let mut tmpl = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let meta = tmpl.metadata.get_or_insert_with(Default::default);
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    if let Some(g) = generation(ds) {
        labels.insert(GENERATION_LABEL.into(), g.to_string());
    }
    if !hash.is_empty() {
        labels.insert(HASH_LABEL.into(), hash.to_string());
    }
    let spec = tmpl.spec.get_or_insert_with(Default::default);
    eligibility::add_daemon_tolerations(spec);
    eligibility::pin_to_node(spec, node);
    let name = ds.metadata.name.clone().unwrap_or_default();
    let mut pod = template::pod_from_template(&tmpl, &name, owner::new_controller_ref(ds));
    pod.metadata.namespace = ds.metadata.namespace.clone();
    pod
}

/// Oldest first; among equal times, Running before Pending (upstream
/// `podByCreationTimestampAndPhase`).
fn oldest_first(pods: &mut [&Pod]) {
    pods.sort_by(|a, b| {
        let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let running = |p: &Pod| podutil::phase(p) == "Running";
        created(a)
            .cmp(&created(b))
            .then_with(|| running(b).cmp(&running(a)))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// Computes the plan.
pub fn plan(o: &Observed<'_>) -> Plan {
    let ds = o.ds;
    let spec = ds.spec.clone().unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let mut by_node: HashMap<String, Vec<&Pod>> = HashMap::new();
    for p in &o.pods {
        // Deleted pods that already ended are gone as far as placement goes.
        if p.metadata.deletion_timestamp.is_some() && podutil::is_terminated(p) {
            continue;
        }
        if let Some(n) = target_node(p) {
            by_node.entry(n).or_default().push(p);
        }
    }
    let mut out = Plan {
        status: status(o, &by_node, min_ready),
        ..Plan::default()
    };
    let surge_allowed = allows_surge(ds);

    for node in &o.nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        let (run, keep) = should_run(node, ds);
        let pods = by_node.get(&name).cloned().unwrap_or_default();
        if run && pods.is_empty() {
            out.create_on.push(name);
        } else if keep {
            let mut running: Vec<&Pod> = Vec::new();
            for p in pods {
                if p.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let pname = p.metadata.name.clone().unwrap_or_default();
                match podutil::phase(p) {
                    "Failed" if o.failed_backoff.contains(&name) => out.waiting_on_backoff = true,
                    "Failed" => {
                        out.failed_on.push(name.clone());
                        out.events.push(PlannedEvent {
                            warning: true,
                            reason: "FailedDaemonPod",
                            message: format!(
                                "Found failed daemon pod {}/{pname} on node {name}, will try to kill it",
                                p.metadata.namespace.as_deref().unwrap_or_default()
                            ),
                        });
                        out.delete.push(pname);
                    }
                    "Succeeded" => out.delete.push(pname),
                    _ => running.push(p),
                }
            }
            if running.len() <= 1 {
                continue;
            }
            oldest_first(&mut running);
            if !surge_allowed {
                out.delete
                    .extend(running[1..].iter().filter_map(|p| p.metadata.name.clone()));
                continue;
            }
            // With surge: keep the oldest new and oldest old pod, and drop the old one once
            // it is not ready or the new one is available.
            let (mut oldest_new, mut oldest_old) = (None, None);
            for p in running {
                let slot = if is_updated(p, o.hash, ds) {
                    &mut oldest_new
                } else {
                    &mut oldest_old
                };
                if slot.is_none() {
                    *slot = Some(p);
                } else {
                    out.delete.extend(p.metadata.name.clone());
                }
            }
            if let (Some(new), Some(old)) = (oldest_new, oldest_old)
                && (!podutil::is_ready(old) || podutil::is_available(new, min_ready, o.now))
            {
                out.delete.extend(old.metadata.name.clone());
            }
        } else if !pods.is_empty() {
            out.delete.extend(
                pods.iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .filter_map(|p| p.metadata.name.clone()),
            );
        }
    }
    // Pods for nodes that no longer exist and were never scheduled.
    for (node, pods) in &by_node {
        if o.nodes
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some(node.as_str()))
        {
            continue;
        }
        for p in pods {
            let unscheduled = p
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_none_or(str::is_empty);
            if unscheduled && p.metadata.deletion_timestamp.is_none() {
                out.delete.extend(p.metadata.name.clone());
            }
        }
    }
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate";
    if out.create_on.is_empty() && out.delete.is_empty() && rolling {
        super::rolling::rolling_update(o, &by_node, &mut out);
    }
    out
}

/// Whether maxSurge is non-zero.
pub fn allows_surge(ds: &DaemonSet) -> bool {
    let surge = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.max_surge.as_ref());
    match surge {
        None => false,
        Some(IntOrString::Int(n)) => *n > 0,
        Some(IntOrString::String(s)) => s.trim_end_matches('%').parse::<i32>().is_ok_and(|n| n > 0),
    }
}

/// Upstream `updateDaemonSetStatus` counters.
fn status(o: &Observed<'_>, by_node: &HashMap<String, Vec<&Pod>>, min_ready: i32) -> DaemonSetStatus {
    let mut s = DaemonSetStatus::default();
    let (mut desired, mut current, mut ready, mut available, mut updated, mut misscheduled) =
        (0, 0, 0, 0, 0, 0);
    for node in &o.nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        let (run, _) = should_run(node, o.ds);
        let mut pods = by_node.get(&name).cloned().unwrap_or_default();
        if run {
            desired += 1;
            if pods.is_empty() {
                continue;
            }
            current += 1;
            oldest_first(&mut pods);
            let p = pods[0];
            if podutil::is_ready(p) {
                ready += 1;
                if podutil::is_available(p, min_ready, o.now) {
                    available += 1;
                }
            }
            if is_updated(p, o.hash, o.ds) {
                updated += 1;
            }
        } else if !pods.is_empty() {
            misscheduled += 1;
        }
    }
    s.desired_number_scheduled = desired;
    s.current_number_scheduled = current;
    s.number_ready = ready;
    s.number_available = Some(available);
    s.number_unavailable = Some(desired - available);
    s.updated_number_scheduled = Some(updated);
    s.number_misscheduled = misscheduled;
    s.observed_generation = o.ds.metadata.generation;
    let old = o.ds.status.clone().unwrap_or_default();
    s.collision_count = old.collision_count;
    s.conditions = old.conditions;
    s
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
