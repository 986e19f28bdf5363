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

/// The informer's end of one subscription.
pub(crate) enum Sender<K> {
    Unbounded(mpsc::UnboundedSender<Change<K>>),
    Bounded(mpsc::Sender<Change<K>>),
}

impl<K> Clone for Sender<K> {
    fn clone(&self) -> Self {
        match self {
            Sender::Unbounded(tx) => Sender::Unbounded(tx.clone()),
            Sender::Bounded(tx) => Sender::Bounded(tx.clone()),
        }
    }
}

impl<K> Sender<K> {
    /// Delivers `change`, waiting for room on a bounded channel; false if the subscriber is gone.
    pub(crate) async fn send(&self, change: Change<K>) -> bool {
        match self {
            Sender::Unbounded(tx) => tx.send(change).is_ok(),
            Sender::Bounded(tx) => tx.send(change).await.is_ok(),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Sender::Unbounded(tx) => tx.is_closed(),
            Sender::Bounded(tx) => tx.is_closed(),
        }
    }
}

enum Receiver<K> {
    Unbounded(mpsc::UnboundedReceiver<Change<K>>),
    Bounded(mpsc::Receiver<Change<K>>),
}

/// A stream of [`Change`]s from one informer. Ends (`None`) when the informer stops.
pub struct Subscription<K> {
    rx: Receiver<K>,
}

impl<K> Subscription<K> {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Change<K>>) -> Self {
        Self {
            rx: Receiver::Unbounded(rx),
        }
    }

    pub(crate) fn new_bounded(rx: mpsc::Receiver<Change<K>>) -> Self {
        Self {
            rx: Receiver::Bounded(rx),
        }
    }

    /// The next change; `None` once the informer has stopped.
    pub async fn recv(&mut self) -> Option<Change<K>> {
        match &mut self.rx {
            Receiver::Unbounded(rx) => rx.recv().await,
            Receiver::Bounded(rx) => rx.recv().await,
        }
    }

    /// Changes waiting to be received.
    pub fn pending(&self) -> usize {
        match &self.rx {
            Receiver::Unbounded(rx) => rx.len(),
            Receiver::Bounded(rx) => rx.len(),
        }
    }
}

impl<K> fmt::Debug for Subscription<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("pending", &self.pending())
            .finish()
    }
}

impl<K> futures::Stream for Subscription<K> {
    type Item = Change<K>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Change<K>>> {
        match &mut self.rx {
            Receiver::Unbounded(rx) => rx.poll_recv(cx),
            Receiver::Bounded(rx) => rx.poll_recv(cx),
        }
    }
}
