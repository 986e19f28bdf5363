//! The Deployment's ReplicaSets through the API: claim, find-or-create the new one with its
//! revision, scale, and clean up old revisions (upstream `sync.go`).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;

use super::Shared;
use super::status::{self, FOUND_NEW_RS, NEW_RS_CREATED, PROGRESSING};
use super::sync::{Rollout, SyncError};
use super::util::{
    DESIRED_REPLICAS, MAX_REPLICAS, POD_TEMPLATE_HASH, REVISION, REVISION_HISTORY, copyable_annotations,
    equal_ignore_hash, fenceposts, find_new, is_recreate, pod_template_hash, replicas, rs_replicas,
    rs_revision,
};
use crate::controllers::util::api::{ignore_not_found, is_conflict};
use crate::controllers::util::events::EventType;
use crate::controllers::util::owner::{
    Claim, adopt_patch, claim, is_controlled_by, new_controller_ref, release_patch,
};
use crate::controllers::util::selector;

/// The ReplicaSets in `d`'s namespace that `d` controls after adopting and releasing.
pub(crate) async fn claim_all(shared: &Shared, d: &Deployment) -> Result<Vec<Arc<ReplicaSet>>, SyncError> {
    let ns = d.metadata.namespace.clone().unwrap_or_default();
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let deleting = d.metadata.deletion_timestamp.is_some();
    let matcher = selector::matcher(d.spec.as_ref().map(|s| &s.selector));
    let api: Api<ReplicaSet> = Api::namespaced(shared.client.clone(), &ns);
    let mut owned = Vec::new();
    for rs in shared.rss.state() {
        if rs.metadata.namespace.as_deref() != Some(ns.as_str()) {
            continue;
        }
        let name = rs.metadata.name.clone().unwrap_or_default();
        let matches = selector::matches(&matcher, rs.metadata.labels.as_ref());
        match claim(&uid, deleting, matches, &rs.metadata) {
            Claim::Keep => owned.push(rs),
            Claim::Ignore => {}
            Claim::Adopt => {
                let patch = adopt_patch(&rs.metadata, &new_controller_ref(d));
                let adopted = api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                owned.push(Arc::new(adopted));
            }
            Claim::Release => {
                ignore_not_found(
                    api.patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(&release_patch(&rs.metadata, &uid)),
                    )
                    .await,
                )?;
            }
        }
    }
    Ok(owned)
}

