//! The StatefulSet controller's pure step (upstream `stateful_set_control.go`
//! `updateStatefulSet`): from the set, its pods, its revisions and the claims that exist,
//! decide what to create and delete this round and the new status.
//!
//! - OrderedReady: at most one change per round, lowest ordinal first when creating, and
//!   only when every lower ordinal is Running and Ready; highest ordinal first when removing.
//! - Parallel: every missing pod is created and every condemned pod deleted at once.
//! - RollingUpdate: the highest ordinal not at the update revision (and ≥ partition) is
//!   deleted, to come back at the update revision; one at a time, waiting for health.
//! - OnDelete: pods are replaced only when someone deletes them.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};

use super::identity::{self, ordinal_of, revision_of};
use super::revision::{self, Revisions};
use crate::controllers::util::pod as podutil;

/// What the sync sees.
#[derive(Debug)]
pub struct Observed<'a> {
    pub set: &'a StatefulSet,
    /// Pods the set controls.
    pub pods: Vec<&'a Pod>,
    /// ControllerRevisions the set controls.
    pub revisions: Vec<&'a ControllerRevision>,
    /// Names of the PersistentVolumeClaims that exist in the set's namespace.
    pub claims: &'a HashSet<String>,
    pub now: Timestamp,
}

/// What to do this round.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub create_revision: Option<ControllerRevision>,
    pub renumber_revision: Option<(String, i64)>,
    /// Claims to create before the pods that mount them: (pod name, claim).
    pub create_claims: Vec<(String, PersistentVolumeClaim)>,
    pub create_pods: Vec<Pod>,
    /// Pods to delete, by name.
    pub delete_pods: Vec<String>,
    /// Claims of scaled-down pods to hand to their pod as owner (whenScaled: Delete):
    /// (claim name, pod name).
    pub claims_owned_by_pod: Vec<(String, String)>,
    pub delete_revisions: Vec<String>,
    pub status: StatefulSetStatus,
    /// Look again then (a pod becomes available after minReadySeconds).
    pub requeue_after: Option<Duration>,
}

struct Ctx<'a> {
    set: &'a StatefulSet,
    name: &'a str,
    min_ready: i32,
    now: Timestamp,
    revs: Revisions,
    current_tmpl: PodTemplateSpec,
    update_tmpl: PodTemplateSpec,
}

impl Ctx<'_> {
    fn healthy(&self, pod: &Pod) -> bool {
        running_and_ready(pod) && pod.metadata.deletion_timestamp.is_none()
    }

    fn available(&self, pod: &Pod) -> bool {
        running_and_ready(pod) && podutil::is_available(pod, self.min_ready, self.now)
    }

    /// Upstream `newVersionedStatefulSetPod`: ordinals below the partition (or, without a
    /// rollingUpdate block, below currentReplicas) keep the current revision.
    fn versioned_pod(&self, ordinal: i32, start: i32) -> Pod {
        let spec = self.set.spec.clone().unwrap_or_default();
        let strategy = spec.update_strategy.unwrap_or_default();
        let rolling = strategy.type_.as_deref().unwrap_or("RollingUpdate") == "RollingUpdate";
        let status = self.set.status.clone().unwrap_or_default();
        let keep_current = rolling
            && match strategy.rolling_update.as_ref() {
                None => ordinal < start + status.current_replicas.unwrap_or(0),
                Some(r) => ordinal < start + r.partition.unwrap_or(0),
            };
        let (tmpl, rev) = if keep_current {
            (&self.current_tmpl, &self.revs.current)
        } else {
            (&self.update_tmpl, &self.revs.update)
        };
        identity::new_pod(
            self.set,
            tmpl,
            ordinal,
            rev.metadata.name.as_deref().unwrap_or_default(),
        )
    }
}

fn running_and_ready(pod: &Pod) -> bool {
    podutil::phase(pod) == "Running" && podutil::is_ready(pod)
}

