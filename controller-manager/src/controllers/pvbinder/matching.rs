//! Which PersistentVolume a claim gets (upstream `findMatchingVolume` and the access-mode
//! index of `pkg/controller/volume/persistentvolume`).

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use crate::controllers::resourcequota::quantity::Qty;
use crate::controllers::util::selector;

const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// `GetPersistentVolumeClaimClass`: the beta annotation wins over the field; "" when neither.
pub(crate) fn claim_class(claim: &PersistentVolumeClaim) -> String {
    if let Some(c) = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BETA_CLASS_ANNOTATION))
    {
        return c.clone();
    }
    claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .unwrap_or_default()
}

/// `GetPersistentVolumeClass`.
pub(crate) fn volume_class(volume: &PersistentVolume) -> String {
    if let Some(c) = volume
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BETA_CLASS_ANNOTATION))
    {
        return c.clone();
    }
    volume
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .unwrap_or_default()
}

/// `IsVolumeBoundToClaim`: the claimRef names this claim (and its UID, once set).
pub(crate) fn is_bound_to(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name == claim.metadata.name
        && r.namespace == claim.metadata.namespace
        && r.uid
            .as_deref()
            .is_none_or(|u| u.is_empty() || Some(u) == claim.metadata.uid.as_deref())
}

fn storage(
    list: Option<
        &std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >,
) -> i128 {
    list.and_then(|l| l.get("storage"))
        .and_then(|q| Qty::parse(&q.0))
        .map_or(0, |q| q.nanos)
}

fn volume_size(volume: &PersistentVolume) -> i128 {
    storage(volume.spec.as_ref().and_then(|s| s.capacity.as_ref()))
}

fn volume_mode(m: Option<&String>) -> &str {
    m.map_or("Filesystem", String::as_str)
}

/// The volume's access modes include all the claim asks for.
fn access_modes_ok(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let have = volume
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or(&[]);
    claim
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or(&[])
        .iter()
        .all(|m| have.contains(m))
}