/// Upstream `getNewReplicaSet`: finds the new ReplicaSet and syncs its revision, or (with
/// `create`) creates it. Also sets the Deployment's revision annotation.
pub(crate) async fn sync_new(shared: &Shared, r: &mut Rollout, create: bool) -> Result<(), SyncError> {
    let found = find_new(&r.d, &r.rss);
    let max_old_revision = r
        .rss
        .iter()
        .filter(|rs| found.as_ref().is_none_or(|f| f.metadata.name != rs.metadata.name))
        .map(|rs| rs_revision(rs))
        .max()
        .unwrap_or(0);
    let new_revision = max_old_revision + 1;
    let api: Api<ReplicaSet> = Api::namespaced(shared.client.clone(), &r.ns);
    let now = k8s_openapi::jiff::Timestamp::now();

    if let Some(existing) = found {
        let mut annotations = existing.metadata.annotations.clone().unwrap_or_default();
        let old_revision = rs_revision(&existing);
        let mut changed = false;
        for (k, v) in copyable_annotations(&r.d) {
            if annotations.get(&k) != Some(&v) {
                annotations.insert(k, v);
                changed = true;
            }
        }
        if old_revision < new_revision {
            // A rollback (or an older template re-applied): the old RS becomes new again and
            // remembers the revisions it had.
            if old_revision > 0 {
                let history = match annotations.get(REVISION_HISTORY) {
                    Some(h) if !h.is_empty() => format!("{h},{old_revision}"),
                    _ => old_revision.to_string(),
                };
                annotations.insert(REVISION_HISTORY.into(), history);
            }
            annotations.insert(REVISION.into(), new_revision.to_string());
            changed = true;
        }
        let min_ready = r.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let min_ready_changed = existing.spec.as_ref().and_then(|s| s.min_ready_seconds) != min_ready;
        let mut new_rs = (*existing).clone();
        if changed || min_ready_changed {
            let patch = json!({
                "metadata": {"annotations": annotations, "resourceVersion": existing.metadata.resource_version},
                "spec": {"minReadySeconds": min_ready},
            });
            new_rs = api
                .patch(
                    &r.rs_name(&existing),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await?;
        }
        r.replace(new_rs);
        if status::progress_deadline(&r.d).is_some() && status::get(&r.status, PROGRESSING).is_none() {
            let msg = format!("Found new replica set \"{}\"", r.rs_name(&existing));
            status::set(
                &mut r.status,
                status::condition(PROGRESSING, "True", FOUND_NEW_RS, &msg, now),
            );
        }
        r.new = Some(r.rs_name(&existing));
        return sync_deployment_revision(shared, r).await;
    }
    if !create {
        return Ok(());
    }

    let Some(spec) = r.d.spec.clone() else {
        return Ok(());
    };
    let collision = r.d.status.as_ref().and_then(|s| s.collision_count);
    let hash = pod_template_hash(&spec.template, collision);
    let mut template = spec.template.clone();
    template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(POD_TEMPLATE_HASH.into(), hash.clone());
    let mut rs_selector: LabelSelector = spec.selector.clone();
    rs_selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(POD_TEMPLATE_HASH.into(), hash.clone());
    let name = format!("{}-{hash}", r.name);
    let (surge, _) = fenceposts(&r.d);
    let want = replicas(&r.d);
    let start_replicas = if is_recreate(&r.d) {
        want
    } else {
        let current: i32 = r.rss.iter().map(|rs| rs_replicas(rs)).sum();
        (want + surge - current).clamp(0, want)
    };
    let mut annotations = copyable_annotations(&r.d);
    annotations.insert(REVISION.into(), new_revision.to_string());
    annotations.insert(DESIRED_REPLICAS.into(), want.to_string());
    annotations.insert(MAX_REPLICAS.into(), (want + surge).to_string());
    let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
    let rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(r.ns.clone()),
            labels,
            annotations: Some(annotations),
            owner_references: Some(vec![new_controller_ref(&r.d)]),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(start_replicas),
            min_ready_seconds: spec.min_ready_seconds,
            selector: rs_selector,
            template: Some(template),
        }),
        status: None,
    };
    let created = match api.create(&PostParams::default(), &rs).await {
        Ok(created) => created,
        Err(e) if is_conflict(&e) => {
            // Already exists: ours from a sync whose create the cache has not seen yet, or a hash
            // collision (upstream bumps status.collisionCount and retries with a new hash).
            let existing = api.get(&name).await?;
            let same = existing
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| equal_ignore_hash(t, &spec.template));
            if same
                && is_controlled_by(
                    &existing.metadata,
                    r.d.metadata.uid.as_deref().unwrap_or_default(),
                )
            {
                r.replace(existing);
                r.new = Some(name);
                return sync_deployment_revision(shared, r).await;
            }
            let next = collision.unwrap_or(0).saturating_add(1);
            let dapi: Api<Deployment> = Api::namespaced(shared.client.clone(), &r.ns);
            dapi.patch_status(
                &r.name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"collisionCount": next}})),
            )
            .await?;
            return Err(SyncError::HashCollision(name));
        }
        Err(e) => return Err(e.into()),
    };
    if start_replicas > 0 {
        shared.recorder.record(
            &r.obj_ref,
            EventType::Normal,
            "ScalingReplicaSet",
            &format!("Scaled up replica set {name} from 0 to {start_replicas}"),
        );
    }
    if status::progress_deadline(&r.d).is_some() {
        let msg = format!("Created new replica set \"{name}\"");
        status::set(
            &mut r.status,
            status::condition(PROGRESSING, "True", NEW_RS_CREATED, &msg, now),
        );
    }
    r.rss.push(Arc::new(created));
    r.new = Some(name);
    sync_deployment_revision(shared, r).await
}

