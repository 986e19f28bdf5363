//! Mapped informers: a list+watch cache that keeps, for each object, only a value computed from
//! it as it arrives (a component's compact record), never the object itself.
//!
//! A plain [`Informer`](super::Informer) keeps every object whole (after its transform): for a
//! scheduler caching tens of thousands of pods that is most of its memory, although it reads a
//! small part of each. A [`MappedInformer`] converts each listed, watched or deleted object with
//! its `map` function the moment it is decoded; the store and the subscribers share one
//! `Arc<V>` per object and the object itself is dropped at once. During a relist the new list
//! is collected as mapped values too, so the peak is one page of whole objects, not a list.
//!
//! Subscribers see what [`Informer`](super::Informer)'s see (every change after they
//! subscribe; after a relist every listed object again as `Applied`, and objects that vanished
//! in the gap as `Deleted` with their last mapped value). [`MappedInformer::subscribe_bounded`]
//! gives a subscription with a bounded channel: when it is full the informer waits for the
//! subscriber (backpressure on the watch) instead of queueing without limit.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use futures::StreamExt;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use parking_lot::{Mutex, RwLock};
use rudder_component::Shutdown;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::metrics::{InformerMetrics, resource_label};
use super::subscription::{Change, Sender, Subscription};
use crate::Object;

/// Where an object lives: its namespace (empty for cluster-scoped objects) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    /// The key of `obj`.
    pub fn of<K: kube::Resource>(obj: &K) -> ObjectKey {
        let meta = obj.meta();
        ObjectKey {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

type MapFn<K, V> = dyn Fn(K) -> V + Send + Sync;

/// A shared cache of `V = map(K)` for every `K` in the cluster. Clones are the same informer.
pub struct MappedInformer<K: Object, V> {
    shared: Arc<Shared<K, V>>,
}

pub(crate) struct Shared<K, V> {
    map: Box<MapFn<K, V>>,
    store: RwLock<HashMap<ObjectKey, Arc<V>>>,
    /// Set by the task that runs the informer, so that it runs once.
    started: Mutex<bool>,
    /// `None` once the informer has stopped: subscriptions then end.
    subscribers: Mutex<Option<Vec<Sender<V>>>>,
    /// Whether the first list is loaded (or the informer stopped).
    synced: tokio::sync::watch::Sender<bool>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: Object, V> Clone for MappedInformer<K, V> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<K: Object, V> fmt::Debug for MappedInformer<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedInformer")
            .field("resource", &resource_label::<K>())
            .field("objects", &self.shared.store.read().len())
            .finish()
    }
}

impl<K: Object, V: Send + Sync + 'static> MappedInformer<K, V> {
    pub(crate) fn new(map: impl Fn(K) -> V + Send + Sync + 'static) -> Self {
        Self {
            shared: Arc::new(Shared {
                map: Box::new(map),
                store: RwLock::new(HashMap::new()),
                started: Mutex::new(false),
                subscribers: Mutex::new(Some(Vec::new())),
                synced: tokio::sync::watch::Sender::new(false),
                _kind: PhantomData,
            }),
        }
    }

    /// The mapped value of the object `key`, if cached.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<V>> {
        self.shared.store.read().get(key).cloned()
    }

    /// Every cached value, in no particular order.
    pub fn state(&self) -> Vec<Arc<V>> {
        self.shared.store.read().values().cloned().collect()
    }

    /// How many objects are cached.
    pub fn len(&self) -> usize {
        self.shared.store.read().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.shared.store.read().is_empty()
    }

    /// Resolves once the initial list is in the store (or the informer stopped before that).
    pub async fn wait_synced(&self) {
        let mut synced = self.shared.synced.subscribe();
        // Err only if the sender is gone, which cannot happen while `self` holds it.
        let _ = synced.wait_for(|synced| *synced).await;
    }

    /// Whether the initial list is in the store (or the informer stopped before that).
    pub fn has_synced(&self) -> bool {
        *self.shared.synced.borrow()
    }

    /// A new subscriber with an unbounded channel: every change after now.
    pub fn subscribe(&self) -> Subscription<V> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.add_subscriber(Sender::Unbounded(tx));
        Subscription::new(rx)
    }

    /// A new subscriber whose channel holds at most `capacity` changes (at least 1): when it
    /// is full the informer waits until the subscriber takes one, so a burst of changes is
    /// held back in the watch rather than queued here. The subscriber must keep receiving (or
    /// drop the subscription); it must not wait on this informer while it holds changes back.
    pub fn subscribe_bounded(&self, capacity: usize) -> Subscription<V> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.add_subscriber(Sender::Bounded(tx));
        Subscription::new_bounded(rx)
    }

    fn add_subscriber(&self, tx: Sender<V>) {
        if let Some(subscribers) = self.shared.subscribers.lock().as_mut() {
            subscribers.push(tx);
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<K, V>> {
        &self.shared
    }
}

impl<K: Object, V: Send + Sync + 'static> Shared<K, V> {
    /// Deliver `change` to every live subscriber, forgetting the ones that went away. Waits
    /// while a bounded subscriber is full (the lock is not held meanwhile).
    async fn broadcast(&self, change: Change<V>) {
        let senders: Vec<Sender<V>> = match self.subscribers.lock().as_ref() {
            Some(s) => s.clone(),
            None => return,
        };
        let mut gone = false;
        for tx in &senders {
            gone |= !tx.send(change.clone()).await;
        }
        if gone && let Some(subscribers) = self.subscribers.lock().as_mut() {
            subscribers.retain(|tx| !tx.is_closed());
        }
    }

    fn close(&self) {
        *self.subscribers.lock() = None;
        self.synced.send_replace(true);
    }
}

