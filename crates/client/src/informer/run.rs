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

/// Run `informer` until `shutdown`. Does nothing if it is already running. `list_pages`:
/// list in pages of that size from storage rather than whole from the watch cache.
pub(crate) async fn run<K: Object>(
    informer: Informer<K>,
    client: kube::Client,
    list_pages: Option<u32>,
    shutdown: Shutdown,
) {
    let shared = informer.shared().clone();
    let Some(writer) = shared.writer.lock().take() else {
        return;
    };
    let resource = resource_label::<K>();
    let span = tracing::info_span!("informer", resource = %resource);
    let config = watcher_config(list_pages);
    run_with(
        shared,
        writer,
        client,
        config,
        shutdown,
        InformerMetrics::new(&resource),
    )
    .instrument(span)
    .await;
}

/// How an informer lists: `list_pages` of that size from storage, else whole from the
/// apiserver's watch cache.
pub(crate) fn watcher_config(list_pages: Option<u32>) -> watcher::Config {
    match list_pages {
        // Like client-go's reflector: list from the watch cache (resourceVersion=0), then watch.
        None => watcher::Config::default().any_semantic(),
        // A paginated list (resourceVersion unset, limit and continue), then watch.
        Some(n) => watcher::Config::default().page_size(n),
    }
}

async fn run_with<K: Object>(
    shared: Arc<Shared<K>>,
    mut writer: Writer<K>,
    client: kube::Client,
    config: watcher::Config,
    shutdown: Shutdown,
    metrics: InformerMetrics,
) {
    // The watcher relists on 410 Gone, and errors back off 800ms..30s with jitter.
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
    // Cloned out so the lock is not held while the store is written.
    let transform = shared.transform.lock().clone();
    let event = match transform {
        Some(transform) => transform.event(event),
        None => event,
    };
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
            shared.mark_synced();
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

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    use super::*;

    fn cm(name: &str, version: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                resource_version: Some(version.into()),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    fn drain(sub: &mut super::super::Subscription<ConfigMap>) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(Some(change)) = futures::FutureExt::now_or_never(sub.recv()) {
            let (kind, obj) = match &change {
                Change::Applied(obj) => ("applied", obj),
                Change::Deleted(obj) => ("deleted", obj),
            };
            let name = obj.metadata.name.clone().unwrap_or_default();
            let rv = obj.metadata.resource_version.clone().unwrap_or_default();
            seen.push(format!("{kind} {name}@{rv}"));
        }
        seen.sort();
        seen
    }

    fn list(shared: &Shared<ConfigMap>, writer: &mut Writer<ConfigMap>, objs: &[ConfigMap]) {
        let metrics = InformerMetrics::new("configmaps_unit_test");
        apply(shared, writer, Event::Init, &metrics);
        for obj in objs {
            apply(shared, writer, Event::InitApply(obj.clone()), &metrics);
        }
        apply(shared, writer, Event::InitDone, &metrics);
    }

    #[test]
    fn relist_reapplies_everything_and_deletes_what_vanished() {
        let informer = Informer::<ConfigMap>::new();
        let shared = informer.shared().clone();
        let mut writer = shared.writer.lock().take().expect("writer");
        let metrics = InformerMetrics::new("configmaps_unit_test");
        let mut sub = informer.subscribe();

        list(&shared, &mut writer, &[cm("a", "1"), cm("b", "2")]);
        assert!(informer.has_synced());
        assert_eq!(drain(&mut sub), ["applied a@1", "applied b@2"]);

        apply(&shared, &mut writer, Event::Apply(cm("c", "3")), &metrics);
        apply(&shared, &mut writer, Event::Delete(cm("a", "4")), &metrics);
        assert_eq!(drain(&mut sub), ["applied c@3", "deleted a@4"]);
        assert_eq!(informer.store().len(), 2);

        // The watch broke; meanwhile b changed and c was deleted. The relist shows b anew and
        // c's deletion with the last state we had of it.
        list(&shared, &mut writer, &[cm("b", "7"), cm("d", "8")]);
        assert_eq!(drain(&mut sub), ["applied b@7", "applied d@8", "deleted c@3"]);
        let key = ObjectRef::<ConfigMap>::new("c").within("ns");
        assert!(informer.store().get(&key).is_none());
        assert_eq!(informer.store().len(), 2);
    }

    #[test]
    fn items_listed_during_a_relist_are_not_visible_before_it_completes() {
        let informer = Informer::<ConfigMap>::new();
        let shared = informer.shared().clone();
        let mut writer = shared.writer.lock().take().expect("writer");
        let metrics = InformerMetrics::new("configmaps_unit_test");
        let mut sub = informer.subscribe();
        list(&shared, &mut writer, &[cm("a", "1")]);
        drain(&mut sub);
        apply(&shared, &mut writer, Event::Init, &metrics);
        apply(&shared, &mut writer, Event::InitApply(cm("z", "9")), &metrics);
        assert!(drain(&mut sub).is_empty());
        assert_eq!(informer.store().len(), 1, "old state until InitDone");
        apply(&shared, &mut writer, Event::InitDone, &metrics);
        assert_eq!(drain(&mut sub), ["applied z@9", "deleted a@1"]);
    }

    #[test]
    fn dropped_subscribers_are_forgotten_and_closing_ends_the_rest() {
        let informer = Informer::<ConfigMap>::new();
        let shared = informer.shared().clone();
        let mut writer = shared.writer.lock().take().expect("writer");
        let metrics = InformerMetrics::new("configmaps_unit_test");
        let dropped = informer.subscribe();
        let mut kept = informer.subscribe();
        drop(dropped);
        apply(&shared, &mut writer, Event::Apply(cm("a", "1")), &metrics);
        assert_eq!(shared.subscribers.lock().as_ref().map(Vec::len), Some(1));
        assert_eq!(drain(&mut kept), ["applied a@1"]);
        shared.close();
        assert!(matches!(
            futures::FutureExt::now_or_never(kept.recv()),
            Some(None)
        ));
        let mut late = informer.subscribe();
        assert!(matches!(
            futures::FutureExt::now_or_never(late.recv()),
            Some(None)
        ));
    }

    #[test]
    fn the_transform_applies_before_the_store_and_subscribers() {
        let informer = Informer::<ConfigMap>::new();
        informer
            .set_transform(|cm: &mut ConfigMap| cm.metadata.resource_version = Some("t".into()))
            .expect("not started");
        let shared = informer.shared().clone();
        let mut writer = shared.writer.lock().take().expect("writer");
        let metrics = InformerMetrics::new("configmaps_unit_test");
        let mut sub = informer.subscribe();
        list(&shared, &mut writer, &[cm("a", "1")]);
        apply(&shared, &mut writer, Event::Apply(cm("b", "2")), &metrics);
        apply(&shared, &mut writer, Event::Delete(cm("a", "3")), &metrics);
        assert_eq!(drain(&mut sub), ["applied a@t", "applied b@t", "deleted a@t"]);
        let key = ObjectRef::<ConfigMap>::new("b").within("ns");
        let stored = informer.store().get(&key).expect("b stored");
        assert_eq!(stored.metadata.resource_version.as_deref(), Some("t"));
        // The writer is taken: started.
        assert!(informer.set_transform(|_: &mut ConfigMap| {}).is_err());
    }

    /// Controllers sharing an informer all wait for its first list at once: every waiter wakes.
    #[tokio::test]
    async fn every_concurrent_waiter_wakes_when_the_list_is_loaded() {
        let informer = Informer::<ConfigMap>::new();
        let shared = informer.shared().clone();
        let mut writer = shared.writer.lock().take().expect("writer");
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let informer = informer.clone();
                tokio::spawn(async move { informer.wait_synced().await })
            })
            .collect();
        tokio::task::yield_now().await;
        assert!(!informer.has_synced());
        list(&shared, &mut writer, &[cm("a", "1")]);
        assert!(informer.has_synced());
        for waiter in waiters {
            tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
                .await
                .expect("every waiter wakes")
                .expect("waiter task");
        }
    }
}
