//! One sync of a Deployment (upstream `syncDeployment`): pick the path (status only, paused or
//! scaling, Recreate, RollingUpdate), apply the pure decisions, write status.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::Shared;
use super::replicasets::{claim_all, cleanup, scale, sync_new};
use super::rollout::{self, Scales};
use super::status;
use super::util::{is_recreate, replicas, rs_replicas};
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::ignore_not_found;
use crate::controllers::util::events::object_ref;
use crate::controllers::util::owner::is_controlled_by;
use crate::controllers::util::pod;
use crate::controllers::util::worker::Requeue;

/// A failed Deployment sync (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("pod-template-hash collision on ReplicaSet {0}; collisionCount bumped")]
    HashCollision(String),
}

/// The Deployment and its ReplicaSets as this sync sees and changes them.
pub(crate) struct Rollout {
    pub(crate) d: Deployment,
    pub(crate) ns: String,
    pub(crate) name: String,
    pub(crate) obj_ref: ObjectReference,
    pub(crate) rss: Vec<Arc<ReplicaSet>>,
    /// Name of the new ReplicaSet, once known.
    pub(crate) new: Option<String>,
    /// Status being built (starts from the cached status, keeps its conditions).
    pub(crate) status: DeploymentStatus,
}

impl Rollout {
    pub(crate) fn rs_name(&self, rs: &ReplicaSet) -> String {
        let _ = self;
        rs.metadata.name.clone().unwrap_or_default()
    }

    /// Replaces (or adds) a ReplicaSet with its updated version.
    pub(crate) fn replace(&mut self, rs: ReplicaSet) {
        let rs = Arc::new(rs);
        match self.rss.iter_mut().find(|r| r.metadata.name == rs.metadata.name) {
            Some(slot) => *slot = rs,
            None => self.rss.push(rs),
        }
    }

    pub(crate) fn new_rs(&self) -> Option<Arc<ReplicaSet>> {
        let name = self.new.as_ref()?;
        self.rss
            .iter()
            .find(|rs| rs.metadata.name.as_ref() == Some(name))
            .cloned()
    }

    fn old(&self) -> Vec<Arc<ReplicaSet>> {
        self.rss
            .iter()
            .filter(|rs| rs.metadata.name != self.new)
            .cloned()
            .collect()
    }
}

pub(crate) async fn sync(shared: &Shared, key: &ObjectKey) -> Result<Requeue, SyncError> {
    let Some(cached) = shared.deployments.get(&key.to_ref()) else {
        return Ok(None);
    };
    let span = tracing::debug_span!("sync", controller = "deployment-controller", object = %key);
    let _enter = span.enter();
    let d = (*cached).clone();
    let everything = d.spec.as_ref().is_some_and(|s| {
        s.selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.selector.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    });
    if everything {
        // Upstream refuses to act on a selector that selects every pod.
        shared.recorder.record(
            &object_ref(&d),
            crate::controllers::util::events::EventType::Warning,
            "SelectingAll",
            "This deployment is selecting all pods. A non-empty selector is required.",
        );
        return Ok(None);
    }
    let rss = claim_all(shared, &d).await?;
    let mut r = Rollout {
        ns: key.namespace.clone(),
        name: key.name.clone(),
        obj_ref: object_ref(&d),
        status: d.status.clone().unwrap_or_default(),
        d,
        rss,
        new: None,
    };
    let now = Timestamp::now();

    if r.d.metadata.deletion_timestamp.is_some() {
        sync_new(shared, &mut r, false).await?;
        return write_status(shared, &r, false, now).await;
    }
    status::paused_condition(&r.d, &mut r.status, now);
    let paused = r.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);

    let active: Vec<Arc<ReplicaSet>> = r.rss.iter().filter(|rs| rs_replicas(rs) > 0).cloned().collect();
    let active_refs: Vec<&ReplicaSet> = active.iter().map(AsRef::as_ref).collect();
    if paused || rollout::is_scaling_event(&r.d, &active_refs) {
        sync_new(shared, &mut r, false).await?;
        let new = r.new_rs();
        let old = r.old();
        let old_refs: Vec<&ReplicaSet> = old.iter().map(AsRef::as_ref).collect();
        let scales = rollout::scale(&r.d, new.as_deref(), &old_refs);
        apply(shared, &mut r, scales).await?;
        if paused {
            cleanup(shared, &r).await?;
        }
        return write_status(shared, &r, false, now).await;
    }

    if is_recreate(&r.d) {
        recreate(shared, &mut r, now).await
    } else {
        rolling(shared, &mut r, now).await
    }
}

