//! What the binder does for one claim or one volume (upstream `pv_controller.go` `syncClaim`,
//! `syncUnboundClaim`, `syncBoundClaim`, `syncVolume`, `bind`, `reclaimVolume`), as pure
//! functions returning the objects to write.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;

use super::matching::{best_match, claim_class, is_bound_to};

pub(crate) const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
pub(crate) const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";

/// An event to record on the claim or volume: (type, reason, message).
pub(crate) type Event = (&'static str, &'static str, String);

/// Writes for one claim sync. Each object is the full desired object; the caller writes
/// metadata/spec and status separately where they changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ClaimPlan {
    pub(crate) volume: Option<PersistentVolume>,
    pub(crate) claim: Option<PersistentVolumeClaim>,
    pub(crate) event: Option<Event>,
}

/// Writes for one volume sync.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VolumePlan {
    Nothing,
    /// Replace with this (spec and/or status changed).
    Update(Box<PersistentVolume>),
    /// Released with reclaim policy Delete and nothing else to do the deleting.
    Delete,
}

fn phase_of_claim(c: &PersistentVolumeClaim) -> &str {
    c.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn phase_of_volume(v: &PersistentVolume) -> &str {
    v.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn annotate(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, key: &str) {
    meta.annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(key.into(), "yes".into());
}

fn claim_ref(claim: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: claim.metadata.namespace.clone(),
        name: claim.metadata.name.clone(),
        uid: claim.metadata.uid.clone(),
        resource_version: claim.metadata.resource_version.clone(),
        field_path: None,
    }
}

/// The volume bound to the claim (`bindVolumeToClaim` + phase Bound); None when already so.
fn bound_volume(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> Option<PersistentVolume> {
    let mut v = volume.clone();
    let spec = v.spec.get_or_insert_with(Default::default);
    let uid_matches = spec
        .claim_ref
        .as_ref()
        .is_some_and(|r| r.uid.is_some() && r.uid == claim.metadata.uid);
    let mut changed = false;
    if !uid_matches {
        if spec.claim_ref.is_none() {
            annotate(&mut v.metadata, ANN_BOUND_BY_CONTROLLER);
        }
        v.spec.get_or_insert_with(Default::default).claim_ref = Some(claim_ref(claim));
        changed = true;
    }
    if phase_of_volume(&v) != "Bound" {
        let status = v.status.get_or_insert_with(Default::default);
        status.phase = Some("Bound".into());
        status.reason = None;
        status.message = None;
        changed = true;
    }
    changed.then_some(v)
}

/// The claim bound to the volume (`bindClaimToVolume` + status); None when already so.
fn bound_claim(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> Option<PersistentVolumeClaim> {
    let mut c = claim.clone();
    let name = volume.metadata.name.clone();
    let spec = c.spec.get_or_insert_with(Default::default);
    let mut changed = false;
    if spec.volume_name.as_deref().is_none_or(str::is_empty) {
        spec.volume_name = name;
        annotate(&mut c.metadata, ANN_BOUND_BY_CONTROLLER);
        changed = true;
    }
    let completed = c
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ANN_BIND_COMPLETED));
    if !completed {
        annotate(&mut c.metadata, ANN_BIND_COMPLETED);
        changed = true;
    }
    let vspec = volume.spec.as_ref();
    let status = c.status.get_or_insert_with(Default::default);
    let want_modes = vspec.and_then(|s| s.access_modes.clone());
    let want_capacity = vspec.and_then(|s| s.capacity.clone());
    if status.phase.as_deref() != Some("Bound")
        || status.access_modes != want_modes
        || status.capacity != want_capacity
    {
        status.phase = Some("Bound".into());
        status.access_modes = want_modes;
        status.capacity = want_capacity;
        changed = true;
    }
    changed.then_some(c)
}

/// `syncClaim`. `volumes` are all volumes; `class` the claim's StorageClass if it exists.
pub(crate) fn claim_plan(
    claim: &PersistentVolumeClaim,
    volumes: &[&PersistentVolume],
    class: Option<&StorageClass>,
) -> ClaimPlan {
    let mut plan = ClaimPlan::default();
    if claim.metadata.deletion_timestamp.is_some() {
        return plan;
    }
    let volume_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .unwrap_or_default();
    if volume_name.is_empty() {
        let delay = class.and_then(|c| c.volume_binding_mode.as_deref()) == Some("WaitForFirstConsumer");
        match best_match(claim, volumes, delay) {
            Some(volume) => {
                plan.volume = bound_volume(volume, claim);
                plan.claim = bound_claim(claim, volume);
            }
            None if delay => {
                plan.event = Some((
                    "Normal",
                    "WaitForFirstConsumer",
                    "waiting for first consumer to be created before binding".into(),
                ));
            }
            None => {
                let class_name = claim_class(claim);
                plan.event = Some(match class {
                    None if class_name.is_empty() => (
                        "Normal",
                        "FailedBinding",
                        "no persistent volumes available for this claim and no storage class is set".into(),
                    ),
                    None => (
                        "Warning",
                        "ProvisioningFailed",
                        format!("storageclass.storage.k8s.io {class_name:?} not found"),
                    ),
                    Some(c) => (
                        "Normal",
                        "ExternalProvisioning",
                        format!(
                            "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                            c.provisioner
                        ),
                    ),
                });
            }
        }
        return plan;
    }
    // The claim names its volume (bound, or pre-bound by the user).
    let Some(volume) = volumes
        .iter()
        .find(|v| v.metadata.name.as_deref() == Some(volume_name.as_str()))
    else {
        if phase_of_claim(claim) == "Bound" {
            let mut lost = claim.clone();
            lost.status.get_or_insert_with(Default::default).phase = Some("Lost".into());
            plan.claim = Some(lost);
            plan.event = Some((
                "Warning",
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!".into(),
            ));
        }
        return plan;
    };
    let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    if claim_ref.is_some() && !is_bound_to(volume, claim) {
        if phase_of_claim(claim) == "Bound" {
            let mut lost = claim.clone();
            lost.status.get_or_insert_with(Default::default).phase = Some("Lost".into());
            plan.claim = Some(lost);
            plan.event = Some((
                "Warning",
                "ClaimMisbound",
                "Two claims are bound to the same volume, this one is bound incorrectly".into(),
            ));
        } else {
            plan.event = Some((
                "Warning",
                "FailedBinding",
                "volume is already bound to a different claim.".into(),
            ));
        }
        return plan;
    }
    plan.volume = bound_volume(volume, claim);
    plan.claim = bound_claim(claim, volume);
    plan
}

/// `syncVolume`: unused volumes become Available; volumes whose claim is gone are Released
/// and, with reclaim policy Delete and no external provisioner to do it, deleted.
/// `claim` is the claim the volume's claimRef names, if it exists.
pub(crate) fn volume_plan(volume: &PersistentVolume, claim: Option<&PersistentVolumeClaim>) -> VolumePlan {
    if volume.metadata.deletion_timestamp.is_some() {
        return VolumePlan::Nothing;
    }
    let phase = phase_of_volume(volume);
    let with_phase = |p: &str| {
        let mut v = volume.clone();
        let status = v.status.get_or_insert_with(Default::default);
        status.phase = Some(p.into());
        VolumePlan::Update(Box::new(v))
    };
    let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return if phase == "Available" {
            VolumePlan::Nothing
        } else {
            with_phase("Available")
        };
    };
    let pre_bound = r.uid.as_deref().is_none_or(str::is_empty);
    match claim {
        // Pre-bound by the user to a claim not yet bound: Available until the claim syncs.
        _ if pre_bound => {
            if phase == "Available" {
                VolumePlan::Nothing
            } else {
                with_phase("Available")
            }
        }
        Some(c) if c.metadata.uid == r.uid => {
            let claim_volume = c
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .unwrap_or("");
            if claim_volume.is_empty() || claim_volume == volume.metadata.name.as_deref().unwrap_or("") {
                // Bound (or the claim's half of the bind is still on its way).
                if claim_volume.is_empty() || phase == "Bound" {
                    VolumePlan::Nothing
                } else {
                    with_phase("Bound")
                }
            } else if volume
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(ANN_BOUND_BY_CONTROLLER))
            {
                // We bound it to a claim that took another volume: unbind.
                let mut v = volume.clone();
                if let Some(s) = v.spec.as_mut() {
                    s.claim_ref = None;
                }
                if let Some(a) = v.metadata.annotations.as_mut() {
                    a.remove(ANN_BOUND_BY_CONTROLLER);
                }
                v.status.get_or_insert_with(Default::default).phase = Some("Available".into());
                VolumePlan::Update(Box::new(v))
            } else {
                VolumePlan::Nothing
            }
        }
        // The claim is gone (or replaced by a new one of the same name).
        _ => {
            let policy = volume
                .spec
                .as_ref()
                .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
                .unwrap_or("Retain");
            let provisioned = volume
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(ANN_PROVISIONED_BY));
            if policy == "Delete" && !provisioned {
                VolumePlan::Delete
            } else if phase == "Released" || phase == "Failed" {
                VolumePlan::Nothing
            } else {
                with_phase("Released")
            }
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
