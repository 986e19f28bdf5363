//! The namespace controller (upstream `pkg/controller/namespace`): a Terminating namespace whose
//! `spec.finalizers` holds `kubernetes` has all its content deleted (every namespaced resource
//! from discovery), its deletion conditions reported, and, once empty, its finalizer removed
//! through `namespaces/{name}/finalize` so the apiserver lets it go.

mod deleter;
pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use serde_json::json;

use super::ControllerContext;
use super::util::api::ignore_not_found;
use super::util::worker::{Requeue, forward, run_workers, wait_for_sync};

const COMPONENT: &str = "namespace-controller";
/// How soon to look again while content remains (objects with finalizers, graceful deletions).
const RETRY: Duration = Duration::from_secs(2);

struct Shared {
    client: kube::Client,
    namespaces: Store<Namespace>,
}

/// Starts the namespace controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let namespaces = ctx.informers.informer::<Namespace>();
    // Upstream's namespace queue backs off from 5 ms to 60 s.
    let queue: WorkQueue<String> = WorkQueue::with_rate_limiter(
        "namespace",
        RateLimiter::exponential(Duration::from_millis(5), Duration::from_secs(60)),
    );
    {
        let queue = queue.clone();
        forward(namespaces.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Change::Applied(ns) = change
                && ns.metadata.deletion_timestamp.is_some()
            {
                queue.add(ns.metadata.name.clone().unwrap_or_default());
            }
        });
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        namespaces: namespaces.store(),
    });
    let workers = ctx.config.concurrent_namespace_syncs;
    let shutdown = ctx.shutdown.clone();
    async move {
        if !wait_for_sync(&shutdown, || namespaces.has_synced()).await {
            return;
        }
        // Namespaces already Terminating when we start.
        for ns in shared.namespaces.state() {
            if ns.metadata.deletion_timestamp.is_some() {
                queue.add(ns.metadata.name.clone().unwrap_or_default());
            }
        }
        run_workers(COMPONENT, queue, workers, shutdown, move |name| {
            let shared = shared.clone();
            async move { Box::pin(sync(&shared, &name)).await }
        })
        .await;
    }
    .boxed()
}

async fn sync(shared: &Shared, name: &str) -> Result<Requeue, kube::Error> {
    let Some(ns) = shared
        .namespaces
        .get(&kube::runtime::reflector::ObjectRef::new(name))
    else {
        return Ok(None);
    };
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(None);
    }
    let finalizers = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    if !finalizers.iter().any(|f| f == plan::FINALIZER) {
        return Ok(None);
    }
    let span = tracing::info_span!("sync", controller = COMPONENT, namespace = name);
    let _enter = span.enter();
    tracing::debug!("deleting namespace content");
    let pass = deleter::delete_content(&shared.client, name).await;
    tracing::debug!(?pass, "deletion pass done");
    let api: Api<Namespace> = Api::all(shared.client.clone());
    let now = k8s_openapi::jiff::Timestamp::now();
    let old = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let conditions = plan::merge_conditions(&old, plan::conditions(&pass, now));
    if conditions != old {
        let patch = json!({"status": {"conditions": conditions}});
        ignore_not_found(
            api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await,
        )?;
    }
    if !pass.done() {
        tracing::debug!(remaining = ?pass.remaining, "content remains");
        return Ok(Some(RETRY));
    }
    // Everything is gone: drop our finalizer through the finalize subresource.
    let Some(mut latest) = ignore_not_found(api.get(name).await)? else {
        return Ok(None);
    };
    let current = latest
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    latest.spec.get_or_insert_with(Default::default).finalizers = Some(plan::finalized(&current));
    ignore_not_found(
        api.replace_subresource("finalize", name, &PostParams::default(), &latest)
            .await,
    )?;
    tracing::info!("namespace content deleted; finalized");
    Ok(None)
}