/// Runs `informer` until `shutdown`. Does nothing if it is already running.
pub(crate) async fn run<K: Object, V: Send + Sync + 'static>(
    informer: MappedInformer<K, V>,
    client: kube::Client,
    list_pages: Option<u32>,
    shutdown: Shutdown,
) {
    let shared = informer.shared().clone();
    {
        let mut started = shared.started.lock();
        if *started {
            return;
        }
        *started = true;
    }
    let resource = resource_label::<K>();
    let span = tracing::info_span!("informer", resource = %resource, mapped = true);
    let metrics = InformerMetrics::new(&resource);
    let config = super::run::watcher_config(list_pages);
    async move {
        let stream = watcher::watcher(Api::<K>::all(client), config).default_backoff();
        futures::pin_mut!(stream);
        let mut relist = Relist::default();
        tracing::debug!("informer started");
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.wait() => break,
                next = stream.next() => next,
            };
            match next {
                Some(Ok(event)) => {
                    let changes = apply(&shared, &mut relist, event, &metrics);
                    for change in changes {
                        tokio::select! {
                            biased;
                            _ = shutdown.wait() => break,
                            _ = shared.broadcast(change) => {}
                        }
                    }
                }
                Some(Err(error)) => {
                    metrics.error();
                    tracing::warn!(%error, "list/watch failed; backing off and retrying");
                }
                None => {
                    tracing::error!("watch stream ended unexpectedly");
                    break;
                }
            }
        }
        shared.close();
        tracing::debug!("informer stopped");
    }
    .instrument(span)
    .await
}

/// The list being loaded: mapped values collected until the list is complete.
struct Relist<V>(Option<HashMap<ObjectKey, Arc<V>>>);

impl<V> Default for Relist<V> {
    fn default() -> Self {
        Self(None)
    }
}

/// Applies one watcher event to the store; returns the changes for subscribers.
fn apply<K: Object, V: Send + Sync + 'static>(
    shared: &Shared<K, V>,
    relist: &mut Relist<V>,
    event: Event<K>,
    metrics: &InformerMetrics,
) -> Vec<Change<V>> {
    match event {
        Event::Init => {
            relist.0 = Some(HashMap::new());
            Vec::new()
        }
        Event::InitApply(obj) => {
            let key = ObjectKey::of(&obj);
            let value = Arc::new((shared.map)(obj));
            relist.0.get_or_insert_with(HashMap::new).insert(key, value);
            Vec::new()
        }
        Event::InitDone => {
            let listed = relist.0.take().unwrap_or_default();
            let count = listed.len();
            let applied: Vec<Change<V>> = listed.values().cloned().map(Change::Applied).collect();
            let before = std::mem::replace(&mut *shared.store.write(), listed);
            let mut changes = Vec::with_capacity(count);
            {
                let store = shared.store.read();
                // Deleted while we were not watching: the last state we knew.
                changes.extend(
                    before
                        .into_iter()
                        .filter(|(key, _)| !store.contains_key(key))
                        .map(|(_, value)| Change::Deleted(value)),
                );
            }
            shared.synced.send_replace(true);
            metrics.deleted(changes.len());
            metrics.applied(count);
            metrics.listed();
            metrics.set_objects(count);
            tracing::debug!(objects = count, "list loaded");
            changes.extend(applied);
            changes
        }
        Event::Apply(obj) => {
            let key = ObjectKey::of(&obj);
            let value = Arc::new((shared.map)(obj));
            let len = {
                let mut store = shared.store.write();
                store.insert(key, value.clone());
                store.len()
            };
            metrics.applied(1);
            metrics.set_objects(len);
            vec![Change::Applied(value)]
        }
        Event::Delete(obj) => {
            let key = ObjectKey::of(&obj);
            // The watch event carries the object's final state, the last one known.
            let value = Arc::new((shared.map)(obj));
            let len = {
                let mut store = shared.store.write();
                store.remove(&key);
                store.len()
            };
            metrics.deleted(1);
            metrics.set_objects(len);
            vec![Change::Deleted(value)]
        }
    }
}

#[cfg(test)]
mod tests;
