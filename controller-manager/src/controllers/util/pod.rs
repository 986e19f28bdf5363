//! Pod state as controllers judge it (upstream `pkg/api/v1/pod` and `controller_utils.go`).

use std::cmp::Ordering;

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::jiff::Timestamp;

/// `controller.kubernetes.io/pod-deletion-cost`: lower-cost pods are deleted first.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The pod's phase ("" when unset).
pub fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// Upstream `IsPodActive`: not Succeeded, not Failed, not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    let p = phase(pod);
    p != "Succeeded" && p != "Failed" && pod.metadata.deletion_timestamp.is_none()
}

/// Succeeded or Failed.
pub fn is_terminated(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

fn ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// Upstream `IsPodReady`: the Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod last became Ready (None if not ready or unknown).
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Upstream `IsPodAvailable`: ready for at least `min_ready_seconds` as of `now`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    match ready_since(pod) {
        Some(since) => since.as_second() + i64::from(min_ready_seconds) <= now.as_second(),
        None => false,
    }
}

/// How long until a ready pod becomes available (None if not ready or already available):
/// controllers requeue after it, as upstream does with `AddAfter(minReadySeconds)`.
pub fn seconds_until_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<i64> {
    let since = ready_since(pod)?;
    let left = since.as_second() + i64::from(min_ready_seconds) - now.as_second();
    (left > 0).then_some(left)
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

fn deletion_cost(pod: &Pod) -> i64 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn phase_rank(pod: &Pod) -> u8 {
    match phase(pod) {
        "Pending" | "" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

/// Upstream `ActivePodsWithRanks.Less`: `Less` comes first when deleting. `rank_a`/`rank_b` are
/// the number of the owner's active pods on the same node (more co-located pods go first).
pub fn deletion_order(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize) -> Ordering {
    let node = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    };
    // 1. Unassigned before assigned.
    node(a)
        .cmp(&node(b))
        // 2. Pending before Unknown before Running.
        .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
        // 3. Not ready before ready.
        .then_with(|| is_ready(a).cmp(&is_ready(b)))
        // 4. Lower pod-deletion-cost first.
        .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
        // 5. More co-located pods first.
        .then_with(|| rank_b.cmp(&rank_a))
        // 6. Ready for a shorter time first (both ready).
        .then_with(|| match (ready_since(a), ready_since(b)) {
            (Some(x), Some(y)) => y.cmp(&x),
            _ => Ordering::Equal,
        })
        // 7. More restarts first.
        .then_with(|| restarts(b).cmp(&restarts(a)))
        // 8. Newer first.
        .then_with(|| {
            let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            match (created(a), created(b)) {
                (Some(x), Some(y)) => y.cmp(&x),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        })
}

/// The `count` pods to delete first out of `pods`, in upstream's order. Ranks count co-located
/// pods among `pods` themselves (upstream ranks against the owner's active pods).
pub fn pods_to_delete<'a>(pods: &[&'a Pod], count: usize) -> Vec<&'a Pod> {
    let mut per_node = std::collections::HashMap::<&str, usize>::new();
    for p in pods {
        if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            *per_node.entry(n).or_default() += 1;
        }
    }
    let rank = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(|n| per_node.get(n).copied())
            .unwrap_or(0)
    };
    let mut ranked: Vec<(&'a Pod, usize)> = pods.iter().map(|p| (*p, rank(p))).collect();
    ranked.sort_by(|(a, ra), (b, rb)| deletion_order(a, *ra, b, *rb));
    ranked.into_iter().take(count).map(|(p, _)| p).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    /// A test pod: `name`, node ("" = unscheduled), phase, ready since (unix seconds).
    pub(crate) fn pod(name: &str, node: &str, phase: &str, ready_at: Option<i64>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(Timestamp::from_second(100).expect("ts"))),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.into()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready_at.map(|at| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(Timestamp::from_second(at).expect("ts"))),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn activity_readiness_availability() {
        let now = Timestamp::from_second(1000).expect("ts");
        let ready = pod("a", "n1", "Running", Some(990));
        assert!(is_active(&ready) && is_ready(&ready));
        assert!(is_available(&ready, 0, now));
        assert!(is_available(&ready, 10, now));
        assert!(!is_available(&ready, 11, now));
        assert_eq!(seconds_until_available(&ready, 15, now), Some(5));
        let done = pod("b", "n1", "Succeeded", None);
        assert!(!is_active(&done) && is_terminated(&done));
        assert!(!is_available(&pod("c", "", "Pending", None), 0, now));
    }

    #[test]
    fn deletion_order_is_upstreams() {
        let unscheduled = pod("unscheduled", "", "Pending", None);
        let pending = pod("pending", "n1", "Pending", None);
        let not_ready = pod("not-ready", "n2", "Running", None);
        let young = pod("ready-young", "n3", "Running", Some(900));
        let old = pod("ready-old", "n4", "Running", Some(100));
        let all = [&old, &young, &not_ready, &pending, &unscheduled];
        let order: Vec<_> = pods_to_delete(&all, 5)
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            order,
            ["unscheduled", "pending", "not-ready", "ready-young", "ready-old"]
        );
        assert_eq!(pods_to_delete(&all, 2).len(), 2);
    }

    #[test]
    fn colocated_pods_go_first() {
        let a = pod("alone", "n1", "Running", Some(100));
        let b = pod("shared-1", "n2", "Running", Some(100));
        let c = pod("shared-2", "n2", "Running", Some(100));
        let first = pods_to_delete(&[&a, &b, &c], 1);
        assert_ne!(first[0].metadata.name.as_deref(), Some("alone"));
    }
}