/// Computes the plan.
pub fn plan(o: &Observed<'_>) -> Plan {
    let set = o.set;
    let spec = set.spec.clone().unwrap_or_default();
    let name = identity::set_name(set);
    let revs = revision::choose(set, &o.revisions);
    let update_tmpl = spec.template.clone();
    let current_tmpl = revision::template_of(&revs.current).unwrap_or_else(|| update_tmpl.clone());
    let mut out = Plan {
        create_revision: revs.create.clone(),
        renumber_revision: revs.renumber.clone(),
        ..Plan::default()
    };
    let ctx = Ctx {
        set,
        name,
        min_ready: spec.min_ready_seconds.unwrap_or(0),
        now: o.now,
        revs,
        current_tmpl,
        update_tmpl,
    };
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let start = spec.ordinals.as_ref().and_then(|x| x.start).unwrap_or(0).max(0);
    let monotonic = spec.pod_management_policy.as_deref().unwrap_or("OrderedReady") != "Parallel";

    // Slots for ordinals start..start+replicas; everything else with our name is condemned.
    let mut slots: Vec<Option<&Pod>> = vec![None; usize::try_from(replicas).unwrap_or(0)];
    let mut condemned: Vec<(i32, &Pod)> = Vec::new();
    for pod in &o.pods {
        let Some(ord) = ordinal_of(name, pod) else {
            continue;
        };
        if ord >= start && ord < start + replicas {
            slots[usize::try_from(ord - start).unwrap_or(0)] = Some(pod);
        } else {
            condemned.push((ord, pod));
        }
    }
    condemned.sort_by_key(|(ord, _)| std::cmp::Reverse(*ord));

    out.status = status(&ctx, &o.pods);
    if set.metadata.deletion_timestamp.is_some() {
        return finish(ctx, o, out);
    }

    // Replicas in ordinal order.
    let mut blocked = false;
    for (i, slot) in slots.iter().enumerate() {
        let ordinal = start + i as i32;
        let pod_name = identity::pod_name(name, ordinal);
        match slot {
            Some(pod) if matches!(podutil::phase(pod), "Failed" | "Succeeded") => {
                // A pod that ran to an end is replaced under the same name.
                if pod.metadata.deletion_timestamp.is_none() {
                    out.delete_pods.push(pod_name);
                }
                if monotonic {
                    blocked = true;
                    break;
                }
            }
            None => {
                add_missing_claims(set, ordinal, &pod_name, o.claims, &mut out);
                let pod = ctx.versioned_pod(ordinal, start);
                out.status.replicas += 1;
                count_revision(&ctx, revision_of(&pod), &mut out.status);
                out.create_pods.push(pod);
                if monotonic {
                    blocked = true;
                    break;
                }
            }
            Some(pod) => {
                add_missing_claims(set, ordinal, &pod_name, o.claims, &mut out);
                if monotonic && pod.metadata.deletion_timestamp.is_some() {
                    blocked = true;
                    break;
                }
                if monotonic && !ctx.available(pod) {
                    if let Some(left) = podutil::seconds_until_available(pod, ctx.min_ready, o.now) {
                        out.requeue_after = Some(Duration::from_secs(left.unsigned_abs()));
                    }
                    blocked = true;
                    break;
                }
            }
        }
    }
    if blocked {
        return finish(ctx, o, out);
    }

    // Scale down: highest ordinal first; ordered mode one at a time, healthy pods only.
    let retention_scaled_delete = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .and_then(|p| p.when_scaled.as_deref())
        == Some("Delete");
    for (ord, pod) in &condemned {
        if pod.metadata.deletion_timestamp.is_some() {
            if monotonic {
                return finish(ctx, o, out);
            }
            continue;
        }
        if monotonic && !ctx.healthy(pod) && Some(*ord) != first_unhealthy(&ctx, &condemned) {
            return finish(ctx, o, out);
        }
        let pod_name = identity::pod_name(name, *ord);
        if retention_scaled_delete {
            for c in identity::claims_for(set, *ord) {
                let cname = c.metadata.name.unwrap_or_default();
                if o.claims.contains(&cname) {
                    out.claims_owned_by_pod.push((cname, pod_name.clone()));
                }
            }
        }
        out.delete_pods.push(pod_name);
        if monotonic {
            return finish(ctx, o, out);
        }
    }

    rolling_update(&ctx, &slots, start, &mut out);
    finish(ctx, o, out)
}

fn first_unhealthy(ctx: &Ctx<'_>, condemned: &[(i32, &Pod)]) -> Option<i32> {
    condemned
        .iter()
        .rev()
        .find(|(_, p)| !ctx.healthy(p))
        .map(|(o, _)| *o)
}

