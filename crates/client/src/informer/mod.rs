//! Shared informers: one list+watch cache per resource per process, built on kube-runtime's
//! `watcher` (list, then watch; relist after `410 Gone`) and `reflector` store.
//!
//! [`InformerFactory::informer`] hands out the same [`Informer`] for a type however often it is
//! asked; [`InformerFactory::start`] runs them. Each informer keeps a
//! [`Store`] and fans every change out to its
//! [`Subscription`]s as a [`Change`]. Watch errors are logged, counted and retried with
//! kube-runtime's default backoff (client-go's: 800ms doubling to 30s, with jitter).
//!
//! Subscribers see every change after they subscribe. After a relist every listed object comes
//! again as `Applied`, and objects that vanished during the gap come as `Deleted` with their last
//! known state (upstream's `DeletedFinalStateUnknown`, without the wrapper). A subscriber that
//! needs the current state reads the store after subscribing: nothing is missed in between.
//!
//! Metrics (label `resource`, e.g. `pods`, `deployments.apps`):
//! - `rudder_informer_events_total{resource,type}`: changes delivered, `type` = `applied`|`deleted`;
//! - `rudder_informer_lists_total{resource}`: completed (re)lists;
//! - `rudder_informer_watch_errors_total{resource}`: list/watch errors (each followed by backoff);
//! - `rudder_informer_objects{resource}`: objects in the store.

mod factory;
mod mapped;
mod metrics;
mod run;
mod subscription;
mod transform;

use std::fmt;
use std::sync::Arc;

use kube::runtime::reflector::{self, Store};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::Object;

pub use factory::InformerFactory;
pub use mapped::{MappedInformer, ObjectKey};
pub use subscription::{Change, Subscription};
pub use transform::{LAST_APPLIED_ANNOTATION, strip_managed_fields};

use transform::Transform;

/// A shared cache of every `K` in the cluster. Clones are the same informer.
pub struct Informer<K: Object> {
    shared: Arc<Shared<K>>,
}

pub(crate) struct Shared<K: Object> {
    store: Store<K>,
    /// Taken by the task that runs the informer; `None` once started.
    writer: Mutex<Option<reflector::store::Writer<K>>>,
    /// `None` once the informer has stopped: subscriptions then end.
    subscribers: Mutex<Option<Vec<mpsc::UnboundedSender<Change<K>>>>>,
    /// Applied to every object before the store and subscribers see it; fixed once started.
    transform: Mutex<Option<Transform<K>>>,
    /// Whether the first list is loaded (or the informer stopped). A watch channel rather than
    /// the reflector store's readiness future, which wakes only its last waiter: controllers
    /// sharing one informer all wait on it at once.
    synced: tokio::sync::watch::Sender<bool>,
}

impl<K: Object> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<K: Object> fmt::Debug for Informer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Informer")
            .field("resource", &metrics::resource_label::<K>())
            .field("objects", &self.shared.store.len())
            .field(
                "subscribers",
                &self.shared.subscribers.lock().as_ref().map(Vec::len),
            )
            .finish()
    }
}

impl<K: Object> Informer<K> {
    pub(crate) fn new() -> Self {
        let writer = reflector::store::Writer::<K>::default();
        Self {
            shared: Arc::new(Shared {
                store: writer.as_reader(),
                writer: Mutex::new(Some(writer)),
                subscribers: Mutex::new(Some(Vec::new())),
                transform: Mutex::new(None),
                synced: tokio::sync::watch::Sender::new(false),
            }),
        }
    }

    /// The reflector store: `.get(&ObjectRef)`, `.state()`, `.find(..)`.
    pub fn store(&self) -> Store<K> {
        self.shared.store.clone()
    }

    /// Resolves once the initial list is in the store (or the informer stopped before that,
    /// on shutdown). Never resolves for an informer that is never started.
    pub async fn wait_synced(&self) {
        let mut synced = self.shared.synced.subscribe();
        // Err only if the sender is gone, which cannot happen while `self` holds it.
        let _ = synced.wait_for(|synced| *synced).await;
    }

    /// Whether the initial list is in the store (or the informer stopped before that).
    pub fn has_synced(&self) -> bool {
        *self.shared.synced.borrow()
    }

    /// A new subscriber: every change after now. Unbounded; drop it to unsubscribe. Ends when
    /// the informer stops (at once if it already has).
    pub fn subscribe(&self) -> Subscription<K> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some(subscribers) = self.shared.subscribers.lock().as_mut() {
            subscribers.push(tx);
        }
        Subscription::new(rx)
    }

    /// Apply `transform` to every object (listed, watched, deleted) before it enters the store
    /// and before subscribers see it, as client-go's `SetTransform`: e.g.
    /// [`strip_managed_fields`] to keep large caches small. Only before the informer starts:
    /// afterwards the store may already hold untransformed objects, so this returns
    /// [`ClientError::InformerStarted`](crate::ClientError::InformerStarted) and changes
    /// nothing. Replaces any earlier transform.
    pub fn set_transform(
        &self,
        transform: impl Fn(&mut K) + Send + Sync + 'static,
    ) -> Result<(), crate::ClientError> {
        self.set_transform_inner(Transform::new(transform))
    }

    pub(crate) fn set_transform_inner(&self, transform: Transform<K>) -> Result<(), crate::ClientError> {
        // Held across the check so the informer cannot start in between.
        let writer = self.shared.writer.lock();
        if writer.is_none() {
            return Err(crate::ClientError::InformerStarted {
                resource: metrics::resource_label::<K>(),
            });
        }
        *self.shared.transform.lock() = Some(transform);
        Ok(())
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<K>> {
        &self.shared
    }
}

impl<K: Object> Shared<K> {
    /// Deliver `change` to every live subscriber, forgetting the ones that went away.
    fn broadcast(&self, change: Change<K>) {
        if let Some(subscribers) = self.subscribers.lock().as_mut() {
            subscribers.retain(|tx| tx.send(change.clone()).is_ok());
        }
    }

    /// The informer stopped: end every subscription, and any made later.
    fn close(&self) {
        *self.subscribers.lock() = None;
        self.mark_synced();
    }

    fn mark_synced(&self) {
        self.synced.send_replace(true);
    }
}