/// The volume for `claim`: one pre-bound to it if any; else the smallest Available volume of
/// the same class and volume mode, large enough, with the access modes and labels asked for.
/// `delay_binding` (class with WaitForFirstConsumer) leaves unbound volumes to the scheduler.
pub(crate) fn best_match<'a>(
    claim: &PersistentVolumeClaim,
    volumes: &[&'a PersistentVolume],
    delay_binding: bool,
) -> Option<&'a PersistentVolume> {
    let spec = claim.spec.clone().unwrap_or_default();
    let requested = storage(spec.resources.as_ref().and_then(|r| r.requests.as_ref()));
    let class = claim_class(claim);
    let label_selector = spec.selector.as_ref().map(|s| selector::matcher(Some(s)));
    let mut best: Option<(&PersistentVolume, i128, usize)> = None;
    for &volume in volumes {
        let vspec = volume.spec.as_ref();
        if vspec.and_then(|s| s.claim_ref.as_ref()).is_some() && !is_bound_to(volume, claim) {
            continue;
        }
        let size = volume_size(volume);
        if size < requested {
            continue;
        }
        if volume_mode(spec.volume_mode.as_ref()) != volume_mode(vspec.and_then(|s| s.volume_mode.as_ref())) {
            continue;
        }
        if volume.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if is_bound_to(volume, claim) {
            return Some(volume);
        }
        if delay_binding {
            continue;
        }
        let phase = volume.status.as_ref().and_then(|s| s.phase.as_deref());
        if phase != Some("Available") {
            continue;
        }
        if label_selector
            .as_ref()
            .is_some_and(|sel| !selector::matches(sel, volume.metadata.labels.as_ref()))
        {
            continue;
        }
        if volume_class(volume) != class || !access_modes_ok(claim, volume) {
            continue;
        }
        // Smallest capacity first; among equals, the fewest access modes (upstream's index
        // tries the smallest matching mode set first).
        let modes = vspec.and_then(|s| s.access_modes.as_ref()).map_or(0, Vec::len);
        if best.is_none_or(|(_, s, m)| size < s || (size == s && modes < m)) {
            best = Some((volume, size, modes));
        }
    }
    best.map(|(v, _, _)| v)
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use k8s_openapi::api::core::v1::{
        PersistentVolumeClaimSpec, PersistentVolumeSpec, PersistentVolumeStatus, VolumeResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    pub(crate) fn pv(name: &str, size: &str, modes: &[&str], class: &str) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(format!("uid-{name}")),
                ..Default::default()
            },
            spec: Some(PersistentVolumeSpec {
                capacity: Some([("storage".to_string(), Quantity(size.into()))].into()),
                access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
                storage_class_name: (!class.is_empty()).then(|| class.into()),
                persistent_volume_reclaim_policy: Some("Retain".into()),
                ..Default::default()
            }),
            status: Some(PersistentVolumeStatus {
                phase: Some("Available".into()),
                ..Default::default()
            }),
        }
    }

    pub(crate) fn pvc(name: &str, size: &str, modes: &[&str], class: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(modes.iter().map(|m| m.to_string()).collect()),
                storage_class_name: Some(class.into()),
                resources: Some(VolumeResourceRequirements {
                    requests: Some([("storage".to_string(), Quantity(size.into()))].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            status: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;
    use std::collections::BTreeMap;

    fn name(v: Option<&PersistentVolume>) -> Option<&str> {
        v.and_then(|v| v.metadata.name.as_deref())
    }

    #[test]
    fn smallest_matching_volume_wins() {
        let claim = pvc("c", "1Gi", &["ReadWriteOnce"], "");
        let small = pv("small", "500Mi", &["ReadWriteOnce"], "");
        let fit = pv("fit", "2Gi", &["ReadWriteOnce"], "");
        let big = pv("big", "10Gi", &["ReadWriteOnce"], "");
        let rox = pv("rox", "1Gi", &["ReadOnlyMany"], "");
        let gold = pv("gold", "1Gi", &["ReadWriteOnce"], "gold");
        let mut bound = pv("bound", "1Gi", &["ReadWriteOnce"], "");
        bound.spec.as_mut().unwrap().claim_ref = Some(ObjectReference {
            name: Some("other".into()),
            namespace: Some("ns".into()),
            ..Default::default()
        });
        let mut block = pv("block", "1Gi", &["ReadWriteOnce"], "");
        block.spec.as_mut().unwrap().volume_mode = Some("Block".into());
        let mut released = pv("released", "1Gi", &["ReadWriteOnce"], "");
        released.status.as_mut().unwrap().phase = Some("Released".into());
        let all = [&small, &big, &fit, &rox, &gold, &bound, &block, &released];
        assert_eq!(name(best_match(&claim, &all, false)), Some("fit"));

        let gold_claim = pvc("g", "1Gi", &["ReadWriteOnce"], "gold");
        assert_eq!(name(best_match(&gold_claim, &all, false)), Some("gold"));
        assert_eq!(name(best_match(&gold_claim, &all, true)), None, "delayed binding");

        let huge = pvc("h", "100Gi", &["ReadWriteOnce"], "");
        assert_eq!(name(best_match(&huge, &all, false)), None);
    }

    #[test]
    fn prebound_volume_is_taken_even_if_larger_and_selector_applies() {
        let claim = pvc("c", "1Gi", &["ReadWriteOnce"], "");
        let fit = pv("fit", "1Gi", &["ReadWriteOnce"], "");
        let mut pre = pv("pre", "5Gi", &["ReadWriteOnce"], "");
        pre.spec.as_mut().unwrap().claim_ref = Some(ObjectReference {
            name: Some("c".into()),
            namespace: Some("ns".into()),
            ..Default::default()
        });
        assert_eq!(name(best_match(&claim, &[&fit, &pre], false)), Some("pre"));

        let mut picky = pvc("p", "1Gi", &["ReadWriteOnce"], "");
        picky.spec.as_mut().unwrap().selector =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_labels: Some(BTreeMap::from([("tier".to_string(), "fast".to_string())])),
                ..Default::default()
            });
        let mut fast = pv("fast", "3Gi", &["ReadWriteOnce"], "");
        fast.metadata.labels = Some(BTreeMap::from([("tier".to_string(), "fast".to_string())]));
        assert_eq!(name(best_match(&picky, &[&fit, &fast], false)), Some("fast"));
    }
}
