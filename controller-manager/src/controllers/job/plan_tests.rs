use super::*;
use crate::controllers::job::testing::*;

fn observe<'a>(job: &'a Job, pods: &'a [Pod], none: &'a HashSet<String>, now: i64) -> Observed<'a> {
    Observed {
        job,
        pods: pods.iter().collect(),
        expectations_satisfied: true,
        expected_rm_finalizers: none,
        backoff: BackoffRecord::default(),
        now: at(now),
        settings: JobSettings::default(),
    }
}

fn cond_type(p: &Plan) -> Option<(&str, &str)> {
    p.finished
        .as_ref()
        .map(|c| (c.type_.as_str(), c.reason.as_deref().unwrap_or("")))
}

#[test]
fn creates_up_to_parallelism_bounded_by_remaining_completions() {
    let none = HashSet::new();
    // (completions, parallelism, pods) -> creations
    let cases: [(Option<i32>, i32, Vec<Pod>, usize); 5] = [
        (Some(5), 2, vec![], 2),
        (Some(5), 2, vec![pod("a", "Running")], 1),
        (Some(2), 3, vec![], 2),
        (
            Some(3),
            3,
            vec![without_finalizer(pod("a", "Succeeded")), pod("b", "Running")],
            1,
        ),
        (None, 3, vec![], 3),
    ];
    for (completions, parallelism, pods, want) in cases {
        let mut j = job(completions, parallelism);
        if completions == Some(3) {
            j.status.get_or_insert_with(Default::default).succeeded = Some(1);
        }
        let p = plan(&observe(&j, &pods, &none, 10));
        assert_eq!(
            p.create.len(),
            want,
            "{completions:?}/{parallelism} with {} pods",
            pods.len()
        );
        assert!(p.delete.is_empty());
        assert!(p.finished.is_none());
        assert!(p.create.iter().all(pods::has_tracking_finalizer));
    }
}

#[test]
fn non_indexed_without_completions_stops_creating_after_a_success() {
    let none = HashSet::new();
    let j = job(None, 2);
    let pods = [pod("a", "Succeeded"), pod("b", "Running")];
    let p = plan(&observe(&j, &pods, &none, 10));
    assert!(p.create.is_empty());
    assert!(p.finished.is_none(), "still one running");
    let pods = [pod("a", "Succeeded")];
    let p = plan(&observe(&j, &pods, &none, 10));
    assert_eq!(cond_type(&p), Some(("SuccessCriteriaMet", "CompletionsReached")));
}

#[test]
fn excess_pods_are_deleted_with_their_finalizer_removed() {
    let none = HashSet::new();
    let j = job(Some(10), 1);
    let pods = [pod("a", "Running"), pod("b", "Pending")];
    let p = plan(&observe(&j, &pods, &none, 10));
    assert_eq!(p.delete.len(), 1);
    assert_eq!(p.delete[0].name, "b", "not-ready pending pod goes first");
    assert!(p.delete[0].remove_finalizer);
    assert!(p.create.is_empty());
    assert_eq!(p.status.active, Some(1));
}

#[test]
fn completion_is_reached_when_enough_succeeded_and_none_active() {
    let none = HashSet::new();
    let j = job(Some(2), 2);
    let pods = [pod("a", "Succeeded"), pod("b", "Succeeded")];
    let p = plan(&observe(&j, &pods, &none, 10));
    assert_eq!(cond_type(&p), Some(("SuccessCriteriaMet", "CompletionsReached")));
    assert!(p.create.is_empty() && p.delete.is_empty());
    assert_eq!(p.status.active, None);
}

#[test]
fn backoff_limit_exceeded_targets_failure_and_deletes_active_pods() {
    let none = HashSet::new();
    let mut j = job(Some(3), 2);
    if let Some(s) = j.spec.as_mut() {
        s.backoff_limit = Some(1);
    }
    let pods = [pod("a", "Failed"), pod("b", "Failed"), pod("c", "Running")];
    let p = plan(&observe(&j, &pods, &none, 10));
    assert_eq!(cond_type(&p), Some(("FailureTarget", "BackoffLimitExceeded")));
    assert_eq!(p.delete.len(), 1);
    assert_eq!(p.delete[0].name, "c");
    assert!(!p.delete[0].remove_finalizer, "kept so the pod is counted");
    assert_eq!(p.status.terminating, Some(1));
    assert!(p.create.is_empty());
}

