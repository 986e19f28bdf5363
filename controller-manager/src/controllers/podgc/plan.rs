//! Which pods the pod GC deletes (upstream `gcTerminated`, `gcOrphaned`,
//! `gcUnscheduledTerminating`), pure.

use std::collections::{BTreeSet, HashSet};

use k8s_openapi::api::core::v1::Pod;

use crate::controllers::util::pod;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Terminated pods beyond the threshold.
    Terminated,
    /// Bound to a node that does not exist.
    Orphaned,
    /// Terminating without ever being scheduled.
    UnscheduledTerminating,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Victim {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub reason: Reason,
    /// Delete with grace period 0.
    pub force: bool,
}

fn node_of(p: &Pod) -> Option<&str> {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn victim(p: &Pod, reason: Reason, force: bool) -> Victim {
    Victim {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        uid: p.metadata.uid.clone().unwrap_or_default(),
        reason,
        force,
    }
}

/// Nodes that pods are bound to but the node cache does not know (to confirm via the API).
pub fn nodes_to_check(pods: &[&Pod], known: &HashSet<String>) -> BTreeSet<String> {
    pods.iter()
        .filter_map(|p| node_of(p))
        .filter(|n| !known.contains(*n))
        .map(str::to_string)
        .collect()
}

/// The pods to delete. `missing_nodes` are nodes confirmed absent.
pub fn plan(pods: &[&Pod], threshold: i32, missing_nodes: &HashSet<String>) -> Vec<Victim> {
    let mut out = Vec::new();
    if threshold > 0 {
        let mut terminated: Vec<&&Pod> = pods
            .iter()
            .filter(|p| pod::is_terminated(p) && p.metadata.deletion_timestamp.is_none())
            .collect();
        let limit = usize::try_from(threshold).unwrap_or(usize::MAX);
        if terminated.len() > limit {
            terminated.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
            let excess = terminated.len() - limit;
            out.extend(
                terminated
                    .into_iter()
                    .take(excess)
                    .map(|p| victim(p, Reason::Terminated, false)),
            );
        }
    }
    for p in pods {
        if out
            .iter()
            .any(|v| Some(v.uid.as_str()) == p.metadata.uid.as_deref())
        {
            continue;
        }
        match node_of(p) {
            Some(n) if missing_nodes.contains(n) => out.push(victim(p, Reason::Orphaned, true)),
            None if p.metadata.deletion_timestamp.is_some() => {
                out.push(victim(p, Reason::UnscheduledTerminating, true))
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::util::pod::tests::pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn named(name: &str, node: &str, phase: &str, created: i64) -> Pod {
        let mut p = pod(name, node, phase, None);
        p.metadata.uid = Some(name.into());
        p.metadata.namespace = Some("ns".into());
        p.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).expect("ts")));
        p
    }

    #[test]
    fn terminated_over_threshold_oldest_first() {
        let a = named("a", "n", "Succeeded", 3);
        let b = named("b", "n", "Failed", 1);
        let c = named("c", "n", "Succeeded", 2);
        let d = named("d", "n", "Running", 0);
        let none = HashSet::new();
        let v = plan(&[&a, &b, &c, &d], 1, &none);
        let names: Vec<&str> = v.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        assert!(v.iter().all(|v| v.reason == Reason::Terminated && !v.force));
        assert!(plan(&[&a, &b, &c], 0, &none).is_empty(), "threshold 0 disables");
        assert!(plan(&[&a, &b, &c], 3, &none).is_empty());
    }

    #[test]
    fn orphaned_and_unscheduled_terminating() {
        let on_gone = named("orphan", "gone", "Running", 1);
        let on_live = named("fine", "live", "Running", 1);
        let mut stuck = named("stuck", "", "Pending", 1);
        stuck.metadata.deletion_timestamp = Some(Time(Timestamp::from_second(5).expect("ts")));
        let known: HashSet<String> = ["live".to_string()].into();
        assert_eq!(
            nodes_to_check(&[&on_gone, &on_live, &stuck], &known),
            BTreeSet::from(["gone".to_string()])
        );
        let missing: HashSet<String> = ["gone".to_string()].into();
        let v = plan(&[&on_gone, &on_live, &stuck], 100, &missing);
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].name.as_str(), v[0].reason, v[0].force),
            ("orphan", Reason::Orphaned, true)
        );
        assert_eq!(
            (v[1].name.as_str(), v[1].reason),
            ("stuck", Reason::UnscheduledTerminating)
        );
    }
}
