use super::*;
use crate::controllers::statefulset::testing::*;
use k8s_openapi::api::apps::v1::{RollingUpdateStatefulSetStrategy, StatefulSetUpdateStrategy};

fn run(set: &StatefulSet, pods: &[Pod], revisions: &[ControllerRevision], claims: &[&str]) -> Plan {
    let claims: HashSet<String> = claims.iter().map(|c| c.to_string()).collect();
    let o = Observed {
        set,
        pods: pods.iter().collect(),
        revisions: revisions.iter().collect(),
        claims: &claims,
        now: Timestamp::UNIX_EPOCH,
    };
    plan(&o)
}

fn names(pods: &[Pod]) -> Vec<String> {
    pods.iter().filter_map(|p| p.metadata.name.clone()).collect()
}

/// The set with its first revision stored and `status.currentRevision` pointing at it.
fn settled(replicas: i32) -> (StatefulSet, ControllerRevision) {
    let mut s = set(replicas);
    let r = revision::new_revision(&s, 1);
    s.status = Some(StatefulSetStatus {
        current_revision: r.metadata.name.clone(),
        ..Default::default()
    });
    (s, r)
}

fn rev_name(r: &ControllerRevision) -> String {
    r.metadata.name.clone().unwrap_or_default()
}

#[test]
fn ordered_ready_creates_one_pod_at_a_time_in_order() {
    let (s, r) = settled(3);
    let p = run(&s, &[], std::slice::from_ref(&r), &[]);
    assert_eq!(names(&p.create_pods), ["web-0"]);
    assert_eq!(
        p.create_claims
            .iter()
            .map(|(pod, c)| (pod.as_str(), c.metadata.name.as_deref()))
            .collect::<Vec<_>>(),
        [("web-0", Some("data-web-0"))]
    );

    // web-0 exists but is not ready: wait.
    let pods = [not_ready(pod_at(&s, 0, &rev_name(&r)))];
    let p = run(&s, &pods, std::slice::from_ref(&r), &["data-web-0"]);
    assert!(p.create_pods.is_empty());

    // web-0 ready: web-1 next.
    let pods = [pod_at(&s, 0, &rev_name(&r))];
    let p = run(&s, &pods, std::slice::from_ref(&r), &["data-web-0"]);
    assert_eq!(names(&p.create_pods), ["web-1"]);
    assert_eq!(p.create_claims.len(), 1);
}

#[test]
fn parallel_creates_all_missing_pods() {
    let (mut s, r) = settled(3);
    if let Some(spec) = s.spec.as_mut() {
        spec.pod_management_policy = Some("Parallel".into());
    }
    let p = run(&s, &[], std::slice::from_ref(&r), &[]);
    assert_eq!(names(&p.create_pods), ["web-0", "web-1", "web-2"]);
    assert_eq!(p.create_claims.len(), 3);
}

#[test]
fn scale_down_removes_the_highest_ordinal_first() {
    let (s, r) = settled(1);
    let pods: Vec<Pod> = (0..3).map(|i| pod_at(&s, i, &rev_name(&r))).collect();
    let p = run(
        &s,
        &pods,
        std::slice::from_ref(&r),
        &["data-web-0", "data-web-1", "data-web-2"],
    );
    assert_eq!(p.delete_pods, ["web-2"]);
    assert!(p.claims_owned_by_pod.is_empty(), "claims are retained by default");

    let (mut par, _) = settled(1);
    if let Some(spec) = par.spec.as_mut() {
        spec.pod_management_policy = Some("Parallel".into());
    }
    let p = run(&par, &pods, std::slice::from_ref(&r), &[]);
    assert_eq!(p.delete_pods, ["web-2", "web-1"]);
}

#[test]
fn ordered_scale_down_waits_for_unhealthy_lower_pods() {
    let (s, r) = settled(1);
    let rn = rev_name(&r);
    let pods = [
        pod_at(&s, 0, &rn),
        not_ready(pod_at(&s, 1, &rn)),
        pod_at(&s, 2, &rn),
    ];
    // web-1 is the first unhealthy condemned pod; web-2 is healthy but web-1 is not: upstream
    // only deletes the first unhealthy or healthy pods in order from the top, so web-2 goes.
    let p = run(&s, &pods, std::slice::from_ref(&r), &[]);
    assert_eq!(p.delete_pods, ["web-2"]);
    let mut terminating = pod_at(&s, 2, &rn);
    terminating.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        Timestamp::UNIX_EPOCH,
    ));
    let pods = [pod_at(&s, 0, &rn), not_ready(pod_at(&s, 1, &rn)), terminating];
    assert!(
        run(&s, &pods, std::slice::from_ref(&r), &[])
            .delete_pods
            .is_empty()
    );
}

#[test]
fn when_scaled_delete_hands_claims_to_the_pod() {
    let (mut s, r) = settled(1);
    if let Some(spec) = s.spec.as_mut() {
        spec.persistent_volume_claim_retention_policy = Some(
            k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_scaled: Some("Delete".into()),
                when_deleted: Some("Retain".into()),
            },
        );
    }
    let pods: Vec<Pod> = (0..2).map(|i| pod_at(&s, i, &rev_name(&r))).collect();
    let p = run(&s, &pods, std::slice::from_ref(&r), &["data-web-0", "data-web-1"]);
    assert_eq!(
        p.claims_owned_by_pod,
        [("data-web-1".to_string(), "web-1".to_string())]
    );
}

