//! Job policies as upstream applies them: `podFailurePolicy` rules against failed pods
//! (`pod_failure_policy.go`), `successPolicy` rules against succeeded indexes
//! (`success_policy.go`), and the exponential back-off between pod failures
//! (`backoff_utils.go`).

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, SuccessPolicy};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::indexes;

/// Outcome of matching a failed pod against a pod failure policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureMatch {
    /// Present when a FailJob rule matched: the Job's failure message.
    pub fail_job: Option<String>,
    /// False when an Ignore rule matched: the failure does not count toward backoffLimit.
    pub count: bool,
    /// The matched rule's action, if any.
    pub action: Option<String>,
}

/// Upstream `matchPodFailurePolicy`. Rules are tried in order; the first that matches wins.
pub fn match_pod_failure_policy(policy: Option<&PodFailurePolicy>, pod: &Pod) -> FailureMatch {
    let unmatched = FailureMatch {
        fail_job: None,
        count: true,
        action: None,
    };
    let Some(policy) = policy else { return unmatched };
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (index, rule) in policy.rules.iter().enumerate() {
        let detail = if let Some(req) = &rule.on_exit_codes {
            matching_container(pod, req).map(|c| {
                let code = c.state.as_ref().and_then(|s| s.terminated.as_ref()).map_or(0, |t| t.exit_code);
                format!(
                    "Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {index}",
                    c.name, rule.action
                )
            })
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let conditions = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_deref())
                .unwrap_or_default();
            conditions
                .iter()
                .find(|c| {
                    patterns
                        .iter()
                        .any(|p| p.type_ == c.type_ && p.status == c.status)
                })
                .map(|c| {
                    format!(
                        "Pod {ns}/{name} has condition {} matching {} rule at index {index}",
                        c.type_, rule.action
                    )
                })
        } else {
            None
        };
        let Some(message) = detail else { continue };
        let action = Some(rule.action.clone());
        match rule.action.as_str() {
            "Ignore" => {
                return FailureMatch {
                    fail_job: None,
                    count: false,
                    action,
                };
            }
            "Count" | "FailIndex" => {
                return FailureMatch {
                    fail_job: None,
                    count: true,
                    action,
                };
            }
            "FailJob" => {
                return FailureMatch {
                    fail_job: Some(message),
                    count: true,
                    action,
                };
            }
            _ => {}
        }
    }
    unmatched
}

/// The first terminated container (app containers, then init containers) with a non-zero
/// exit code that satisfies the requirement.
fn matching_container<'a>(
    pod: &'a Pod,
    req: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<&'a ContainerStatus> {
    let status = pod.status.as_ref()?;
    let lists = [
        status.container_statuses.as_deref(),
        status.init_container_statuses.as_deref(),
    ];
    lists.into_iter().flatten().flatten().find(|c| {
        let Some(t) = c.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
            return false;
        };
        if req.container_name.as_ref().is_some_and(|n| *n != c.name) || t.exit_code == 0 {
            return false;
        }
        let listed = req.values.contains(&t.exit_code);
        match req.operator.as_str() {
            "In" => listed,
            "NotIn" => !listed,
            _ => false,
        }
    })
}

/// Upstream `matchSuccessPolicy`: "Matched rules at index N" for the first rule the succeeded
/// indexes satisfy. A rule with `succeededIndexes` is met when all of them succeeded, or at
/// least `succeededCount` of them; a rule with only `succeededCount` when that many succeeded.
pub fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &BTreeSet<i32>,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    let at_least =
        |n: Option<i32>, have: usize| n.is_some_and(|n| usize::try_from(n).is_ok_and(|n| have >= n));
    for (index, rule) in policy.rules.iter().enumerate() {
        let met = match &rule.succeeded_indexes {
            Some(text) => {
                let wanted = indexes::parse(text, completions);
                if wanted.is_empty() {
                    continue;
                }
                let done = wanted.intersection(succeeded).count();
                done == wanted.len() || at_least(rule.succeeded_count, done)
            }
            None => at_least(rule.succeeded_count, succeeded.len()),
        };
        if met {
            return Some(format!("Matched rules at index {index}"));
        }
    }
    None
}

/// Failures since the last success, for the pod creation back-off (upstream `backoffRecord`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackoffRecord {
    pub failures_after_last_success: i32,
    pub last_failure_time: Option<Timestamp>,
}

impl BackoffRecord {
    /// Folds in pods that newly finished in this sync (upstream `newBackoffRecord`).
    pub fn update(self, new_succeeded: &[&Pod], new_failed: &[&Pod]) -> BackoffRecord {
        let mut failed: Vec<Timestamp> = new_failed.iter().map(|p| finished_time(p)).collect();
        failed.sort();
        let last_success = new_succeeded.iter().map(|p| finished_time(p)).max();
        match last_success {
            None if failed.is_empty() => self,
            None => BackoffRecord {
                failures_after_last_success: self.failures_after_last_success + failed.len() as i32,
                last_failure_time: failed.last().copied(),
            },
            Some(success) => {
                let after: Vec<Timestamp> = failed.into_iter().filter(|t| *t > success).collect();
                BackoffRecord {
                    failures_after_last_success: after.len() as i32,
                    last_failure_time: after.last().copied(),
                }
            }
        }
    }

    /// How long pod creation must still wait: `base * 2^(failures-1)` capped at `max`,
    /// counted from the last failure.
    pub fn remaining(&self, now: Timestamp, base: Duration, max: Duration) -> Duration {
        let (Some(last), n) = (self.last_failure_time, self.failures_after_last_success) else {
            return Duration::ZERO;
        };
        if n <= 0 {
            return Duration::ZERO;
        }
        let mut backoff = base;
        for _ in 1..n {
            backoff = backoff.saturating_mul(2);
            if backoff >= max {
                backoff = max;
                break;
            }
        }
        let elapsed = Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO);
        backoff.saturating_sub(elapsed)
    }
}

/// When a pod finished (upstream `getFinishedTime`): the latest container termination if all
/// containers terminated, else the Ready=False transition, else deletion time minus grace,
/// else creation time.
pub fn finished_time(pod: &Pod) -> Timestamp {
    let status = pod.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    if !containers.is_empty() {
        let ends: Option<Vec<Timestamp>> = containers
            .iter()
            .map(|c| {
                c.state
                    .as_ref()?
                    .terminated
                    .as_ref()?
                    .finished_at
                    .as_ref()
                    .map(|t| t.0)
            })
            .collect();
        if let Some(max) = ends.and_then(|e| e.into_iter().max()) {
            return max;
        }
    }
    let ready_false = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "False")
        .and_then(|c| c.last_transition_time.as_ref());
    if let Some(t) = ready_false {
        return t.0;
    }
    if let Some(deleted) = &pod.metadata.deletion_timestamp {
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
        return deleted.0 - SignedDuration::from_secs(grace);
    }
    pod.metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
