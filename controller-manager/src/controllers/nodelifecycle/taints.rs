//! The taints a node's conditions call for (upstream `doNoScheduleTaintingPass` and
//! `doNoExecuteTaintingPass`), and the zone-disruption brake on NoExecute tainting.

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::health::condition;

pub(crate) const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub(crate) const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub(crate) const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// Every NoSchedule taint key this controller owns.
const NO_SCHEDULE_KEYS: [&str; 7] = [
    TAINT_NOT_READY,
    TAINT_UNREACHABLE,
    TAINT_UNSCHEDULABLE,
    TAINT_MEMORY_PRESSURE,
    TAINT_DISK_PRESSURE,
    TAINT_PID_PRESSURE,
    TAINT_NETWORK_UNAVAILABLE,
];

/// `nodeConditionToTaintKeyStatusMap` plus `spec.unschedulable`.
fn no_schedule_keys(node: &Node) -> Vec<&'static str> {
    let status = |t: &str| condition(node, t).map(|c| c.status.as_str());
    let mut keys = Vec::new();
    match status("Ready") {
        Some("False") => keys.push(TAINT_NOT_READY),
        Some("Unknown") => keys.push(TAINT_UNREACHABLE),
        _ => {}
    }
    for (cond, key) in [
        ("MemoryPressure", TAINT_MEMORY_PRESSURE),
        ("DiskPressure", TAINT_DISK_PRESSURE),
        ("PIDPressure", TAINT_PID_PRESSURE),
        ("NetworkUnavailable", TAINT_NETWORK_UNAVAILABLE),
    ] {
        if status(cond) == Some("True") {
            keys.push(key);
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        keys.push(TAINT_UNSCHEDULABLE);
    }
    keys
}

/// The NoExecute taint the Ready condition calls for: not-ready for False, unreachable for
/// Unknown (or missing), none for True.
fn no_execute_key(node: &Node) -> Option<&'static str> {
    match condition(node, "Ready").map(|c| c.status.as_str()) {
        Some("True") => None,
        Some("False") => Some(TAINT_NOT_READY),
        _ => Some(TAINT_UNREACHABLE),
    }
}

/// How the NoExecute taints are handled in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoExecute {
    /// Normal: follow the Ready condition.
    Apply,
    /// A small zone in partial disruption: add none, keep what is there (upstream sets the
    /// zone's eviction rate to zero).
    Hold,
    /// Every zone fully disrupted: remove them all (upstream `markNodeAsReachable`), since the
    /// control plane's own network is the likelier culprit than every node at once.
    Clear,
}

/// The node's full taint list after this pass, or None when it stays as is.
pub(crate) fn desired_taints(node: &Node, now: Timestamp, mode: NoExecute) -> Option<Vec<Taint>> {
    let current: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let want_ns = no_schedule_keys(node);
    let want_ne = match mode {
        NoExecute::Apply => no_execute_key(node),
        NoExecute::Hold | NoExecute::Clear => None,
    };
    let ours = |t: &Taint| {
        (t.effect == "NoSchedule" && NO_SCHEDULE_KEYS.contains(&t.key.as_str()))
            || (t.effect == "NoExecute" && (t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE))
    };
    let held = |t: &Taint| mode == NoExecute::Hold && t.effect == "NoExecute";
    let mut next: Vec<Taint> = current.iter().filter(|t| !ours(t) || held(t)).cloned().collect();
    for key in want_ns {
        let existing = current.iter().find(|t| t.effect == "NoSchedule" && t.key == key);
        next.push(existing.cloned().unwrap_or_else(|| Taint {
            key: key.into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        }));
    }
    if let Some(key) = want_ne {
        let existing = current.iter().find(|t| t.effect == "NoExecute" && t.key == key);
        // NoExecute taints carry the time they were added: tolerationSeconds count from it.
        next.push(existing.cloned().unwrap_or_else(|| Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            time_added: Some(Time(now)),
            value: None,
        }));
    }
    let same = next.len() == current.len() && next.iter().all(|t| current.contains(t));
    (!same).then_some(next)
}

/// Upstream zone states (`ComputeZoneState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// `--unhealthy-zone-threshold` and `--large-cluster-size-threshold` defaults.
const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
const LARGE_CLUSTER_THRESHOLD: usize = 50;

