//! The component's own HTTPS endpoint: `/healthz`, `/livez`, `/readyz` (each `ok`) and
//! `/metrics` (the prometheus default registry in text format), on `--bind-address` and
//! `--secure-port`.
//!
//! Like upstream components started without `--tls-cert-file`, it serves a self-signed
//! certificate made at start-up and kept in memory: a fresh CA (`localhost-ca@<unix time>`) and a
//! serving certificate (`localhost@<unix time>`) for `localhost`, `127.0.0.1` and the bind
//! address. Unlike upstream, requests are not authenticated or authorised (upstream delegates
//! that to the apiserver; `/healthz` & co are always allowed there anyway).

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use rudder_component::Shutdown;
use rudder_component::certs::{CertificateAuthority, sign_serving_cert};
use tokio::net::TcpListener;

use crate::ClientError;

/// `--bind-address` and `--secure-port`, as kube-scheduler and kube-controller-manager have.
#[derive(Clone, Debug, clap::Args)]
pub struct ServingFlags {
    /// The IP address on which to listen for the --secure-port port. The associated interface(s)
    /// must be reachable by the rest of the cluster, and by CLI/web clients.
    #[arg(long = "bind-address", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,

    /// The port on which to serve HTTPS with authentication and authorization. If 0, don't serve
    /// HTTPS at all. Defaults to the component's port (10259 for kube-scheduler, 10257 for
    /// kube-controller-manager).
    #[arg(long = "secure-port")]
    pub secure_port: Option<u16>,
}

/// Serve `/healthz`, `/livez`, `/readyz` and `/metrics` over HTTPS on `--bind-address` and
/// `--secure-port` (or `default_port`) until `shutdown`. Returns the bound address once
/// listening, or `None` with `--secure-port=0`.
pub async fn serve(
    flags: &ServingFlags,
    default_port: u16,
    shutdown: Shutdown,
) -> Result<Option<SocketAddr>, ClientError> {
    let port = flags.secure_port.unwrap_or(default_port);
    if port == 0 {
        tracing::info!("--secure-port=0: not serving health and metrics endpoints");
        return Ok(None);
    }
    let addr = SocketAddr::new(flags.bind_address, port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| failed("bind")(format!("{addr}: {e}")))?;
    serve_on(listener, shutdown).await.map(Some)
}

/// [`serve`] on a listener the caller bound (tests bind `127.0.0.1:0`).
pub async fn serve_on(listener: TcpListener, shutdown: Shutdown) -> Result<SocketAddr, ClientError> {
    let local = listener.local_addr().map_err(failed("listener"))?;
    let tls = self_signed(local.ip())?;
    tokio::spawn(async move {
        if let Err(error) = rudder_component::serve::serve(listener, tls, router(), shutdown).await {
            tracing::error!(%error, "health and metrics server failed");
        }
    });
    Ok(local)
}

/// The routes, also for components that mount them elsewhere.
pub fn router() -> Router {
    Router::new()
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .route("/metrics", get(metrics))
}

async fn ok() -> &'static str {
    "ok"
}

async fn metrics() -> impl IntoResponse {
    use prometheus::Encoder;
    let encoder = prometheus::TextEncoder::new();
    let mut body = Vec::new();
    if let Err(error) = encoder.encode(&prometheus::gather(), &mut body) {
        tracing::warn!(%error, "encoding metrics failed");
    }
    ([(CONTENT_TYPE, encoder.format_type().to_string())], body)
}

fn self_signed(bind: IpAddr) -> Result<std::sync::Arc<rustls::ServerConfig>, ClientError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ca =
        CertificateAuthority::generate(&format!("localhost-ca@{now}")).map_err(failed("self-signed CA"))?;
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !bind.is_unspecified() && !bind.is_loopback() {
        hosts.push(bind.to_string());
    }
    let (cert_pem, key_pem) = sign_serving_cert(&ca, &format!("localhost@{now}"), &hosts)
        .map_err(failed("self-signed certificate"))?;
    rudder_component::tls::server_config_from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), None)
        .map_err(failed("TLS configuration"))
}

fn failed<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> ClientError {
    move |e| ClientError::Serve {
        what,
        reason: e.to_string(),
    }
}
