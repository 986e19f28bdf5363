//! Removing the `batch.kubernetes.io/job-tracking` finalizer: from pods the Job has counted,
//! and from orphans whose Job is gone or finished (upstream `syncOrphanPod`).

use std::collections::HashSet;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::conditions::is_finished;
use super::pods::{TRACKING_FINALIZER, has_tracking_finalizer};
use super::sync::{Shared, SyncError};
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::{ignore_not_found, is_not_found};
use crate::controllers::util::worker::Requeue;

/// Concurrent pod patches.
const API_CONCURRENCY: usize = 64;

/// Removes the tracking finalizer from each pod; a pod that is gone counts as done.
pub(super) async fn remove_finalizers(
    shared: &Shared,
    key: &ObjectKey,
    api: &Api<Pod>,
    pods: &[(String, String)],
    with_finalizer: &mut HashSet<String>,
) -> Option<SyncError> {
    if pods.is_empty() {
        return None;
    }
    shared
        .removing_finalizers
        .lock()
        .entry(key.clone())
        .or_default()
        .extend(pods.iter().map(|(_, uid)| uid.clone()));
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}});
    let results: Vec<(String, String, Result<(), kube::Error>)> = futures::stream::iter(pods.to_vec())
        .map(|(name, uid)| {
            let patch = &patch;
            async move {
                let r = api
                    .patch(&name, &PatchParams::default(), &Patch::Strategic(patch))
                    .await
                    .map(|_| ());
                (name, uid, r)
            }
        })
        .buffer_unordered(API_CONCURRENCY)
        .collect()
        .await;
    let mut first_error = None;
    for (name, uid, r) in results {
        match r {
            Ok(()) => {
                with_finalizer.remove(&uid);
            }
            Err(e) if is_not_found(&e) => {
                shared.finalizer_removal_observed(key, &uid);
                with_finalizer.remove(&uid);
            }
            Err(source) => {
                shared.finalizer_removal_observed(key, &uid);
                first_error.get_or_insert(SyncError::Finalizer { pod: name, source });
            }
        }
    }
    first_error
}

/// Whether a pod still needs its finalizer removed by the orphan path: it carries the
/// finalizer and its Job is gone or finished.
pub(crate) fn orphan_needs_cleanup(shared: &Shared, pod: &Pod) -> bool {
    if !has_tracking_finalizer(pod) {
        return false;
    }
    let Some(r) = crate::controllers::util::owner::controller_ref(&pod.metadata) else {
        return true;
    };
    if r.kind != "Job" {
        return false;
    }
    let key = ObjectKey::new(pod.metadata.namespace.clone().unwrap_or_default(), r.name.clone());
    match shared.jobs.get(&key.to_ref()) {
        None => true,
        Some(j) => j.metadata.uid.as_deref() != Some(r.uid.as_str()) || is_finished(&j),
    }
}

/// Upstream `syncOrphanPod`: drop the tracking finalizer of a pod whose Job is gone.
pub(crate) async fn sync_orphan(shared: &Shared, key: &ObjectKey) -> Result<Requeue, SyncError> {
    let Some(pod) = shared.pods.get(&key.to_ref()) else {
        return Ok(None);
    };
    if !orphan_needs_cleanup(shared, &pod) {
        return Ok(None);
    }
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &key.namespace);
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}});
    ignore_not_found(
        api.patch(&key.name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await,
    )
    .map_err(|source| SyncError::Finalizer {
        pod: key.to_string(),
        source,
    })?;
    Ok(None)
}
