//! One sync of a ReplicaSet-like owner: claim pods, scale, write status.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;

use super::owner::ReplicaOwner;
use super::plan::{self, Scale};
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::{ignore_not_found, is_not_found};
use crate::controllers::util::claim::{ClaimError, Claimant, claim_pods};
use crate::controllers::util::events::{EventType, Recorder, object_ref};
use crate::controllers::util::expectations::Expectations;
use crate::controllers::util::owner::{adopt_patch, new_controller_ref};
use crate::controllers::util::worker::Requeue;
use crate::controllers::util::{pod, selector, template};

/// Concurrent API calls within one slow-start batch or deletion round.
const API_CONCURRENCY: usize = 64;

/// A failed sync (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error("creating pods: {0}")]
    Create(#[source] kube::Error),
    #[error("deleting pod {pod}: {source}")]
    Delete {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating status: {0}")]
    Status(#[source] kube::Error),
}

pub(crate) struct Shared<O: ReplicaOwner> {
    pub(crate) client: kube::Client,
    pub(crate) owners: Store<O>,
    pub(crate) pods: Store<Pod>,
    /// Keyed by owner; deletions tracked by pod `namespace/name`.
    pub(crate) expectations: Expectations<ObjectKey, String>,
    pub(crate) recorder: Recorder,
}

pub(crate) async fn sync<O: ReplicaOwner>(
    shared: &Arc<Shared<O>>,
    key: &ObjectKey,
) -> Result<Requeue, SyncError> {
    let Some(owner) = shared.owners.get(&key.to_ref()) else {
        shared.expectations.forget(key);
        return Ok(None);
    };
    let span = tracing::debug_span!("sync", controller = O::COMPONENT, object = %key);
    let _enter = span.enter();
    let meta = owner.meta();
    let deleting = meta.deletion_timestamp.is_some();
    let selector = owner.selector();
    let pods_api: Api<Pod> = Api::namespaced(shared.client.clone(), &key.namespace);

    // Claim: adopt matching orphans, release ours that stopped matching.
    let claimant = Claimant {
        owner: meta,
        matches: |p: &Pod| selector::matches(&selector, p.metadata.labels.as_ref()),
        adopt: |p: &Pod| Patch::Merge(adopt_patch(&p.metadata, &new_controller_ref(owner.as_ref()))),
    };
    let candidates = shared.pods.state().into_iter().filter(|p| pod::is_active(p));
    let active = claim_pods(candidates, claimant, &pods_api).await?;
    let active_refs: Vec<&Pod> = active.iter().map(AsRef::as_ref).collect();

    let mut result = Ok(());
    if !deleting && shared.expectations.satisfied(key) {
        result = manage::<O>(shared, key, &owner, &active_refs, &pods_api).await;
    }

    let now = k8s_openapi::jiff::Timestamp::now();
    let status = plan::status(
        &active_refs,
        owner.template_labels(),
        owner.min_ready_seconds(),
        meta.generation.unwrap_or(0),
        now,
    );
    if status != owner.current_status() {
        let api: Api<O> = Api::namespaced(shared.client.clone(), &key.namespace);
        ignore_not_found(
            api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&status.patch()))
                .await,
        )
        .map_err(SyncError::Status)?;
    }
    result?;
    Ok(
        plan::next_availability_check(&active_refs, owner.min_ready_seconds(), now)
            .map(|s| std::time::Duration::from_secs(u64::try_from(s).unwrap_or(1))),
    )
}

async fn manage<O: ReplicaOwner>(
    shared: &Arc<Shared<O>>,
    key: &ObjectKey,
    owner: &O,
    active: &[&Pod],
    pods_api: &Api<Pod>,
) -> Result<(), SyncError> {
    let owner_ref = object_ref(owner);
    match plan::scale(owner.replicas(), active) {
        Scale::Steady => Ok(()),
        Scale::Create(count) => {
            let Some(tmpl) = owner.template() else {
                return Ok(());
            };
            shared.expectations.expect_creations(key, count);
            let controller_ref = new_controller_ref(owner);
            let new_pod = template::pod_from_template(tmpl, &key.name, controller_ref);
            let post = PostParams::default();
            let mut created = 0usize;
            for batch in plan::slow_start_batches(count) {
                let results: Vec<Result<Pod, kube::Error>> = futures::stream::iter(0..batch)
                    .map(|_| pods_api.create(&post, &new_pod))
                    .buffer_unordered(API_CONCURRENCY)
                    .collect()
                    .await;
                let mut first_error = None;
                for r in results {
                    match r {
                        Ok(p) => {
                            created += 1;
                            let name = p.metadata.name.unwrap_or_default();
                            shared.recorder.record(
                                &owner_ref,
                                EventType::Normal,
                                "SuccessfulCreate",
                                &format!("Created pod: {name}"),
                            );
                        }
                        Err(e) => {
                            // A failed create will never be observed.
                            shared.expectations.creation_observed(key);
                            first_error.get_or_insert(e);
                        }
                    }
                }
                if let Some(e) = first_error {
                    shared.recorder.record(
                        &owner_ref,
                        EventType::Warning,
                        "FailedCreate",
                        &format!("Error creating: {e}"),
                    );
                    // The batches not attempted will not be observed either.
                    shared
                        .expectations
                        .lower_creations(key, count.saturating_sub(created).saturating_sub(batch));
                    return Err(SyncError::Create(e));
                }
            }
            Ok(())
        }
        Scale::Delete(names) => {
            let pod_keys: Vec<String> = names.iter().map(|n| format!("{}/{n}", key.namespace)).collect();
            shared.expectations.expect_deletions(key, pod_keys);
            let results: Vec<(String, Result<(), kube::Error>)> = futures::stream::iter(names)
                .map(|name| async move {
                    let r = pods_api.delete(&name, &DeleteParams::default()).await.map(|_| ());
                    (name, r)
                })
                .buffer_unordered(API_CONCURRENCY)
                .collect()
                .await;
            let mut first_error = None;
            for (name, r) in results {
                match r {
                    Ok(()) => shared.recorder.record(
                        &owner_ref,
                        EventType::Normal,
                        "SuccessfulDelete",
                        &format!("Deleted pod: {name}"),
                    ),
                    Err(e) if is_not_found(&e) => {
                        shared
                            .expectations
                            .deletion_observed(key, &format!("{}/{name}", key.namespace));
                    }
                    Err(source) => {
                        shared
                            .expectations
                            .deletion_observed(key, &format!("{}/{name}", key.namespace));
                        first_error.get_or_insert(SyncError::Delete { pod: name, source });
                    }
                }
            }
            first_error.map_or(Ok(()), Err)
        }
    }
}
