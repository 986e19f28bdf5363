//! The endpointslice controller (upstream `pkg/controller/endpointslice`): EndpointSlices per
//! Service with a selector, at most 100 endpoints each.

pub(crate) mod plan;
mod sync;
mod tracker;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use tracing::Instrument;

use super::ControllerContext;
use super::endpoints::feed::Memberships;
use super::endpoints::synced::wait_synced;
use super::util::ObjectKey;
use super::util::worker::{forward, run_workers};

const COMPONENT: &str = "endpointslice-controller";

/// Starts the endpointslice controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let services = ctx.informers.informer::<Service>();
    let pods = ctx.informers.informer::<Pod>();
    let slices = ctx.informers.informer::<EndpointSlice>();
    let nodes = ctx.informers.informer::<Node>();
    let queue = WorkQueue::with_rate_limiter("endpoint_slice", RateLimiter::default_controller());
    let shared = Arc::new(sync::Shared {
        client: ctx.client.clone(),
        services: services.store(),
        pods: pods.store(),
        slices: slices.store(),
        nodes: nodes.store(),
        recorder: ctx.recorder(COMPONENT),
        tracker: tracker::Tracker::default(),
        max_endpoints_per_slice: plan::MAX_ENDPOINTS_PER_SLICE,
    });
    {
        let queue = queue.clone();
        forward(services.subscribe(), ctx.shutdown.clone(), move |change| {
            queue.add(ObjectKey::of(change.object().as_ref()));
        });
    }
    {
        let queue = queue.clone();
        let store = services.store();
        let mut memberships = Memberships::default();
        forward(pods.subscribe(), ctx.shutdown.clone(), move |change| {
            for key in memberships.affected(&store, &change) {
                queue.add(key);
            }
        });
    }
    {
        let queue = queue.clone();
        forward(slices.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Some(key) = sync::owning_service(change.object()) {
                queue.add(key);
            }
        });
    }
    let workers = ctx.config.concurrent_service_endpoint_syncs;
    let shutdown = ctx.shutdown.clone();
    async move {
        let (a, b) = (|| services.has_synced(), || pods.has_synced());
        let (c, d) = (|| slices.has_synced(), || nodes.has_synced());
        if !wait_synced(&[&a, &b, &c, &d], &shutdown).await {
            return;
        }
        tracing::info!(controller = COMPONENT, "caches synced; starting workers");
        run_workers(COMPONENT, queue, workers, shutdown, move |key: ObjectKey| {
            let shared = shared.clone();
            let span = tracing::debug_span!("sync", controller = COMPONENT, service = %key);
            async move { sync::sync(&shared, &key).await }.instrument(span)
        })
        .await;
    }
    .boxed()
}
