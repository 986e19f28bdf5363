//! The CronJob controller's pure step (upstream `pkg/controller/cronjob/cronjob_controllerv2.go`
//! `syncCronJob` and `cleanupFinishedJobs`): from a CronJob, the Jobs it controls and the
//! current time, decide which Job to create, which to delete, the new status and when to look
//! again. No I/O and no clock reads: time comes in as `now`.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};

use super::schedule::Schedule;
use super::times::{MostRecentError, earliest_time, most_recent, next_delay};

/// Annotation upstream puts on every Job it creates: the scheduled time, RFC 3339, in the
/// CronJob's time zone.
pub const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// An Event to record against the CronJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

impl PlannedEvent {
    fn normal(reason: &'static str, message: String) -> Self {
        PlannedEvent {
            warning: false,
            reason,
            message,
        }
    }
    fn warning(reason: &'static str, message: String) -> Self {
        PlannedEvent {
            warning: true,
            reason,
            message,
        }
    }
}

/// A Job to create for one scheduled time.
#[derive(Debug, Clone, PartialEq)]
pub struct JobToCreate {
    pub job: Job,
    pub scheduled: Timestamp,
}

/// What one sync of a CronJob should do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// The status to write when `status_changed`.
    pub status: CronJobStatus,
    pub status_changed: bool,
    /// Jobs to delete (background propagation), by name, oldest first; each gets a
    /// SuccessfulDelete event once deleted.
    pub delete: Vec<String>,
    pub create: Option<JobToCreate>,
    pub events: Vec<PlannedEvent>,
    /// Sync again after this long (the next activation), if at all.
    pub requeue_after: Option<Duration>,
}

/// The finished condition of a Job (`Complete` or `Failed` with status True), as
/// upstream's `IsJobFinished`.
pub fn finished_condition(job: &Job) -> Option<&'static str> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    for c in conditions {
        if c.status == "True" {
            match c.type_.as_str() {
                "Complete" => return Some("Complete"),
                "Failed" => return Some("Failed"),
                _ => {}
            }
        }
    }
    None
}

/// Computes the plan. `jobs` are the Jobs controlled by this CronJob (by controllerRef),
/// including any the caller fetched from the API because the cache did not have them yet.
pub fn plan(cronjob: &CronJob, jobs: &[&Job], now: Timestamp) -> Plan {
    let mut out = Plan {
        status: cronjob.status.clone().unwrap_or_default(),
        ..Plan::default()
    };
    let spec = cronjob.spec.clone().unwrap_or_default();
    let name = cronjob.metadata.name.clone().unwrap_or_default();

    cleanup_finished(cronjob, jobs, &mut out);
    reconcile_active(jobs, &mut out);

    if cronjob.metadata.deletion_timestamp.is_some() {
        return out;
    }
    let tz = match spec.time_zone.as_deref() {
        None => None,
        Some(zone) => match TimeZone::get(zone) {
            Ok(tz) => Some(tz),
            Err(e) => {
                out.events.push(PlannedEvent::warning(
                    "UnknownTimeZone",
                    format!("invalid timeZone: {zone:?}: {e}"),
                ));
                return out;
            }
        },
    };
    if spec.suspend == Some(true) {
        return out;
    }
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            out.events.push(PlannedEvent::warning(
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {e}", spec.schedule),
            ));
            return out;
        }
    };
    // spec.timeZone wins over a TZ= prefix (upstream warns about the prefix).
    let tz = match (tz, &schedule.embedded_zone) {
        (Some(tz), _) => tz,
        (None, Some(zone)) => TimeZone::get(zone).unwrap_or(TimeZone::UTC),
        (None, None) => TimeZone::UTC,
    };
    let earliest = earliest_time(cronjob, &spec.starting_deadline_seconds, now);
    let scheduled = match most_recent(&schedule, &tz, earliest, now) {
        Ok(Some(t)) => t,
        Ok(None) => {
            out.requeue_after = next_delay(&schedule, &tz, cronjob, now);
            return out;
        }
        Err(MostRecentError::Invalid) => {
            out.events.push(PlannedEvent::warning(
                "InvalidSchedule",
                format!(
                    "invalid schedule: {} : time difference between two schedules is less than 1 second",
                    spec.schedule
                ),
            ));
            return out;
        }
        Err(MostRecentError::TooMany(t)) => {
            out.events.push(PlannedEvent::warning(
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".to_string(),
            ));
            t
        }
    };
    out.requeue_after = next_delay(&schedule, &tz, cronjob, now);

    if let Some(deadline) = spec.starting_deadline_seconds
        && scheduled + SignedDuration::from_secs(deadline) < now
    {
        out.events.push(PlannedEvent::warning(
            "MissSchedule",
            format!("Missed scheduled time to start a job: {}", rfc1123z(scheduled)),
        ));
        return out;
    }
    let job_name = job_name(&name, scheduled);
    let already = out
        .status
        .active
        .iter()
        .flatten()
        .any(|r| r.name.as_deref() == Some(job_name.as_str()))
        || out.status.last_schedule_time.as_ref().map(|t| t.0) == Some(scheduled);
    if already {
        return out;
    }
    let active_count = out.status.active.as_ref().map_or(0, Vec::len);
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if active_count > 0 => {
            out.events.push(PlannedEvent::normal(
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid"
                    .to_string(),
            ));
            return out;
        }
        Some("Replace") => {
            for r in out.status.active.take().unwrap_or_default() {
                if let Some(n) = r.name
                    && !out.delete.contains(&n)
                {
                    out.delete.push(n);
                }
            }
            out.status_changed = true;
        }
        _ => {}
    }
    out.create = Some(JobToCreate {
        job: job_from_template(cronjob, &job_name, scheduled, &tz),
        scheduled,
    });
    out
}

