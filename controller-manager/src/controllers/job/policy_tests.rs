use super::*;
use crate::controllers::job::testing::*;
use k8s_openapi::api::batch::v1::{
    PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule, SuccessPolicyRule,
};
use k8s_openapi::api::core::v1::PodCondition;

fn exit_rule(action: &str, op: &str, values: &[i32], container: Option<&str>) -> PodFailurePolicyRule {
    PodFailurePolicyRule {
        action: action.into(),
        on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
            operator: op.into(),
            values: values.to_vec(),
            container_name: container.map(Into::into),
        }),
        on_pod_conditions: None,
    }
}

#[test]
fn pod_failure_policy_table() {
    let policy = PodFailurePolicy {
        rules: vec![
            exit_rule("Ignore", "In", &[137], None),
            exit_rule("FailJob", "In", &[1, 2], Some("main")),
            exit_rule("Count", "NotIn", &[1, 2, 137], None),
            PodFailurePolicyRule {
                action: "Ignore".into(),
                on_exit_codes: None,
                on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                    type_: "DisruptionTarget".into(),
                    status: "True".into(),
                }]),
            },
        ],
    };
    // (container, exit code) -> (fail_job?, count, action)
    let cases = [
        ("main", 137, false, false, Some("Ignore")),
        ("main", 1, true, true, Some("FailJob")),
        ("side", 1, false, true, None),
        ("side", 3, false, true, Some("Count")),
        ("main", 0, false, true, None),
    ];
    for (container, code, fails, count, action) in cases {
        let pod = failed_with("p", container, code, 0);
        let m = match_pod_failure_policy(Some(&policy), &pod);
        assert_eq!(m.fail_job.is_some(), fails, "{container} {code}");
        assert_eq!(m.count, count, "{container} {code}");
        assert_eq!(m.action.as_deref(), action, "{container} {code}");
    }
    let mut disrupted = pod("q", "Failed");
    if let Some(s) = disrupted.status.as_mut() {
        s.conditions = Some(vec![PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            ..Default::default()
        }]);
    }
    let m = match_pod_failure_policy(Some(&policy), &disrupted);
    assert!(!m.count);
    assert!(match_pod_failure_policy(None, &disrupted).count);
}

#[test]
fn success_policy_table() {
    let rule = |ix: Option<&str>, count: Option<i32>| SuccessPolicyRule {
        succeeded_indexes: ix.map(Into::into),
        succeeded_count: count,
    };
    let set = |v: &[i32]| v.iter().copied().collect::<BTreeSet<i32>>();
    let cases: [(Vec<SuccessPolicyRule>, &[i32], Option<&str>); 6] = [
        (
            vec![rule(Some("0"), None)],
            &[0],
            Some("Matched rules at index 0"),
        ),
        (vec![rule(Some("0-2"), None)], &[0, 1], None),
        (
            vec![rule(Some("0-2"), Some(2))],
            &[0, 2],
            Some("Matched rules at index 0"),
        ),
        (vec![rule(None, Some(3))], &[1, 4], None),
        (
            vec![rule(Some("9"), None), rule(None, Some(2))],
            &[1, 4],
            Some("Matched rules at index 1"),
        ),
        (vec![rule(Some("0"), None)], &[], None),
    ];
    for (rules, done, want) in cases {
        let policy = SuccessPolicy { rules };
        assert_eq!(
            match_success_policy(Some(&policy), 5, &set(done)).as_deref(),
            want,
            "{done:?}"
        );
    }
}

#[test]
fn backoff_grows_exponentially_and_resets_on_success() {
    let base = Duration::from_secs(10);
    let max = Duration::from_secs(600);
    let a = failed_with("a", "c", 1, 100);
    let b = failed_with("b", "c", 1, 200);
    let r = BackoffRecord::default().update(&[], &[&a]);
    assert_eq!(r.failures_after_last_success, 1);
    assert_eq!(r.remaining(at(104), base, max), Duration::from_secs(6));
    let r = r.update(&[], &[&b]);
    assert_eq!(r.failures_after_last_success, 2);
    assert_eq!(r.last_failure_time, Some(at(200)));
    assert_eq!(r.remaining(at(205), base, max), Duration::from_secs(15));
    let many = BackoffRecord {
        failures_after_last_success: 20,
        last_failure_time: Some(at(0)),
    };
    assert_eq!(many.remaining(at(0), base, max), max);

    let mut ok = pod("ok", "Succeeded");
    if let Some(s) = ok.status.as_mut() {
        s.container_statuses = failed_with("x", "c", 0, 150)
            .status
            .and_then(|s| s.container_statuses);
    }
    // A success at 150 resets; only b (200) is after it.
    let r = r.update(&[&ok], &[&b]);
    assert_eq!(r.failures_after_last_success, 1);
}

#[test]
fn finished_time_lookup_order() {
    let p = failed_with("a", "c", 1, 42);
    assert_eq!(finished_time(&p), at(42));
    let mut q = pod("b", "Failed");
    assert_eq!(finished_time(&q), at(0), "falls back to creation");
    q.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(30)));
    q.metadata.deletion_grace_period_seconds = Some(10);
    assert_eq!(finished_time(&q), at(20));
}
