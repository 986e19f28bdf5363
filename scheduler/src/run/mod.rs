//! The running scheduler: informers feed the cache and queue, one loop decides, binding runs
//! concurrently; wrapped in leader election.

mod api;
mod cycle;
mod handlers;
pub mod listers;
pub mod metrics;

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use parking_lot::Mutex;
use rudder_client::informer::strip_managed_fields;
use rudder_client::leader::LeaderElection;
use rudder_client::{InformerFactory, Subscription};
use rudder_component::shutdown::Shutdown;
use tokio::sync::{Notify, Semaphore};

pub use api::{ApiError, ClusterApi, KubeApi, Unschedulable};

use crate::cache::Cache;
use crate::config::options::Config;
use crate::framework::PodInfo;
use crate::framework::intern::Interner;
use crate::plugins::registry::PluginDeps;
use crate::profile::{Profile, ProfileError};
use crate::queue::{ClusterEvent, SchedulingQueue};
use listers::{PriorityLookup, StorePdbs, StorePriorities, StoreVolumes, StoreWorkloads};

/// Objects per list page (client-go's pager default).
const LIST_PAGE_SIZE: u32 = 500;

/// Decisions whose binding has not finished, at most (see `scheduling_loop`).
const MAX_BINDING_CYCLES: usize = 1024;

/// Pod changes waiting for the handler at most; beyond that the pod informer waits (the rest
/// of a burst stays in the watch). Each is an `Arc` of a compact record, so this is small.
const POD_CHANGES_BUFFER: usize = 1024;

/// The lease name of `--leader-elect` (upstream's default `--leader-elect-resource-name`).
pub const LEASE_NAME: &str = "kube-scheduler";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Client(#[from] rudder_client::ClientError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Cache and queue, changed together under one lock.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) cache: Cache,
    pub(crate) queue: SchedulingQueue,
}

pub(crate) struct Inner {
    pub(crate) profiles: HashMap<String, Arc<Profile>>,
    pub(crate) shared: Mutex<Shared>,
    pub(crate) wake: Notify,
    pub(crate) api: Arc<dyn ClusterApi>,
    pub(crate) bind_slots: Semaphore,
    /// Binding cycles (from the decision to the end of binding) in flight at most.
    pub(crate) binding_cycles: Arc<Semaphore>,
    pub(crate) metrics: &'static metrics::Metrics,
}

/// Feeds one informer's changes to a handler until the informer stops.
fn pump<T: Send + Sync + 'static>(
    mut sub: Subscription<T>,
    inner: Arc<Inner>,
    handle: fn(&Inner, rudder_client::Change<T>),
) {
    tokio::spawn(async move {
        while let Some(change) = sub.recv().await {
            handle(&inner, change);
        }
    });
}

