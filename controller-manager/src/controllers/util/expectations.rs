//! Upstream `ControllerExpectations` / `UIDTrackingControllerExpectations`: what a controller
//! has asked the API to create or delete and has not yet seen in its informer.
//!
//! A sync that finds expectations unsatisfied does not create or delete again (the cache is
//! stale); it only updates status. Expectations expire after 5 minutes, so a lost watch event
//! cannot block a controller forever.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Upstream `ExpectationsTimeout`.
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Expectation<D> {
    creations: i64,
    deletions: HashSet<D>,
    set_at: Instant,
}

/// Expectations per controller key `K`; deletions are tracked by dependent identity `D` (a pod
/// key or UID), so a delete seen twice is counted once.
#[derive(Debug)]
pub struct Expectations<K, D> {
    inner: Mutex<HashMap<K, Expectation<D>>>,
}

impl<K: Eq + Hash + Clone, D: Eq + Hash + Clone> Default for Expectations<K, D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Eq + Hash + Clone, D: Eq + Hash + Clone> Expectations<K, D> {
    pub fn new() -> Self {
        Expectations {
            inner: Mutex::new(HashMap::new()),
        }
    }

    /// Before issuing `count` creates for `key`.
    pub fn expect_creations(&self, key: &K, count: usize) {
        self.set(key, count, HashSet::new());
    }

    /// Before deleting `dependents` for `key`.
    pub fn expect_deletions(&self, key: &K, dependents: impl IntoIterator<Item = D>) {
        self.set(key, 0, dependents.into_iter().collect());
    }

    fn set(&self, key: &K, creations: usize, deletions: HashSet<D>) {
        self.inner.lock().insert(
            key.clone(),
            Expectation {
                creations: i64::try_from(creations).unwrap_or(i64::MAX),
                deletions,
                set_at: Instant::now(),
            },
        );
    }

    /// The informer saw a create for `key` (or a create failed and will not be seen).
    pub fn creation_observed(&self, key: &K) {
        if let Some(e) = self.inner.lock().get_mut(key) {
            e.creations -= 1;
        }
    }

    /// Lowers the creation expectation by `n` (creates that were skipped or failed).
    pub fn lower_creations(&self, key: &K, n: usize) {
        if let Some(e) = self.inner.lock().get_mut(key) {
            e.creations -= i64::try_from(n).unwrap_or(i64::MAX);
        }
    }

    /// The informer saw `dependent` deleted (or its delete failed).
    pub fn deletion_observed(&self, key: &K, dependent: &D) {
        if let Some(e) = self.inner.lock().get_mut(key) {
            e.deletions.remove(dependent);
        }
    }

    /// Whether a sync may act on the cache: no expectation, all met, or expired.
    pub fn satisfied(&self, key: &K) -> bool {
        match self.inner.lock().get(key) {
            None => true,
            Some(e) => {
                (e.creations <= 0 && e.deletions.is_empty()) || e.set_at.elapsed() > EXPECTATIONS_TIMEOUT
            }
        }
    }

    /// Forget `key` (its controller was deleted).
    pub fn forget(&self, key: &K) {
        self.inner.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_and_deletions_are_counted_down() {
        let e: Expectations<&str, &str> = Expectations::new();
        assert!(e.satisfied(&"rs"));
        e.expect_creations(&"rs", 2);
        assert!(!e.satisfied(&"rs"));
        e.creation_observed(&"rs");
        assert!(!e.satisfied(&"rs"));
        e.creation_observed(&"rs");
        assert!(e.satisfied(&"rs"));

        e.expect_deletions(&"rs", ["p1", "p2"]);
        e.deletion_observed(&"rs", &"p1");
        e.deletion_observed(&"rs", &"p1");
        assert!(!e.satisfied(&"rs"));
        e.deletion_observed(&"rs", &"p2");
        assert!(e.satisfied(&"rs"));

        e.expect_creations(&"rs", 3);
        e.lower_creations(&"rs", 3);
        assert!(e.satisfied(&"rs"));
        e.expect_creations(&"other", 1);
        e.forget(&"other");
        assert!(e.satisfied(&"other"));
    }
}