#[test]
fn failures_within_the_limit_are_replaced_after_backoff() {
    let none = HashSet::new();
    let j = job(Some(1), 1);
    let pods = [failed_with("a", "main", 1, 100)];
    // 5s after the failure: the first back-off is 10s.
    let p = plan(&observe(&j, &pods, &none, 105));
    assert!(p.create.is_empty());
    assert_eq!(p.requeue_after, Some(Duration::from_secs(5)));
    assert_eq!(p.backoff.failures_after_last_success, 1);
    // After 10s the replacement is created.
    let p = plan(&observe(&j, &pods, &none, 111));
    assert_eq!(p.create.len(), 1);
    assert!(p.finished.is_none());
}

#[test]
fn active_deadline_fails_the_job_or_requeues() {
    let none = HashSet::new();
    let mut j = job(Some(1), 1);
    if let Some(s) = j.spec.as_mut() {
        s.active_deadline_seconds = Some(30);
    }
    let pods = [pod("a", "Running")];
    let p = plan(&observe(&j, &pods, &none, 20));
    assert!(p.finished.is_none());
    assert_eq!(p.requeue_after, Some(Duration::from_secs(10)));
    let p = plan(&observe(&j, &pods, &none, 30));
    assert_eq!(cond_type(&p), Some(("FailureTarget", "DeadlineExceeded")));
    assert_eq!(p.delete.len(), 1);
}

#[test]
fn pod_failure_policy_fail_job_and_ignore() {
    use k8s_openapi::api::batch::v1::{
        PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
    };
    let none = HashSet::new();
    let mut j = job(Some(1), 1);
    if let Some(s) = j.spec.as_mut() {
        s.pod_failure_policy = Some(PodFailurePolicy {
            rules: vec![
                PodFailurePolicyRule {
                    action: "Ignore".into(),
                    on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        operator: "In".into(),
                        values: vec![137],
                        container_name: None,
                    }),
                    on_pod_conditions: None,
                },
                PodFailurePolicyRule {
                    action: "FailJob".into(),
                    on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        operator: "In".into(),
                        values: vec![42],
                        container_name: Some("main".into()),
                    }),
                    on_pod_conditions: None,
                },
            ],
        });
        s.backoff_limit = Some(0);
    }
    // An ignored failure does not count toward backoffLimit 0: a replacement is created.
    let pods = [failed_with("a", "main", 137, 0)];
    let p = plan(&observe(&j, &pods, &none, 100));
    assert!(p.finished.is_none());
    assert_eq!(p.create.len(), 1);
    let pods = [failed_with("a", "main", 42, 0)];
    let p = plan(&observe(&j, &pods, &none, 100));
    assert_eq!(cond_type(&p), Some(("FailureTarget", "PodFailurePolicy")));
    let msg = p.finished.and_then(|c| c.message).unwrap_or_default();
    assert_eq!(
        msg,
        "Container main for pod ns/a failed with exit code 42 matching FailJob rule at index 1"
    );
}

#[test]
fn existing_failure_target_leads_to_failed() {
    let none = HashSet::new();
    let mut j = job(Some(1), 1);
    let target = new_condition(
        cond::FAILURE_TARGET,
        "True",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
        at(1),
    );
    j.status.get_or_insert_with(Default::default).conditions = Some(vec![target]);
    let p = plan(&observe(&j, &[], &none, 10));
    assert_eq!(cond_type(&p), Some(("Failed", "BackoffLimitExceeded")));
}

