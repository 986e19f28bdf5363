//! Wiring: the index builder, the DNS listeners and the HTTP endpoints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rudder_client::InformerFactory;
use rudder_component::shutdown::Shutdown;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

use crate::handler::{Handler, SharedIndex};
use crate::options::Config;
use crate::{http, listeners, metrics, watch};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("connecting to the apiserver: {0}")]
    Connect(#[from] rudder_client::ClientError),
    #[error("binding {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("registering metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// A started server: where it listens, and its tasks.
#[derive(Debug)]
pub struct Running {
    /// DNS, UDP and TCP.
    pub dns: SocketAddr,
    pub health: SocketAddr,
    pub ready: SocketAddr,
    pub metrics: SocketAddr,
    tasks: JoinSet<()>,
}

impl Running {
    /// Wait until every task has ended (after shutdown).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Run until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), RunError> {
    start(config, shutdown).await?.wait().await;
    Ok(())
}

/// Attempts at an ephemeral port free for both UDP and TCP before giving up.
const EPHEMERAL_PAIR_ATTEMPTS: usize = 16;

/// The DNS port, on UDP and TCP. Port 0 picks a UDP port and TCP takes the same one; that TCP
/// port may already be someone else's, so the pair is picked again (a fixed port fails at once).
async fn bind_dns(listen: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), RunError> {
    let bind_err = |what, addr| move |source| RunError::Bind { what, addr, source };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = UdpSocket::bind(listen)
            .await
            .map_err(bind_err("DNS/UDP", listen))?;
        let dns = udp.local_addr().map_err(bind_err("DNS/UDP", listen))?;
        match TcpListener::bind(dns).await {
            Ok(tcp) => return Ok((udp, tcp, dns)),
            Err(e)
                if listen.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempt < EPHEMERAL_PAIR_ATTEMPTS => {}
            Err(e) => return Err(bind_err("DNS/TCP", dns)(e)),
        }
    }
}

/// Bind everything, start serving, and return the bound addresses.
pub async fn start(config: Config, shutdown: Shutdown) -> Result<Running, RunError> {
    let client = rudder_client::connect(config.kubeconfig.as_deref()).await?;
    let bind_err = |what, addr| move |source| RunError::Bind { what, addr, source };

    let (udp, tcp, dns) = bind_dns(config.listen).await?;
    let ip = config.listen.ip();
    let http_listener = |port: u16, what: &'static str| async move {
        let addr = SocketAddr::new(ip, port);
        TcpListener::bind(addr).await.map_err(bind_err(what, addr))
    };
    let health_l = http_listener(config.health_port, "health").await?;
    let ready_l = http_listener(config.ready_port, "ready").await?;
    let metrics_l = http_listener(config.metrics_port, "metrics").await?;
    let local = |l: &TcpListener, what| l.local_addr().map_err(bind_err(what, dns));
    let (health, ready_addr, metrics_addr) = (
        local(&health_l, "health")?,
        local(&ready_l, "ready")?,
        local(&metrics_l, "metrics")?,
    );

    let metrics = metrics::Metrics::new()?;
    let index = SharedIndex::default();
    let ready = Arc::new(AtomicBool::new(false));
    let handler = Arc::new(Handler {
        index: index.clone(),
        zone: config.cluster_domain.clone(),
        ttl: config.ttl,
        upstreams: config.upstreams.clone(),
        metrics: metrics.clone(),
        server: format!("dns://{}", config.listen),
    });

    let mut tasks = JoinSet::new();
    let factory = InformerFactory::new(client);
    tasks.spawn(watch::keep_index(factory, index, ready.clone(), shutdown.clone()));
    tasks.spawn(listeners::serve_udp(
        Arc::new(udp),
        handler.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(listeners::serve_tcp(tcp, handler, shutdown.clone()));
    for (listener, router, what) in [
        (health_l, http::health_router(), "health"),
        (ready_l, http::ready_router(ready), "ready"),
        (metrics_l, http::metrics_router(metrics), "metrics"),
    ] {
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            if let Err(error) = rudder_component::serve::serve_plain(listener, router, shutdown).await {
                tracing::error!(%error, endpoint = what, "HTTP endpoint failed");
            }
        });
    }
    tracing::info!(%dns, zone = %config.cluster_domain, upstreams = ?config.upstreams, "cluster DNS serving");
    Ok(Running {
        dns,
        health,
        ready: ready_addr,
        metrics: metrics_addr,
        tasks,
    })
}
