use super::*;
use crate::controllers::job::testing::*;

fn uncounted(status: &JobStatus) -> (Vec<String>, Vec<String>) {
    let u = status.uncounted_terminated_pods.clone().unwrap_or_default();
    (u.succeeded.unwrap_or_default(), u.failed.unwrap_or_default())
}

#[test]
fn finished_pods_become_uncounted_then_counted() {
    let j = job(Some(3), 3);
    let pods = [pod("a", "Succeeded"), pod("b", "Failed"), pod("c", "Running")];
    let refs: Vec<&Pod> = pods.iter().collect();
    let none = HashSet::new();
    let t = track(
        &TrackInput {
            job: &j,
            pods: &refs,
            expected_rm: &none,
            succeeded_indexes: None,
            now: at(10),
        },
        JobStatus::default(),
        None,
        false,
    );
    assert!(t.flush_first);
    assert_eq!(
        uncounted(&t.status),
        (vec!["uid-a".to_string()], vec!["uid-b".to_string()])
    );
    let removed: Vec<&str> = t.remove_finalizers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(removed, ["a", "b"], "running pods keep their finalizer");

    // After removal succeeded for both, the counters move.
    let mut status = t.status.clone();
    let mut with = t.uids_with_finalizer.clone();
    with.remove("uid-a");
    with.remove("uid-b");
    assert!(clean_uncounted(&mut status, &with));
    assert_eq!((status.succeeded, status.failed), (Some(1), Some(1)));
    assert_eq!(uncounted(&status), (vec![], vec![]));
}

#[test]
fn a_failed_removal_stays_uncounted() {
    let mut status = JobStatus {
        uncounted_terminated_pods: Some(UncountedTerminatedPods {
            succeeded: Some(vec!["uid-a".into(), "uid-b".into()]),
            failed: None,
        }),
        succeeded: Some(4),
        ..JobStatus::default()
    };
    let with: HashSet<String> = ["uid-b".to_string()].into();
    assert!(clean_uncounted(&mut status, &with));
    assert_eq!(status.succeeded, Some(5));
    assert_eq!(uncounted(&status).0, vec!["uid-b".to_string()]);
}

#[test]
fn pods_already_uncounted_or_expected_are_not_added_twice() {
    let j = job(Some(3), 3);
    let pods = [pod("a", "Succeeded"), pod("b", "Succeeded")];
    let refs: Vec<&Pod> = pods.iter().collect();
    let status = JobStatus {
        uncounted_terminated_pods: Some(UncountedTerminatedPods {
            succeeded: Some(vec!["uid-a".into()]),
            failed: None,
        }),
        ..JobStatus::default()
    };
    let expected: HashSet<String> = ["uid-b".to_string()].into();
    let t = track(
        &TrackInput {
            job: &j,
            pods: &refs,
            expected_rm: &expected,
            succeeded_indexes: None,
            now: at(10),
        },
        status,
        None,
        false,
    );
    assert!(!t.flush_first);
    assert_eq!(uncounted(&t.status).0, vec!["uid-a".to_string()]);
    assert_eq!(
        t.remove_finalizers.len(),
        1,
        "retries a's removal, skips b in flight"
    );
}

#[test]
fn failure_target_is_written_first_then_failed_once_counted() {
    let j = job(Some(1), 1);
    let pods = [pod("a", "Failed")];
    let refs: Vec<&Pod> = pods.iter().collect();
    let target = new_condition(
        cond::FAILURE_TARGET,
        "True",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
        at(1),
    );
    let none = HashSet::new();
    let t = track(
        &TrackInput {
            job: &j,
            pods: &refs,
            expected_rm: &none,
            succeeded_indexes: None,
            now: at(10),
        },
        JobStatus::default(),
        Some(target),
        false,
    );
    assert!(t.flush_first);
    let conds = t.status.conditions.clone().unwrap_or_default();
    assert_eq!(conds[0].type_, "FailureTarget");
    let terminal = t.terminal.clone().expect("terminal");
    assert_eq!(
        (terminal.type_.as_str(), terminal.reason.as_deref()),
        ("Failed", Some("BackoffLimitExceeded"))
    );

    let mut status = t.status.clone();
    // Still uncounted: not finished yet.
    assert!(!enact_finished(&mut status, Some(&terminal), at(11)));
    clean_uncounted(&mut status, &HashSet::new());
    assert!(enact_finished(&mut status, Some(&terminal), at(11)));
    let failed = cond::find(status.conditions.as_deref().unwrap_or_default(), "Failed").expect("Failed");
    assert_eq!(failed.status, "True");
    assert_eq!(status.failed, Some(1));
    assert!(status.completion_time.is_none());
}

#[test]
fn terminating_pods_delay_the_terminal_condition() {
    let mut status = JobStatus {
        terminating: Some(1),
        ..JobStatus::default()
    };
    let complete = new_condition(cond::COMPLETE, "True", "CompletionsReached", "", at(1));
    assert!(!enact_finished(&mut status, Some(&complete), at(2)));
    status.terminating = Some(0);
    assert!(enact_finished(&mut status, Some(&complete), at(2)));
    assert_eq!(status.completion_time.map(|t| t.0), Some(at(2)));
}

#[test]
fn success_criteria_met_leads_to_complete_and_running_pods_are_not_failures() {
    let j = job(Some(1), 2);
    let pods = [pod("a", "Succeeded"), pod("b", "Running")];
    let refs: Vec<&Pod> = pods.iter().collect();
    let met = new_condition(
        cond::SUCCESS_CRITERIA_MET,
        "True",
        "CompletionsReached",
        "Reached expected number of succeeded pods",
        at(1),
    );
    let none = HashSet::new();
    let t = track(
        &TrackInput {
            job: &j,
            pods: &refs,
            expected_rm: &none,
            succeeded_indexes: None,
            now: at(10),
        },
        JobStatus::default(),
        Some(met),
        false,
    );
    assert_eq!(uncounted(&t.status), (vec!["uid-a".to_string()], vec![]));
    assert_eq!(
        t.remove_finalizers.len(),
        2,
        "job finishing: every finalizer goes"
    );
    assert_eq!(t.terminal.map(|c| c.type_), Some("Complete".to_string()));
}

#[test]
fn indexed_jobs_track_completed_indexes_not_uids() {
    let j = indexed(3, 3);
    let pods = [
        with_index(pod("a", "Succeeded"), 2),
        with_index(pod("b", "Succeeded"), 0),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let prev: BTreeSet<i32> = BTreeSet::new();
    let now: BTreeSet<i32> = [0, 2].into();
    let none = HashSet::new();
    let t = track(
        &TrackInput {
            job: &j,
            pods: &refs,
            expected_rm: &none,
            succeeded_indexes: Some(&(prev, now)),
            now: at(10),
        },
        JobStatus::default(),
        None,
        false,
    );
    assert!(t.flush_first);
    assert_eq!(t.status.completed_indexes.as_deref(), Some("0,2"));
    assert_eq!(t.status.succeeded, Some(2));
    assert_eq!(uncounted(&t.status), (vec![], vec![]));
}