/// Upstream `SetDeploymentRevision`: the Deployment's revision is its new ReplicaSet's.
async fn sync_deployment_revision(shared: &Shared, r: &mut Rollout) -> Result<(), SyncError> {
    let Some(new) = r.new_rs() else {
        return Ok(());
    };
    let revision = rs_revision(&new).to_string();
    let current = r.d.metadata.annotations.as_ref().and_then(|a| a.get(REVISION));
    if current == Some(&revision) {
        return Ok(());
    }
    let api: Api<Deployment> = Api::namespaced(shared.client.clone(), &r.ns);
    let patch = json!({"metadata": {"annotations": {REVISION: revision}}});
    let updated = api
        .patch(&r.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    r.d.metadata.annotations = updated.metadata.annotations;
    Ok(())
}

/// Sets a ReplicaSet's replicas and its desired/max annotations (upstream `scaleReplicaSet`),
/// with the cached resourceVersion as precondition so a stale cache fails instead of acting.
pub(crate) async fn scale(shared: &Shared, r: &mut Rollout, name: &str, to: i32) -> Result<(), SyncError> {
    let Some(rs) = r
        .rss
        .iter()
        .find(|rs| rs.metadata.name.as_deref() == Some(name))
        .cloned()
    else {
        return Ok(());
    };
    let from = rs_replicas(&rs);
    let want = replicas(&r.d);
    let (surge, _) = fenceposts(&r.d);
    let annotations = rs.metadata.annotations.clone().unwrap_or_default();
    let annotations_ok = annotations.get(DESIRED_REPLICAS) == Some(&want.to_string())
        && annotations.get(MAX_REPLICAS) == Some(&(want + surge).to_string());
    if from == to && annotations_ok {
        return Ok(());
    }
    let api: Api<ReplicaSet> = Api::namespaced(shared.client.clone(), &r.ns);
    let patch = json!({
        "metadata": {
            "resourceVersion": rs.metadata.resource_version,
            "annotations": {DESIRED_REPLICAS: want.to_string(), MAX_REPLICAS: (want + surge).to_string()},
        },
        "spec": {"replicas": to},
    });
    let updated = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    r.replace(updated);
    if from != to {
        let op = if to > from { "up" } else { "down" };
        shared.recorder.record(
            &r.obj_ref,
            EventType::Normal,
            "ScalingReplicaSet",
            &format!("Scaled {op} replica set {name} from {from} to {to}"),
        );
    }
    Ok(())
}

/// Upstream `cleanupDeployment`: delete the oldest fully scaled-down old ReplicaSets beyond
/// `revisionHistoryLimit`.
pub(crate) async fn cleanup(shared: &Shared, r: &Rollout) -> Result<(), SyncError> {
    let Some(limit) = r.d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
        return Ok(());
    };
    let new = r.new.clone();
    let mut old: Vec<&Arc<ReplicaSet>> = r
        .rss
        .iter()
        .filter(|rs| rs.metadata.name != new && rs.metadata.deletion_timestamp.is_none())
        .collect();
    let excess = i64::try_from(old.len()).unwrap_or(0) - i64::from(limit);
    if excess <= 0 {
        return Ok(());
    }
    old.sort_by_key(|rs| rs_revision(rs));
    let api: Api<ReplicaSet> = Api::namespaced(shared.client.clone(), &r.ns);
    let mut deleted = 0;
    for rs in old {
        if deleted >= excess {
            break;
        }
        let st = rs.status.clone().unwrap_or_default();
        let idle = st.replicas == 0
            && rs_replicas(rs) == 0
            && st.observed_generation.unwrap_or(0) >= rs.metadata.generation.unwrap_or(0);
        if !idle {
            continue;
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: rs.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        ignore_not_found(api.delete(&r.rs_name(rs), &params).await.map(|_| ()))?;
        deleted += 1;
    }
    Ok(())
}
