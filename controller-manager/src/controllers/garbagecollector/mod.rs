//! The garbage collector (upstream `pkg/controller/garbagecollector`): an ownerReferences graph
//! over every resource the apiserver serves (API discovery + metadata-only watches, refreshed
//! every 30 s for new CRDs). Dependents whose owners are gone are deleted (background);
//! owners deleted in the foreground (`foregroundDeletion` finalizer) lose the finalizer once
//! their blocking dependents are gone; owners deleted with `orphan` have their dependents'
//! references removed, then the finalizer.

pub mod decide;
pub mod graph;
mod process;
mod resources;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use parking_lot::{Mutex, RwLock};
use rudder_client::workqueue::{RateLimiter, WorkQueue};
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use tokio::sync::oneshot;

use super::ControllerContext;
use super::util::worker::run_workers;
use graph::{Graph, Work};
use resources::Watchable;

const COMPONENT: &str = "garbage-collector-controller";
/// Upstream re-runs discovery every 30 s to pick up new resources.
const RESYNC: Duration = Duration::from_secs(30);
/// How long start-up waits for every resource's first list before collecting anyway.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Gc {
    pub(crate) client: kube::Client,
    pub(crate) graph: Mutex<Graph>,
    pub(crate) resources: RwLock<HashMap<(String, String), Watchable>>,
    pub(crate) queue: WorkQueue<Work>,
}

/// Starts the garbage collector.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    async move {
        let gc = Arc::new(Gc {
            client: ctx.client.clone(),
            graph: Mutex::new(Graph::default()),
            resources: RwLock::new(HashMap::new()),
            queue: WorkQueue::with_rate_limiter(
                "garbage_collector_attempt_to_delete",
                RateLimiter::default_controller(),
            ),
        });
        let mut watching: HashMap<(String, String), ShutdownTrigger> = HashMap::new();
        let mut first = Vec::new();
        let shutdown = ctx.shutdown.clone();
        // First discovery: retry until the apiserver answers.
        loop {
            if refresh(&gc, &mut watching, &shutdown, &mut first).await {
                break;
            }
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        let synced = tokio::time::timeout(SYNC_TIMEOUT, futures::future::join_all(first)).await;
        if synced.is_err() {
            tracing::warn!(
                controller = COMPONENT,
                "not every resource listed in time; collecting anyway"
            );
        }
        tracing::info!(
            controller = COMPONENT,
            resources = watching.len(),
            objects = gc.graph.lock().len(),
            "graph synced; starting workers"
        );
        let workers = {
            let gc = gc.clone();
            run_workers(
                COMPONENT,
                gc.queue.clone(),
                ctx.config.concurrent_gc_syncs,
                shutdown.clone(),
                move |work| {
                    let gc = gc.clone();
                    async move { Box::pin(process::process(&gc, &work)).await }
                },
            )
        };
        let resync = async {
            loop {
                tokio::select! {
                    _ = shutdown.wait() => return,
                    _ = tokio::time::sleep(RESYNC) => {}
                }
                let mut ignored = Vec::new();
                refresh(&gc, &mut watching, &shutdown, &mut ignored).await;
            }
        };
        tokio::join!(workers, resync);
        for (_, trigger) in watching {
            trigger.trigger();
        }
    }
    .boxed()
}

/// Re-runs discovery: starts watches for new resources, stops those no longer served. Returns
/// false if discovery failed.
async fn refresh(
    gc: &Arc<Gc>,
    watching: &mut HashMap<(String, String), ShutdownTrigger>,
    shutdown: &Shutdown,
    synced: &mut Vec<oneshot::Receiver<()>>,
) -> bool {
    let found = match resources::discover(&gc.client).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(controller = COMPONENT, error = %e, "discovery failed");
            return false;
        }
    };
    watching.retain(|key, trigger| {
        let keep = found.contains_key(key);
        if !keep {
            trigger.trigger();
        }
        keep
    });
    for (key, w) in &found {
        if watching.contains_key(key) {
            continue;
        }
        let (trigger, stop) = Shutdown::new();
        let (tx, rx) = oneshot::channel();
        synced.push(rx);
        watching.insert(key.clone(), trigger.clone());
        let (gc, w, shutdown) = (gc.clone(), w.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.wait() => {}
                _ = resources::watch(gc, w, stop, tx) => {}
            }
        });
    }
    *gc.resources.write() = found;
    true
}