/// Runs the scheduler with a client until `shutdown`: informers, the scheduling loop and
/// binders. Leadership is the caller's business.
pub async fn run_scheduler(
    client: kube::Client,
    config: &Config,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    // Lists come in pages, each object converted as it arrives, so the scheduler never holds a
    // whole list response of every pod (its peak memory at start would otherwise be several
    // times its steady state).
    let factory = InformerFactory::with_list_pages(client.clone(), LIST_PAGE_SIZE);
    let classes = factory.informer::<PriorityClass>();
    // Every pod, pending or scheduled anywhere, is kept only as its compact `PodInfo`: the
    // informer converts each pod as it is decoded and drops it, and its store, the cache, the
    // queue and the plugins share that one record.
    let lookup = StorePriorities(classes.store());
    let interner = Mutex::new(Interner::new());
    let pods = factory.mapped_informer::<Pod, PodInfo>(move |pod| {
        let priority = lookup.priority(&pod);
        PodInfo::new_shared(pod, priority, &mut interner.lock())
    });
    // As upstream's scheduler: nodes without managedFields, which nothing here reads.
    let nodes = factory.informer_with::<Node>(strip_managed_fields)?;
    let claims = factory.informer::<PersistentVolumeClaim>();
    let volumes = factory.informer::<PersistentVolume>();
    let namespaces = factory.informer::<Namespace>();
    let deps = PluginDeps {
        volumes: Some(Arc::new(StoreVolumes {
            claims: claims.store(),
            volumes: volumes.store(),
        })),
        workloads: Some(Arc::new(StoreWorkloads {
            services: factory.informer::<Service>().store(),
            rcs: factory.informer::<ReplicationController>().store(),
            replica_sets: factory.informer::<ReplicaSet>().store(),
            stateful_sets: factory.informer::<StatefulSet>().store(),
        })),
        pdbs: Some(Arc::new(StorePdbs(
            factory.informer::<PodDisruptionBudget>().store(),
        ))),
    };
    let mut profiles = HashMap::new();
    for p in &config.profiles {
        let mut p = p.clone();
        p.percentage_of_nodes_to_score = p
            .percentage_of_nodes_to_score
            .or(config.percentage_of_nodes_to_score);
        let profile = Profile::new(&p, &deps)?;
        profiles.insert(profile.scheduler_name.clone(), Arc::new(profile));
    }
    let inner = Arc::new(Inner {
        profiles,
        shared: Mutex::new(Shared::default()),
        wake: Notify::new(),
        api: match &config.api {
            Some(api) => api.clone(),
            None => KubeApi::new(client),
        },
        bind_slots: Semaphore::new(config.bind_concurrency.max(1)),
        binding_cycles: Arc::new(Semaphore::new(MAX_BINDING_CYCLES)),
        metrics: metrics::metrics(),
    });
    // Subscribe before starting so the initial lists arrive as changes.
    pump(nodes.subscribe(), inner.clone(), Inner::on_node);
    pump(namespaces.subscribe(), inner.clone(), Inner::on_namespace);
    pump(claims.subscribe(), inner.clone(), |i, _| {
        i.on_volume_event(ClusterEvent::PvcChange)
    });
    pump(volumes.subscribe(), inner.clone(), |i, _| {
        i.on_volume_event(ClusterEvent::PvChange)
    });
    pump(
        pods.subscribe_bounded(POD_CHANGES_BUFFER),
        inner.clone(),
        Inner::on_pod,
    );
    factory.start(shutdown.clone());
    // Decide only once nodes, pods and priorities are known, like upstream's WaitForCacheSync.
    tokio::select! {
        _ = shutdown.wait() => return Ok(()),
        _ = async { nodes.wait_synced().await; pods.wait_synced().await; classes.wait_synced().await; claims.wait_synced().await; } => {}
    }
    tracing::info!(
        profiles = config.profiles.len(),
        "scheduler caches synced; scheduling"
    );
    inner.scheduling_loop(shutdown).await;
    Ok(())
}

/// kube-scheduler: connect, serve health and metrics, then (as leader, with
/// `--leader-elect`) schedule until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), RunError> {
    let client = match &config.client {
        Some(c) => c.clone(),
        None => rudder_client::connect_with(config.kubeconfig.as_deref(), config.rate_limit).await?,
    };
    if let Some(serving) = &config.serving {
        // Touch the metrics so /metrics lists them before the first attempt.
        metrics::metrics();
        let addr = rudder_client::serving::serve(
            serving,
            crate::config::options::DEFAULT_SECURE_PORT,
            shutdown.clone(),
        )
        .await?;
        if let Some(addr) = addr {
            tracing::info!(%addr, "serving healthz, readyz and metrics");
        }
    }
    match config.leader_election.clone() {
        None => run_scheduler(client, &config, shutdown).await,
        Some(le) => {
            let election = LeaderElection::new(client.clone(), le);
            let result = Arc::new(Mutex::new(Ok(())));
            let out = result.clone();
            election
                .run(shutdown, |lost| async move {
                    let r = run_scheduler(client, &config, lost).await;
                    *out.lock() = r;
                })
                .await?;
            std::mem::replace(&mut *result.lock(), Ok(()))
        }
    }
}
