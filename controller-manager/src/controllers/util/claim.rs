//! Carrying out the adopt/release decision of [`super::owner::claim`] for pods (upstream
//! `PodControllerRefManager.ClaimPods`): every controller that owns pods through a selector
//! (ReplicaSet, ReplicationController, DaemonSet, StatefulSet, Job) claims them this way.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;

use super::api::ignore_not_found;
use super::owner::{Claim, claim, release_patch};

/// A pod could not be adopted or released (the sync is retried).
#[derive(Debug, thiserror::Error)]
#[error("adopting or releasing pod {pod}: {source}")]
pub struct ClaimError {
    pub pod: String,
    #[source]
    pub source: kube::Error,
}

/// Whose pods are claimed, and how.
#[derive(Debug)]
pub struct Claimant<'a, M, A> {
    /// The owner's metadata (namespace, uid, deletionTimestamp).
    pub owner: &'a ObjectMeta,
    /// Whether the owner's selector (and any other rule of the controller) covers the pod.
    pub matches: M,
    /// The patch that adopts an orphan (usually a merge patch from `owner::adopt_patch`).
    pub adopt: A,
}

/// The pods among `candidates` that `claimant` controls once matching orphans are adopted
/// (the adopted pod as the API returned it) and its pods that stopped matching are released.
/// Pods outside the owner's namespace are skipped.
pub async fn claim_pods<M, A>(
    candidates: impl IntoIterator<Item = Arc<Pod>>,
    claimant: Claimant<'_, M, A>,
    api: &Api<Pod>,
) -> Result<Vec<Arc<Pod>>, ClaimError>
where
    M: Fn(&Pod) -> bool,
    A: Fn(&Pod) -> Patch<Value>,
{
    let owner = claimant.owner;
    let uid = owner.uid.as_deref().unwrap_or("");
    let deleting = owner.deletion_timestamp.is_some();
    let mut out = Vec::new();
    for p in candidates {
        if p.metadata.namespace != owner.namespace {
            continue;
        }
        let name = p.metadata.name.clone().unwrap_or_default();
        match claim(uid, deleting, (claimant.matches)(&p), &p.metadata) {
            Claim::Keep => out.push(p),
            Claim::Ignore => {}
            Claim::Adopt => {
                let adopted = api
                    .patch(&name, &PatchParams::default(), &(claimant.adopt)(&p))
                    .await
                    .map_err(|source| ClaimError {
                        pod: name.clone(),
                        source,
                    })?;
                out.push(Arc::new(adopted));
            }
            Claim::Release => {
                let patch = release_patch(&p.metadata, uid);
                ignore_not_found(
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await,
                )
                .map_err(|source| ClaimError { pod: name, source })?;
            }
        }
    }
    Ok(out)
}
