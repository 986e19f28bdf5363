//! Upstream's crash-loop back-off (flowcontrol.Backoff): per key, the delay starts at the
//! initial value and doubles up to the cap; an entry idle for twice the cap starts over.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, (Duration, SystemTime)>,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    fn expired(&self, event: SystemTime, last: SystemTime) -> bool {
        event.duration_since(last).unwrap_or_default() > self.max * 2
    }

    /// Whether `key` is still backing off from an event (a container exit) at `event`;
    /// Some(current delay) if so.
    pub fn in_backoff_since(&self, key: &str, event: SystemTime, now: SystemTime) -> Option<Duration> {
        let (delay, last) = self.entries.get(key)?;
        if self.expired(event, *last) {
            return None;
        }
        let since = now.duration_since(event).unwrap_or_default();
        (since < *delay).then_some(*delay)
    }

    /// Records a restart after an event at `event`: the first one (or after a long quiet)
    /// gets the initial delay, every next one doubles it up to the cap.
    pub fn next(&mut self, key: &str, event: SystemTime) {
        let delay = match self.entries.get(key) {
            Some((d, last)) if !self.expired(event, *last) => (*d * 2).min(self.max),
            _ => self.initial,
        };
        self.entries.insert(key.into(), (delay, event));
    }

    /// When the back-off for an event at `event` ends.
    pub fn ends_at(&self, key: &str, event: SystemTime) -> Option<SystemTime> {
        self.entries.get(key).map(|(d, _)| event + *d)
    }

    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets_after_quiet() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let s = Duration::from_secs;
        let mut b = Backoff::new(s(10), s(300));
        // First crash: no entry, restart at once.
        assert_eq!(b.in_backoff_since("c", t0, t0), None);
        b.next("c", t0);
        // Second crash right after: 10 s.
        let t1 = t0 + s(1);
        assert_eq!(b.in_backoff_since("c", t1, t1 + s(5)), Some(s(10)));
        assert_eq!(b.in_backoff_since("c", t1, t1 + s(10)), None);
        b.next("c", t1);
        let t2 = t1 + s(11);
        assert_eq!(b.in_backoff_since("c", t2, t2), Some(s(20)));
        for _ in 0..10 {
            b.next("c", t2);
        }
        assert_eq!(b.in_backoff_since("c", t2, t2), Some(s(300)));
        // Quiet for more than twice the cap: start over.
        let t3 = t2 + s(601);
        assert_eq!(b.in_backoff_since("c", t3, t3), None);
        b.next("c", t3);
        assert_eq!(b.in_backoff_since("c", t3, t3), Some(s(10)));
    }
}