/// Marks a created (or already existing and controlled) Job in the status: appended to
/// `active`, `lastScheduleTime` set.
pub fn record_created(status: &mut CronJobStatus, job_ref: ObjectReference, scheduled: Timestamp) {
    let active = status.active.get_or_insert_with(Vec::new);
    if !active.iter().any(|r| r.uid == job_ref.uid) {
        active.push(job_ref);
    }
    status.last_schedule_time = Some(Time(scheduled));
}

/// Upstream's job name: `<cronjob>-<scheduled time in minutes since the epoch>`.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// Drops finished and vanished Jobs from `active`, adds running ones that are missing, and
/// tracks `lastSuccessfulTime`.
fn reconcile_active(jobs: &[&Job], out: &mut Plan) {
    for job in jobs {
        let uid = job.metadata.uid.as_deref();
        let name = job.metadata.name.clone().unwrap_or_default();
        let in_active = out
            .status
            .active
            .iter()
            .flatten()
            .any(|r| r.uid.as_deref() == uid);
        let finished = finished_condition(job);
        if !in_active && finished.is_none() {
            if out.delete.contains(&name) {
                continue;
            }
            out.events.push(PlannedEvent::warning(
                "UnexpectedJob",
                format!("Saw a job that the controller did not create or forgot: {name}"),
            ));
            out.status
                .active
                .get_or_insert_with(Vec::new)
                .push(job_reference(job));
            out.status_changed = true;
        } else if in_active && finished.is_some() {
            remove_active(&mut out.status, uid);
            out.events.push(PlannedEvent::normal(
                "SawCompletedJob",
                format!(
                    "Saw completed job: {name}, condition: {}",
                    finished.unwrap_or_default()
                ),
            ));
            out.status_changed = true;
        }
        if finished == Some("Complete") {
            let completion = job.status.as_ref().and_then(|s| s.completion_time.clone());
            if let Some(done) = completion {
                let newer = out
                    .status
                    .last_successful_time
                    .as_ref()
                    .is_none_or(|t| done.0 > t.0);
                if newer {
                    out.status.last_successful_time = Some(done);
                    out.status_changed = true;
                }
            }
        }
    }
    let existing: Vec<Option<&str>> = jobs.iter().map(|j| j.metadata.uid.as_deref()).collect();
    let gone: Vec<ObjectReference> = out
        .status
        .active
        .iter()
        .flatten()
        .filter(|r| !existing.contains(&r.uid.as_deref()))
        .cloned()
        .collect();
    for r in gone {
        remove_active(&mut out.status, r.uid.as_deref());
        out.events.push(PlannedEvent::normal(
            "SawCompletedJob",
            format!("Saw completed job: {}", r.name.unwrap_or_default()),
        ));
        out.status_changed = true;
    }
}

/// Deletes the oldest finished Jobs beyond the history limits.
fn cleanup_finished(cronjob: &CronJob, jobs: &[&Job], out: &mut Plan) {
    let spec = cronjob.spec.as_ref();
    let limits = [
        ("Complete", spec.and_then(|s| s.successful_jobs_history_limit)),
        ("Failed", spec.and_then(|s| s.failed_jobs_history_limit)),
    ];
    for (kind, limit) in limits {
        let Some(limit) = limit else { continue };
        let mut finished: Vec<&Job> = jobs
            .iter()
            .copied()
            .filter(|j| finished_condition(j) == Some(kind))
            .collect();
        let excess = finished.len().saturating_sub(usize::try_from(limit).unwrap_or(0));
        if excess == 0 {
            continue;
        }
        // Oldest start first; Jobs without a start time last, then by name (byJobStartTime).
        finished.sort_by(|a, b| {
            let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
            match (start(a), start(b)) {
                (Some(x), Some(y)) if x != y => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                _ => a.metadata.name.cmp(&b.metadata.name),
            }
        });
        for job in finished.into_iter().take(excess) {
            if let Some(n) = &job.metadata.name {
                out.delete.push(n.clone());
                remove_active(&mut out.status, job.metadata.uid.as_deref());
                out.status_changed = true;
            }
        }
    }
}

fn remove_active(status: &mut CronJobStatus, uid: Option<&str>) {
    if let Some(active) = status.active.as_mut() {
        active.retain(|r| r.uid.as_deref() != uid);
        if active.is_empty() {
            status.active = None;
        }
    }
}

/// The reference kept in `status.active`.
pub fn job_reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

/// The Job for one activation (upstream `getJobFromTemplate2`).
fn job_from_template(cronjob: &CronJob, name: &str, scheduled: Timestamp, tz: &TimeZone) -> Job {
    let template = cronjob
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations: BTreeMap<String, String> = meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP_ANNOTATION.into(), rfc3339_in(scheduled, tz));
    let owner = OwnerReference {
        api_version: "batch/v1".into(),
        kind: "CronJob".into(),
        name: cronjob.metadata.name.clone().unwrap_or_default(),
        uid: cronjob.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: cronjob.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(template.spec.unwrap_or_default()),
        status: None,
    }
}

/// Go's RFC3339 layout in a zone: `Z` for a zero offset, else `+hh:mm`.
fn rfc3339_in(t: Timestamp, tz: &TimeZone) -> String {
    let zoned = t.to_zoned(tz.clone());
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// Go's RFC1123Z layout in UTC, as upstream's MissSchedule message prints it.
fn rfc1123z(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
