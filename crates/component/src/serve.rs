//! Serving an axum router over TLS or plain TCP: accept loop, TLS handshake with a timeout,
//! HTTP/1.1 (with upgrades, for exec/attach/port-forward) and HTTP/2 through hyper-util's `auto`
//! builder, and graceful shutdown with a bound.
//!
//! Every request carries a [`PeerIdentity`] and an `axum::extract::ConnectInfo<SocketAddr>` in its
//! extensions.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use rustls::pki_types::CertificateDer;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::shutdown::Shutdown;
use crate::tls::{ClientCa, ClientCertError, x509_identity};

/// How long a client gets to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish after shutdown before they are dropped.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Upstream `ReadHeaderTimeout`.
const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(32);
/// Upstream `defaultKeepAlivePeriod`.
const TCP_KEEPALIVE: Duration = Duration::from_secs(180);
/// Upstream's HTTP/2 sizing (`secure_serving.go`): 100 streams, 256 KiB frames and stream windows.
const H2_MAX_STREAMS: u32 = 100;
const H2_BUFFER: u32 = 256 * 1024;

/// Who is on the other end of a connection; in every request's extensions.
#[derive(Clone, Debug)]
pub struct PeerIdentity {
    /// The client's address.
    pub remote_addr: SocketAddr,
    /// The certificate chain the client presented, leaf first; empty without one (and always on
    /// plain HTTP). Like Go's `req.TLS.PeerCertificates` under `tls.RequestClientCert`, the
    /// handshake proved the client holds the leaf's key but did **not** check that the chain is
    /// trusted: use [`PeerIdentity::verified_user`] (or [`ClientCa::verify`]) before believing it.
    pub peer_certificates: Arc<[CertificateDer<'static>]>,
}

impl Default for PeerIdentity {
    /// An anonymous peer at `0.0.0.0:0`, for requests that did not come through [`serve`].
    fn default() -> Self {
        Self::anonymous(SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

impl PeerIdentity {
    /// A peer that presented no certificate.
    pub fn anonymous(remote_addr: SocketAddr) -> Self {
        Self {
            remote_addr,
            peer_certificates: Arc::from(Vec::new()),
        }
    }

    /// The user (CN) and groups (O) of the client certificate, verified against `ca` now, as
    /// upstream's x509 authenticator: `Ok(None)` without a certificate or with an empty CN,
    /// `Err` if the chain does not verify.
    pub fn verified_user(&self, ca: &ClientCa) -> Result<Option<(String, Vec<String>)>, ClientCertError> {
        let Some(leaf) = self.peer_certificates.first() else {
            return Ok(None);
        };
        ca.verify(&self.peer_certificates)?;
        Ok(x509_identity(leaf))
    }
}

/// Serve `app` over TLS on `listener` until `shutdown` fires; then stop accepting, ask open
/// connections to finish (HTTP/2 GOAWAY, HTTP/1 close after the current response), wait up to
/// [`DRAIN_TIMEOUT`] and return. Upgraded connections (exec, port-forward) live in tasks of their
/// own and are not waited for.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let builder = Arc::new(http_builder());
    tracing::info!(address = %listener.local_addr()?, "serving securely");
    accept_loop(listener, shutdown.clone(), move |stream, remote_addr| {
        let (acceptor, builder, app, shutdown) =
            (acceptor.clone(), builder.clone(), app.clone(), shutdown.clone());
        async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            let stream = tokio::select! {
                result = handshake => match result {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(%remote_addr, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote_addr, "TLS handshake timed out");
                        return;
                    }
                },
                _ = shutdown.wait() => return,
            };
            let certs: Vec<CertificateDer<'static>> = stream
                .get_ref()
                .1
                .peer_certificates()
                .map(|chain| chain.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default();
            let peer = PeerIdentity {
                remote_addr,
                peer_certificates: Arc::from(certs),
            };
            serve_connection(TokioIo::new(stream), peer, &builder, app, shutdown).await;
        }
    })
    .await;
    Ok(())
}

/// [`serve`] without TLS, for the admin and health ports of the other components. Requests carry
/// a [`PeerIdentity`] without certificates.
pub async fn serve_plain(listener: TcpListener, app: Router, shutdown: Shutdown) -> anyhow::Result<()> {
    let builder = Arc::new(http_builder());
    tracing::info!(address = %listener.local_addr()?, "serving plain HTTP");
    accept_loop(listener, shutdown.clone(), move |stream, remote_addr| {
        let (builder, app, shutdown) = (builder.clone(), app.clone(), shutdown.clone());
        async move {
            let peer = PeerIdentity::anonymous(remote_addr);
            serve_connection(TokioIo::new(stream), peer, &builder, app, shutdown).await;
        }
    })
    .await;
    Ok(())
}

fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_HEADER_TIMEOUT)
        .max_buf_size(1 << 20);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_frame_size(H2_BUFFER)
        .initial_stream_window_size(H2_BUFFER)
        .initial_connection_window_size(H2_BUFFER * H2_MAX_STREAMS)
        .max_header_list_size(1 << 20)
        // Bounds what a slow reader (a watch that does not keep up) can pin in memory.
        .max_send_buf_size(64 * 1024);
    builder
}

/// Accept until shutdown, one task per connection, then drain with a bound.
async fn accept_loop<F, Fut>(listener: TcpListener, shutdown: Shutdown, handle: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait() => break,
            Some(joined) = connections.join_next(), if !connections.is_empty() => log_join(joined),
            accepted = listener.accept() => match accepted {
                Ok((stream, remote_addr)) => {
                    configure_socket(&stream);
                    connections.spawn(handle(stream, remote_addr));
                }
                Err(error) if is_per_connection(&error) => {
                    tracing::debug!(%error, "accept failed for one connection");
                }
                Err(error) => {
                    // EMFILE and friends: back off instead of spinning, as Go's http.Server does.
                    tracing::warn!(%error, "accept failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                        _ = shutdown.wait() => break,
                    }
                }
            },
        }
    }
    drop(listener);
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "waiting for open connections to finish");
    }
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(joined) = connections.join_next().await {
            log_join(joined);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "connections still open after {DRAIN_TIMEOUT:?}; dropping them"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection<I>(
    io: I,
    peer: PeerIdentity,
    builder: &auto::Builder<TokioExecutor>,
    app: Router,
    shutdown: Shutdown,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let remote_addr = peer.remote_addr;
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(peer.clone());
        request.extensions_mut().insert(ConnectInfo(peer.remote_addr));
        app.clone().oneshot(request)
    });
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.wait() => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%remote_addr, %error, "connection ended with an error");
    }
}

fn configure_socket(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
    if let Err(error) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%error, "setting TCP keep-alive failed");
    }
}

fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        tracing::error!(%error, "connection task panicked");
    }
}
