//! The resource quota controller (upstream `pkg/controller/resourcequota`): `status.hard` and
//! `status.used` of every ResourceQuota, recalculated when objects in its namespace change and
//! every `--resource-quota-sync-period`.

pub(crate) mod plan;
pub(crate) mod quantity;
pub(crate) mod usage;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota, Secret, Service,
};
use kube::api::{Api, PostParams};
use kube::runtime::reflector::Store;
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use tracing::Instrument;

use super::ControllerContext;
use super::endpoints::synced::wait_synced;
use super::util::ObjectKey;
use super::util::worker::{Requeue, forward, run_workers};

const COMPONENT: &str = "resourcequota-controller";

struct Shared {
    client: kube::Client,
    quotas: Store<ResourceQuota>,
    pods: Store<Pod>,
    services: Store<Service>,
    pvcs: Store<PersistentVolumeClaim>,
    configmaps: Store<ConfigMap>,
    secrets: Store<Secret>,
    rcs: Store<ReplicationController>,
}

/// Enqueues every quota of `namespace`.
fn enqueue_namespace(quotas: &Store<ResourceQuota>, queue: &WorkQueue<ObjectKey>, namespace: Option<&str>) {
    for q in quotas.state() {
        if q.metadata.namespace.as_deref() == namespace {
            queue.add(ObjectKey::of(q.as_ref()));
        }
    }
}

macro_rules! watch_namespace_of {
    ($informer:expr, $quotas:expr, $queue:expr, $shutdown:expr) => {{
        let (queue, quotas) = ($queue.clone(), $quotas.clone());
        forward($informer.subscribe(), $shutdown.clone(), move |change| {
            enqueue_namespace(&quotas, &queue, change.object().metadata.namespace.as_deref());
        });
    }};
}

/// Starts the resource quota controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let quotas = ctx.informers.informer::<ResourceQuota>();
    let pods = ctx.informers.informer::<Pod>();
    let services = ctx.informers.informer::<Service>();
    let pvcs = ctx.informers.informer::<PersistentVolumeClaim>();
    let configmaps = ctx.informers.informer::<ConfigMap>();
    let secrets = ctx.informers.informer::<Secret>();
    let rcs = ctx.informers.informer::<ReplicationController>();
    let queue = WorkQueue::with_rate_limiter("resourcequota_primary", RateLimiter::default_controller());
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        quotas: quotas.store(),
        pods: pods.store(),
        services: services.store(),
        pvcs: pvcs.store(),
        configmaps: configmaps.store(),
        secrets: secrets.store(),
        rcs: rcs.store(),
    });
    {
        let queue = queue.clone();
        forward(quotas.subscribe(), ctx.shutdown.clone(), move |change| {
            queue.add(ObjectKey::of(change.object().as_ref()));
        });
    }
    let quota_store = quotas.store();
    watch_namespace_of!(pods, quota_store, queue, ctx.shutdown);
    watch_namespace_of!(services, quota_store, queue, ctx.shutdown);
    watch_namespace_of!(pvcs, quota_store, queue, ctx.shutdown);
    watch_namespace_of!(configmaps, quota_store, queue, ctx.shutdown);
    watch_namespace_of!(secrets, quota_store, queue, ctx.shutdown);
    watch_namespace_of!(rcs, quota_store, queue, ctx.shutdown);
    let workers = ctx.config.concurrent_resource_quota_syncs;
    let period = ctx
        .config
        .resource_quota_sync_period
        .max(std::time::Duration::from_secs(1));
    let shutdown = ctx.shutdown.clone();
    async move {
        let (a, b, c) = (
            || quotas.has_synced(),
            || pods.has_synced(),
            || services.has_synced(),
        );
        let (d, e, f, g) = (
            || pvcs.has_synced(),
            || configmaps.has_synced(),
            || secrets.has_synced(),
            || rcs.has_synced(),
        );
        if !wait_synced(&[&a, &b, &c, &d, &e, &f, &g], &shutdown).await {
            return;
        }
        tracing::info!(controller = COMPONENT, "caches synced; starting workers");
        {
            // Full recalculation every --resource-quota-sync-period.
            let (queue, store, shutdown) = (queue.clone(), quota_store.clone(), shutdown.clone());
            tokio::spawn(async move {
                loop {
                    for q in store.state() {
                        queue.add(ObjectKey::of(q.as_ref()));
                    }
                    tokio::select! {
                        _ = shutdown.wait() => return,
                        _ = tokio::time::sleep(period) => {}
                    }
                }
            });
        }
        run_workers(COMPONENT, queue, workers, shutdown, move |key: ObjectKey| {
            let shared = shared.clone();
            let span = tracing::debug_span!("sync", controller = COMPONENT, quota = %key);
            async move { sync(&shared, &key).await }.instrument(span)
        })
        .await;
    }
    .boxed()
}

fn in_namespace<K: kube::Resource>(items: &[Arc<K>], ns: &str) -> usize {
    items
        .iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(ns))
        .count()
}

async fn sync(shared: &Shared, key: &ObjectKey) -> Result<Requeue, kube::Error> {
    let Some(quota) = shared.quotas.get(&key.to_ref()) else {
        return Ok(None);
    };
    let ns = key.namespace.as_str();
    let pods = shared.pods.state();
    let services = shared.services.state();
    let pvcs = shared.pvcs.state();
    let objects = plan::NamespaceObjects {
        pods: pods
            .iter()
            .map(AsRef::as_ref)
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
            .collect(),
        services: services
            .iter()
            .map(AsRef::as_ref)
            .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
            .collect(),
        pvcs: pvcs
            .iter()
            .map(AsRef::as_ref)
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
            .collect(),
        configmaps: in_namespace(&shared.configmaps.state(), ns),
        secrets: in_namespace(&shared.secrets.state(), ns),
        replication_controllers: in_namespace(&shared.rcs.state(), ns),
        resource_quotas: in_namespace(&shared.quotas.state(), ns),
    };
    let Some(status) = plan::plan(&quota, &objects) else {
        return Ok(None);
    };
    let mut next = (*quota).clone();
    next.status = Some(status);
    let api: Api<ResourceQuota> = Api::namespaced(shared.client.clone(), ns);
    api.replace_status(&key.name, &PostParams::default(), &next)
        .await?;
    Ok(None)
}
