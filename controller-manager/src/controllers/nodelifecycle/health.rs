//! Node health from heartbeats (upstream `tryUpdateNodeHealth`): the controller keeps, per
//! node, the local time it last saw the kubelet report (Ready heartbeat or Lease renewal), and
//! once that is older than the grace period marks the node's conditions Unknown.
//!
//! Local observation time, not the timestamps the kubelet wrote, decides staleness, so clock
//! skew between kubelet and controller does not matter (as upstream).

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The conditions the controller sets Unknown when the kubelet goes quiet (NetworkUnavailable
/// is left alone: it is managed at the control-plane level).
pub(crate) const MONITORED_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What the controller remembers about one node between passes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeHealth {
    /// Local time of the last sign of life.
    pub(crate) probe_timestamp: Timestamp,
    /// The Ready condition as last seen (heartbeat and transition time tell changes apart).
    pub(crate) ready: Option<NodeCondition>,
    /// The Lease renewTime last seen.
    pub(crate) lease_renew: Option<Timestamp>,
}

pub(crate) fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
}

/// The Ready condition's status ("True", "False", "Unknown"; "Unknown" when absent).
pub(crate) fn ready_status(node: &Node) -> &str {
    condition(node, "Ready").map_or("Unknown", |c| c.status.as_str())
}

fn lease_renew(lease: Option<&Lease>) -> Option<Timestamp> {
    lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0)
}

/// Folds one observation of the node (and its Lease) into what we remember.
pub(crate) fn observe(
    saved: Option<&NodeHealth>,
    node: &Node,
    lease: Option<&Lease>,
    now: Timestamp,
) -> NodeHealth {
    let current = condition(node, "Ready").cloned();
    let created = node.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let mut health = match saved {
        // First sight: a node that never posted status counts from its creation; any other
        // from now.
        None => NodeHealth {
            probe_timestamp: if current.is_none() { created } else { now },
            ready: current.clone(),
            lease_renew: None,
        },
        Some(saved) => {
            let mut h = saved.clone();
            let heartbeat_moved = match (&saved.ready, &current) {
                (None, Some(_)) | (Some(_), None) => true,
                (Some(a), Some(b)) => a.last_heartbeat_time != b.last_heartbeat_time,
                (None, None) => false,
            };
            if heartbeat_moved {
                h.probe_timestamp = now;
            }
            h.ready = current.clone();
            h
        }
    };
    let renew = lease_renew(lease);
    if renew.is_some() && (health.lease_renew.is_none() || health.lease_renew < renew) {
        // A renewed (or first seen) Lease always counts as a sign of life.
        health.probe_timestamp = now;
        health.lease_renew = renew;
    }
    health
}

/// The node's conditions with the monitored ones set Unknown, when the last sign of life is
/// older than the grace period (`grace` for nodes that posted status, `startup_grace` for
/// those that never did). None when nothing changes.
pub(crate) fn stale_conditions(
    node: &Node,
    health: &NodeHealth,
    now: Timestamp,
    grace: SignedDuration,
    startup_grace: SignedDuration,
) -> Option<Vec<NodeCondition>> {
    let grace = if condition(node, "Ready").is_some() {
        grace
    } else {
        startup_grace
    };
    if now <= health.probe_timestamp.checked_add(grace).ok()? {
        return None;
    }
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for type_ in MONITORED_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            None => {
                conditions.push(NodeCondition {
                    type_: type_.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
            Some(c) if c.status != "Unknown" => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            Some(_) => {}
        }
    }
    changed.then_some(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::nodelifecycle::testing::{lease, node, secs, t};

    #[test]
    fn lease_renewal_keeps_a_node_alive() {
        let n = node("n", "True", 0);
        let h0 = observe(None, &n, Some(&lease(0)), t(100));
        assert_eq!(h0.probe_timestamp, t(100));
        // Lease renewed at t=130: probe moves to the observation time.
        let h1 = observe(Some(&h0), &n, Some(&lease(30)), t(130));
        assert_eq!(h1.probe_timestamp, t(130));
        // Same lease seen again later: no change.
        let h2 = observe(Some(&h1), &n, Some(&lease(30)), t(160));
        assert_eq!(h2.probe_timestamp, t(130));
        assert!(stale_conditions(&n, &h2, t(160), secs(40), secs(60)).is_none());
        let conds = stale_conditions(&n, &h2, t(171), secs(40), secs(60)).expect("stale");
        let ready = conds.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            ready.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(ready.last_transition_time, Some(Time(t(171))));
        let types: Vec<&str> = conds.iter().map(|c| c.type_.as_str()).collect();
        for want in MONITORED_CONDITIONS {
            assert!(types.contains(&want), "{want} missing");
        }
        let never = conds.iter().find(|c| c.type_ == "DiskPressure").unwrap();
        assert_eq!(never.reason.as_deref(), Some("NodeStatusNeverUpdated"));
    }

    #[test]
    fn heartbeat_in_ready_condition_counts_too() {
        let n0 = node("n", "True", 0);
        let h0 = observe(None, &n0, None, t(100));
        let n1 = node("n", "True", 50);
        let h1 = observe(Some(&h0), &n1, None, t(150));
        assert_eq!(h1.probe_timestamp, t(150));
    }

    #[test]
    fn already_unknown_is_not_rewritten() {
        let mut n = node("n", "True", 0);
        let h = observe(None, &n, None, t(0));
        let conds = stale_conditions(&n, &h, t(100), secs(40), secs(60)).unwrap();
        n.status.as_mut().unwrap().conditions = Some(conds);
        assert!(stale_conditions(&n, &h, t(200), secs(40), secs(60)).is_none());
    }

    #[test]
    fn node_without_status_uses_startup_grace_from_creation() {
        let mut n = node("n", "True", 0);
        n.status = None;
        n.metadata.creation_timestamp = Some(Time(t(0)));
        let h = observe(None, &n, None, t(10));
        assert_eq!(h.probe_timestamp, t(0));
        assert!(stale_conditions(&n, &h, t(50), secs(40), secs(60)).is_none());
        let conds = stale_conditions(&n, &h, t(61), secs(40), secs(60)).unwrap();
        assert!(
            conds
                .iter()
                .all(|c| c.reason.as_deref() == Some("NodeStatusNeverUpdated"))
        );
    }
}
