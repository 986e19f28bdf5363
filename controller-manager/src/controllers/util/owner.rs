//! Owner references: which controller owns an object, and upstream's adopt/release rules
//! (`pkg/controller/controller_ref_manager.go`, `ClaimObject`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use serde_json::{Value, json};

/// The owner reference with `controller: true`, if any (upstream `metav1.GetControllerOf`).
pub fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Whether `meta` is controlled by the object with `uid`.
pub fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_ref(meta).is_some_and(|r| r.uid == uid)
}

/// A controllerRef to `owner` (`controller` and `blockOwnerDeletion` true, as upstream's
/// `metav1.NewControllerRef`).
pub fn new_controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    let meta = owner.meta();
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What a controller does with an object its selector may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours and matching: count it.
    Keep,
    /// An orphan that matches: set our controllerRef on it, then count it.
    Adopt,
    /// Ours but no longer matching: remove our controllerRef.
    Release,
    /// Not ours (another controller's, or not matching, or being deleted): leave it alone.
    Ignore,
}

/// Upstream `ClaimObject`: `owner_uid` is the controller's UID, `owner_deleting` whether it has a
/// deletionTimestamp, `matches` whether its selector matches the object's labels.
pub fn claim(owner_uid: &str, owner_deleting: bool, matches: bool, object: &ObjectMeta) -> Claim {
    let object_deleting = object.deletion_timestamp.is_some();
    match controller_ref(object) {
        Some(r) if r.uid != owner_uid => Claim::Ignore,
        Some(_) if matches => Claim::Keep,
        // Ours but not matching. Releasing an object that is going away anyway is pointless, and a
        // controller being deleted lets the garbage collector handle its dependents.
        Some(_) if object_deleting || owner_deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None if !matches || owner_deleting || object_deleting => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// A JSON merge patch that adds `controller_ref` to `object`'s ownerReferences. It carries the
/// object's uid and resourceVersion as preconditions: the patch fails (and the sync retries)
/// if the object was replaced or changed in between.
pub fn adopt_patch(object: &ObjectMeta, controller_ref: &OwnerReference) -> Value {
    let mut refs: Vec<OwnerReference> = object
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != controller_ref.uid)
        .collect();
    refs.push(controller_ref.clone());
    owner_refs_patch(object, &refs)
}

/// A JSON merge patch that removes every ownerReference to `owner_uid` from `object`.
pub fn release_patch(object: &ObjectMeta, owner_uid: &str) -> Value {
    let refs: Vec<OwnerReference> = object
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != owner_uid)
        .collect();
    owner_refs_patch(object, &refs)
}

fn owner_refs_patch(object: &ObjectMeta, refs: &[OwnerReference]) -> Value {
    let refs = if refs.is_empty() { Value::Null } else { json!(refs) };
    json!({
        "metadata": {
            "uid": object.uid,
            "resourceVersion": object.resource_version,
            "ownerReferences": refs,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn rs() -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                uid: Some("rs-uid".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn pod(owner: Option<(&str, bool)>, deleting: bool) -> ObjectMeta {
        ObjectMeta {
            name: Some("p".into()),
            uid: Some("pod-uid".into()),
            resource_version: Some("7".into()),
            owner_references: owner.map(|(uid, controller)| {
                vec![OwnerReference {
                    uid: uid.into(),
                    controller: Some(controller),
                    ..Default::default()
                }]
            }),
            deletion_timestamp: deleting.then_some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
            ..Default::default()
        }
    }

    #[test]
    fn controller_ref_is_the_controlling_owner() {
        let r = new_controller_ref(&rs());
        assert_eq!(
            (r.api_version.as_str(), r.kind.as_str()),
            ("apps/v1", "ReplicaSet")
        );
        assert_eq!((r.controller, r.block_owner_deletion), (Some(true), Some(true)));
        assert!(controller_ref(&pod(Some(("x", false)), false)).is_none());
        assert!(is_controlled_by(&pod(Some(("rs-uid", true)), false), "rs-uid"));
    }

    #[test]
    fn claim_table() {
        // (owner deleting, matches, pod owner, pod deleting) -> decision
        let cases = [
            (false, true, Some(("rs-uid", true)), false, Claim::Keep),
            (false, false, Some(("rs-uid", true)), false, Claim::Release),
            (false, false, Some(("rs-uid", true)), true, Claim::Ignore),
            (true, false, Some(("rs-uid", true)), false, Claim::Ignore),
            (true, true, Some(("rs-uid", true)), false, Claim::Keep),
            (false, true, Some(("other", true)), false, Claim::Ignore),
            (false, true, Some(("other", false)), false, Claim::Adopt),
            (false, true, None, false, Claim::Adopt),
            (false, false, None, false, Claim::Ignore),
            (true, true, None, false, Claim::Ignore),
            (false, true, None, true, Claim::Ignore),
        ];
        for (owner_deleting, matches, owner, deleting, want) in cases {
            let got = claim("rs-uid", owner_deleting, matches, &pod(owner, deleting));
            assert_eq!(got, want, "{owner_deleting} {matches} {owner:?} {deleting}");
        }
    }

    #[test]
    fn adopt_and_release_patches_keep_other_owners() {
        let meta = pod(Some(("other", false)), false);
        let patch = adopt_patch(&meta, &new_controller_ref(&rs()));
        let refs = &patch["metadata"]["ownerReferences"];
        assert_eq!(refs.as_array().map(Vec::len), Some(2));
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        let released = release_patch(&meta, "other");
        assert!(released["metadata"]["ownerReferences"].is_null());
    }
}
