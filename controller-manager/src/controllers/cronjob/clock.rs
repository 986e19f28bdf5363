//! The time the CronJob controller runs on, behind a trait so tests drive it: the system
//! clock in production, a [`FakeClock`] that tests set and advance in-process. When a fake
//! clock jumps, the controller re-syncs every CronJob at once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> Timestamp;
    /// Changes whenever the clock is set by hand; None for clocks that only move on their own.
    fn jumps(&self) -> Option<watch::Receiver<Timestamp>> {
        None
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until told otherwise.
#[derive(Debug)]
pub struct FakeClock {
    tx: watch::Sender<Timestamp>,
}

impl FakeClock {
    pub fn new(start: Timestamp) -> Arc<FakeClock> {
        Arc::new(FakeClock {
            tx: watch::channel(start).0,
        })
    }

    pub fn set(&self, t: Timestamp) {
        self.tx.send_replace(t);
    }

    pub fn advance(&self, by: Duration) {
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        let next = self.now().checked_add(by).unwrap_or(Timestamp::MAX);
        self.set(next);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        *self.tx.borrow()
    }

    fn jumps(&self) -> Option<watch::Receiver<Timestamp>> {
        Some(self.tx.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_told() {
        let start = Timestamp::from_second(1_000).expect("ts");
        let clock = FakeClock::new(start);
        let rx = clock.jumps().expect("fake clocks report jumps");
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(61));
        assert_eq!(clock.now(), Timestamp::from_second(1_061).expect("ts"));
        assert!(rx.has_changed().unwrap_or(false));
        assert!(SystemClock.jumps().is_none());
    }
}
