//! client-go's work queue: a de-duplicating FIFO with delayed and rate-limited adds.
//!
//! Semantics (as `k8s.io/client-go/util/workqueue`):
//! - an item is in the queue at most once; adding it again while queued does nothing;
//! - an item handed out by [`WorkQueue::get`] is never handed out again before
//!   [`WorkQueue::done`]; adding it meanwhile re-queues it once `done` is called;
//! - [`WorkQueue::add_after`] adds after a delay (the earliest pending time wins);
//! - [`WorkQueue::add_rate_limited`] adds after the [`RateLimiter`]'s per-item backoff,
//!   [`WorkQueue::forget`] resets it;
//! - after [`WorkQueue::shut_down`], adds are ignored, delayed items are dropped, `get` drains
//!   what is queued and then returns `None`.
//!
//! Metrics: see [`metrics`](self) (upstream `workqueue_*` names, label `name`).

mod metrics;
mod rate_limiter;
mod state;

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

pub use rate_limiter::RateLimiter;

use metrics::{QueueMetrics, UnfinishedWork};
use state::{Added, QueueState};

/// A shared handle on one work queue; clones are the same queue.
pub struct WorkQueue<T: Clone + Eq + Hash + Send + Sync + 'static> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    name: String,
    state: Mutex<Locked<T>>,
    /// Woken on add (one getter) and on shutdown or an earlier delayed item (every getter).
    notify: Notify,
    metrics: QueueMetrics,
}

struct Locked<T> {
    queue: QueueState<T>,
    limiter: RateLimiter,
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> fmt::Debug for WorkQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueue")
            .field("name", &self.inner.name)
            .field("len", &self.len())
            .finish()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    /// A queue with [`RateLimiter::default_controller`]; `name` labels its `workqueue_*` metrics.
    pub fn new(name: &str) -> Self {
        Self::with_rate_limiter(name, RateLimiter::default_controller())
    }

    /// A queue whose `add_rate_limited` uses `limiter`.
    pub fn with_rate_limiter(name: &str, limiter: RateLimiter) -> Self {
        let inner = Arc::new(Inner {
            name: name.to_string(),
            state: Mutex::new(Locked {
                queue: QueueState::new(),
                limiter,
            }),
            notify: Notify::new(),
            metrics: QueueMetrics::new(name),
        });
        let weak: std::sync::Weak<Inner<T>> = Arc::downgrade(&inner);
        QueueMetrics::track(weak);
        Self { inner }
    }

    /// Queue `item` unless it is already queued; if it is being processed it is queued again
    /// when [`done`](Self::done) is called. Ignored after shutdown.
    pub fn add(&self, item: T) {
        let mut locked = self.inner.state.lock();
        if locked.queue.add(item, Instant::now()) == Added::New {
            self.inner.metrics.added(1);
            self.inner.metrics.set_depth(locked.queue.depth());
            drop(locked);
            self.inner.notify.notify_one();
        }
    }

    /// Queue `item` once `delay` has passed (at once for a zero delay). If it is already
    /// waiting, the earlier time wins.
    pub fn add_after(&self, item: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(item);
        }
        let mut locked = self.inner.state.lock();
        let before = locked.queue.next_ready();
        locked.queue.add_after(item, delay, Instant::now());
        let after = locked.queue.next_ready();
        drop(locked);
        if after != before {
            // Getters sleep until the earliest ready time; it moved, so let them recompute.
            self.inner.notify.notify_waiters();
        }
    }

    /// Queue `item` after its rate-limited backoff and count one more failure for it.
    pub fn add_rate_limited(&self, item: T) {
        let delay = {
            let mut locked = self.inner.state.lock();
            if locked.queue.is_shutting_down() {
                return;
            }
            let failures = locked.queue.failures.get(&item).copied().unwrap_or(0);
            let delay = locked.limiter.when(failures, Instant::now());
            locked
                .queue
                .failures
                .insert(item.clone(), failures.saturating_add(1));
            delay
        };
        self.inner.metrics.retried();
        self.add_after(item, delay);
    }

    /// Reset `item`'s backoff (call after it was processed successfully).
    pub fn forget(&self, item: &T) {
        self.inner.state.lock().queue.failures.remove(item);
    }

    /// How many times `item` was rate-limited since its last [`forget`](Self::forget).
    pub fn num_requeues(&self, item: &T) -> u32 {
        let locked = self.inner.state.lock();
        locked.queue.failures.get(item).copied().unwrap_or(0)
    }

    /// The next item to process, waiting for one if need be. `None` once the queue is shut down
    /// and drained. Cancel-safe. Call [`done`](Self::done) when finished with the item.
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Registered before looking at the state, so no wake-up between the look and the
            // wait is lost.
            notified.as_mut().enable();
            let next_ready = {
                let mut locked = self.inner.state.lock();
                let now = Instant::now();
                let promoted = locked.queue.promote_ready(now);
                if promoted > 0 {
                    self.inner.metrics.added(promoted);
                }
                if let Some((item, waited)) = locked.queue.pop(now) {
                    self.inner.metrics.queued_for(waited);
                    self.inner.metrics.set_depth(locked.queue.depth());
                    let more = locked.queue.len() > 0;
                    drop(locked);
                    if more {
                        // Pass the baton: another getter may be asleep while items are ready.
                        self.inner.notify.notify_one();
                    }
                    return Some(item);
                }
                if locked.queue.is_shutting_down() {
                    return None;
                }
                locked.queue.next_ready()
            };
            match next_ready {
                Some(at) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Mark `item` as processed; if it was added again meanwhile it is queued now.
    pub fn done(&self, item: &T) {
        let mut locked = self.inner.state.lock();
        if let Some(worked) = locked.queue.done(item, Instant::now()) {
            self.inner.metrics.worked_for(worked);
            let requeued = locked.queue.len() > 0;
            drop(locked);
            if requeued {
                self.inner.notify.notify_one();
            }
        }
    }

    /// Stop accepting items; getters drain what is queued and then get `None`.
    pub fn shut_down(&self) {
        self.inner.state.lock().queue.shut_down();
        self.inner.notify.notify_waiters();
    }

    /// Whether [`shut_down`](Self::shut_down) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.state.lock().queue.is_shutting_down()
    }

    /// Items ready to be handed out (not counting delayed ones or ones being processed).
    pub fn len(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    /// Whether no item is ready to be handed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name given at construction (the `name` label of its metrics).
    pub fn name(&self) -> &str {
        &self.inner.name
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> UnfinishedWork for Inner<T> {
    fn queue_name(&self) -> &str {
        &self.name
    }

    fn unfinished(&self, now: Instant) -> (Duration, Duration) {
        self.state.lock().queue.unfinished(now)
    }
}

#[cfg(test)]
mod tests;
