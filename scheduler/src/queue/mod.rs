//! The scheduling queue (upstream `PriorityQueue`): activeQ ordered by priority then arrival,
//! backoffQ with per-pod exponential backoff (1s doubling to 10s), and unschedulable pods that
//! wait for a cluster event that might help them (or 5 minutes). Pure: callers pass `now`.

mod events;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use events::ClusterEvent;

use crate::algorithm::Nominated;
use crate::framework::PodInfo;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods are retried at least this often (upstream `podMaxInUnschedulablePodsDuration`).
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// A pod in the queue with its scheduling history.
#[derive(Debug, Clone)]
pub struct QueuedPod {
    pub info: Arc<PodInfo>,
    /// When it last entered the queue (orders the activeQ, starts backoff).
    pub timestamp: Instant,
    pub initial_attempt: Option<Instant>,
    pub attempts: u32,
    /// Plugins that rejected it last time: only events they care about move it.
    pub unschedulable_plugins: Vec<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Active,
    Backoff,
    Unschedulable,
}

type ActiveKey = (Reverse<i32>, Instant, u64);

#[derive(Debug, Default)]
pub struct SchedulingQueue {
    pods: HashMap<String, (QueuedPod, Where, u64)>,
    active: BTreeSet<(ActiveKey, String)>,
    backoff: BTreeSet<(Instant, u64, String)>,
    /// Keys of pods in unschedulablePods (events scan only these).
    unschedulable: HashSet<String>,
    /// Popped pods whose cycle (incl. binding) has not finished; a pod deleted meanwhile is
    /// dropped from here so that its failure does not bring it back.
    in_flight: HashSet<String>,
    seq: u64,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    nominated: Nominated,
}

/// Upstream `calculateBackoffDuration`: 1s doubled per failed attempt, capped at 10s.
pub fn backoff_duration(attempts: u32) -> Duration {
    let mut d = INITIAL_BACKOFF;
    for _ in 1..attempts {
        d *= 2;
        if d >= MAX_BACKOFF {
            return MAX_BACKOFF;
        }
    }
    d
}

impl SchedulingQueue {
    pub fn new() -> SchedulingQueue {
        SchedulingQueue::default()
    }

    fn backoff_expiry(q: &QueuedPod) -> Instant {
        q.timestamp + backoff_duration(q.attempts)
    }

    fn detach(&mut self, key: &str) -> Option<QueuedPod> {
        let (q, wh, seq) = self.pods.remove(key)?;
        match wh {
            Where::Active => {
                self.active
                    .remove(&((Reverse(q.info.priority), q.timestamp, seq), key.to_string()));
            }
            Where::Backoff => {
                self.backoff
                    .remove(&(Self::backoff_expiry(&q), seq, key.to_string()));
            }
            Where::Unschedulable => {
                self.unschedulable.remove(key);
            }
        }
        Some(q)
    }

    fn attach(&mut self, q: QueuedPod, wh: Where) {
        self.seq += 1;
        let seq = self.seq;
        let key = q.info.key.clone();
        match wh {
            Where::Active => {
                self.active
                    .insert(((Reverse(q.info.priority), q.timestamp, seq), key.clone()));
            }
            Where::Backoff => {
                self.backoff.insert((Self::backoff_expiry(&q), seq, key.clone()));
            }
            Where::Unschedulable => {
                self.unschedulable.insert(key.clone());
            }
        }
        self.pods.insert(key, (q, wh, seq));
    }

    fn track_nomination(&mut self, info: &Arc<PodInfo>) {
        match info.nominated_node_name.as_deref() {
            Some(node) if !node.is_empty() => self.nominated.add(node, info.clone()),
            _ => self.nominated.remove(&info.key),
        }
    }

    /// A new pending pod (or one seen again after a relist): into activeQ unless queued.
    pub fn add(&mut self, info: Arc<PodInfo>, now: Instant) {
        self.track_nomination(&info);
        if self.pods.contains_key(&info.key) {
            self.update(info, now);
            return;
        }
        let q = QueuedPod {
            info,
            timestamp: now,
            initial_attempt: None,
            attempts: 0,
            unschedulable_plugins: Vec::new(),
        };
        self.attach(q, Where::Active);
    }

    /// The pending pod changed. A spec or label change may make it schedulable, so an
    /// unschedulable pod moves on; a status-only change (e.g. our own condition) does not.
    pub fn update(&mut self, info: Arc<PodInfo>, now: Instant) {
        self.track_nomination(&info);
        let Some(wh) = self.pods.get(&info.key).map(|(_, w, _)| *w) else {
            // Being scheduled right now (popped): nothing to update.
            return;
        };
        let Some(mut q) = self.detach(&info.key) else {
            return;
        };
        let changed = q.info.scheduling_differs(&info);
        q.info = info;
        if wh == Where::Unschedulable && changed {
            let target = if Self::backoff_expiry(&q) > now {
                Where::Backoff
            } else {
                Where::Active
            };
            self.attach(q, target);
        } else {
            self.attach(q, wh);
        }
    }

