//! Which recorded events are repeats: a bounded map from what makes events "the same" to the
//! Event object written for them, forgetting entries unseen for 10 minutes (the window upstream's
//! correlator aggregates over). Pure, so it is tested without tokio or an apiserver.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// Upstream `maxLruCacheEntries`.
pub(crate) const MAX_ENTRIES: usize = 4096;
/// Repeats within this window update the existing Event.
pub(crate) const WINDOW: Duration = Duration::from_secs(600);

/// What makes two events the same (upstream `getEventKey`: source, object, type, reason,
/// message; plus action for events.k8s.io/v1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct EventKey {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) type_: &'static str,
    pub(crate) reason: String,
    pub(crate) action: String,
    pub(crate) message: String,
}

/// The Event object written for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// Occurrences so far, this one included.
    pub(crate) count: i32,
}

#[derive(Debug)]
struct Entry {
    written: Written,
    last_seen: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct EventCache {
    entries: HashMap<EventKey, Entry>,
}

impl EventCache {
    /// A repeat of a recent event: its object with the count incremented. `None` for a new one
    /// (the caller creates an Event and then calls [`EventCache::created`]).
    pub(crate) fn repeat(&mut self, key: &EventKey, now: Instant) -> Option<Written> {
        let entry = self.entries.get_mut(key)?;
        if now.saturating_duration_since(entry.last_seen) > WINDOW {
            self.entries.remove(key);
            return None;
        }
        entry.last_seen = now;
        entry.written.count = entry.written.count.saturating_add(1);
        Some(entry.written.clone())
    }

    /// Remember the Event just created for `key` (count 1).
    pub(crate) fn created(&mut self, key: EventKey, namespace: String, name: String, now: Instant) {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&key) {
            self.evict(now);
        }
        let written = Written {
            namespace,
            name,
            count: 1,
        };
        self.entries.insert(
            key,
            Entry {
                written,
                last_seen: now,
            },
        );
    }

    /// The Event for `key` is gone (or could not be written): the next one starts afresh.
    pub(crate) fn forget(&mut self, key: &EventKey) {
        self.entries.remove(key);
    }

    /// Make room: drop expired entries, or else the least recently seen one.
    fn evict(&mut self, now: Instant) {
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last_seen) <= WINDOW);
        if self.entries.len() < MAX_ENTRIES {
            return;
        }
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.last_seen)
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            self.entries.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(message: &str) -> EventKey {
        EventKey {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "default".into(),
            name: "p".into(),
            uid: "u".into(),
            type_: "Normal",
            reason: "Scheduled".into(),
            action: "Binding".into(),
            message: message.into(),
        }
    }

    #[test]
    fn repeats_count_up_within_the_window() {
        let now = Instant::now();
        let mut cache = EventCache::default();
        assert_eq!(cache.repeat(&key("m"), now), None);
        cache.created(key("m"), "default".into(), "p.1".into(), now);
        let second = cache
            .repeat(&key("m"), now + Duration::from_secs(1))
            .expect("repeat");
        assert_eq!((second.name.as_str(), second.count), ("p.1", 2));
        let third = cache
            .repeat(&key("m"), now + Duration::from_secs(500))
            .expect("repeat");
        assert_eq!(third.count, 3);
        // The window slides with each repeat.
        let fourth = cache
            .repeat(&key("m"), now + Duration::from_secs(1000))
            .expect("repeat");
        assert_eq!(fourth.count, 4);
        // A different message is a different event.
        assert_eq!(cache.repeat(&key("other"), now), None);
    }

    #[test]
    fn an_event_unseen_for_ten_minutes_starts_afresh() {
        let now = Instant::now();
        let mut cache = EventCache::default();
        cache.created(key("m"), "default".into(), "p.1".into(), now);
        assert_eq!(
            cache.repeat(&key("m"), now + WINDOW + Duration::from_secs(1)),
            None
        );
        assert_eq!(
            cache.repeat(&key("m"), now + WINDOW + Duration::from_secs(2)),
            None
        );
    }

    #[test]
    fn forget_and_bounded_size() {
        let now = Instant::now();
        let mut cache = EventCache::default();
        cache.created(key("m"), "default".into(), "p.1".into(), now);
        cache.forget(&key("m"));
        assert_eq!(cache.repeat(&key("m"), now), None);
        for i in 0..MAX_ENTRIES + 10 {
            let at = now + Duration::from_millis(i as u64);
            cache.created(key(&i.to_string()), "default".into(), format!("p.{i}"), at);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        // The least recently seen went first; the newest is there.
        assert_eq!(cache.repeat(&key("0"), now + Duration::from_secs(1)), None);
        let newest = (MAX_ENTRIES + 9).to_string();
        assert!(
            cache
                .repeat(&key(&newest), now + Duration::from_secs(1))
                .is_some()
        );
    }
}
