//! The persistent volume binder (upstream `pkg/controller/volume/persistentvolume`,
//! `--controllers` name `persistentvolume-binder`): static binding of claims to the smallest
//! matching Available volume, and reclaiming volumes whose claim is gone (Released for Retain,
//! deleted for Delete when no external provisioner owns the volume). Dynamic provisioning is an
//! external provisioner's job; claims waiting for one get upstream's `ExternalProvisioning` event.

pub(crate) mod matching;
pub(crate) mod plan;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use tracing::Instrument;

use super::ControllerContext;
use super::endpoints::synced::wait_synced;
use super::util::ObjectKey;
use super::util::api::ignore_not_found;
use super::util::events::{EventType, Recorder, object_ref};
use super::util::worker::{Requeue, forward, run_workers};
use plan::VolumePlan;

const COMPONENT: &str = "persistentvolume-controller";

struct Shared {
    client: kube::Client,
    volumes: Store<PersistentVolume>,
    claims: Store<PersistentVolumeClaim>,
    classes: Store<StorageClass>,
    recorder: Recorder,
}

/// Volumes are cluster-scoped: their keys have an empty namespace; claims' never do.
fn volume_key(name: &str) -> ObjectKey {
    ObjectKey::new("", name)
}

/// Starts the persistent volume binder.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let volumes = ctx.informers.informer::<PersistentVolume>();
    let claims = ctx.informers.informer::<PersistentVolumeClaim>();
    let classes = ctx.informers.informer::<StorageClass>();
    let queue = WorkQueue::with_rate_limiter("volumes", RateLimiter::default_controller());
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        volumes: volumes.store(),
        claims: claims.store(),
        classes: classes.store(),
        recorder: ctx.recorder(COMPONENT),
    });
    {
        let queue = queue.clone();
        forward(claims.subscribe(), ctx.shutdown.clone(), move |change| {
            let claim = change.object();
            queue.add(ObjectKey::of(claim.as_ref()));
            // A deleted claim releases its volume.
            if let Some(v) = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()) {
                queue.add(volume_key(v));
            }
        });
    }
    {
        let (queue, claims_store) = (queue.clone(), claims.store());
        forward(volumes.subscribe(), ctx.shutdown.clone(), move |change| {
            let volume = change.object();
            if let Some(name) = volume.metadata.name.as_deref() {
                queue.add(volume_key(name));
            }
            let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
            if let (Some(ns), Some(name)) = (
                claim_ref.and_then(|r| r.namespace.as_deref()),
                claim_ref.and_then(|r| r.name.as_deref()),
            ) {
                queue.add(ObjectKey::new(ns, name));
            }
            // A new or freed volume may be what a pending claim waits for.
            for c in claims_store.state() {
                let pending = c
                    .spec
                    .as_ref()
                    .and_then(|s| s.volume_name.as_deref())
                    .is_none_or(str::is_empty);
                if pending {
                    queue.add(ObjectKey::of(c.as_ref()));
                }
            }
        });
    }
    let shutdown = ctx.shutdown.clone();
    async move {
        let (a, b, c) = (
            || volumes.has_synced(),
            || claims.has_synced(),
            || classes.has_synced(),
        );
        if !wait_synced(&[&a, &b, &c], &shutdown).await {
            return;
        }
        tracing::info!(controller = COMPONENT, "caches synced; starting workers");
        // One worker: two claims must not race for the same volume.
        run_workers(COMPONENT, queue, 1, shutdown, move |key: ObjectKey| {
            let shared = shared.clone();
            let span = tracing::debug_span!("sync", controller = COMPONENT, object = %key);
            async move {
                // Boxed: the claim sync holds several whole objects across awaits.
                if key.namespace.is_empty() {
                    Box::pin(sync_volume(&shared, &key.name)).await
                } else {
                    Box::pin(sync_claim(&shared, &key)).await
                }
            }
            .instrument(span)
        })
        .await;
    }
    .boxed()
}

/// Writes `next` over `current`: metadata/spec with a replace when they differ, then the
/// status subresource when it differs.
async fn write_volume(
    api: &Api<PersistentVolume>,
    current: &PersistentVolume,
    next: PersistentVolume,
) -> Result<(), kube::Error> {
    let name = next.metadata.name.clone().unwrap_or_default();
    let mut written = current.clone();
    if next.metadata != current.metadata || next.spec != current.spec {
        written = api.replace(&name, &PostParams::default(), &next).await?;
    }
    if next.status != written.status {
        written.status = next.status;
        api.replace_status(&name, &PostParams::default(), &written)
            .await?;
    }
    Ok(())
}

async fn write_claim(
    api: &Api<PersistentVolumeClaim>,
    current: &PersistentVolumeClaim,
    next: PersistentVolumeClaim,
) -> Result<(), kube::Error> {
    let name = next.metadata.name.clone().unwrap_or_default();
    let mut written = current.clone();
    if next.metadata != current.metadata || next.spec != current.spec {
        written = api.replace(&name, &PostParams::default(), &next).await?;
    }
    if next.status != written.status {
        written.status = next.status;
        api.replace_status(&name, &PostParams::default(), &written)
            .await?;
    }
    Ok(())
}

async fn sync_claim(shared: &Shared, key: &ObjectKey) -> Result<Requeue, kube::Error> {
    let Some(claim) = shared.claims.get(&key.to_ref()) else {
        return Ok(None);
    };
    let all = shared.volumes.state();
    let volumes: Vec<&PersistentVolume> = all.iter().map(AsRef::as_ref).collect();
    let class_name = matching::claim_class(&claim);
    let class = (!class_name.is_empty())
        .then(|| shared.classes.get(&ObjectRef::new(&class_name)))
        .flatten();
    let plan = plan::claim_plan(&claim, &volumes, class.as_deref());
    if let Some((type_, reason, message)) = &plan.event {
        let type_ = if *type_ == "Warning" {
            EventType::Warning
        } else {
            EventType::Normal
        };
        shared
            .recorder
            .record(&object_ref(claim.as_ref()), type_, reason, message);
    }
    // The volume first: a claim pointing at a volume that does not point back is recoverable
    // (the next sync finishes it); upstream binds in the same order.
    if let Some(next) = plan.volume {
        let name = next.metadata.name.clone().unwrap_or_default();
        let Some(current) = shared.volumes.get(&ObjectRef::new(&name)) else {
            return Ok(None);
        };
        let api: Api<PersistentVolume> = Api::all(shared.client.clone());
        write_volume(&api, &current, next).await?;
    }
    if let Some(next) = plan.claim {
        let api: Api<PersistentVolumeClaim> = Api::namespaced(shared.client.clone(), &key.namespace);
        write_claim(&api, &claim, next).await?;
    }
    Ok(None)
}

async fn sync_volume(shared: &Shared, name: &str) -> Result<Requeue, kube::Error> {
    let Some(volume) = shared.volumes.get(&ObjectRef::new(name)) else {
        return Ok(None);
    };
    let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    let claim = claim_ref.and_then(|r| {
        let key = ObjectKey::new(
            r.namespace.clone().unwrap_or_default(),
            r.name.clone().unwrap_or_default(),
        );
        shared.claims.get(&key.to_ref())
    });
    let api: Api<PersistentVolume> = Api::all(shared.client.clone());
    match plan::volume_plan(&volume, claim.as_deref()) {
        VolumePlan::Nothing => {}
        VolumePlan::Update(next) => write_volume(&api, &volume, *next).await?,
        VolumePlan::Delete => {
            ignore_not_found(api.delete(name, &DeleteParams::default()).await)?;
        }
    }
    Ok(None)
}
