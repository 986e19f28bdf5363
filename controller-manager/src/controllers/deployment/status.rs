//! Deployment status and conditions (upstream `sync.go` `calculateStatus`, `progress.go`,
//! `util.SetDeploymentCondition`), pure.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::util::{max_unavailable, replicas, rs_replicas};

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";

pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

pub fn get<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == type_)
}

/// Upstream `SetDeploymentCondition`: same status and reason changes nothing; same status keeps
/// the transition time.
pub fn set(status: &mut DeploymentStatus, mut cond: DeploymentCondition) {
    if let Some(current) = get(status, &cond.type_) {
        if current.status == cond.status && current.reason == cond.reason {
            return;
        }
        if current.status == cond.status {
            cond.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove(status, &cond.type_);
    status.conditions.get_or_insert_with(Vec::new).push(cond);
}

pub fn remove(status: &mut DeploymentStatus, type_: &str) {
    if let Some(c) = status.conditions.as_mut() {
        c.retain(|c| c.type_ != type_);
    }
}

/// `progressDeadlineSeconds`, unless unset or MaxInt32 (no deadline).
pub fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .filter(|s| *s != i32::MAX)
}

/// Upstream `calculateStatus`: counts from every ReplicaSet, the Available condition.
pub fn calculate(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> DeploymentStatus {
    let st = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let available: i32 = all.iter().map(|rs| st(rs).available_replicas.unwrap_or(0)).sum();
    let spec_total: i32 = all.iter().map(|rs| rs_replicas(rs)).sum();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(all.iter().map(|rs| st(rs).replicas).sum()),
        updated_replicas: Some(new.map_or(0, |n| st(n).replicas)),
        ready_replicas: Some(all.iter().map(|rs| st(rs).ready_replicas.unwrap_or(0)).sum()),
        available_replicas: Some(available),
        unavailable_replicas: Some((spec_total - available).max(0)),
        collision_count: d.status.as_ref().and_then(|s| s.collision_count),
        conditions: d.status.as_ref().and_then(|s| s.conditions.clone()),
        terminating_replicas: None,
    };
    if available >= replicas(d) - max_unavailable(d) {
        set(
            &mut status,
            condition(
                AVAILABLE,
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.",
                now,
            ),
        );
    } else {
        set(
            &mut status,
            condition(
                AVAILABLE,
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.",
                now,
            ),
        );
    }
    status
}

fn n(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// Upstream `DeploymentComplete`.
pub fn is_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let want = replicas(d);
    n(status.updated_replicas) == want
        && n(status.replicas) == want
        && n(status.available_replicas) == want
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Upstream `DeploymentProgressing`: more updated/ready/available, or fewer old replicas.
fn is_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// Upstream `DeploymentTimedOut`.
fn is_timed_out(d: &Deployment, status: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(deadline) = progress_deadline(d) else {
        return false;
    };
    let Some(cond) = get(status, PROGRESSING) else {
        return false;
    };
    match cond.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => cond
            .last_update_time
            .as_ref()
            .is_some_and(|t| t.0.as_second() + i64::from(deadline) < now.as_second()),
    }
}

/// Upstream `syncRolloutStatus`'s condition logic over a freshly calculated status.
pub fn progress(
    d: &Deployment,
    mut status: DeploymentStatus,
    new_rs: Option<&str>,
    now: Timestamp,
) -> DeploymentStatus {
    if progress_deadline(d).is_none() {
        remove(&mut status, PROGRESSING);
        return status;
    }
    let current = d.status.as_ref().and_then(|s| get(s, PROGRESSING)).cloned();
    let already_complete = n(status.replicas) == n(status.updated_replicas)
        && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
    if already_complete {
        return status;
    }
    let subject = match new_rs {
        Some(name) => format!("ReplicaSet \"{name}\""),
        None => format!("Deployment \"{}\"", d.metadata.name.as_deref().unwrap_or("")),
    };
    if is_complete(d, &status) {
        let msg = format!("{subject} has successfully progressed.");
        set(
            &mut status,
            condition(PROGRESSING, "True", NEW_RS_AVAILABLE, &msg, now),
        );
    } else if is_progressing(d, &status) {
        let msg = format!("{subject} is progressing.");
        let mut cond = condition(PROGRESSING, "True", RS_UPDATED, &msg, now);
        if let Some(c) = current.as_ref().filter(|c| c.status == "True") {
            cond.last_transition_time = c.last_transition_time.clone();
        }
        // Always refresh lastUpdateTime: progress pushes the deadline out.
        remove(&mut status, PROGRESSING);
        set(&mut status, cond);
    } else if is_timed_out(d, &status, now) {
        let msg = format!("{subject} has timed out progressing.");
        set(&mut status, condition(PROGRESSING, "False", TIMED_OUT, &msg, now));
    }
    status
}

/// Upstream `requeueStuckDeployment`: when to look again so a stalled rollout times out.
pub fn requeue_after(
    d: &Deployment,
    status: &DeploymentStatus,
    now: Timestamp,
) -> Option<std::time::Duration> {
    let deadline = progress_deadline(d)?;
    let cond = get(status, PROGRESSING)?;
    if is_complete(d, status) || matches!(cond.reason.as_deref(), Some(TIMED_OUT) | Some(NEW_RS_AVAILABLE)) {
        return None;
    }
    let from = cond.last_update_time.as_ref()?.0.as_second();
    let left = from + i64::from(deadline) - now.as_second();
    Some(std::time::Duration::from_secs(
        u64::try_from(left.max(0)).unwrap_or(0) + 1,
    ))
}

/// Upstream `checkPausedConditions`: Progressing=Unknown DeploymentPaused/DeploymentResumed.
/// Returns whether the status changed.
pub fn paused_condition(d: &Deployment, status: &mut DeploymentStatus, now: Timestamp) -> bool {
    if progress_deadline(d).is_none() {
        return false;
    }
    let current = get(status, PROGRESSING).and_then(|c| c.reason.clone());
    if current.as_deref() == Some(TIMED_OUT) {
        return false;
    }
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let paused_cond = current.as_deref() == Some(PAUSED);
    if paused && !paused_cond {
        set(
            status,
            condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now),
        );
        true
    } else if !paused && paused_cond {
        set(
            status,
            condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now),
        );
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).expect("ts")
    }

    fn d(replicas: i32, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {
                "replicas": replicas, "progressDeadlineSeconds": 60,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}}
            },
            "status": status
        }))
        .expect("deployment")
    }

    fn rs(replicas: i32, ready: i32, available: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web-abc"},
            "spec": {"replicas": replicas, "selector": {}},
            "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": available}
        }))
        .expect("rs")
    }

    fn reason(s: &DeploymentStatus, t: &str) -> Option<String> {
        get(s, t).and_then(|c| c.reason.clone())
    }

    #[test]
    fn counts_and_availability() {
        let dep = d(3, json!({}));
        let old = rs(1, 1, 1);
        let new = rs(3, 2, 1);
        let s = calculate(&dep, &[&old, &new], Some(&new), ts(100));
        assert_eq!(
            (s.replicas, s.updated_replicas, s.ready_replicas),
            (Some(4), Some(3), Some(3))
        );
        assert_eq!((s.available_replicas, s.unavailable_replicas), (Some(2), Some(2)));
        assert_eq!(s.observed_generation, Some(2));
        // 3 replicas, 25% maxUnavailable rounds down to 0: 2 available is not enough.
        assert_eq!(
            reason(&s, AVAILABLE).as_deref(),
            Some(MINIMUM_REPLICAS_UNAVAILABLE)
        );
        let all = rs(3, 3, 3);
        let s = calculate(&dep, &[&all], Some(&all), ts(100));
        assert_eq!(reason(&s, AVAILABLE).as_deref(), Some(MINIMUM_REPLICAS_AVAILABLE));
    }

    #[test]
    fn progressing_then_complete_then_stays() {
        let dep = d(
            3,
            json!({"replicas": 3, "updatedReplicas": 1, "availableReplicas": 1}),
        );
        let new = rs(3, 2, 2);
        let s = progress(
            &dep,
            calculate(&dep, &[&new], Some(&new), ts(100)),
            Some("web-abc"),
            ts(100),
        );
        let c = get(&s, PROGRESSING).expect("progressing");
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref()),
            ("True", Some(RS_UPDATED))
        );
        assert_eq!(
            c.message.as_deref(),
            Some("ReplicaSet \"web-abc\" is progressing.")
        );

        let done = rs(3, 3, 3);
        let s = progress(
            &dep,
            calculate(&dep, &[&done], Some(&done), ts(110)),
            Some("web-abc"),
            ts(110),
        );
        assert_eq!(reason(&s, PROGRESSING).as_deref(), Some(NEW_RS_AVAILABLE));
        assert!(is_complete(&dep, &s));
        assert_eq!(requeue_after(&dep, &s, ts(110)), None);
    }

    #[test]
    fn times_out_after_the_deadline() {
        let status = json!({"replicas": 3, "updatedReplicas": 1, "availableReplicas": 0,
            "conditions": [{"type": "Progressing", "status": "True", "reason": RS_UPDATED,
                "lastUpdateTime": "1970-01-01T00:01:40Z", "lastTransitionTime": "1970-01-01T00:01:40Z"}]});
        let dep = d(3, status);
        let stuck = rs(3, 0, 0);
        let mut calc = calculate(&dep, &[&stuck], Some(&stuck), ts(130));
        calc.updated_replicas = Some(1);
        calc.replicas = Some(3);
        let s = progress(&dep, calc.clone(), Some("web-abc"), ts(130));
        assert_eq!(reason(&s, PROGRESSING).as_deref(), Some(RS_UPDATED));
        assert_eq!(
            requeue_after(&dep, &s, ts(130)),
            Some(std::time::Duration::from_secs(31))
        );
        let s = progress(&dep, calc, Some("web-abc"), ts(161));
        let c = get(&s, PROGRESSING).expect("cond");
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref()),
            ("False", Some(TIMED_OUT))
        );
    }

    #[test]
    fn pause_and_resume_conditions() {
        let mut dep = d(1, json!({}));
        if let Some(s) = dep.spec.as_mut() {
            s.paused = Some(true);
        }
        let mut status = DeploymentStatus::default();
        assert!(paused_condition(&dep, &mut status, ts(1)));
        assert_eq!(reason(&status, PROGRESSING).as_deref(), Some(PAUSED));
        assert!(!paused_condition(&dep, &mut status, ts(2)));
        if let Some(s) = dep.spec.as_mut() {
            s.paused = Some(false);
        }
        assert!(paused_condition(&dep, &mut status, ts(3)));
        assert_eq!(reason(&status, PROGRESSING).as_deref(), Some(RESUMED));
    }
}
