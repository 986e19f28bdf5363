//! One sync of a DaemonSet: claim pods, keep history, plan, create and delete pods, status.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use parking_lot::Mutex;
use serde_json::json;

use super::history;
use super::plan::{self, Observed, new_pod};
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::{ignore_not_found, is_conflict, is_not_found};
use crate::controllers::util::claim::{ClaimError, Claimant, claim_pods as claim_pods_util};
use crate::controllers::util::events::{EventType, Recorder, object_ref};
use crate::controllers::util::expectations::Expectations;
use crate::controllers::util::owner::{adopt_patch, is_controlled_by, new_controller_ref};
use crate::controllers::util::selector;
use crate::controllers::util::worker::Requeue;

const API_CONCURRENCY: usize = 64;

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
    #[error("creating pod on node {node}: {source}")]
    Create {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting pod {pod}: {source}")]
    Delete {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating status: {0}")]
    Status(#[source] kube::Error),
}

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) sets: Store<DaemonSet>,
    pub(crate) pods: Store<Pod>,
    pub(crate) nodes: Store<Node>,
    pub(crate) revisions: Store<ControllerRevision>,
    /// Keyed by DaemonSet; deletions tracked by pod `namespace/name`.
    pub(crate) expectations: Expectations<ObjectKey, String>,
    pub(crate) failed_backoff: FailedPodBackoff,
    pub(crate) recorder: Recorder,
}

pub(crate) async fn sync(shared: &Shared, key: &ObjectKey) -> Result<Requeue, SyncError> {
    let Some(ds) = shared.sets.get(&key.to_ref()) else {
        shared.expectations.forget(key);
        shared.failed_backoff.forget(key);
        return Ok(None);
    };
    let span = tracing::debug_span!("sync", controller = "daemonset-controller", object = %key);
    let _enter = span.enter();
    if ds.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let ns = key.namespace.as_str();
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let pods_api: Api<Pod> = Api::namespaced(shared.client.clone(), ns);
    let pods = claim_pods(shared, &ds, &pods_api).await?;
    let pod_refs: Vec<&Pod> = pods.iter().map(AsRef::as_ref).collect();
    let revisions: Vec<Arc<ControllerRevision>> = shared
        .revisions
        .state()
        .into_iter()
        .filter(|r| r.metadata.namespace.as_deref() == Some(ns) && is_controlled_by(&r.metadata, &uid))
        .collect();
    let rev_refs: Vec<&ControllerRevision> = revisions.iter().map(AsRef::as_ref).collect();
    let h = history::plan(&ds, &rev_refs, &pod_refs);
    write_history(shared, ns, &h).await?;

    let nodes = shared.nodes.state();
    let now = Timestamp::now();
    let in_backoff = shared.failed_backoff.in_backoff(key);
    let observed = Observed {
        ds: &ds,
        nodes: nodes.iter().map(AsRef::as_ref).collect(),
        pods: pod_refs,
        hash: &h.hash,
        now,
        failed_backoff: &in_backoff,
    };
    let p = plan::plan(&observed);
    for node in &p.failed_on {
        shared.failed_backoff.step(key, node);
    }
    let regarding = object_ref(ds.as_ref());
    let mut result = Ok(());
    if shared.expectations.satisfied(key) {
        for e in &p.events {
            let t = if e.warning {
                EventType::Warning
            } else {
                EventType::Normal
            };
            shared.recorder.record(&regarding, t, e.reason, &e.message);
        }
        result = apply(shared, key, &ds, &h.hash, &p, &pods_api).await;
    }
    if ds.status.as_ref() != Some(&p.status) {
        // A merge patch: every counter is always set, and no resourceVersion precondition
        // means a cache a step behind our own last write does not cost a retry.
        let api: Api<DaemonSet> = Api::namespaced(shared.client.clone(), ns);
        let patch = json!({"status": p.status});
        ignore_not_found(
            api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await,
        )
        .map_err(SyncError::Status)?;
    }
    result?;
    let rev_api: Api<ControllerRevision> = Api::namespaced(shared.client.clone(), ns);
    for name in &h.delete {
        if let Err(e) = rev_api.delete(name, &DeleteParams::default()).await
            && !is_not_found(&e)
        {
            tracing::warn!(revision = %name, error = %e, "cleaning up history");
        }
    }
    if p.waiting_on_backoff {
        return Ok(shared.failed_backoff.next_expiry(key));
    }
    // Pods turning available after minReadySeconds change the status without an event.
    let min_ready = ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
    Ok(
        (min_ready > 0 && p.status.number_available != Some(p.status.desired_number_scheduled))
            .then(|| Duration::from_secs(u64::try_from(min_ready).unwrap_or(1))),
    )
}

async fn write_history(shared: &Shared, ns: &str, h: &history::History) -> Result<(), SyncError> {
    let api: Api<ControllerRevision> = Api::namespaced(shared.client.clone(), ns);
    if let Some(r) = &h.create {
        let name = r.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), r).await {
            Ok(_) => {}
            Err(e) if is_conflict(&e) => {}
            Err(source) => return Err(SyncError::Revision { name, source }),
        }
    }
    if let Some((name, number)) = &h.renumber {
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"revision": number})),
        )
        .await
        .map_err(|source| SyncError::Revision {
            name: name.clone(),
            source,
        })?;
    }
    Ok(())
}

