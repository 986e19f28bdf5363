//! A PodDisruptionBudget's status from its pods (upstream `pkg/controller/disruption`
//! `trySync`, `getExpectedPodCount`, `buildDisruptedPodMap`, `countHealthyPods`,
//! `updatePdbStatus`), as pure functions.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::controllers::util::owner::controller_ref;
use crate::controllers::util::pod::is_ready;

/// How long an eviction-approved pod may take to go before the PDB stops counting it as
/// disrupted (`DeletionTimeout`).
pub(crate) const DELETION_TIMEOUT: SignedDuration = SignedDuration::from_secs(120);

pub(crate) const CONDITION_DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
pub(crate) const REASON_SUFFICIENT: &str = "SufficientPods";
pub(crate) const REASON_INSUFFICIENT: &str = "InsufficientPods";
pub(crate) const REASON_SYNC_FAILED: &str = "SyncFailed";

/// Why the expected pod count could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CountError {
    #[error("invalid value for IntOrString: invalid type: string is not a percentage")]
    NotAPercentage,
    #[error("found no controllers for pod {0:?}")]
    NoController(String),
    #[error("{0}")]
    Lookup(String),
}

/// A controller found for a pod: its UID and its desired scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControllerScale {
    pub(crate) uid: String,
    pub(crate) scale: i32,
}

/// Looks up the scale of a pod's controller (None when no supported controller matches).
pub(crate) type ScaleLookup<'a> =
    dyn Fn(&OwnerReference, &str) -> Result<Option<ControllerScale>, String> + 'a;

/// `intstr.GetScaledValueFromIntOrPercent(v, total, roundUp=true)`.
pub(crate) fn scaled_value(v: &IntOrString, total: i32) -> Result<i32, CountError> {
    match v {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or(CountError::NotAPercentage)?;
            let value = (pct * i64::from(total) + 99).div_euclid(100);
            Ok(i32::try_from(value).unwrap_or(i32::MAX))
        }
    }
}

/// `getExpectedScale`: the sum of the scales of the controllers of `pods` (each counted once).
/// Pods without a controller are returned by name (upstream warns and ignores them).
pub(crate) fn expected_scale(
    pods: &[&Pod],
    lookup: &ScaleLookup<'_>,
) -> Result<(i32, Vec<String>), CountError> {
    let mut scales: HashMap<String, i32> = HashMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(owner) = controller_ref(&pod.metadata) else {
            unmanaged.push(name);
            continue;
        };
        if scales.contains_key(&owner.uid) {
            continue;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        match lookup(owner, ns).map_err(CountError::Lookup)? {
            Some(found) => {
                scales.insert(found.uid, found.scale);
            }
            None => return Err(CountError::NoController(name)),
        }
    }
    Ok((scales.values().sum(), unmanaged))
}

/// `(expectedCount, desiredHealthy, unmanaged pods)`.
pub(crate) fn expected_counts(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    lookup: &ScaleLookup<'_>,
) -> Result<(i32, i32, Vec<String>), CountError> {
    let spec = pdb.spec.clone().unwrap_or_default();
    if let Some(max_unavailable) = &spec.max_unavailable {
        let (expected, unmanaged) = expected_scale(pods, lookup)?;
        let max = scaled_value(max_unavailable, expected)?;
        return Ok((expected, (expected - max).max(0), unmanaged));
    }
    match &spec.min_available {
        Some(IntOrString::Int(n)) => Ok((i32::try_from(pods.len()).unwrap_or(i32::MAX), *n, Vec::new())),
        Some(pct @ IntOrString::String(_)) => {
            let (expected, unmanaged) = expected_scale(pods, lookup)?;
            Ok((expected, scaled_value(pct, expected)?, unmanaged))
        }
        None => Ok((0, 0, Vec::new())),
    }
}