#[test]
fn suspend_deletes_active_pods_and_sets_the_condition() {
    let none = HashSet::new();
    let mut j = job(Some(3), 2);
    if let Some(s) = j.spec.as_mut() {
        s.suspend = Some(true);
    }
    let pods = [pod("a", "Running"), pod("b", "Running")];
    let p = plan(&observe(&j, &pods, &none, 10));
    assert_eq!(p.delete.len(), 2);
    assert!(p.delete.iter().all(|d| d.remove_finalizer));
    assert!(p.create.is_empty());
    let c = p
        .status
        .conditions
        .as_ref()
        .and_then(|c| cond::find(c, cond::SUSPENDED))
        .expect("Suspended");
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("True", Some("JobSuspended"))
    );
    assert_eq!(p.events[0].reason, "Suspended");

    // Resuming flips the condition and restarts startTime.
    let mut resumed = j.clone();
    if let Some(s) = resumed.spec.as_mut() {
        s.suspend = Some(false);
    }
    resumed.status = Some(p.status.clone());
    let p = plan(&observe(&resumed, &[], &none, 50));
    assert_eq!(p.events[0].reason, "Resumed");
    assert_eq!(p.status.start_time.map(|t| t.0), Some(at(50)));
    assert_eq!(p.create.len(), 2);
}

#[test]
fn unsatisfied_expectations_hold_creations() {
    let none = HashSet::new();
    let j = job(Some(3), 3);
    let mut o = observe(&j, &[], &none, 10);
    o.expectations_satisfied = false;
    let p = plan(&o);
    assert!(p.create.is_empty());
}

#[test]
fn indexed_job_creates_pending_indexes_and_removes_duplicates() {
    let none = HashSet::new();
    let mut j = indexed(4, 4);
    j.status.get_or_insert_with(Default::default).completed_indexes = Some("0".into());
    let pods = [with_index(pod("b", "Running"), 1)];
    let p = plan(&observe(&j, &pods, &none, 10));
    let created: Vec<Option<i32>> = p.create.iter().map(indexes::completion_index).collect();
    assert_eq!(created, vec![Some(2), Some(3)]);

    let pods = [
        with_index(pod("b", "Running"), 1),
        with_index(pod("c", "Pending"), 1),
    ];
    let p = plan(&observe(&j, &pods, &none, 10));
    assert_eq!(p.delete.len(), 1);
    assert_eq!(p.delete[0].name, "c");
}

#[test]
fn indexed_job_counts_succeeded_indexes() {
    let none = HashSet::new();
    let j = indexed(2, 2);
    let pods = [
        with_index(pod("a", "Succeeded"), 0),
        with_index(pod("b", "Succeeded"), 1),
    ];
    let p = plan(&observe(&j, &pods, &none, 10));
    let (prev, now) = p.succeeded_indexes.clone().expect("indexes");
    assert!(prev.is_empty());
    assert_eq!(now.into_iter().collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(cond_type(&p), Some(("SuccessCriteriaMet", "CompletionsReached")));
}

#[test]
fn success_policy_meets_criteria_early() {
    use k8s_openapi::api::batch::v1::{SuccessPolicy, SuccessPolicyRule};
    let none = HashSet::new();
    let mut j = indexed(5, 5);
    if let Some(s) = j.spec.as_mut() {
        s.success_policy = Some(SuccessPolicy {
            rules: vec![SuccessPolicyRule {
                succeeded_indexes: Some("0".into()),
                succeeded_count: None,
            }],
        });
    }
    let pods = [
        with_index(pod("lead", "Succeeded"), 0),
        with_index(pod("w", "Running"), 1),
    ];
    let p = plan(&observe(&j, &pods, &none, 10));
    assert_eq!(cond_type(&p), Some(("SuccessCriteriaMet", "SuccessPolicy")));
    assert_eq!(p.delete.len(), 1, "lingering pods are removed");
}

#[test]
fn deleted_pods_count_as_failures_unless_only_failed_are_replaced() {
    let none = HashSet::new();
    let mut j = job(Some(1), 1);
    if let Some(s) = j.spec.as_mut() {
        s.backoff_limit = Some(0);
    }
    let pods = [deleted(pod("a", "Running"))];
    let p = plan(&observe(&j, &pods, &none, 10));
    assert_eq!(cond_type(&p), Some(("FailureTarget", "BackoffLimitExceeded")));
    if let Some(s) = j.spec.as_mut() {
        s.pod_replacement_policy = Some("Failed".into());
    }
    let p = plan(&observe(&j, &pods, &none, 10));
    assert!(p.finished.is_none());
    assert!(p.create.is_empty(), "waits for the terminating pod");
    assert_eq!(p.status.terminating, Some(1));
}