async fn apply(shared: &Shared, r: &mut Rollout, scales: Scales) -> Result<bool, SyncError> {
    let changed = !scales.is_empty();
    for (name, to) in scales {
        scale(shared, r, &name, to).await?;
    }
    Ok(changed)
}

/// Upstream `rolloutRolling`.
async fn rolling(shared: &Shared, r: &mut Rollout, now: Timestamp) -> Result<Requeue, SyncError> {
    sync_new(shared, r, true).await?;
    if let Some(new) = r.new_rs() {
        let all: Vec<&ReplicaSet> = r.rss.iter().map(AsRef::as_ref).collect();
        if let Some(to) = rollout::reconcile_new(&r.d, &all, &new) {
            scale(shared, r, &r.rs_name(&new), to).await?;
            return write_status(shared, r, true, now).await;
        }
    }
    let new = r.new_rs();
    let old: Vec<Arc<ReplicaSet>> = r.old().into_iter().filter(|rs| rs_replicas(rs) > 0).collect();
    let old_refs: Vec<&ReplicaSet> = old.iter().map(AsRef::as_ref).collect();
    let scales = rollout::reconcile_old(&r.d, &old_refs, new.as_deref());
    if apply(shared, r, scales).await? {
        return write_status(shared, r, true, now).await;
    }
    let calc = status::calculate(
        &r.d,
        &r.rss.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
        new.as_deref(),
        now,
    );
    if status::is_complete(&r.d, &calc) {
        cleanup(shared, r).await?;
    }
    write_status(shared, r, true, now).await
}

/// Upstream `rolloutRecreate`: old ReplicaSets to zero, wait for their pods to go, then the new
/// one to full size.
async fn recreate(shared: &Shared, r: &mut Rollout, now: Timestamp) -> Result<Requeue, SyncError> {
    sync_new(shared, r, false).await?;
    let old_active: Vec<String> = r
        .old()
        .iter()
        .filter(|rs| rs_replicas(rs) > 0)
        .map(|rs| r.rs_name(rs))
        .collect();
    if !old_active.is_empty() {
        for name in old_active {
            scale(shared, r, &name, 0).await?;
        }
        return write_status(shared, r, true, now).await;
    }
    if old_pods_running(shared, r) {
        return write_status(shared, r, true, now).await;
    }
    if r.new.is_none() {
        sync_new(shared, r, true).await?;
    }
    if let Some(new) = r.new_rs() {
        scale(shared, r, &r.rs_name(&new), replicas(&r.d)).await?;
    }
    let calc = status::calculate(
        &r.d,
        &r.rss.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
        r.new_rs().as_deref(),
        now,
    );
    if status::is_complete(&r.d, &calc) {
        cleanup(shared, r).await?;
    }
    write_status(shared, r, true, now).await
}

/// Whether any pod of an old ReplicaSet is still not terminated (upstream `oldPodsRunning`).
fn old_pods_running(shared: &Shared, r: &Rollout) -> bool {
    let old_uids: Vec<String> = r.old().iter().filter_map(|rs| rs.metadata.uid.clone()).collect();
    if old_uids.is_empty() {
        return false;
    }
    shared.pods.state().iter().any(|p| {
        p.metadata.namespace.as_deref() == Some(r.ns.as_str())
            && old_uids.iter().any(|uid| is_controlled_by(&p.metadata, uid))
            && !pod::is_terminated(p)
    })
}

/// Computes status (with progress conditions when `rollout`) and writes it if it changed.
async fn write_status(
    shared: &Shared,
    r: &Rollout,
    rollout: bool,
    now: Timestamp,
) -> Result<Requeue, SyncError> {
    let mut base = r.d.clone();
    base.status = Some(r.status.clone());
    let new = r.new_rs();
    let all: Vec<&ReplicaSet> = r.rss.iter().map(AsRef::as_ref).collect();
    let mut next = status::calculate(&base, &all, new.as_deref(), now);
    if rollout {
        // Progress is judged against the status last written, not the one being built.
        let mut judged = r.d.clone();
        if let Some(s) = judged.status.as_mut() {
            s.conditions = next.conditions.clone();
        } else {
            judged.status = Some(DeploymentStatus {
                conditions: next.conditions.clone(),
                ..Default::default()
            });
        }
        next = status::progress(&judged, next, r.new.as_deref(), now);
    }
    let requeue = if rollout {
        status::requeue_after(&r.d, &next, now)
    } else {
        None
    };
    if r.d.status.as_ref() != Some(&next) {
        let api: Api<Deployment> = Api::namespaced(shared.client.clone(), &r.ns);
        let body = json!({"status": next});
        ignore_not_found(
            api.patch_status(&r.name, &PatchParams::default(), &Patch::Merge(&body))
                .await,
        )?;
    }
    Ok(requeue)
}
