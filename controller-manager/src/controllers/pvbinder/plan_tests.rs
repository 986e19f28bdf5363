use super::*;
use crate::controllers::pvbinder::matching::testing::{pv, pvc};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn ann<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

#[test]
fn pending_claim_binds_to_the_smallest_match() {
    let claim = pvc("data", "1Gi", &["ReadWriteOnce"], "");
    let small = pv("pv-2g", "2Gi", &["ReadWriteOnce"], "");
    let big = pv("pv-5g", "5Gi", &["ReadWriteOnce"], "");
    let plan = claim_plan(&claim, &[&big, &small], None);
    let volume = plan.volume.expect("volume written");
    assert_eq!(volume.metadata.name.as_deref(), Some("pv-2g"));
    let r = volume.spec.as_ref().unwrap().claim_ref.clone().unwrap();
    assert_eq!(
        (
            r.kind.as_deref(),
            r.namespace.as_deref(),
            r.name.as_deref(),
            r.uid.as_deref()
        ),
        (
            Some("PersistentVolumeClaim"),
            Some("ns"),
            Some("data"),
            Some("uid-data")
        )
    );
    assert_eq!(volume.status.as_ref().unwrap().phase.as_deref(), Some("Bound"));
    assert_eq!(ann(&volume.metadata, ANN_BOUND_BY_CONTROLLER), Some("yes"));

    let claim = plan.claim.expect("claim written");
    assert_eq!(claim.spec.as_ref().unwrap().volume_name.as_deref(), Some("pv-2g"));
    assert_eq!(ann(&claim.metadata, ANN_BIND_COMPLETED), Some("yes"));
    assert_eq!(ann(&claim.metadata, ANN_BOUND_BY_CONTROLLER), Some("yes"));
    let status = claim.status.as_ref().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Bound"));
    assert_eq!(status.capacity.as_ref().unwrap()["storage"].0, "2Gi");
    assert_eq!(
        status.access_modes.as_deref(),
        Some(&["ReadWriteOnce".to_string()][..])
    );
    assert!(plan.event.is_none());
}

#[test]
fn fully_bound_pair_is_a_no_op() {
    let claim = pvc("data", "1Gi", &["ReadWriteOnce"], "");
    let volume = pv("pv", "1Gi", &["ReadWriteOnce"], "");
    let first = claim_plan(&claim, &[&volume], None);
    let (v, c) = (first.volume.unwrap(), first.claim.unwrap());
    assert_eq!(claim_plan(&c, &[&v], None), ClaimPlan::default());
    assert_eq!(volume_plan(&v, Some(&c)), VolumePlan::Nothing);
}

#[test]
fn no_match_events() {
    let claim = pvc("data", "1Gi", &["ReadWriteOnce"], "");
    let plan = claim_plan(&claim, &[], None);
    assert_eq!(plan.event.as_ref().map(|e| e.1), Some("FailedBinding"));
    assert_eq!(
        plan.event.unwrap().2,
        "no persistent volumes available for this claim and no storage class is set"
    );

    let fast = pvc("data", "1Gi", &["ReadWriteOnce"], "fast");
    let class = StorageClass {
        metadata: ObjectMeta {
            name: Some("fast".into()),
            ..Default::default()
        },
        provisioner: "example.com/csi".into(),
        ..Default::default()
    };
    assert_eq!(
        claim_plan(&fast, &[], Some(&class)).event.map(|e| e.1),
        Some("ExternalProvisioning")
    );
    let wffc = StorageClass {
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        ..class.clone()
    };
    let volume = pv("pv", "1Gi", &["ReadWriteOnce"], "fast");
    let plan = claim_plan(&fast, &[&volume], Some(&wffc));
    assert!(plan.volume.is_none(), "delayed binding is the scheduler's");
    assert_eq!(plan.event.map(|e| e.1), Some("WaitForFirstConsumer"));
}

#[test]
fn claim_whose_volume_vanished_is_lost() {
    let mut claim = pvc("data", "1Gi", &["ReadWriteOnce"], "");
    claim.spec.as_mut().unwrap().volume_name = Some("gone".into());
    assert_eq!(
        claim_plan(&claim, &[], None),
        ClaimPlan::default(),
        "pending pre-bound claim waits"
    );
    claim.status = Some(k8s_openapi::api::core::v1::PersistentVolumeClaimStatus {
        phase: Some("Bound".into()),
        ..Default::default()
    });
    let plan = claim_plan(&claim, &[], None);
    assert_eq!(plan.claim.unwrap().status.unwrap().phase.as_deref(), Some("Lost"));
    assert_eq!(plan.event.map(|e| e.1), Some("ClaimLost"));
}

#[test]
fn volume_phases() {
    let claim = pvc("data", "1Gi", &["ReadWriteOnce"], "");
    let mut fresh = pv("pv", "1Gi", &["ReadWriteOnce"], "");
    fresh.status = None;
    match volume_plan(&fresh, None) {
        VolumePlan::Update(v) => assert_eq!(v.status.unwrap().phase.as_deref(), Some("Available")),
        other => panic!("{other:?}"),
    }
    let bound = claim_plan(&claim, &[&pv("pv", "1Gi", &["ReadWriteOnce"], "")], None)
        .volume
        .unwrap();
    // Claim deleted: Retain -> Released, Delete -> deleted.
    match volume_plan(&bound, None) {
        VolumePlan::Update(v) => assert_eq!(v.status.unwrap().phase.as_deref(), Some("Released")),
        other => panic!("{other:?}"),
    }
    let mut deleting = bound.clone();
    deleting.spec.as_mut().unwrap().persistent_volume_reclaim_policy = Some("Delete".into());
    assert_eq!(volume_plan(&deleting, None), VolumePlan::Delete);
    // A new claim with the same name but another UID does not own it.
    let mut impostor = claim.clone();
    impostor.metadata.uid = Some("uid-new".into());
    assert!(matches!(
        volume_plan(&bound, Some(&impostor)),
        VolumePlan::Update(_)
    ));
    // Released stays Released.
    let mut released = bound.clone();
    released.status.as_mut().unwrap().phase = Some("Released".into());
    assert_eq!(volume_plan(&released, None), VolumePlan::Nothing);
}
