//! What subscribers of an informer receive.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

/// One change to a cached object.
pub enum Change<K> {
    /// Created or updated (or listed again after a relist): the object as now stored.
    Applied(Arc<K>),
    /// Deleted: the object's last known state.
    Deleted(Arc<K>),
}

impl<K> Change<K> {
    /// The object either way.
    pub fn object(&self) -> &Arc<K> {
        match self {
            Change::Applied(obj) | Change::Deleted(obj) => obj,
        }
    }
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Applied(obj) => Change::Applied(obj.clone()),
            Change::Deleted(obj) => Change::Deleted(obj.clone()),
        }
    }
}

impl<K: fmt::Debug> fmt::Debug for Change<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Applied(obj) => f.debug_tuple("Applied").field(obj).finish(),
            Change::Deleted(obj) => f.debug_tuple("Deleted").field(obj).finish(),
        }
    }
}

/// A stream of [`Change`]s from one informer. Ends (`None`) when the informer stops.
pub struct Subscription<K> {
    rx: mpsc::UnboundedReceiver<Change<K>>,
}

impl<K> Subscription<K> {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Change<K>>) -> Self {
        Self { rx }
    }

    /// The next change; `None` once the informer has stopped.
    pub async fn recv(&mut self) -> Option<Change<K>> {
        self.rx.recv().await
    }
}

impl<K> fmt::Debug for Subscription<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("pending", &self.rx.len())
            .finish()
    }
}

impl<K> futures::Stream for Subscription<K> {
    type Item = Change<K>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Change<K>>> {
        self.rx.poll_recv(cx)
    }
}
