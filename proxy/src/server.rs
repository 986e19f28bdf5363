//! Plain-HTTP `/healthz` (upstream's JSON, 503 when stale) and `/metrics`.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};

use crate::health::ProxyHealth;
use crate::metrics::Metrics;

#[derive(Clone, Debug)]
struct HealthState {
    health: Arc<ProxyHealth>,
    metrics: Metrics,
}

/// `/healthz` and `/livez` on `--healthz-bind-address`.
pub fn healthz_router(health: Arc<ProxyHealth>, metrics: Metrics) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .with_state(HealthState { health, metrics })
}

async fn healthz(State(s): State<HealthState>) -> impl IntoResponse {
    let report = s.health.report(SystemTime::now());
    let code = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    s.metrics.healthz.with_label_values(&[code.as_str()]).inc();
    (
        code,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        report.body,
    )
}

/// `/metrics` (our registry plus the process-wide default one) and `/healthz` on
/// `--metrics-bind-address`, as upstream's metrics server has.
pub fn metrics_router(registry: Registry) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(registry)
}

async fn metrics(State(registry): State<Registry>) -> impl IntoResponse {
    let mut families = registry.gather();
    families.extend(prometheus::default_registry().gather());
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&families, &mut buf) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            buf,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
