//! Keeping the index current: the shared informers for Services, EndpointSlices and Namespaces
//! feed one rebuild loop. Every change wakes it; changes that arrive during a rebuild coalesce
//! into the next one, so a burst costs one or two rebuilds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use rudder_client::{Informer, InformerFactory, Object};
use rudder_component::shutdown::Shutdown;
use tokio::sync::Notify;

use crate::handler::{SharedIndex, Snapshot};
use crate::index::Index;

/// Runs until `shutdown`: builds the first index once the informers have listed (then sets
/// `ready`), and rebuilds it after every change.
pub async fn keep_index(
    factory: InformerFactory,
    shared: SharedIndex,
    ready: Arc<AtomicBool>,
    shutdown: Shutdown,
) {
    let services = factory.informer::<Service>();
    let slices = factory.informer::<EndpointSlice>();
    let namespaces = factory.informer::<Namespace>();
    let changed = Arc::new(Notify::new());
    // Subscribe before reading the stores: nothing is missed in between.
    wake_on_change(&services, &changed);
    wake_on_change(&slices, &changed);
    wake_on_change(&namespaces, &changed);
    factory.start(shutdown.clone());

    tokio::select! {
        _ = async { tokio::join!(services.wait_synced(), slices.wait_synced(), namespaces.wait_synced()) } => {}
        _ = shutdown.wait() => return,
    }
    let mut generation = 0u32;
    loop {
        rebuild(&shared, &services, &slices, &namespaces, &mut generation);
        ready.store(true, Ordering::Release);
        tokio::select! {
            _ = changed.notified() => {}
            _ = shutdown.wait() => return,
        }
    }
}

fn wake_on_change<K: Object>(informer: &Informer<K>, changed: &Arc<Notify>) {
    let mut subscription = informer.subscribe();
    let changed = changed.clone();
    tokio::spawn(async move {
        while subscription.next().await.is_some() {
            // `notify_one` stores a permit if the loop is busy: no change is lost.
            changed.notify_one();
        }
    });
}

fn rebuild(
    shared: &SharedIndex,
    services: &Informer<Service>,
    slices: &Informer<EndpointSlice>,
    namespaces: &Informer<Namespace>,
    generation: &mut u32,
) {
    let (svcs, eps, nss) = (
        services.store().state(),
        slices.store().state(),
        namespaces.store().state(),
    );
    let index = Index::build(
        svcs.iter().map(|s| s.as_ref()),
        eps.iter().map(|s| s.as_ref()),
        nss.iter().map(|s| s.as_ref()),
    );
    // The serial must grow with each change: seconds since the epoch, bumped past the last.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    *generation = now.max(generation.saturating_add(1));
    tracing::debug!(
        services = index.services.len(),
        namespaces = index.namespaces.len(),
        serial = *generation,
        "DNS index rebuilt"
    );
    *shared.write() = Arc::new(Snapshot {
        index,
        serial: *generation,
    });
}
