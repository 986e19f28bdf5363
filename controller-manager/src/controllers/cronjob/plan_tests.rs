use super::*;
use k8s_openapi::api::batch::v1::{CronJobSpec, JobCondition, JobSpec, JobStatus, JobTemplateSpec};

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn cronjob(schedule: &str, created: &str) -> CronJob {
    CronJob {
        metadata: ObjectMeta {
            name: Some("backup".into()),
            namespace: Some("ns".into()),
            uid: Some("cj-uid".into()),
            creation_timestamp: Some(Time(ts(created))),
            ..ObjectMeta::default()
        },
        spec: Some(CronJobSpec {
            schedule: schedule.into(),
            concurrency_policy: Some("Allow".into()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(1),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "backup".to_string())].into()),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    parallelism: Some(2),
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        }),
        status: None,
    }
}

fn job(name: &str, uid: &str, finished: Option<&str>, start: &str) -> Job {
    let conditions = finished.map(|t| {
        vec![JobCondition {
            type_: t.into(),
            status: "True".into(),
            ..JobCondition::default()
        }]
    });
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            uid: Some(uid.into()),
            ..ObjectMeta::default()
        },
        spec: None,
        status: Some(JobStatus {
            conditions,
            start_time: Some(Time(ts(start))),
            completion_time: finished.filter(|f| *f == "Complete").map(|_| Time(ts(start))),
            ..JobStatus::default()
        }),
    }
}

fn active(cj: &mut CronJob, jobs: &[&Job]) {
    cj.status.get_or_insert_with(Default::default).active =
        Some(jobs.iter().map(|j| job_reference(j)).collect());
}

#[test]
fn creates_the_job_for_the_scheduled_minute() {
    let cj = cronjob("* * * * *", "2024-01-01T10:00:10Z");
    let p = plan(&cj, &[], ts("2024-01-01T10:01:05Z"));
    let create = p.create.expect("a job to create");
    assert_eq!(create.scheduled, ts("2024-01-01T10:01:00Z"));
    let name = create.job.metadata.name.as_deref().expect("name");
    assert_eq!(
        name,
        format!("backup-{}", ts("2024-01-01T10:01:00Z").as_second() / 60)
    );
    let meta = &create.job.metadata;
    assert_eq!(
        meta.labels
            .as_ref()
            .and_then(|l| l.get("app"))
            .map(String::as_str),
        Some("backup")
    );
    let ann = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(SCHEDULED_TIMESTAMP_ANNOTATION));
    assert_eq!(ann.map(String::as_str), Some("2024-01-01T10:01:00Z"));
    let owner = &meta.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("CronJob", "cj-uid", Some(true))
    );
    assert_eq!(create.job.spec.and_then(|s| s.parallelism), Some(2));
    // Next activation 10:02:00, plus upstream's 100ms.
    assert_eq!(p.requeue_after, Some(Duration::from_millis(55_100)));
}

#[test]
fn nothing_due_yet_waits_for_the_next_activation() {
    let cj = cronjob("*/5 * * * *", "2024-01-01T10:00:10Z");
    let p = plan(&cj, &[], ts("2024-01-01T10:03:00Z"));
    assert!(p.create.is_none());
    assert_eq!(p.requeue_after, Some(Duration::from_millis(120_100)));
}

#[test]
fn an_already_scheduled_time_is_not_run_twice() {
    let mut cj = cronjob("* * * * *", "2024-01-01T10:00:10Z");
    cj.status = Some(CronJobStatus {
        last_schedule_time: Some(Time(ts("2024-01-01T10:01:00Z"))),
        ..Default::default()
    });
    assert!(plan(&cj, &[], ts("2024-01-01T10:01:30Z")).create.is_none());
}

#[test]
fn missed_runs_start_only_the_most_recent() {
    let mut cj = cronjob("0 * * * *", "2024-01-01T00:00:00Z");
    cj.status = Some(CronJobStatus {
        last_schedule_time: Some(Time(ts("2024-01-01T01:00:00Z"))),
        ..Default::default()
    });
    let p = plan(&cj, &[], ts("2024-01-01T05:30:00Z"));
    assert_eq!(p.create.map(|c| c.scheduled), Some(ts("2024-01-01T05:00:00Z")));
}

