//! The endpoints controller (upstream `pkg/controller/endpoint`, `--controllers` name
//! `endpoint`): an Endpoints object per Service with a selector, from its pods.

pub(crate) mod feed;
pub(crate) mod plan;
pub(crate) mod pods;
mod sync;
pub(crate) mod synced;

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use tracing::Instrument;

use super::ControllerContext;
use super::util::ObjectKey;
use super::util::worker::{forward, run_workers};

const COMPONENT: &str = "endpoint-controller";

/// Starts the endpoints controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let services = ctx.informers.informer::<Service>();
    let pods = ctx.informers.informer::<Pod>();
    let endpoints = ctx.informers.informer::<Endpoints>();
    let queue = WorkQueue::with_rate_limiter("endpoint", RateLimiter::default_controller());
    let shared = Arc::new(sync::Shared {
        client: ctx.client.clone(),
        services: services.store(),
        pods: pods.store(),
        endpoints: endpoints.store(),
        recorder: ctx.recorder(COMPONENT),
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
        let mut memberships = feed::Memberships::default();
        forward(pods.subscribe(), ctx.shutdown.clone(), move |change| {
            for key in memberships.affected(&store, &change) {
                queue.add(key);
            }
        });
    }
    {
        // Someone else changed or removed our Endpoints: put them right.
        let queue = queue.clone();
        forward(
            endpoints.subscribe(),
            ctx.shutdown.clone(),
            move |change: Change<Endpoints>| {
                queue.add(ObjectKey::of(change.object().as_ref()));
            },
        );
    }
    let workers = ctx.config.concurrent_endpoint_syncs;
    let shutdown = ctx.shutdown.clone();
    async move {
        let (a, b, c) = (
            || services.has_synced(),
            || pods.has_synced(),
            || endpoints.has_synced(),
        );
        if !synced::wait_synced(&[&a, &b, &c], &shutdown).await {
            return;
        }
        // Leftover Endpoints whose Service is gone (upstream `checkLeftoverEndpoints`), only
        // those this controller manages.
        for ep in shared.endpoints.state() {
            let managed = ep
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(plan::LABEL_MANAGED_BY))
                .map(String::as_str)
                == Some(plan::CONTROLLER_NAME);
            if managed {
                queue.add(ObjectKey::of(ep.as_ref()));
            }
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
