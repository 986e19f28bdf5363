//! Job conditions as upstream writes them (`newCondition`, `ensureJobConditionStatus`).

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const COMPLETE: &str = "Complete";
pub const FAILED: &str = "Failed";
pub const FAILURE_TARGET: &str = "FailureTarget";
pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
pub const SUSPENDED: &str = "Suspended";

pub const REASON_BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
pub const REASON_DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
pub const REASON_POD_FAILURE_POLICY: &str = "PodFailurePolicy";
pub const REASON_SUCCESS_POLICY: &str = "SuccessPolicy";
pub const REASON_COMPLETIONS_REACHED: &str = "CompletionsReached";

/// A condition with both probe and transition time `now`.
pub fn new_condition(type_: &str, status: &str, reason: &str, message: &str, now: Timestamp) -> JobCondition {
    JobCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        message: (!message.is_empty()).then(|| message.to_string()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The condition of `type_`, if present.
pub fn find<'a>(list: &'a [JobCondition], type_: &str) -> Option<&'a JobCondition> {
    list.iter().find(|c| c.type_ == type_)
}

/// The condition of `type_` if its status is True.
pub fn find_true<'a>(job: &'a Job, type_: &str) -> Option<&'a JobCondition> {
    let list = job.status.as_ref()?.conditions.as_deref()?;
    find(list, type_).filter(|c| c.status == "True")
}

/// Whether the Job has finished: a True `Complete` or `Failed` condition.
pub fn is_finished(job: &Job) -> bool {
    find_true(job, COMPLETE).is_some() || find_true(job, FAILED).is_some()
}

/// Sets a condition's status, reason and message (upstream `ensureJobConditionStatus`):
/// updates an existing one when any differs; appends only when the status is not False.
/// Returns whether the list changed.
pub fn ensure_status(
    list: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    if let Some(existing) = list.iter_mut().find(|c| c.type_ == type_) {
        let differs = existing.status != status
            || existing.reason.as_deref().unwrap_or("") != reason
            || existing.message.as_deref().unwrap_or("") != message;
        if differs {
            *existing = new_condition(type_, status, reason, message, now);
        }
        return differs;
    }
    if status != "False" {
        list.push(new_condition(type_, status, reason, message, now));
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_status_appends_updates_and_skips_false() {
        let now = Timestamp::UNIX_EPOCH;
        let mut list = Vec::new();
        assert!(!ensure_status(
            &mut list,
            SUSPENDED,
            "False",
            "JobResumed",
            "Job resumed",
            now
        ));
        assert!(list.is_empty());
        assert!(ensure_status(
            &mut list,
            SUSPENDED,
            "True",
            "JobSuspended",
            "Job suspended",
            now
        ));
        assert!(!ensure_status(
            &mut list,
            SUSPENDED,
            "True",
            "JobSuspended",
            "Job suspended",
            now
        ));
        assert!(ensure_status(
            &mut list,
            SUSPENDED,
            "False",
            "JobResumed",
            "Job resumed",
            now
        ));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, "False");
        assert_eq!(list[0].reason.as_deref(), Some("JobResumed"));
    }
}