#[test]
fn failed_pods_are_replaced() {
    let (s, r) = settled(2);
    let mut failed = pod_at(&s, 0, &rev_name(&r));
    if let Some(st) = failed.status.as_mut() {
        st.phase = Some("Failed".into());
    }
    let p = run(
        &s,
        &[failed, pod_at(&s, 1, &rev_name(&r))],
        std::slice::from_ref(&r),
        &[],
    );
    assert_eq!(p.delete_pods, ["web-0"]);
}

#[test]
fn rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() {
    let (v1, r1) = settled(4);
    let old = rev_name(&r1);
    let mut v2 = with_image(v1.clone(), "v2");
    if let Some(spec) = v2.spec.as_mut() {
        spec.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateStatefulSetStrategy {
                partition: Some(2),
                max_unavailable: None,
            }),
        });
    }
    let pods: Vec<Pod> = (0..4).map(|i| pod_at(&v1, i, &old)).collect();
    let p = run(&v2, &pods, std::slice::from_ref(&r1), &[]);
    let r2 = p.create_revision.clone().expect("update revision");
    assert_eq!(p.delete_pods, ["web-3"]);
    assert_eq!(p.status.update_revision, r2.metadata.name);
    assert_eq!(p.status.current_revision.as_deref(), Some(old.as_str()));

    // web-3 recreated at the update revision: web-2 next.
    let mut pods = pods;
    pods[3] = pod_at(&v2, 3, &rev_name(&r2));
    let p = run(&v2, &pods, &[r1.clone(), r2.clone()], &[]);
    assert_eq!(p.delete_pods, ["web-2"]);
    assert_eq!(p.status.updated_replicas, Some(1));

    // Ordinals below the partition are never touched.
    pods[2] = pod_at(&v2, 2, &rev_name(&r2));
    let p = run(&v2, &pods, &[r1.clone(), r2.clone()], &[]);
    assert!(p.delete_pods.is_empty());
    assert_eq!(
        (p.status.current_replicas, p.status.updated_replicas),
        (Some(2), Some(2))
    );

    // A recreated low ordinal keeps the current revision.
    let p = run(&v2, &pods[1..], &[r1.clone(), r2.clone()], &[]);
    assert_eq!(names(&p.create_pods), ["web-0"]);
    assert_eq!(revision_of(&p.create_pods[0]), Some(old.as_str()));
}

#[test]
fn rolling_update_waits_for_the_updated_pod_to_be_healthy() {
    let (v1, r1) = settled(3);
    let v2 = with_image(v1.clone(), "v2");
    let r2 = revision::new_revision(&v2, 2);
    let pods = [
        pod_at(&v1, 0, &rev_name(&r1)),
        pod_at(&v1, 1, &rev_name(&r1)),
        not_ready(pod_at(&v2, 2, &rev_name(&r2))),
    ];
    let p = run(&v2, &pods, &[r1, r2], &[]);
    assert!(p.delete_pods.is_empty());
    assert!(p.create_pods.is_empty());
}

#[test]
fn on_delete_never_deletes_for_updates() {
    let (v1, r1) = settled(2);
    let mut v2 = with_image(v1.clone(), "v2");
    if let Some(spec) = v2.spec.as_mut() {
        spec.update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        });
    }
    let pods: Vec<Pod> = (0..2).map(|i| pod_at(&v1, i, &rev_name(&r1))).collect();
    let p = run(&v2, &pods, &[r1], &[]);
    assert!(p.delete_pods.is_empty());
    // A deleted pod comes back at the update revision.
    let p = run(&v2, &pods[..1], &[revision::new_revision(&v1, 1)], &[]);
    assert_eq!(
        revision_of(&p.create_pods[0]),
        p.status.update_revision.as_deref()
    );
}

#[test]
fn status_counts_and_completes_the_rollout() {
    let (s, r) = settled(2);
    let pods: Vec<Pod> = (0..2).map(|i| pod_at(&s, i, &rev_name(&r))).collect();
    let p = run(&s, &pods, std::slice::from_ref(&r), &["data-web-0", "data-web-1"]);
    let st = &p.status;
    assert_eq!(st.replicas, 2);
    assert_eq!((st.ready_replicas, st.available_replicas), (Some(2), Some(2)));
    assert_eq!((st.current_replicas, st.updated_replicas), (Some(2), Some(2)));
    assert_eq!(st.current_revision, r.metadata.name);
    assert_eq!(st.update_revision, r.metadata.name);
    assert_eq!(st.observed_generation, Some(1));
    assert!(p.create_pods.is_empty() && p.delete_pods.is_empty() && p.create_claims.is_empty());
}

#[test]
fn ordinals_start_is_honoured() {
    let (mut s, r) = settled(2);
    if let Some(spec) = s.spec.as_mut() {
        spec.ordinals = Some(k8s_openapi::api::apps::v1::StatefulSetOrdinals { start: Some(5) });
        spec.pod_management_policy = Some("Parallel".into());
    }
    let p = run(&s, &[], &[r], &[]);
    assert_eq!(names(&p.create_pods), ["web-5", "web-6"]);
}