/// A zone's state from its nodes' Ready statuses: fully disrupted when none is Ready,
/// partially when more than two are not and they are at least 55%.
pub(crate) fn zone_state(ready: &[bool]) -> ZoneState {
    let not_ready = ready.iter().filter(|r| !**r).count();
    if not_ready > 0 && not_ready == ready.len() {
        ZoneState::FullDisruption
    } else if not_ready > 2 && not_ready as f64 / ready.len() as f64 >= UNHEALTHY_ZONE_THRESHOLD {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// How NoExecute tainting proceeds in a zone: cleared when every zone is fully disrupted,
/// held in a partially disrupted small zone.
pub(crate) fn no_execute_mode(state: ZoneState, zone_size: usize, all_fully_disrupted: bool) -> NoExecute {
    match state {
        ZoneState::FullDisruption if all_fully_disrupted => NoExecute::Clear,
        ZoneState::PartialDisruption if zone_size <= LARGE_CLUSTER_THRESHOLD => NoExecute::Hold,
        _ => NoExecute::Apply,
    }
}

/// The zone key of a node (region and zone labels, as upstream's `GetZoneKey`).
pub(crate) fn zone_key(node: &Node) -> String {
    let labels = node.metadata.labels.as_ref();
    let get = |k: &str| labels.and_then(|l| l.get(k)).cloned().unwrap_or_default();
    format!(
        "{}:\u{0}:{}",
        get("topology.kubernetes.io/region"),
        get("topology.kubernetes.io/zone")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::nodelifecycle::testing::{node, t};

    fn keys(taints: &[Taint]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = taints.iter().map(|t| (t.key.clone(), t.effect.clone())).collect();
        v.sort();
        v
    }

    #[test]
    fn taints_follow_ready_condition() {
        let cases = [
            ("True", vec![]),
            (
                "False",
                vec![(TAINT_NOT_READY, "NoExecute"), (TAINT_NOT_READY, "NoSchedule")],
            ),
            (
                "Unknown",
                vec![
                    (TAINT_UNREACHABLE, "NoExecute"),
                    (TAINT_UNREACHABLE, "NoSchedule"),
                ],
            ),
        ];
        for (status, want) in cases {
            let n = node("n", status, 0);
            let got = desired_taints(&n, t(5), NoExecute::Apply).unwrap_or_default();
            let want: Vec<(String, String)> =
                want.iter().map(|(k, e)| (k.to_string(), e.to_string())).collect();
            assert_eq!(keys(&got), want, "{status}");
            if let Some(ne) = got.iter().find(|t| t.effect == "NoExecute") {
                assert_eq!(ne.time_added, Some(Time(t(5))));
            }
        }
    }

    #[test]
    fn swap_keeps_foreign_taints_and_is_stable() {
        let mut n = node("n", "Unknown", 0);
        n.spec.as_mut().unwrap().taints = Some(vec![
            Taint {
                key: "dedicated".into(),
                effect: "NoSchedule".into(),
                value: Some("gpu".into()),
                time_added: None,
            },
            Taint {
                key: TAINT_NOT_READY.into(),
                effect: "NoExecute".into(),
                time_added: Some(Time(t(1))),
                value: None,
            },
        ]);
        let next = desired_taints(&n, t(9), NoExecute::Apply).unwrap();
        assert_eq!(
            keys(&next),
            vec![
                ("dedicated".to_string(), "NoSchedule".to_string()),
                (TAINT_UNREACHABLE.to_string(), "NoExecute".to_string()),
                (TAINT_UNREACHABLE.to_string(), "NoSchedule".to_string()),
            ]
        );
        n.spec.as_mut().unwrap().taints = Some(next);
        assert_eq!(
            desired_taints(&n, t(20), NoExecute::Apply),
            None,
            "second pass is a no-op"
        );
    }

    #[test]
    fn unschedulable_and_pressure_taints() {
        let mut n = node("n", "True", 0);
        n.spec.as_mut().unwrap().unschedulable = Some(true);
        n.status.as_mut().unwrap().conditions.as_mut().unwrap().push(
            k8s_openapi::api::core::v1::NodeCondition {
                type_: "MemoryPressure".into(),
                status: "True".into(),
                ..Default::default()
            },
        );
        let got = desired_taints(&n, t(0), NoExecute::Apply).unwrap();
        assert_eq!(
            keys(&got),
            vec![
                (TAINT_MEMORY_PRESSURE.to_string(), "NoSchedule".to_string()),
                (TAINT_UNSCHEDULABLE.to_string(), "NoSchedule".to_string()),
            ]
        );
    }

    #[test]
    fn healthy_again_removes_controller_taints() {
        let mut n = node("n", "True", 0);
        n.spec.as_mut().unwrap().taints = Some(vec![
            Taint {
                key: TAINT_UNREACHABLE.into(),
                effect: "NoExecute".into(),
                time_added: Some(Time(t(1))),
                value: None,
            },
            Taint {
                key: TAINT_UNREACHABLE.into(),
                effect: "NoSchedule".into(),
                time_added: None,
                value: None,
            },
        ]);
        assert_eq!(desired_taints(&n, t(2), NoExecute::Apply), Some(vec![]));
    }

    #[test]
    fn disruption_brake_withholds_no_execute() {
        let mut n = node("n", "Unknown", 0);
        let got = desired_taints(&n, t(0), NoExecute::Clear).unwrap();
        assert_eq!(
            keys(&got),
            vec![(TAINT_UNREACHABLE.to_string(), "NoSchedule".to_string())]
        );
        n.spec.as_mut().unwrap().taints = Some(vec![Taint {
            key: TAINT_NOT_READY.into(),
            effect: "NoExecute".into(),
            time_added: Some(Time(t(1))),
            value: None,
        }]);
        let held = desired_taints(&n, t(0), NoExecute::Hold).unwrap();
        assert_eq!(
            keys(&held),
            vec![
                (TAINT_NOT_READY.to_string(), "NoExecute".to_string()),
                (TAINT_UNREACHABLE.to_string(), "NoSchedule".to_string()),
            ]
        );
    }

    #[test]
    fn zone_states() {
        assert_eq!(zone_state(&[true, false]), ZoneState::Normal);
        assert_eq!(zone_state(&[false]), ZoneState::FullDisruption);
        assert_eq!(
            zone_state(&[false, false, false, true]),
            ZoneState::PartialDisruption
        );
        assert_eq!(zone_state(&[false, false, true, true, true]), ZoneState::Normal);
        assert_eq!(
            no_execute_mode(ZoneState::FullDisruption, 1, false),
            NoExecute::Apply
        );
        assert_eq!(
            no_execute_mode(ZoneState::FullDisruption, 1, true),
            NoExecute::Clear
        );
        assert_eq!(
            no_execute_mode(ZoneState::PartialDisruption, 10, false),
            NoExecute::Hold
        );
        assert_eq!(
            no_execute_mode(ZoneState::PartialDisruption, 60, false),
            NoExecute::Apply
        );
    }
}
