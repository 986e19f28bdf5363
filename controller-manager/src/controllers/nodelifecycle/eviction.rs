//! Taint-based eviction (upstream `pkg/controller/tainteviction`): a pod on a node with
//! NoExecute taints it does not tolerate is deleted at once; one that tolerates them all for
//! a limited `tolerationSeconds` is deleted when the shortest of those runs out; and pods on a
//! node that is not Ready are marked not ready (`MarkPodsNotReady`).

use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// What to do with one pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// No NoExecute taint applies, or every one is tolerated forever.
    Keep,
    DeleteNow,
    /// Tolerated until then.
    DeleteAt(Timestamp),
}

/// `Toleration.ToleratesTaint`.
pub(crate) fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// The eviction decision for `pod` on a node with `taints`. Toleration time counts from each
/// taint's `timeAdded` (the controller sets it), so a restart does not reset the clock.
pub(crate) fn eviction(pod: &Pod, taints: &[Taint], now: Timestamp) -> Eviction {
    if pod.metadata.deletion_timestamp.is_some() {
        return Eviction::Keep;
    }
    let tolerations: &[Toleration] = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[]);
    let mut deadline: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let Some(tol) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Eviction::DeleteNow;
        };
        let Some(seconds) = tol.toleration_seconds else {
            continue; // tolerated forever
        };
        if seconds <= 0 {
            return Eviction::DeleteNow;
        }
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        let at = added
            .checked_add(SignedDuration::from_secs(seconds))
            .unwrap_or(Timestamp::MAX);
        deadline = Some(deadline.map_or(at, |d| d.min(at)));
    }
    match deadline {
        None => Eviction::Keep,
        Some(at) if at <= now => Eviction::DeleteNow,
        Some(at) => Eviction::DeleteAt(at),
    }
}

/// The condition set on a pod before the taint manager deletes it.
pub(crate) fn disruption_target(now: Timestamp) -> PodCondition {
    PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("DeletionByTaintManager".into()),
        message: Some("Taint manager: deleting due to NoExecute taint".into()),
        last_transition_time: Some(Time(now)),
        ..Default::default()
    }
}

/// `MarkPodsNotReady` for one pod: its Ready condition set False, or None when it already is
/// (or has none).
pub(crate) fn not_ready_status(pod: &Pod, now: Timestamp) -> Option<PodStatus> {
    let mut status = pod.status.clone()?;
    let ready = status
        .conditions
        .as_mut()?
        .iter_mut()
        .find(|c| c.type_ == "Ready")?;
    if ready.status == "False" {
        return None;
    }
    ready.status = "False".into();
    ready.last_transition_time = Some(Time(now));
    Some(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::nodelifecycle::testing::t;
    use k8s_openapi::api::core::v1::PodSpec;

    fn taint(key: &str, effect: &str, added: i64) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            time_added: Some(Time(t(added))),
            value: None,
        }
    }

    fn tol(key: &str, op: &str, effect: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: (!key.is_empty()).then(|| key.into()),
            operator: Some(op.into()),
            effect: (!effect.is_empty()).then(|| effect.into()),
            toleration_seconds: seconds,
            value: None,
        }
    }

    fn pod(tolerations: Vec<Toleration>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                tolerations: Some(tolerations),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

    #[test]
    fn eviction_table() {
        let unreachable = vec![taint(UNREACHABLE, "NoExecute", 100)];
        let cases = [
            (
                "no tolerations",
                vec![],
                unreachable.clone(),
                100,
                Eviction::DeleteNow,
            ),
            (
                "no NoExecute taint",
                vec![],
                vec![taint(UNREACHABLE, "NoSchedule", 100)],
                100,
                Eviction::Keep,
            ),
            (
                "tolerated forever",
                vec![tol(UNREACHABLE, "Exists", "NoExecute", None)],
                unreachable.clone(),
                100,
                Eviction::Keep,
            ),
            (
                "tolerate everything",
                vec![tol("", "Exists", "", None)],
                unreachable.clone(),
                100,
                Eviction::Keep,
            ),
            (
                "tolerated for 30s",
                vec![tol(UNREACHABLE, "Exists", "NoExecute", Some(30))],
                unreachable.clone(),
                110,
                Eviction::DeleteAt(t(130)),
            ),
            (
                "30s are over",
                vec![tol(UNREACHABLE, "Exists", "NoExecute", Some(30))],
                unreachable.clone(),
                130,
                Eviction::DeleteNow,
            ),
            (
                "zero seconds",
                vec![tol(UNREACHABLE, "Exists", "NoExecute", Some(0))],
                unreachable.clone(),
                100,
                Eviction::DeleteNow,
            ),
            (
                "wrong key",
                vec![tol("other", "Exists", "NoExecute", None)],
                unreachable.clone(),
                100,
                Eviction::DeleteNow,
            ),
            (
                "wrong effect",
                vec![tol(UNREACHABLE, "Exists", "NoSchedule", None)],
                unreachable.clone(),
                100,
                Eviction::DeleteNow,
            ),
            (
                "one of two taints untolerated",
                vec![tol(UNREACHABLE, "Exists", "NoExecute", None)],
                vec![taint(UNREACHABLE, "NoExecute", 100), taint("x", "NoExecute", 100)],
                100,
                Eviction::DeleteNow,
            ),
        ];
        for (name, tolerations, taints, now, want) in cases {
            assert_eq!(eviction(&pod(tolerations), &taints, t(now)), want, "{name}");
        }
    }

    #[test]
    fn equal_operator_compares_values() {
        let mut taint = taint("k", "NoExecute", 0);
        taint.value = Some("v".into());
        let mut tol = tol("k", "Equal", "NoExecute", None);
        assert!(!tolerates(&tol, &taint));
        tol.value = Some("v".into());
        assert!(tolerates(&tol, &taint));
    }

    #[test]
    fn mark_not_ready_once() {
        let p = crate::controllers::endpoints::pods::testing::pod("a", "10.0.0.1", true);
        let status = not_ready_status(&p, t(5)).expect("changes");
        let ready = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.last_transition_time.clone()),
            ("False", Some(Time(t(5))))
        );
        let mut p2 = p.clone();
        p2.status = Some(status);
        assert_eq!(not_ready_status(&p2, t(6)), None);
    }
}