/// `buildDisruptedPodMap`: entries for pods still present, not being deleted, and within the
/// deletion timeout; plus the earliest time an entry expires (to recheck then).
pub(crate) fn disrupted_pods(
    pdb: &PodDisruptionBudget,
    pods: &[&Pod],
    now: Timestamp,
) -> (BTreeMap<String, Time>, Option<Timestamp>) {
    let mut kept = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    let Some(listed) = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else {
        return (kept, recheck);
    };
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(name) = pod.metadata.name.as_ref() else {
            continue;
        };
        let Some(at) = listed.get(name) else { continue };
        let Ok(expires) = at.0.checked_add(DELETION_TIMEOUT) else {
            continue;
        };
        if expires < now {
            continue; // expected to be deleted but was not: stop counting it as disrupted
        }
        recheck = Some(recheck.map_or(expires, |r| r.min(expires)));
        kept.insert(name.clone(), at.clone());
    }
    (kept, recheck)
}

/// `countHealthyPods`: ready pods not being deleted and not about to be.
pub(crate) fn count_healthy(pods: &[&Pod], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let count = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            let name = p.metadata.name.as_deref().unwrap_or_default();
            disrupted
                .get(name)
                .and_then(|at| at.0.checked_add(DELETION_TIMEOUT).ok())
                .is_none_or(|expires| expires <= now)
        })
        .filter(|p| is_ready(p))
        .count();
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// `apimeta.SetStatusCondition`: replace by type, keeping the transition time when the status
/// did not change.
pub(crate) fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            if existing.status == new.status {
                new.last_transition_time = existing.last_transition_time.clone();
            }
            *existing = new;
        }
        None => conditions.push(new),
    }
}

/// The status a successful sync writes (`updatePdbStatus` + `UpdateDisruptionAllowedCondition`).
pub(crate) fn status(
    pdb: &PodDisruptionBudget,
    current_healthy: i32,
    desired_healthy: i32,
    expected: i32,
    disrupted: BTreeMap<String, Time>,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut allowed = current_healthy - desired_healthy;
    if expected <= 0 || allowed <= 0 {
        allowed = 0;
    }
    let generation = pdb.metadata.generation;
    let mut conditions = pdb
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let (status, reason) = if allowed > 0 {
        ("True", REASON_SUFFICIENT)
    } else {
        ("False", REASON_INSUFFICIENT)
    };
    set_condition(
        &mut conditions,
        Condition {
            type_: CONDITION_DISRUPTION_ALLOWED.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: generation,
            last_transition_time: Time(now),
        },
    );
    PodDisruptionBudgetStatus {
        current_healthy,
        desired_healthy,
        expected_pods: expected,
        disruptions_allowed: allowed,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        observed_generation: generation,
        conditions: Some(conditions),
    }
}

/// The status written when a sync fails (`failSafe`): no disruptions allowed.
pub(crate) fn fail_safe(pdb: &PodDisruptionBudget, err: &str, now: Timestamp) -> PodDisruptionBudgetStatus {
    let mut next = pdb.status.clone().unwrap_or_default();
    next.disruptions_allowed = 0;
    let mut conditions = next.conditions.take().unwrap_or_default();
    set_condition(
        &mut conditions,
        Condition {
            type_: CONDITION_DISRUPTION_ALLOWED.into(),
            status: "False".into(),
            reason: REASON_SYNC_FAILED.into(),
            message: err.to_string(),
            observed_generation: next.observed_generation,
            last_transition_time: Time(now),
        },
    );
    next.conditions = Some(conditions);
    next
}

/// Status equality ignoring nothing but representation (None vs empty disrupted map).
pub(crate) fn same_status(a: Option<&PodDisruptionBudgetStatus>, b: &PodDisruptionBudgetStatus) -> bool {
    let norm = |s: &PodDisruptionBudgetStatus| {
        let mut s = s.clone();
        if s.disrupted_pods.as_ref().is_some_and(BTreeMap::is_empty) {
            s.disrupted_pods = None;
        }
        s
    };
    a.is_some_and(|a| norm(a) == norm(b))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