    pub fn delete(&mut self, key: &str) {
        self.detach(key);
        self.in_flight.remove(key);
        self.nominated.remove(key);
    }

    pub fn contains(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// Takes the most important active pod; returns it with its scheduling cycle number.
    pub fn pop(&mut self, now: Instant) -> Option<(QueuedPod, u64)> {
        let (_, key) = self.active.pop_first()?;
        let (mut q, _, _) = self.pods.remove(&key)?;
        q.attempts += 1;
        q.initial_attempt.get_or_insert(now);
        self.in_flight.insert(key);
        self.scheduling_cycle += 1;
        Some((q, self.scheduling_cycle))
    }

    /// The popped pod's cycle ended without requeueing it (bound, or nothing to do).
    pub fn done(&mut self, key: &str) {
        self.in_flight.remove(key);
    }

    pub fn scheduling_cycle(&self) -> u64 {
        self.scheduling_cycle
    }

    /// A pod that failed its cycle. If a move request arrived during its cycle it goes to
    /// backoff (the event may have helped), else it waits in unschedulablePods.
    pub fn add_unschedulable(&mut self, mut q: QueuedPod, pod_cycle: u64, now: Instant) {
        if !self.in_flight.remove(&q.info.key) || self.pods.contains_key(&q.info.key) {
            return;
        }
        q.timestamp = now;
        self.track_nomination(&q.info);
        if self.move_request_cycle >= pod_cycle {
            self.attach(q, Where::Backoff);
        } else {
            self.attach(q, Where::Unschedulable);
        }
    }

    /// A pod whose cycle hit an error (API failure, binding failure): retry after backoff.
    pub fn add_backoff(&mut self, mut q: QueuedPod, now: Instant) {
        if !self.in_flight.remove(&q.info.key) || self.pods.contains_key(&q.info.key) {
            return;
        }
        q.timestamp = now;
        self.attach(q, Where::Backoff);
    }

    /// A cluster event: unschedulable pods rejected by a plugin that cares move to backoffQ
    /// (or activeQ when their backoff is over).
    pub fn move_on_event(&mut self, event: ClusterEvent, now: Instant) {
        let keys: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.pods
                    .get(*k)
                    .is_some_and(|(q, _, _)| event.may_help(&q.unschedulable_plugins))
            })
            .cloned()
            .collect();
        for k in keys {
            if let Some(q) = self.detach(&k) {
                let target = if Self::backoff_expiry(&q) > now {
                    Where::Backoff
                } else {
                    Where::Active
                };
                self.attach(q, target);
            }
        }
        self.move_request_cycle = self.scheduling_cycle;
    }

    /// Periodic housekeeping: finished backoffs to activeQ, and pods unschedulable for more
    /// than 5 minutes retried.
    pub fn flush(&mut self, now: Instant) {
        while let Some((expiry, _, _)) = self.backoff.first() {
            if *expiry > now {
                break;
            }
            let Some((_, _, key)) = self.backoff.pop_first() else {
                break;
            };
            if let Some((q, _, _)) = self.pods.remove(&key) {
                self.attach(q, Where::Active);
            }
        }
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.pods
                    .get(*k)
                    .is_some_and(|(q, _, _)| now.duration_since(q.timestamp) > MAX_IN_UNSCHEDULABLE)
            })
            .cloned()
            .collect();
        for k in stale {
            if let Some(q) = self.detach(&k) {
                let target = if Self::backoff_expiry(&q) > now {
                    Where::Backoff
                } else {
                    Where::Active
                };
                self.attach(q, target);
            }
        }
    }

    /// When the next backoff ends (to sleep until then).
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff.first().map(|(e, _, _)| *e)
    }

    /// (active, backoff, unschedulable) counts for `scheduler_pending_pods`.
    pub fn pending(&self) -> (usize, usize, usize) {
        (self.active.len(), self.backoff.len(), self.unschedulable.len())
    }

    pub fn nominated(&self) -> &Nominated {
        &self.nominated
    }

    /// Records a nomination made by preemption before the API write lands.
    pub fn nominate(&mut self, info: Arc<PodInfo>, node: &str) {
        self.nominated.add(node, info);
    }

    pub fn clear_nomination(&mut self, key: &str) {
        self.nominated.remove(key);
    }
}
