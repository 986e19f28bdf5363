//! client-go's workqueue rate limiters: per-item exponential failure backoff and a token bucket,
//! combined by taking the longer delay (`MaxOfRateLimiter`).

use std::time::Duration;

use tokio::time::Instant;

/// How long an item waits before it is retried by `add_rate_limited`.
///
/// [`RateLimiter::default_controller`] is client-go's `DefaultControllerRateLimiter`: the longer
/// of a per-item exponential backoff (5ms doubling to 1000s) and an overall token bucket
/// (10 per second, burst 100).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    exponential: Option<Exponential>,
    bucket: Option<Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Exponential {
    base: Duration,
    max: Duration,
}

/// golang.org/x/time/rate semantics: starts full, reservations may drive tokens negative and
/// the caller waits until the deficit is refilled.
#[derive(Debug, Clone)]
struct Bucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl RateLimiter {
    /// client-go `DefaultControllerRateLimiter`: max(per-item exponential 5ms..1000s,
    /// bucket 10 qps / 100 burst).
    pub fn default_controller() -> Self {
        Self {
            exponential: Some(Exponential {
                base: Duration::from_millis(5),
                max: Duration::from_secs(1000),
            }),
            bucket: Some(Bucket {
                qps: 10.0,
                burst: 100.0,
                tokens: 100.0,
                last: None,
            }),
        }
    }

    /// client-go `ItemExponentialFailureRateLimiter`: `base * 2^failures`, capped at `max`.
    pub fn exponential(base: Duration, max: Duration) -> Self {
        Self {
            exponential: Some(Exponential { base, max }),
            bucket: None,
        }
    }

    /// The delay for an item that has already failed `failures` times (the caller then counts
    /// one more failure), reserving a bucket token at `now`.
    pub(crate) fn when(&mut self, failures: u32, now: Instant) -> Duration {
        let exponential = self
            .exponential
            .map(|e| exponential_delay(e.base, e.max, failures))
            .unwrap_or_default();
        let bucket = self.bucket.as_mut().map(|b| b.reserve(now)).unwrap_or_default();
        exponential.max(bucket)
    }
}

fn exponential_delay(base: Duration, max: Duration, failures: u32) -> Duration {
    // 2^failures overflows quickly; past the cap the answer is the cap anyway.
    let factor = 2f64.powi(failures.min(1024) as i32);
    let nanos = base.as_nanos() as f64 * factor;
    if !nanos.is_finite() || nanos >= max.as_nanos() as f64 {
        return max;
    }
    Duration::from_nanos(nanos as u64)
}

impl Bucket {
    fn reserve(&mut self, now: Instant) -> Duration {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        }
        self.last = Some(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_from_base_and_caps() {
        let mut limiter = RateLimiter::exponential(Duration::from_millis(5), Duration::from_secs(1));
        let now = Instant::now();
        let delays: Vec<_> = (0..10).map(|f| limiter.when(f, now)).collect();
        let ms: Vec<u128> = delays.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(limiter.when(u32::MAX, now), Duration::from_secs(1));
    }

    #[test]
    fn default_controller_bucket_allows_burst_then_spaces_at_qps() {
        let mut limiter = RateLimiter::default_controller();
        let now = Instant::now();
        // 100 first attempts of different items: only the exponential 5ms.
        for _ in 0..100 {
            assert_eq!(limiter.when(0, now), Duration::from_millis(5));
        }
        // The bucket is empty: the next ones wait 100ms, 200ms, ... (10 per second).
        assert_eq!(limiter.when(0, now), Duration::from_millis(100));
        assert_eq!(limiter.when(0, now), Duration::from_millis(200));
        // A second later 10 tokens came back: the deficit of 2 is paid and 8 are free.
        let later = now + Duration::from_secs(1);
        assert_eq!(limiter.when(0, later), Duration::from_millis(5));
    }
}
