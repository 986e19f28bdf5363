//! CoreDNS's HTTP endpoints: `/health` (liveness, `health` plugin, :8080), `/ready` (readiness,
//! `ready` plugin, :8181: 200 once the informers have synced) and `/metrics` (:9153).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

use crate::metrics::Metrics;

pub fn health_router() -> Router {
    Router::new().route("/health", get(|| async { "OK" }))
}

pub fn ready_router(ready: Arc<AtomicBool>) -> Router {
    Router::new().route(
        "/ready",
        get(move || {
            let ready = ready.load(Ordering::Acquire);
            async move {
                if ready {
                    (StatusCode::OK, "OK")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "kubernetes")
                }
            }
        }),
    )
}

pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let body = metrics.render();
            async move { body }
        }),
    )
}