#[test]
fn starting_deadline_skips_late_runs() {
    let mut cj = cronjob("0 * * * *", "2024-01-01T00:00:00Z");
    if let Some(s) = cj.spec.as_mut() {
        s.starting_deadline_seconds = Some(60);
    }
    // Due at 05:00, now 05:02: past the 60s deadline.
    let p = plan(&cj, &[], ts("2024-01-01T05:02:00Z"));
    assert!(p.create.is_none());
    // Within the deadline it runs.
    let p = plan(&cj, &[], ts("2024-01-01T05:00:30Z"));
    assert_eq!(p.create.map(|c| c.scheduled), Some(ts("2024-01-01T05:00:00Z")));
}

#[test]
fn forbid_waits_while_a_job_runs() {
    let running = job("backup-1", "j1", None, "2024-01-01T10:00:00Z");
    let mut cj = cronjob("* * * * *", "2024-01-01T09:00:10Z");
    if let Some(s) = cj.spec.as_mut() {
        s.concurrency_policy = Some("Forbid".into());
    }
    active(&mut cj, &[&running]);
    cj.status.get_or_insert_with(Default::default).last_schedule_time =
        Some(Time(ts("2024-01-01T10:00:00Z")));
    let p = plan(&cj, &[&running], ts("2024-01-01T10:01:05Z"));
    assert!(p.create.is_none());
    assert_eq!(p.events.last().map(|e| e.reason), Some("JobAlreadyActive"));
}

#[test]
fn replace_deletes_the_running_job_first() {
    let running = job("backup-1", "j1", None, "2024-01-01T10:00:00Z");
    let mut cj = cronjob("* * * * *", "2024-01-01T09:00:10Z");
    if let Some(s) = cj.spec.as_mut() {
        s.concurrency_policy = Some("Replace".into());
    }
    active(&mut cj, &[&running]);
    cj.status.get_or_insert_with(Default::default).last_schedule_time =
        Some(Time(ts("2024-01-01T10:00:00Z")));
    let p = plan(&cj, &[&running], ts("2024-01-01T10:01:05Z"));
    assert_eq!(p.delete, vec!["backup-1".to_string()]);
    assert!(p.create.is_some());
    assert!(p.status.active.is_none());
}

#[test]
fn allow_runs_concurrently() {
    let running = job("backup-1", "j1", None, "2024-01-01T10:00:00Z");
    let mut cj = cronjob("* * * * *", "2024-01-01T09:00:10Z");
    active(&mut cj, &[&running]);
    cj.status.get_or_insert_with(Default::default).last_schedule_time =
        Some(Time(ts("2024-01-01T10:00:00Z")));
    let p = plan(&cj, &[&running], ts("2024-01-01T10:01:05Z"));
    assert!(p.delete.is_empty());
    assert!(p.create.is_some());
}

#[test]
fn suspended_does_not_create() {
    let mut cj = cronjob("* * * * *", "2024-01-01T10:00:10Z");
    if let Some(s) = cj.spec.as_mut() {
        s.suspend = Some(true);
    }
    let p = plan(&cj, &[], ts("2024-01-01T10:05:00Z"));
    assert!(p.create.is_none());
    assert!(p.requeue_after.is_none());
}

#[test]
fn finished_jobs_leave_active_and_set_last_successful_time() {
    let done = job("backup-1", "j1", Some("Complete"), "2024-01-01T10:00:30Z");
    let mut cj = cronjob("0 0 * * *", "2024-01-01T09:00:10Z");
    active(&mut cj, &[&done]);
    let p = plan(&cj, &[&done], ts("2024-01-01T10:05:00Z"));
    assert!(p.status_changed);
    assert!(p.status.active.is_none());
    assert_eq!(
        p.status.last_successful_time.map(|t| t.0),
        Some(ts("2024-01-01T10:00:30Z"))
    );
    let e = &p.events[0];
    assert_eq!(
        (e.reason, e.message.as_str()),
        (
            "SawCompletedJob",
            "Saw completed job: backup-1, condition: Complete"
        )
    );
}

