//! The rest of upstream's core/v1 `EventCorrelator` (`tools/record/events_cache.go`), pure:
//! - the aggregator: once an object has 10 events of one type and reason with different
//!   messages within 10 minutes, further ones are folded into a single
//!   "(combined from similar events): <message>" Event;
//! - the spam filter: at most 25 Events per object at once, then one per 5 minutes (token
//!   bucket); the rest are dropped.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use super::cache::{MAX_ENTRIES, WINDOW};

/// Upstream `defaultAggregateMaxEvents`.
const AGGREGATE_MAX_EVENTS: usize = 10;
/// Upstream `defaultSpamBurst` and `defaultSpamQPS` (1/300).
const SPAM_BURST: f64 = 25.0;
const SPAM_QPS: f64 = 1.0 / 300.0;

/// The prefix upstream's aggregator gives combined messages.
pub(crate) const COMBINED_PREFIX: &str = "(combined from similar events): ";

/// An object's identity plus type and reason: what the aggregator groups by.
pub(crate) type AggregateKey = (String, &'static str, String);

#[derive(Debug)]
struct Record {
    messages: HashSet<String>,
    last: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Aggregator {
    records: HashMap<AggregateKey, Record>,
}

impl Aggregator {
    /// Whether this event is to be folded into the combined Event of its group.
    pub(crate) fn combine(&mut self, key: AggregateKey, message: &str, now: Instant) -> bool {
        if self.records.len() >= MAX_ENTRIES && !self.records.contains_key(&key) {
            self.records
                .retain(|_, r| now.saturating_duration_since(r.last) <= WINDOW);
            if self.records.len() >= MAX_ENTRIES {
                return false;
            }
        }
        let record = self.records.entry(key).or_insert_with(|| Record {
            messages: HashSet::new(),
            last: now,
        });
        if now.saturating_duration_since(record.last) > WINDOW {
            record.messages.clear();
        }
        record.last = now;
        record.messages.insert(message.to_string());
        if record.messages.len() < AGGREGATE_MAX_EVENTS {
            return false;
        }
        // Keep the set from growing past the threshold (upstream pops one).
        if let Some(any) = record.messages.iter().next().cloned() {
            record.messages.remove(&any);
        }
        true
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct SpamFilter {
    buckets: HashMap<String, Bucket>,
}

impl SpamFilter {
    /// Whether an Event about `object` may be written now (takes a token if so).
    pub(crate) fn allow(&mut self, object: &str, now: Instant) -> bool {
        if self.buckets.len() >= MAX_ENTRIES && !self.buckets.contains_key(object) {
            // Full buckets carry no state worth keeping.
            let full_after = Duration::from_secs_f64(SPAM_BURST / SPAM_QPS);
            self.buckets
                .retain(|_, b| now.saturating_duration_since(b.last) < full_after);
            if self.buckets.len() >= MAX_ENTRIES {
                self.buckets.clear();
            }
        }
        let bucket = self.buckets.entry(object.to_string()).or_insert(Bucket {
            tokens: SPAM_BURST,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * SPAM_QPS).min(SPAM_BURST);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AggregateKey {
        ("v1/Pod/ns/p/uid".into(), "Warning", "Failed".into())
    }

    #[test]
    fn tenth_distinct_message_within_the_window_is_combined() {
        let now = Instant::now();
        let mut agg = Aggregator::default();
        for i in 0..9 {
            assert!(!agg.combine(key(), &format!("m{i}"), now), "message {i}");
        }
        // Repeating a message already seen does not count as a new one.
        assert!(!agg.combine(key(), "m0", now));
        assert!(agg.combine(key(), "m9", now));
        assert!(agg.combine(key(), "m10", now), "stays combined");
        // Another reason is another group.
        assert!(!agg.combine(("v1/Pod/ns/p/uid".into(), "Warning", "Other".into()), "x", now));
        // After ten quiet minutes the group starts over.
        let later = now + WINDOW + Duration::from_secs(1);
        assert!(!agg.combine(key(), "m11", later));
    }

    #[test]
    fn spam_filter_allows_a_burst_of_25_then_one_per_five_minutes() {
        let now = Instant::now();
        let mut spam = SpamFilter::default();
        for i in 0..25 {
            assert!(spam.allow("obj", now), "event {i}");
        }
        assert!(!spam.allow("obj", now));
        assert!(spam.allow("other", now), "per object");
        assert!(!spam.allow("obj", now + Duration::from_secs(299)));
        assert!(spam.allow("obj", now + Duration::from_secs(300)));
        assert!(!spam.allow("obj", now + Duration::from_secs(301)));
    }
}
