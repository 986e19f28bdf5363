use super::*;
use crate::controllers::endpoints::pods::testing::pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn owned(name: &str, ready: bool, owner_uid: &str) -> Pod {
    let mut p = pod(name, "10.0.0.1", ready);
    p.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "rs".into(),
        uid: owner_uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    p
}

fn pdb(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: ObjectMeta {
            name: Some("budget".into()),
            namespace: Some("ns".into()),
            generation: Some(3),
            ..Default::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            min_available: min,
            max_unavailable: max,
            ..Default::default()
        }),
        status: None,
    }
}

fn scale_of(
    scales: &'static [(&'static str, i32)],
) -> impl Fn(&OwnerReference, &str) -> Result<Option<ControllerScale>, String> {
    move |r: &OwnerReference, _ns: &str| {
        Ok(scales
            .iter()
            .find(|(uid, _)| *uid == r.uid)
            .map(|(uid, scale)| ControllerScale {
                uid: (*uid).into(),
                scale: *scale,
            }))
    }
}

#[test]
fn scaled_values_round_up() {
    let cases = [
        (IntOrString::Int(2), 10, Ok(2)),
        (IntOrString::String("50%".into()), 5, Ok(3)),
        (IntOrString::String("10%".into()), 10, Ok(1)),
        (IntOrString::String("0%".into()), 10, Ok(0)),
        (
            IntOrString::String("abc".into()),
            10,
            Err(CountError::NotAPercentage),
        ),
    ];
    for (v, total, want) in cases {
        assert_eq!(scaled_value(&v, total), want, "{v:?} of {total}");
    }
}

#[test]
fn expected_counts_table() {
    let pods: Vec<Pod> = vec![
        owned("a", true, "rs1"),
        owned("b", true, "rs1"),
        owned("c", false, "rs1"),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let lookup = scale_of(&[("rs1", 4)]);
    let cases = [
        // (minAvailable, maxUnavailable) -> (expected, desiredHealthy)
        (Some(IntOrString::Int(2)), None, (3, 2)),
        (Some(IntOrString::String("50%".into())), None, (4, 2)),
        (None, Some(IntOrString::Int(1)), (4, 3)),
        (None, Some(IntOrString::String("25%".into())), (4, 3)),
        (None, Some(IntOrString::Int(10)), (4, 0)),
    ];
    for (min, max, want) in cases {
        let (expected, desired, unmanaged) =
            expected_counts(&pdb(min.clone(), max.clone()), &refs, &lookup).unwrap();
        assert_eq!((expected, desired), want, "{min:?} {max:?}");
        assert!(unmanaged.is_empty());
    }
}

#[test]
fn missing_controller_is_an_error_and_unmanaged_pods_are_reported() {
    let pods = [owned("a", true, "gone")];
    let refs: Vec<&Pod> = pods.iter().collect();
    let lookup = scale_of(&[]);
    let got = expected_counts(&pdb(None, Some(IntOrString::Int(1))), &refs, &lookup);
    assert_eq!(got, Err(CountError::NoController("a".into())));

    let bare = [pod("lonely", "10.0.0.2", true)];
    let refs: Vec<&Pod> = bare.iter().collect();
    let (expected, _, unmanaged) =
        expected_counts(&pdb(None, Some(IntOrString::Int(1))), &refs, &lookup).unwrap();
    assert_eq!((expected, unmanaged), (0, vec!["lonely".to_string()]));
}

#[test]
fn status_counts_healthy_and_sets_condition() {
    let pods = [
        owned("a", true, "rs1"),
        owned("b", true, "rs1"),
        owned("c", false, "rs1"),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let budget = pdb(Some(IntOrString::Int(1)), None);
    let (disrupted, _) = disrupted_pods(&budget, &refs, t(1000));
    let healthy = count_healthy(&refs, &disrupted, t(1000));
    let s = status(&budget, healthy, 1, 3, disrupted, t(1000));
    assert_eq!(
        (
            s.current_healthy,
            s.desired_healthy,
            s.expected_pods,
            s.disruptions_allowed
        ),
        (2, 1, 3, 1)
    );
    assert_eq!(s.observed_generation, Some(3));
    let c = &s.conditions.as_ref().unwrap()[0];
    assert_eq!(
        (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
        ("DisruptionAllowed", "True", "SufficientPods")
    );

    let s2 = status(&budget, healthy, 2, 3, BTreeMap::new(), t(2000));
    assert_eq!(s2.disruptions_allowed, 0);
    let c = &s2.conditions.as_ref().unwrap()[0];
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "InsufficientPods")
    );

    let none = status(&budget, 0, 0, 0, BTreeMap::new(), t(0));
    assert_eq!(
        none.disruptions_allowed, 0,
        "no expected pods: nothing may be disrupted"
    );
}

#[test]
fn disrupted_pods_expire_after_two_minutes() {
    let pods = [
        owned("a", true, "rs1"),
        owned("b", true, "rs1"),
        owned("c", true, "rs1"),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let mut budget = pdb(Some(IntOrString::Int(1)), None);
    budget.status = Some(PodDisruptionBudgetStatus {
        disrupted_pods: Some(BTreeMap::from([
            ("a".to_string(), Time(t(1000))),    // fresh: still counted as disrupted
            ("b".to_string(), Time(t(800))),     // expired at 920
            ("gone".to_string(), Time(t(1000))), // pod no longer exists
        ])),
        ..Default::default()
    });
    let (kept, recheck) = disrupted_pods(&budget, &refs, t(1010));
    assert_eq!(kept.keys().collect::<Vec<_>>(), vec!["a"]);
    assert_eq!(recheck, Some(t(1120)));
    assert_eq!(count_healthy(&refs, &kept, t(1010)), 2, "a is about to go");
}

#[test]
fn fail_safe_blocks_disruptions() {
    let mut budget = pdb(Some(IntOrString::Int(1)), None);
    budget.status = Some(PodDisruptionBudgetStatus {
        disruptions_allowed: 4,
        ..Default::default()
    });
    let s = fail_safe(&budget, "found no controllers for pod \"a\"", t(5));
    assert_eq!(s.disruptions_allowed, 0);
    let c = &s.conditions.unwrap()[0];
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "SyncFailed"));
}

#[test]
fn condition_transition_time_is_kept_when_status_unchanged() {
    let mut conds = Vec::new();
    let mk = |status: &str, at: i64| Condition {
        type_: "DisruptionAllowed".into(),
        status: status.into(),
        reason: "r".into(),
        message: String::new(),
        observed_generation: None,
        last_transition_time: Time(t(at)),
    };
    set_condition(&mut conds, mk("True", 1));
    set_condition(&mut conds, mk("True", 2));
    assert_eq!(conds[0].last_transition_time, Time(t(1)));
    set_condition(&mut conds, mk("False", 3));
    assert_eq!(conds[0].last_transition_time, Time(t(3)));
}
