//! The task behind one informer: watcher → store → subscribers, until shutdown.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::{self, Event};
use rudder_component::Shutdown;
use tracing::Instrument;

use super::metrics::{InformerMetrics, resource_label};
use super::{Change, Informer, Shared};
use crate::Object;

/// Run `informer` until `shutdown`. Does nothing if it is already running.
pub(crate) async fn run<K: Object>(informer: Informer<K>, client: kube::Client, shutdown: Shutdown) {
    let shared = informer.shared().clone();
    let Some(writer) = shared.writer.lock().take() else {
        return;
    };
    let resource = resource_label::<K>();
    let span = tracing::info_span!("informer", resource = %resource);
    run_with(shared, writer, client, shutdown, InformerMetrics::new(&resource))
        .instrument(span)
        .await;
}

async fn run_with<K: Object>(
    shared: Arc<Shared<K>>,
    mut writer: Writer<K>,
    client: kube::Client,
    shutdown: Shutdown,
    metrics: InformerMetrics,
) {
    // Like client-go's reflector: list from the watch cache (resourceVersion=0), then watch;
    // the watcher relists on 410 Gone, and errors back off 800ms..30s with jitter.
    let config = watcher::Config::default().any_semantic();
    let stream = watcher::watcher(Api::<K>::all(client), config).default_backoff();
    futures::pin_mut!(stream);
    tracing::debug!("informer started");
    loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.wait() => break,
            next = stream.next() => next,
        };
        match next {
            Some(Ok(event)) => apply(&shared, &mut writer, event, &metrics),
            Some(Err(error)) => {
                metrics.error();
                tracing::warn!(%error, "list/watch failed; backing off and retrying");
            }
            None => {
                // The watcher never ends on its own; if it ever did, nothing more would come.
                tracing::error!("watch stream ended unexpectedly");
                break;
            }
        }
    }
    shared.close();
    tracing::debug!("informer stopped");
}

fn apply<K: Object>(shared: &Shared<K>, writer: &mut Writer<K>, event: Event<K>, metrics: &InformerMetrics) {
    match event {
        Event::Init | Event::InitApply(_) => writer.apply_watcher_event(&event),
        Event::InitDone => {
            let before: HashMap<ObjectRef<K>, Arc<K>> = shared
                .store
                .state()
                .into_iter()
                .map(|obj| (ObjectRef::from_obj(&*obj), obj))
                .collect();
            writer.apply_watcher_event(&event);
            let mut gone = before;
            let listed = shared.store.state();
            for obj in &listed {
                gone.remove(&ObjectRef::from_obj(&**obj));
            }
            // Deleted while we were not watching: the last state we knew.
            metrics.deleted(gone.len());
            for (_, obj) in gone {
                shared.broadcast(Change::Deleted(obj));
            }
            metrics.applied(listed.len());
            metrics.listed();
            metrics.set_objects(listed.len());
            tracing::debug!(objects = listed.len(), "list loaded");
            for obj in listed {
                shared.broadcast(Change::Applied(obj));
            }
        }
        Event::Apply(ref obj) => {
            let key = ObjectRef::from_obj(obj);
            writer.apply_watcher_event(&event);
            // Hand subscribers the store's Arc rather than another copy of the object. We are
            // the store's only writer, so it is there.
            let Some(stored) = shared.store.get(&key) else {
                return;
            };
            metrics.applied(1);
            metrics.set_objects(shared.store.len());
            shared.broadcast(Change::Applied(stored));
        }
        Event::Delete(obj) => {
            let event = Event::Delete(obj);
            writer.apply_watcher_event(&event);
            let Event::Delete(obj) = event else {
                return;
            };
            // The watch event carries the object's final state, the last one known.
            metrics.deleted(1);
            metrics.set_objects(shared.store.len());
            shared.broadcast(Change::Deleted(Arc::new(obj)));
        }
    }
}
