//! The horizontal pod autoscaler (upstream `pkg/controller/podautoscaler`, `--controllers` name
//! `horizontalpodautoscaling`): autoscaling/v2 HPAs with Resource metrics from the resource
//! metrics API (`metrics.k8s.io`). Without that API the HPA reports `ScalingActive=False`
//! (`FailedGetResourceMetric`) and leaves the target alone, as upstream does; min/max bounds are
//! still enforced. Pods, Object and External metrics are reported as unsupported.

mod metrics;
pub(crate) mod normalize;
pub(crate) mod replicas;
mod sync;

use std::collections::HashMap;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use parking_lot::Mutex;
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use tracing::Instrument;

use super::ControllerContext;
use super::endpoints::synced::wait_synced;
use super::util::ObjectKey;
use super::util::worker::{forward, run_workers};

const COMPONENT: &str = "horizontal-pod-autoscaler";

/// Starts the horizontal pod autoscaler.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let hpas = ctx.informers.informer::<HorizontalPodAutoscaler>();
    let pods = ctx.informers.informer::<Pod>();
    let queue = WorkQueue::with_rate_limiter("horizontalpodautoscaler", RateLimiter::default_controller());
    let shared = Arc::new(sync::Shared {
        client: ctx.client.clone(),
        hpas: hpas.store(),
        pods: pods.store(),
        recorder: ctx.recorder(COMPONENT),
        history: Mutex::new(HashMap::new()),
    });
    {
        let queue = queue.clone();
        forward(hpas.subscribe(), ctx.shutdown.clone(), move |change| {
            queue.add(ObjectKey::of(change.object().as_ref()));
        });
    }
    let workers = ctx.config.concurrent_horizontal_pod_autoscaler_syncs;
    let period = ctx
        .config
        .horizontal_pod_autoscaler_sync_period
        .max(std::time::Duration::from_millis(100));
    let shutdown = ctx.shutdown.clone();
    async move {
        let (a, b) = (|| hpas.has_synced(), || pods.has_synced());
        if !wait_synced(&[&a, &b], &shutdown).await {
            return;
        }
        tracing::info!(controller = COMPONENT, "caches synced; starting workers");
        {
            // Every HPA is reconciled each --horizontal-pod-autoscaler-sync-period.
            let (queue, store, shutdown) = (queue.clone(), hpas.store(), shutdown.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = shutdown.wait() => return,
                        _ = tokio::time::sleep(period) => {}
                    }
                    for h in store.state() {
                        queue.add(ObjectKey::of(h.as_ref()));
                    }
                }
            });
        }
        run_workers(COMPONENT, queue, workers, shutdown, move |key: ObjectKey| {
            let shared = shared.clone();
            let span = tracing::debug_span!("sync", controller = COMPONENT, hpa = %key);
            async move { Box::pin(sync::sync(&shared, &key)).await }.instrument(span)
        })
        .await;
    }
    .boxed()
}
