//! Upstream's ProxyHealthServer state: healthy while no queued update has waited longer than
//! the timeout (2 × `--iptables-sync-period`), and the node is not being deleted.

use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

/// The taint the cluster autoscaler puts on nodes it is about to delete.
pub const TO_BE_DELETED_TAINT: &str = "ToBeDeletedByClusterAutoscaler";

#[derive(Debug)]
pub struct ProxyHealth {
    timeout: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    last_updated: Option<SystemTime>,
    oldest_pending: Option<SystemTime>,
    node_eligible: bool,
}

/// One `/healthz` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthReport {
    pub healthy: bool,
    pub body: String,
}

impl ProxyHealth {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            inner: Mutex::new(Inner {
                last_updated: None,
                oldest_pending: None,
                node_eligible: true,
            }),
        }
    }

    /// A change is waiting for a sync (keeps the oldest such time).
    pub fn queued(&self, now: SystemTime) {
        let mut i = self.inner.lock();
        i.oldest_pending.get_or_insert(now);
    }

    /// A sync applied everything queued before it started.
    pub fn updated(&self, now: SystemTime) {
        let mut i = self.inner.lock();
        i.last_updated = Some(now);
        i.oldest_pending = None;
    }

    pub fn set_node_eligible(&self, eligible: bool) {
        self.inner.lock().node_eligible = eligible;
    }

    /// Upstream's healthz handler: `{"lastUpdated": ..,"currentTime": .., "nodeEligible": ..}`.
    pub fn report(&self, now: SystemTime) -> HealthReport {
        let i = self.inner.lock();
        let stale = i
            .oldest_pending
            .is_some_and(|t| now.duration_since(t).unwrap_or_default() >= self.timeout);
        let healthy = !stale && i.node_eligible;
        // Upstream reports "now" as lastUpdated when healthy (compatibility with old releases).
        let last = if healthy { Some(now) } else { i.last_updated };
        let body = format!(
            "{{\"lastUpdated\": {:?},\"currentTime\": {:?}, \"nodeEligible\": {}}}",
            go_time(last),
            go_time(Some(now)),
            i.node_eligible
        );
        HealthReport { healthy, body }
    }
}

/// Go's `time.Time.String()` in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`; the zero time
/// for `None`.
fn go_time(t: Option<SystemTime>) -> String {
    let Some(t) = t else {
        return "0001-01-01 00:00:00 +0000 UTC".to_string();
    };
    let dt = time::OffsetDateTime::from(t);
    let mut frac = format!("{:09}", dt.nanosecond());
    while frac.ends_with('0') {
        frac.pop();
    }
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{frac} +0000 UTC",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_after_timeout_and_ineligible_node() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = ProxyHealth::new(Duration::from_secs(60));
        let r = h.report(t0);
        assert!(r.healthy, "healthy while starting up");
        assert_eq!(
            r.body,
            r#"{"lastUpdated": "2023-11-14 22:13:20 +0000 UTC","currentTime": "2023-11-14 22:13:20 +0000 UTC", "nodeEligible": true}"#
        );
        h.queued(t0);
        assert!(h.report(t0 + Duration::from_secs(59)).healthy);
        let stale = h.report(t0 + Duration::from_secs(61));
        assert!(!stale.healthy);
        assert!(
            stale
                .body
                .starts_with(r#"{"lastUpdated": "0001-01-01 00:00:00 +0000 UTC""#),
            "{}",
            stale.body
        );
        h.updated(t0 + Duration::from_millis(61_500));
        assert!(h.report(t0 + Duration::from_secs(62)).healthy);
        h.set_node_eligible(false);
        let r = h.report(t0 + Duration::from_secs(62));
        assert!(!r.healthy);
        assert!(
            r.body
                .contains("\"lastUpdated\": \"2023-11-14 22:14:21.5 +0000 UTC\""),
            "{}",
            r.body
        );
        assert!(r.body.ends_with("\"nodeEligible\": false}"));
    }
}