/// Upstream's destructive update: walk from the highest ordinal down to the partition,
/// delete the first pod not at the update revision, and stop at an unhealthy one.
fn rolling_update(ctx: &Ctx<'_>, slots: &[Option<&Pod>], start: i32, out: &mut Plan) {
    let spec = ctx.set.spec.clone().unwrap_or_default();
    let strategy = spec.update_strategy.unwrap_or_default();
    if strategy.type_.as_deref() == Some("OnDelete") {
        return;
    }
    let partition = strategy
        .rolling_update
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .max(0);
    let update_name = ctx.revs.update.metadata.name.clone().unwrap_or_default();
    let min = usize::try_from(partition).unwrap_or(0);
    for i in (min..slots.len()).rev() {
        let Some(pod) = slots[i] else { continue };
        if revision_of(pod) != Some(update_name.as_str()) && pod.metadata.deletion_timestamp.is_none() {
            out.delete_pods
                .push(identity::pod_name(ctx.name, start + i as i32));
            if let Some(c) = out.status.current_replicas.as_mut() {
                *c -= 1;
            }
            return;
        }
        if !ctx.healthy(pod) {
            return;
        }
    }
}

fn add_missing_claims(
    set: &StatefulSet,
    ordinal: i32,
    pod_name: &str,
    existing: &HashSet<String>,
    out: &mut Plan,
) {
    for mut claim in identity::claims_for(set, ordinal) {
        let cname = claim.metadata.name.clone().unwrap_or_default();
        if existing.contains(&cname) {
            continue;
        }
        let delete_with_set = set
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref())
            .and_then(|p| p.when_deleted.as_deref())
            == Some("Delete");
        if delete_with_set {
            let mut r = crate::controllers::util::owner::new_controller_ref(set);
            r.controller = None;
            claim.metadata.owner_references = Some(vec![r]);
        }
        out.create_claims.push((pod_name.to_string(), claim));
    }
}

fn count_revision(ctx: &Ctx<'_>, rev: Option<&str>, status: &mut StatefulSetStatus) {
    if rev.is_some() && rev == ctx.revs.current.metadata.name.as_deref() {
        *status.current_replicas.get_or_insert(0) += 1;
    }
    if rev.is_some() && rev == ctx.revs.update.metadata.name.as_deref() {
        *status.updated_replicas.get_or_insert(0) += 1;
    }
}

/// Status from the pods as observed (upstream `computeReplicaStatus`).
fn status(ctx: &Ctx<'_>, pods: &[&Pod]) -> StatefulSetStatus {
    let mut s = StatefulSetStatus {
        replicas: 0,
        ready_replicas: Some(0),
        available_replicas: Some(0),
        current_replicas: Some(0),
        updated_replicas: Some(0),
        ..StatefulSetStatus::default()
    };
    for pod in pods {
        if ordinal_of(ctx.name, pod).is_none() {
            continue;
        }
        s.replicas += 1;
        if running_and_ready(pod) {
            *s.ready_replicas.get_or_insert(0) += 1;
            if podutil::is_available(pod, ctx.min_ready, ctx.now) {
                *s.available_replicas.get_or_insert(0) += 1;
            }
        }
        if pod.metadata.deletion_timestamp.is_none() {
            count_revision(ctx, revision_of(pod), &mut s);
        }
    }
    s
}

/// Fills in revisions and generation, completes a finished rolling update, and picks the
/// revisions to truncate.
fn finish(ctx: Ctx<'_>, o: &Observed<'_>, mut out: Plan) -> Plan {
    let spec = ctx.set.spec.clone().unwrap_or_default();
    let old = ctx.set.status.clone().unwrap_or_default();
    let current = ctx.revs.current.metadata.name.clone().unwrap_or_default();
    let update = ctx.revs.update.metadata.name.clone().unwrap_or_default();
    let s = &mut out.status;
    s.observed_generation = ctx.set.metadata.generation;
    s.collision_count = old.collision_count;
    s.conditions = old.conditions;
    s.current_revision = Some(current.clone());
    s.update_revision = Some(update.clone());
    let replicas = spec.replicas.unwrap_or(1);
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate";
    // Upstream `completeRollingUpdate`.
    if rolling
        && s.updated_replicas == Some(replicas)
        && s.ready_replicas == Some(replicas)
        && s.replicas == replicas
    {
        s.current_revision = Some(update.clone());
        s.current_replicas = s.updated_replicas;
    }
    let keep_current = s.current_revision.clone().unwrap_or_default();
    out.delete_revisions = revision::to_truncate(ctx.set, &o.revisions, &o.pods, &keep_current, &update);
    if let Some(r) = &out.create_revision {
        out.delete_revisions
            .retain(|n| Some(n) != r.metadata.name.as_ref());
    }
    out
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
