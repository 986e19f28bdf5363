//! Carrying out the collector's decisions through the API (upstream `attemptToDeleteItem`,
//! `attemptToOrphanWorker`).

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::core::PartialObjectMeta;
use serde_json::json;

use super::Gc;
use super::decide::{Decision, OwnerState, Propagation, decide};
use super::graph::{FOREGROUND, Identity, ORPHAN, Observed, Work};
use super::resources::{Watchable, group_of};
use crate::controllers::util::api::{ignore_not_found, is_not_found};
use crate::controllers::util::worker::Requeue;

/// A failed collection step (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum GcError {
    #[error("no served resource for {api_version} {kind}")]
    UnknownResource { api_version: String, kind: String },
    #[error(transparent)]
    Api(#[from] kube::Error),
}

impl Gc {
    fn watchable(&self, api_version: &str, kind: &str) -> Result<Watchable, GcError> {
        self.resources
            .read()
            .get(&(group_of(api_version).to_string(), kind.to_string()))
            .cloned()
            .ok_or_else(|| GcError::UnknownResource {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            })
    }

    fn api(&self, w: &Watchable, namespace: &str) -> Api<DynamicObject> {
        if w.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &w.ar)
        } else {
            Api::all_with(self.client.clone(), &w.ar)
        }
    }

    async fn latest(
        &self,
        id: &Identity,
    ) -> Result<Option<(Api<DynamicObject>, PartialObjectMeta<DynamicObject>)>, GcError> {
        let w = self.watchable(&id.resource.api_version, &id.resource.kind)?;
        let api = self.api(&w, &id.namespace);
        let Some(m) = api.get_metadata_opt(&id.name).await? else {
            return Ok(None);
        };
        if m.metadata.uid.as_deref() != Some(id.uid.as_str()) {
            return Ok(None);
        }
        Ok(Some((api, m)))
    }
}

pub(crate) async fn process(gc: &Gc, work: &Work) -> Result<Requeue, GcError> {
    match work {
        Work::Delete(id) => attempt_to_delete(gc, id).await,
        Work::Orphan(id) => orphan(gc, id).await,
    }
    .map(|()| None)
}

fn observed(id: &Identity, m: &PartialObjectMeta<DynamicObject>) -> Observed {
    Observed {
        id: id.clone(),
        owners: m.metadata.owner_references.clone().unwrap_or_default(),
        deleting: m.metadata.deletion_timestamp.is_some(),
        finalizers: m.metadata.finalizers.clone().unwrap_or_default(),
    }
}

