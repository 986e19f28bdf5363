//! Counting events dropped on a full queue, with one warning per interval rather than one per
//! event (a burst of thousands would otherwise flood the log).

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// At most one "dropped events" warning per recorder in this interval.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(crate) struct Drops {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Dropped since the last warning.
    unreported: u64,
    last_warning: Option<Instant>,
}

impl Drops {
    /// One event dropped; warns if the interval since the last warning has passed.
    pub(crate) fn dropped(&self, component: &str) {
        if let Some(count) = self.note(Instant::now()) {
            tracing::warn!(
                component,
                dropped = count,
                "event queue full; events dropped since the last report"
            );
        }
    }

    /// Count one drop at `now`; the count to report, if a warning is due.
    fn note(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock();
        state.unreported += 1;
        let due = state
            .last_warning
            .is_none_or(|last| now.saturating_duration_since(last) >= DROP_LOG_INTERVAL);
        if !due {
            return None;
        }
        state.last_warning = Some(now);
        Some(std::mem::take(&mut state.unreported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_report_per_interval_with_the_count_since_the_last() {
        let drops = Drops::default();
        let t0 = Instant::now();
        assert_eq!(drops.note(t0), Some(1), "the first drop is reported at once");
        for i in 1..=500 {
            assert_eq!(drops.note(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(drops.note(t0 + DROP_LOG_INTERVAL), Some(501));
        assert_eq!(drops.note(t0 + DROP_LOG_INTERVAL + Duration::from_secs(1)), None);
        assert_eq!(drops.note(t0 + DROP_LOG_INTERVAL * 2), Some(2));
    }
}