#[test]
fn unknown_running_jobs_are_added_and_vanished_ones_dropped() {
    let stray = job("backup-2", "j2", None, "2024-01-01T10:00:00Z");
    let gone = job("backup-1", "j1", None, "2024-01-01T09:00:00Z");
    let mut cj = cronjob("0 0 * * *", "2024-01-01T09:00:10Z");
    active(&mut cj, &[&gone]);
    let p = plan(&cj, &[&stray], ts("2024-01-01T10:05:00Z"));
    let names: Vec<_> = p
        .status
        .active
        .iter()
        .flatten()
        .filter_map(|r| r.name.clone())
        .collect();
    assert_eq!(names, ["backup-2"]);
    let reasons: Vec<_> = p.events.iter().map(|e| e.reason).collect();
    assert_eq!(reasons, ["UnexpectedJob", "SawCompletedJob"]);
}

#[test]
fn history_limits_delete_the_oldest_finished_jobs() {
    let ok: Vec<Job> = (0..5)
        .map(|i| {
            job(
                &format!("ok-{i}"),
                &format!("s{i}"),
                Some("Complete"),
                &format!("2024-01-01T0{i}:00:00Z"),
            )
        })
        .collect();
    let bad: Vec<Job> = (0..3)
        .map(|i| {
            job(
                &format!("bad-{i}"),
                &format!("f{i}"),
                Some("Failed"),
                &format!("2024-01-01T0{i}:30:00Z"),
            )
        })
        .collect();
    let cj = cronjob("0 0 * * *", "2024-01-01T00:00:00Z");
    let all: Vec<&Job> = ok.iter().chain(bad.iter()).collect();
    let p = plan(&cj, &all, ts("2024-01-01T10:00:00Z"));
    assert_eq!(p.delete, ["ok-0", "ok-1", "bad-0", "bad-1"]);
}

#[test]
fn time_zone_changes_the_activation() {
    let mut cj = cronjob("0 9 * * *", "2024-01-10T00:00:00Z");
    if let Some(s) = cj.spec.as_mut() {
        s.time_zone = Some("Asia/Tokyo".into());
    }
    // 09:00 in Tokyo is 00:00 UTC.
    let p = plan(&cj, &[], ts("2024-01-11T00:00:30Z"));
    let create = p.create.expect("create");
    assert_eq!(create.scheduled, ts("2024-01-11T00:00:00Z"));
    let ann = create
        .job
        .metadata
        .annotations
        .and_then(|a| a.get(SCHEDULED_TIMESTAMP_ANNOTATION).cloned());
    assert_eq!(ann.as_deref(), Some("2024-01-11T09:00:00+09:00"));
}

#[test]
fn bad_zone_and_bad_schedule_are_warnings() {
    let mut cj = cronjob("* * * * *", "2024-01-10T00:00:00Z");
    if let Some(s) = cj.spec.as_mut() {
        s.time_zone = Some("Mars/Olympus".into());
    }
    let p = plan(&cj, &[], ts("2024-01-11T00:00:30Z"));
    assert!(p.create.is_none());
    assert_eq!(p.events[0].reason, "UnknownTimeZone");
    let cj = cronjob("61 * * * *", "2024-01-10T00:00:00Z");
    let p = plan(&cj, &[], ts("2024-01-11T00:00:30Z"));
    assert_eq!(
        (p.events[0].reason, p.events[0].warning),
        ("UnparseableSchedule", true)
    );
}

#[test]
fn record_created_appends_once() {
    let j = job("backup-1", "j1", None, "2024-01-01T10:00:00Z");
    let mut status = CronJobStatus::default();
    record_created(&mut status, job_reference(&j), ts("2024-01-01T10:00:00Z"));
    record_created(&mut status, job_reference(&j), ts("2024-01-01T10:00:00Z"));
    assert_eq!(status.active.map(|a| a.len()), Some(1));
    assert_eq!(
        status.last_schedule_time.map(|t| t.0),
        Some(ts("2024-01-01T10:00:00Z"))
    );
}