async fn owner_state(
    gc: &Gc,
    item: &Observed,
    r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Result<OwnerState, GcError> {
    if let Some(node) = gc.graph.lock().get(&r.uid) {
        return Ok(if node.deleting_dependents() {
            OwnerState::WaitingForDependents
        } else {
            OwnerState::Present
        });
    }
    // Not in the graph: ask the apiserver (the graph may lag behind).
    let w = gc.watchable(&r.api_version, &r.kind)?;
    let api = gc.api(&w, &item.id.namespace);
    let Some(m) = api.get_metadata_opt(&r.name).await? else {
        return Ok(OwnerState::Gone);
    };
    if m.metadata.uid.as_deref() != Some(r.uid.as_str()) {
        return Ok(OwnerState::Gone);
    }
    let deleting = m.metadata.deletion_timestamp.is_some();
    let foreground = m.metadata.finalizers.iter().flatten().any(|f| f == FOREGROUND);
    Ok(if deleting && foreground {
        OwnerState::WaitingForDependents
    } else {
        OwnerState::Present
    })
}

async fn attempt_to_delete(gc: &Gc, id: &Identity) -> Result<(), GcError> {
    let Some((api, latest)) = gc.latest(id).await? else {
        return Ok(());
    };
    let item = observed(id, &latest);
    let mut owners = Vec::with_capacity(item.owners.len());
    for r in &item.owners {
        owners.push((r.uid.clone(), owner_state(gc, &item, r).await?));
    }
    let (blocking, has_dependents): (Vec<Observed>, bool) = {
        let graph = gc.graph.lock();
        let deps = graph.dependents(&id.uid);
        let blocking = deps
            .iter()
            .filter(|d| {
                d.owners
                    .iter()
                    .any(|r| r.uid == id.uid && r.block_owner_deletion == Some(true))
            })
            .map(|d| (*d).clone())
            .collect();
        (blocking, !deps.is_empty())
    };
    let blocking_refs: Vec<&Observed> = blocking.iter().collect();
    let rv = latest.metadata.resource_version.clone();
    match decide(&item, &owners, &blocking_refs, has_dependents) {
        Decision::Nothing => Ok(()),
        Decision::DeleteDependents(ids) => {
            for d in ids {
                gc.queue.add(Work::Delete(d));
            }
            Ok(())
        }
        Decision::RemoveForegroundFinalizer => {
            tracing::info!(object = %id, "dependents deleted; removing the foregroundDeletion finalizer");
            let finalizers: Vec<&String> = item.finalizers.iter().filter(|f| *f != FOREGROUND).collect();
            let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": rv}});
            ignore_not_found(
                api.patch(&id.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await,
            )?;
            Ok(())
        }
        Decision::RemoveOwnerRefs(uids) => {
            let refs: Vec<_> = item.owners.iter().filter(|r| !uids.contains(&r.uid)).collect();
            let patch = json!({"metadata": {"ownerReferences": refs, "uid": id.uid, "resourceVersion": rv}});
            ignore_not_found(
                api.patch(&id.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await,
            )?;
            Ok(())
        }
        Decision::Delete(p) => {
            tracing::info!(object = %id, propagation = ?p, "owners gone; deleting");
            let params = DeleteParams {
                propagation_policy: Some(match p {
                    Propagation::Background => PropagationPolicy::Background,
                    Propagation::Foreground => PropagationPolicy::Foreground,
                    Propagation::Orphan => PropagationPolicy::Orphan,
                }),
                preconditions: Some(Preconditions {
                    uid: Some(id.uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api.delete(&id.name, &params).await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Upstream `attemptToOrphan`: dependents lose their reference to `id`, then `id` loses its
/// `orphan` finalizer.
async fn orphan(gc: &Gc, id: &Identity) -> Result<(), GcError> {
    let dependents: Vec<Identity> = gc
        .graph
        .lock()
        .dependents(&id.uid)
        .iter()
        .map(|d| d.id.clone())
        .collect();
    for d in dependents {
        let Some((api, latest)) = gc.latest(&d).await? else {
            continue;
        };
        let refs = latest.metadata.owner_references.clone().unwrap_or_default();
        if !refs.iter().any(|r| r.uid == id.uid) {
            continue;
        }
        let kept: Vec<_> = refs.into_iter().filter(|r| r.uid != id.uid).collect();
        let kept = if kept.is_empty() {
            serde_json::Value::Null
        } else {
            json!(kept)
        };
        let patch = json!({"metadata": {
            "ownerReferences": kept,
            "uid": d.uid,
            "resourceVersion": latest.metadata.resource_version,
        }});
        ignore_not_found(
            api.patch(&d.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await,
        )?;
    }
    let Some((api, latest)) = gc.latest(id).await? else {
        return Ok(());
    };
    let finalizers: Vec<String> = latest.metadata.finalizers.clone().unwrap_or_default();
    if !finalizers.iter().any(|f| f == ORPHAN) {
        return Ok(());
    }
    tracing::info!(object = %id, "dependents orphaned; removing the orphan finalizer");
    let kept: Vec<&String> = finalizers.iter().filter(|f| *f != ORPHAN).collect();
    let patch =
        json!({"metadata": {"finalizers": kept, "resourceVersion": latest.metadata.resource_version}});
    ignore_not_found(
        api.patch(&id.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    )?;
    Ok(())
}