async fn apply(
    shared: &Shared,
    key: &ObjectKey,
    ds: &DaemonSet,
    hash: &str,
    p: &plan::Plan,
    api: &Api<Pod>,
) -> Result<(), SyncError> {
    let regarding = object_ref(ds);
    if !p.create_on.is_empty() {
        shared.expectations.expect_creations(key, p.create_on.len());
    }
    let post = PostParams::default();
    let created: Vec<(String, Result<Pod, kube::Error>)> = futures::stream::iter(p.create_on.clone())
        .map(|node| {
            let pod = new_pod(ds, &node, hash);
            let post = &post;
            async move { (node, api.create(post, &pod).await) }
        })
        .buffer_unordered(API_CONCURRENCY)
        .collect()
        .await;
    let mut first_error = None;
    for (node, r) in created {
        match r {
            Ok(pod) => shared.recorder.record(
                &regarding,
                EventType::Normal,
                "SuccessfulCreate",
                &format!("Created pod: {}", pod.metadata.name.unwrap_or_default()),
            ),
            Err(source) => {
                shared.expectations.creation_observed(key);
                shared.recorder.record(
                    &regarding,
                    EventType::Warning,
                    "FailedCreate",
                    &format!("Error creating: {source}"),
                );
                first_error.get_or_insert(SyncError::Create { node, source });
            }
        }
    }
    if !p.delete.is_empty() {
        shared
            .expectations
            .expect_deletions(key, p.delete.iter().map(|n| format!("{}/{n}", key.namespace)));
    }
    let deleted: Vec<(String, Result<(), kube::Error>)> = futures::stream::iter(p.delete.clone())
        .map(|name| async move {
            let r = api.delete(&name, &DeleteParams::default()).await.map(|_| ());
            (name, r)
        })
        .buffer_unordered(API_CONCURRENCY)
        .collect()
        .await;
    for (name, r) in deleted {
        match r {
            Ok(()) => shared.recorder.record(
                &regarding,
                EventType::Normal,
                "SuccessfulDelete",
                &format!("Deleted pod: {name}"),
            ),
            Err(e) => {
                shared
                    .expectations
                    .deletion_observed(key, &format!("{}/{name}", key.namespace));
                if !is_not_found(&e) {
                    first_error.get_or_insert(SyncError::Delete { pod: name, source: e });
                }
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Pods the DaemonSet controls after adopting matching orphans and releasing ours that
/// stopped matching.
async fn claim_pods(shared: &Shared, ds: &DaemonSet, api: &Api<Pod>) -> Result<Vec<Arc<Pod>>, SyncError> {
    let sel = selector::matcher(ds.spec.as_ref().map(|s| &s.selector));
    let claimant = Claimant {
        owner: &ds.metadata,
        matches: |p: &Pod| selector::matches(&sel, p.metadata.labels.as_ref()),
        adopt: |p: &Pod| Patch::Merge(adopt_patch(&p.metadata, &new_controller_ref(ds))),
    };
    Ok(claim_pods_util(shared.pods.state(), claimant, api).await?)
}

/// Per DaemonSet and node, how long to leave a failed daemon pod before killing it again
/// (upstream `failedPodsBackoff`: 1s doubling to 15m), so the controller does not fight a
/// kubelet that keeps rejecting the pod.
#[derive(Debug, Default)]
pub(crate) struct FailedPodBackoff {
    entries: Mutex<HashMap<(ObjectKey, String), (Instant, Duration)>>,
}

const FAILED_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
const FAILED_BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

impl FailedPodBackoff {
    /// Nodes of `ds` still inside their back-off window.
    pub(crate) fn in_backoff(&self, ds: &ObjectKey) -> HashSet<String> {
        let now = Instant::now();
        self.entries
            .lock()
            .iter()
            .filter(|((k, _), (at, delay))| k == ds && now < *at + *delay)
            .map(|((_, node), _)| node.clone())
            .collect()
    }

    /// A failed pod was killed on `node`: start or double its window.
    pub(crate) fn step(&self, ds: &ObjectKey, node: &str) {
        let mut entries = self.entries.lock();
        let entry = entries
            .entry((ds.clone(), node.to_string()))
            .or_insert((Instant::now(), Duration::ZERO));
        let next = if entry.1.is_zero() {
            FAILED_BACKOFF_INITIAL
        } else {
            (entry.1 * 2).min(FAILED_BACKOFF_MAX)
        };
        *entry = (Instant::now(), next);
    }

    /// Time until the earliest window of `ds` closes.
    pub(crate) fn next_expiry(&self, ds: &ObjectKey) -> Option<Duration> {
        let now = Instant::now();
        self.entries
            .lock()
            .iter()
            .filter(|((k, _), _)| k == ds)
            .filter_map(|(_, (at, delay))| (*at + *delay).checked_duration_since(now))
            .min()
    }

    pub(crate) fn forget(&self, ds: &ObjectKey) {
        self.entries.lock().retain(|(k, _), _| k != ds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_pod_backoff_doubles_per_node() {
        let b = FailedPodBackoff::default();
        let ds = ObjectKey::new("ns", "agent");
        assert!(b.in_backoff(&ds).is_empty());
        b.step(&ds, "a");
        assert_eq!(b.in_backoff(&ds), HashSet::from(["a".to_string()]));
        assert!(b.next_expiry(&ds).is_some_and(|d| d <= FAILED_BACKOFF_INITIAL));
        b.step(&ds, "a");
        assert!(
            b.next_expiry(&ds)
                .is_some_and(|d| d > FAILED_BACKOFF_INITIAL && d <= 2 * FAILED_BACKOFF_INITIAL)
        );
        assert!(b.in_backoff(&ObjectKey::new("ns", "other")).is_empty());
        b.forget(&ds);
        assert!(b.next_expiry(&ds).is_none());
    }
}
