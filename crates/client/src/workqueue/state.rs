//! The work queue's bookkeeping as a plain state machine over explicit instants, so its
//! semantics are unit-tested without tokio. Mirrors client-go's `Typed` queue (queue, dirty and
//! processing sets) plus the delaying queue's waiting list (earliest ready time wins).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct QueueState<T> {
    /// Items ready to be handed out, in order.
    queue: VecDeque<T>,
    /// Items that need processing (queued, or re-added while being processed), with the time
    /// they were added (for `workqueue_queue_duration_seconds`).
    dirty: HashMap<T, Instant>,
    /// Items handed out and not yet `done`, with the time they were handed out.
    processing: HashMap<T, Instant>,
    /// Items added with a delay: (ready time, sequence) → item, and the reverse index.
    waiting: BTreeMap<(Instant, u64), T>,
    waiting_index: HashMap<T, (Instant, u64)>,
    next_seq: u64,
    /// Failures per item since its last `forget`, for the exponential backoff.
    pub(crate) failures: HashMap<T, u32>,
    shutting_down: bool,
}

/// What `add` did, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// Newly needs processing (counts in `workqueue_adds_total`).
    New,
    /// Already queued, or the queue is shutting down: nothing changed.
    Ignored,
}

impl<T: Clone + Eq + Hash> QueueState<T> {
    pub(crate) fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            dirty: HashMap::new(),
            processing: HashMap::new(),
            waiting: BTreeMap::new(),
            waiting_index: HashMap::new(),
            next_seq: 0,
            failures: HashMap::new(),
            shutting_down: false,
        }
    }

    /// client-go `Add`: ignored while shutting down or if already dirty; an item being processed
    /// is only marked dirty and goes back on the queue when it is `done`.
    pub(crate) fn add(&mut self, item: T, now: Instant) -> Added {
        if self.shutting_down || self.dirty.contains_key(&item) {
            return Added::Ignored;
        }
        self.dirty.insert(item.clone(), now);
        if !self.processing.contains_key(&item) {
            self.queue.push_back(item);
        }
        Added::New
    }

    /// client-go `AddAfter`: waits until `now + delay`; if the item is already waiting, the
    /// earlier of the two ready times is kept.
    pub(crate) fn add_after(&mut self, item: T, delay: Duration, now: Instant) -> Added {
        if self.shutting_down {
            return Added::Ignored;
        }
        if delay.is_zero() {
            return self.add(item, now);
        }
        let ready_at = now + delay;
        if let Some(&(existing, seq)) = self.waiting_index.get(&item) {
            if existing <= ready_at {
                return Added::Ignored;
            }
            self.waiting.remove(&(existing, seq));
        }
        let key = (ready_at, self.next_seq);
        self.next_seq += 1;
        self.waiting.insert(key, item.clone());
        self.waiting_index.insert(item, key);
        Added::Ignored
    }

    /// Move every waiting item whose time has come onto the queue; returns how many were
    /// newly added (for `workqueue_adds_total`).
    pub(crate) fn promote_ready(&mut self, now: Instant) -> usize {
        let mut added = 0;
        while let Some(entry) = self.waiting.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let item = entry.remove();
            self.waiting_index.remove(&item);
            if self.add(item, now) == Added::New {
                added += 1;
            }
        }
        added
    }

    /// When the next waiting item becomes ready.
    pub(crate) fn next_ready(&self) -> Option<Instant> {
        self.waiting.keys().next().map(|(at, _)| *at)
    }

    /// client-go `Get` without the blocking: the next item and how long it was queued.
    pub(crate) fn pop(&mut self, now: Instant) -> Option<(T, Duration)> {
        let item = self.queue.pop_front()?;
        let added = self.dirty.remove(&item).unwrap_or(now);
        self.processing.insert(item.clone(), now);
        Some((item, now.saturating_duration_since(added)))
    }

    /// client-go `Done`: how long the item was processed (None if it was not being processed);
    /// an item re-added meanwhile goes back on the queue.
    pub(crate) fn done(&mut self, item: &T, now: Instant) -> Option<Duration> {
        let started = self.processing.remove(item)?;
        if self.dirty.contains_key(item) {
            self.queue.push_back(item.clone());
        }
        Some(now.saturating_duration_since(started))
    }

    /// client-go `ShutDown`: no more adds; waiting items are dropped; queued ones still drain.
    pub(crate) fn shut_down(&mut self) {
        self.shutting_down = true;
        self.waiting.clear();
        self.waiting_index.clear();
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Items ready to be handed out (client-go `Len`).
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Items added and not yet handed out (upstream's `workqueue_depth`).
    pub(crate) fn depth(&self) -> usize {
        self.dirty.len()
    }

    /// Sum and maximum of how long the items being processed have been at it.
    pub(crate) fn unfinished(&self, now: Instant) -> (Duration, Duration) {
        self.processing
            .values()
            .map(|started| now.saturating_duration_since(*started))
            .fold((Duration::ZERO, Duration::ZERO), |(sum, max), d| {
                (sum + d, max.max(d))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn dedups_queued_items_and_keeps_order() {
        let now = Instant::now();
        let mut q = QueueState::new();
        assert_eq!(q.add("a", now), Added::New);
        assert_eq!(q.add("b", now), Added::New);
        assert_eq!(q.add("a", now), Added::Ignored);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(now).map(|(i, _)| i), Some("a"));
        assert_eq!(q.pop(now).map(|(i, _)| i), Some("b"));
        assert_eq!(q.pop(now), None);
    }

    #[test]
    fn item_added_while_processing_is_requeued_only_after_done() {
        let now = Instant::now();
        let mut q = QueueState::new();
        q.add("a", now);
        let (item, _) = q.pop(now).expect("a");
        assert_eq!(q.add(item, now), Added::New);
        // Not handed out twice at once.
        assert_eq!(q.len(), 0);
        assert_eq!(q.pop(now), None);
        // A second add while processing is still one re-queue.
        assert_eq!(q.add("a", now), Added::Ignored);
        assert_eq!(q.done(&"a", now + ms(7)), Some(ms(7)));
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop(now).map(|(i, _)| i), Some("a"));
        assert_eq!(q.done(&"a", now), Some(Duration::ZERO));
        assert_eq!(q.len(), 0);
        assert_eq!(q.done(&"a", now), None, "done twice is a no-op");
    }

    #[test]
    fn add_after_waits_and_keeps_the_earliest_time() {
        let now = Instant::now();
        let mut q = QueueState::new();
        q.add_after("a", ms(100), now);
        q.add_after("a", ms(50), now);
        q.add_after("a", ms(200), now);
        q.add_after("b", ms(80), now);
        assert_eq!(q.next_ready(), Some(now + ms(50)));
        assert_eq!(q.promote_ready(now + ms(49)), 0);
        assert_eq!(q.promote_ready(now + ms(50)), 1);
        assert_eq!(q.next_ready(), Some(now + ms(80)));
        assert_eq!(q.promote_ready(now + ms(1000)), 1);
        assert_eq!(q.next_ready(), None);
        let order: Vec<_> = std::iter::from_fn(|| q.pop(now).map(|(i, _)| i)).collect();
        assert_eq!(order, ["a", "b"]);
    }

    #[test]
    fn zero_delay_adds_at_once() {
        let now = Instant::now();
        let mut q = QueueState::new();
        assert_eq!(q.add_after("a", Duration::ZERO, now), Added::New);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn queue_duration_is_measured_from_the_first_add() {
        let now = Instant::now();
        let mut q = QueueState::new();
        q.add("a", now);
        q.add("a", now + ms(5));
        assert_eq!(q.depth(), 1);
        let (_, waited) = q.pop(now + ms(30)).expect("a");
        assert_eq!(waited, ms(30));
        assert_eq!(q.depth(), 0);
    }

    #[test]
    fn shut_down_drains_queue_drops_waiting_and_ignores_adds() {
        let now = Instant::now();
        let mut q = QueueState::new();
        q.add("a", now);
        q.add_after("b", ms(10), now);
        q.shut_down();
        assert_eq!(q.add("c", now), Added::Ignored);
        assert_eq!(q.add_after("d", ms(1), now), Added::Ignored);
        assert_eq!(q.promote_ready(now + ms(100)), 0);
        assert_eq!(q.pop(now).map(|(i, _)| i), Some("a"));
        assert_eq!(q.pop(now), None);
        assert!(q.is_shutting_down());
    }

    #[test]
    fn unfinished_sums_and_maxes_processing_time() {
        let now = Instant::now();
        let mut q = QueueState::new();
        q.add("a", now);
        q.add("b", now);
        q.pop(now);
        q.pop(now + ms(10));
        assert_eq!(q.unfinished(now + ms(30)), (ms(50), ms(30)));
    }
}
