//! One sync of a StatefulSet: claim pods, plan, write revisions, claims and pods, status.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use serde_json::json;

use super::identity::{ordinal_of, set_name};
use super::plan::{self, Observed};
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::{ignore_not_found, is_conflict, is_not_found};
use crate::controllers::util::claim::{ClaimError, Claimant, claim_pods as claim_pods_util};
use crate::controllers::util::events::{EventType, Recorder, object_ref};
use crate::controllers::util::owner::{adopt_patch, is_controlled_by, new_controller_ref};
use crate::controllers::util::selector;
use crate::controllers::util::worker::Requeue;

/// A failed sync (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error("writing controller revision {name}: {source}")]
    Revision {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("creating claim {claim}: {source}")]
    CreateClaim {
        claim: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating owner of claim {claim}: {source}")]
    ClaimOwner {
        claim: String,
        #[source]
        source: kube::Error,
    },
    #[error("creating pod {pod}: {source}")]
    CreatePod {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting pod {pod}: {source}")]
    DeletePod {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating status: {0}")]
    Status(#[source] kube::Error),
}

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) sets: Store<StatefulSet>,
    pub(crate) pods: Store<Pod>,
    pub(crate) revisions: Store<ControllerRevision>,
    pub(crate) claims: Store<PersistentVolumeClaim>,
    pub(crate) recorder: Recorder,
}

pub(crate) async fn sync(shared: &Shared, key: &ObjectKey) -> Result<Requeue, SyncError> {
    let Some(set) = shared.sets.get(&key.to_ref()) else {
        return Ok(None);
    };
    let span = tracing::debug_span!("sync", controller = "statefulset-controller", object = %key);
    let _enter = span.enter();
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let ns = key.namespace.as_str();
    let pods_api: Api<Pod> = Api::namespaced(shared.client.clone(), ns);
    let pods = claim_pods(shared, &set, &pods_api).await?;
    let revisions: Vec<Arc<ControllerRevision>> = shared
        .revisions
        .state()
        .into_iter()
        .filter(|r| r.metadata.namespace.as_deref() == Some(ns) && is_controlled_by(&r.metadata, &uid))
        .collect();
    let claims: HashSet<String> = shared
        .claims
        .state()
        .iter()
        .filter(|c| c.metadata.namespace.as_deref() == Some(ns))
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    let observed = Observed {
        set: &set,
        pods: pods.iter().map(AsRef::as_ref).collect(),
        revisions: revisions.iter().map(AsRef::as_ref).collect(),
        claims: &claims,
        now: Timestamp::now(),
    };
    let p = plan::plan(&observed);
    let regarding = object_ref(set.as_ref());
    let name = set_name(&set).to_string();

    let rev_api: Api<ControllerRevision> = Api::namespaced(shared.client.clone(), ns);
    if let Some(r) = &p.create_revision {
        let rname = r.metadata.name.clone().unwrap_or_default();
        match rev_api.create(&PostParams::default(), r).await {
            Ok(_) => {}
            // Same name and same data (the cache was behind): fine.
            Err(e) if is_conflict(&e) => {
                let existing = rev_api.get(&rname).await.map_err(|source| SyncError::Revision {
                    name: rname.clone(),
                    source,
                })?;
                if existing.data != r.data {
                    bump_collision_count(shared, key, &set).await?;
                    return Err(SyncError::Revision {
                        name: rname,
                        source: e,
                    });
                }
            }
            Err(source) => return Err(SyncError::Revision { name: rname, source }),
        }
    }
    if let Some((rname, number)) = &p.renumber_revision {
        let patch = json!({"revision": number});
        rev_api
            .patch(rname, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| SyncError::Revision {
                name: rname.clone(),
                source,
            })?;
    }

    let claims_api: Api<PersistentVolumeClaim> = Api::namespaced(shared.client.clone(), ns);
    let result = apply_pods(shared, &p, &regarding, &name, &pods, &pods_api, &claims_api).await;

    let status_changed = set.status.as_ref() != Some(&p.status);
    if status_changed {
        // A merge patch: every field the plan computes is set, and no resourceVersion
        // precondition means a cache a step behind our own last write does not cost a retry.
        let api: Api<StatefulSet> = Api::namespaced(shared.client.clone(), ns);
        let patch = json!({"status": p.status});
        ignore_not_found(
            api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await,
        )
        .map_err(SyncError::Status)?;
    }
    result?;
    for rname in &p.delete_revisions {
        if let Err(e) = rev_api.delete(rname, &DeleteParams::default()).await
            && !is_not_found(&e)
        {
            tracing::warn!(revision = %rname, error = %e, "truncating history");
        }
    }
    Ok(p.requeue_after)
}

async fn apply_pods(
    shared: &Shared,
    p: &plan::Plan,
    regarding: &ObjectReference,
    set: &str,
    pods: &[Arc<Pod>],
    pods_api: &Api<Pod>,
    claims_api: &Api<PersistentVolumeClaim>,
) -> Result<(), SyncError> {
    let record = |t, reason: &str, msg: String| shared.recorder.record(regarding, t, reason, &msg);
    for (pod, c) in &p.create_claims {
        let cname = c.metadata.name.clone().unwrap_or_default();
        match claims_api.create(&PostParams::default(), c).await {
            Ok(_) => record(
                EventType::Normal,
                "SuccessfulCreate",
                format!("create Claim {cname} Pod {pod} in StatefulSet {set} success"),
            ),
            Err(e) if is_conflict(&e) => {}
            Err(source) => {
                record(
                    EventType::Warning,
                    "FailedCreate",
                    format!("create Claim {cname} for Pod {pod} in StatefulSet {set} failed error: {source}"),
                );
                return Err(SyncError::CreateClaim { claim: cname, source });
            }
        }
    }
    for pod in &p.create_pods {
        let pname = pod.metadata.name.clone().unwrap_or_default();
        match pods_api.create(&PostParams::default(), pod).await {
            Ok(_) => record(
                EventType::Normal,
                "SuccessfulCreate",
                format!("create Pod {pname} in StatefulSet {set} successful"),
            ),
            Err(e) if is_conflict(&e) => {}
            Err(source) => {
                record(
                    EventType::Warning,
                    "FailedCreate",
                    format!("create Pod {pname} in StatefulSet {set} failed error: {source}"),
                );
                return Err(SyncError::CreatePod { pod: pname, source });
            }
        }
    }
    for (cname, pname) in &p.claims_owned_by_pod {
        let Some(pod) = pods
            .iter()
            .find(|x| x.metadata.name.as_deref() == Some(pname.as_str()))
        else {
            continue;
        };
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: pname.clone(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            controller: None,
            block_owner_deletion: None,
        };
        let patch = json!({"metadata": {"ownerReferences": [owner]}});
        ignore_not_found(
            claims_api
                .patch(cname, &PatchParams::default(), &Patch::Strategic(&patch))
                .await,
        )
        .map_err(|source| SyncError::ClaimOwner {
            claim: cname.clone(),
            source,
        })?;
    }
    for pname in &p.delete_pods {
        match pods_api.delete(pname, &DeleteParams::default()).await {
            Ok(_) => record(
                EventType::Normal,
                "SuccessfulDelete",
                format!("delete Pod {pname} in StatefulSet {set} successful"),
            ),
            Err(e) if is_not_found(&e) => {}
            Err(source) => {
                record(
                    EventType::Warning,
                    "FailedDelete",
                    format!("delete Pod {pname} in StatefulSet {set} failed error: {source}"),
                );
                return Err(SyncError::DeletePod {
                    pod: pname.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// A revision name is taken by different data: bump `status.collisionCount` so the next
/// hash differs (upstream does the same).
async fn bump_collision_count(shared: &Shared, key: &ObjectKey, set: &StatefulSet) -> Result<(), SyncError> {
    let api: Api<StatefulSet> = Api::namespaced(shared.client.clone(), &key.namespace);
    let mut updated = set.clone();
    let status = updated.status.get_or_insert_with(Default::default);
    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
    api.replace_status(&key.name, &PostParams::default(), &updated)
        .await
        .map_err(SyncError::Status)?;
    Ok(())
}

/// Pods the set controls, after adopting orphans that match its selector and name pattern
/// and releasing ours that stopped matching (upstream `ClaimPods` with `isMemberOf`).
async fn claim_pods(shared: &Shared, set: &StatefulSet, api: &Api<Pod>) -> Result<Vec<Arc<Pod>>, SyncError> {
    let name = set_name(set);
    let sel = selector::matcher(set.spec.as_ref().map(|s| &s.selector));
    let claimant = Claimant {
        owner: &set.metadata,
        // Upstream's isMemberOf: a pod of another set with a matching selector is not ours.
        matches: |p: &Pod| {
            selector::matches(&sel, p.metadata.labels.as_ref()) && ordinal_of(name, p).is_some()
        },
        adopt: |p: &Pod| Patch::Merge(adopt_patch(&p.metadata, &new_controller_ref(set))),
    };
    Ok(claim_pods_util(shared.pods.state(), claimant, api).await?)
}
