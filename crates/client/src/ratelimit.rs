//! Client-side request rate limiting, as client-go's token bucket (`flowcontrol.
//! NewTokenBucketRateLimiter(qps, burst)`) behind `--kube-api-qps` / `--kube-api-burst`: up to
//! `burst` requests go at once, then `qps` per second. Every request through the client (lists,
//! watches, writes) takes one token.
//!
//! [`TokenBucket::reserve`] is pure (time is passed in), like `rate.Limiter.Reserve`: it takes a
//! token now, possibly going into debt, and says how long the caller must wait, so concurrent
//! callers queue up in order without polling.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::ClientError;

/// `--kube-api-qps` and `--kube-api-burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub qps: f32,
    /// Requests allowed at once after a quiet period.
    pub burst: u32,
}

impl RateLimit {
    /// Checks the values as upstream's options validation does; `Ok(None)` means unlimited
    /// (`qps` below zero, as client-go treats a negative QPS).
    pub fn new(qps: f32, burst: u32) -> Result<Option<RateLimit>, ClientError> {
        if qps < 0.0 {
            return Ok(None);
        }
        if !qps.is_finite() || qps == 0.0 {
            return Err(ClientError::InvalidConfig(format!(
                "--kube-api-qps must be positive (negative disables the limit), got {qps}"
            )));
        }
        if burst == 0 {
            return Err(ClientError::InvalidConfig(
                "--kube-api-burst must be at least 1".into(),
            ));
        }
        Ok(Some(RateLimit { qps, burst }))
    }
}

/// Token bucket state: tokens (negative while callers wait) as of `at`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub(crate) fn new(limit: RateLimit, now: Instant) -> Self {
        TokenBucket {
            limit,
            tokens: f64::from(limit.burst),
            at: now,
        }
    }

    /// Takes one token at `now`; returns how long to wait before using it.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        let qps = f64::from(self.limit.qps);
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * qps).min(f64::from(self.limit.burst));
        self.at = now.max(self.at);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / qps)
        }
    }
}

/// A tower layer that delays each request until the shared bucket has a token for it.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    bucket: Arc<Mutex<TokenBucket>>,
}

impl RateLimitLayer {
    pub fn new(limit: RateLimit) -> Self {
        RateLimitLayer {
            bucket: Arc::new(Mutex::new(TokenBucket::new(limit, Instant::now()))),
        }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> RateLimited<S> {
        RateLimited {
            inner,
            bucket: self.bucket.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] makes.
#[derive(Debug, Clone)]
pub struct RateLimited<S> {
    inner: S,
    bucket: Arc<Mutex<TokenBucket>>,
}

impl<S, Req> tower::Service<Req> for RateLimited<S>
where
    S: tower::Service<Req>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let wait = self.bucket.lock().reserve(Instant::now());
        // The inner stack's futures are lazy: nothing is sent before the wait is over.
        let response = self.inner.call(req);
        Box::pin(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            response.await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert_eq!(RateLimit::new(-1.0, 0).expect("valid"), None);
        assert!(RateLimit::new(0.0, 10).is_err());
        assert!(RateLimit::new(5.0, 0).is_err());
        assert_eq!(
            RateLimit::new(50.0, 100).expect("valid"),
            Some(RateLimit {
                qps: 50.0,
                burst: 100
            })
        );
    }

    #[test]
    fn burst_then_qps() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        struct Step {
            at_ms: u64,
            wait_ms: u64,
        }
        // qps 10 (one token per 100ms), burst 3.
        let steps = [
            Step { at_ms: 0, wait_ms: 0 },
            Step { at_ms: 0, wait_ms: 0 },
            Step { at_ms: 0, wait_ms: 0 },
            // Bucket empty: queue behind each other, 100ms apart.
            Step {
                at_ms: 0,
                wait_ms: 100,
            },
            Step {
                at_ms: 0,
                wait_ms: 200,
            },
            // 250ms later the debt is paid and half a token is back: wait 50ms.
            Step {
                at_ms: 250,
                wait_ms: 50,
            },
            // A long quiet period refills to burst, never more.
            Step {
                at_ms: 10_000,
                wait_ms: 0,
            },
            Step {
                at_ms: 10_000,
                wait_ms: 0,
            },
            Step {
                at_ms: 10_000,
                wait_ms: 0,
            },
            Step {
                at_ms: 10_000,
                wait_ms: 100,
            },
        ];
        let mut bucket = TokenBucket::new(RateLimit { qps: 10.0, burst: 3 }, t0);
        for (i, s) in steps.iter().enumerate() {
            let wait = bucket.reserve(t0 + ms(s.at_ms));
            let diff = wait.as_secs_f64() - ms(s.wait_ms).as_secs_f64();
            assert!(
                diff.abs() < 1e-6,
                "step {i}: waited {wait:?}, want {}ms",
                s.wait_ms
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_delays_requests_past_the_burst() {
        use tower::{Service, ServiceExt};
        let layer = RateLimitLayer::new(RateLimit { qps: 2.0, burst: 1 });
        let mut svc = tower::Layer::layer(
            &layer,
            tower::service_fn(|_: ()| async { Ok::<_, std::convert::Infallible>(Instant::now()) }),
        );
        let start = Instant::now();
        let first = svc.ready().await.expect("ready").call(()).await.expect("call");
        let second = svc.ready().await.expect("ready").call(()).await.expect("call");
        assert_eq!(first - start, Duration::ZERO);
        assert_eq!(second - start, Duration::from_millis(500));
    }
}
