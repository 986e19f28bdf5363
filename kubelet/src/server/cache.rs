//! A small bounded cache whose entries expire, for TokenReview and SubjectAccessReview answers
//! (upstream's `token/cache` and the webhook authorizer's cache). Time is tokio's, so tests can
//! pause it.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Upstream's token cache holds 32768 entries (in stripes); a bound keeps a flood of distinct
/// bad tokens from growing memory without limit.
pub(crate) const DEFAULT_CAPACITY: usize = 32 * 1024;

pub(crate) struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    capacity: usize,
}

impl<K, V> std::fmt::Debug for TtlCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtlCache")
            .field("len", &self.entries.lock().len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The value for `key` if it has not expired yet.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let mut entries = self.entries.lock();
        match entries.get(key) {
            Some((value, expires)) if *expires > Instant::now() => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` for `ttl` (a zero TTL keeps nothing, as upstream's disabled cache).
    pub(crate) fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (_, expires)| *expires > now);
            if entries.len() >= self.capacity {
                // Still full of live entries: forget them all rather than scan for the oldest;
                // the next requests ask again.
                entries.clear();
            }
        }
        entries.insert(key, (value, now + ttl));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_their_ttl() {
        let cache = TtlCache::new(8);
        cache.insert("allowed", true, Duration::from_secs(300));
        cache.insert("denied", false, Duration::from_secs(30));
        cache.insert("never", true, Duration::ZERO);
        assert_eq!(cache.get(&"allowed"), Some(true));
        assert_eq!(cache.get(&"denied"), Some(false));
        assert_eq!(cache.get(&"never"), None);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(cache.get(&"denied"), None);
        assert_eq!(cache.get(&"allowed"), Some(true));
        tokio::time::advance(Duration::from_secs(270)).await;
        assert_eq!(cache.get(&"allowed"), None);
        assert_eq!(cache.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_cache_drops_expired_entries_first_and_stays_bounded() {
        let cache = TtlCache::new(2);
        cache.insert(1, (), Duration::from_secs(1));
        cache.insert(2, (), Duration::from_secs(100));
        tokio::time::advance(Duration::from_secs(2)).await;
        cache.insert(3, (), Duration::from_secs(100));
        assert_eq!((cache.get(&2), cache.get(&3)), (Some(()), Some(())));
        cache.insert(4, (), Duration::from_secs(100));
        assert!(cache.len() <= 2);
        assert_eq!(cache.get(&4), Some(()));
        // Replacing a key that is there never evicts.
        cache.insert(4, (), Duration::from_secs(5));
        assert_eq!(cache.get(&4), Some(()));
    }
}
