//! Wiring: informers → change notifications → sync loop; health and metrics servers.

use std::sync::Arc;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use rudder_client::{Informer, InformerFactory, Subscription};
use rudder_component::Shutdown;
use rudder_component::serve::serve_plain;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::backend::{Backend, ProxyMode};
use crate::config::Config;
use crate::health::{ProxyHealth, TO_BE_DELETED_TAINT};
use crate::iptables::{IptablesBackend, RenderOptions};
use crate::metrics::Metrics;
use crate::model::NodeContext;
use crate::nftables::NftablesBackend;
use crate::server::{healthz_router, metrics_router};
use crate::sync::{Proxier, SyncTiming, run_loop};

/// Run kube-proxy until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let client = rudder_client::connect(config.kubeconfig.as_deref()).await?;
    let registry = prometheus::Registry::new();
    let metrics = Metrics::new(&registry)?;
    // Upstream: unhealthy once a queued update has waited twice the sync period.
    let health = Arc::new(ProxyHealth::new(config.sync_period * 2));

    let mut servers = Vec::new();
    if let Some(addr) = config.healthz_bind_address {
        let listener = TcpListener::bind(addr).await?;
        servers.push(tokio::spawn(serve_plain(
            listener,
            healthz_router(health.clone(), metrics.clone()),
            shutdown.clone(),
        )));
    }
    if let Some(addr) = config.metrics_bind_address {
        let listener = TcpListener::bind(addr).await?;
        servers.push(tokio::spawn(serve_plain(
            listener,
            metrics_router(registry.clone()),
            shutdown.clone(),
        )));
    }

    let factory = InformerFactory::new(client);
    let services = factory.informer::<Service>();
    let slices = factory.informer::<EndpointSlice>();
    let nodes = factory.informer::<Node>();
    let changed = Arc::new(Notify::new());
    forward_changes(
        services.subscribe(),
        changed.clone(),
        health.clone(),
        metrics.service_changes.clone(),
    );
    forward_changes(
        slices.subscribe(),
        changed.clone(),
        health.clone(),
        metrics.endpoint_changes.clone(),
    );
    watch_node(nodes.clone(), config.node_name.clone(), health.clone());
    factory.start(shutdown.clone());

    tokio::select! {
        _ = async { tokio::join!(services.wait_synced(), slices.wait_synced()) } => {}
        _ = shutdown.wait() => return Ok(()),
    }
    tracing::info!(node = %config.node_name, mode = config.mode.as_str(), "kube-proxy caches synced; programming rules");

    let opts = RenderOptions {
        cluster_cidr: config.cluster_cidr,
        masquerade_all: config.masquerade_all,
    };
    let backend: Box<dyn Backend> = match config.mode {
        ProxyMode::Iptables => Box::new(IptablesBackend::new(config.executor.clone(), opts)),
        ProxyMode::Nftables => Box::new(NftablesBackend::new(config.executor.clone(), opts)),
    };
    let node = NodeContext {
        node_name: config.node_name.clone(),
    };
    let proxier = Proxier::new(backend, node, metrics, health);
    let timing = SyncTiming {
        min_sync_period: config.min_sync_period,
        sync_period: config.sync_period,
    };
    run_loop(proxier, services, slices, changed, timing, shutdown).await;
    for s in servers {
        let _ = s.await;
    }
    Ok(())
}

fn forward_changes<K: rudder_client::Object>(
    mut sub: Subscription<K>,
    changed: Arc<Notify>,
    health: Arc<ProxyHealth>,
    counter: prometheus::IntCounter,
) {
    tokio::spawn(async move {
        while sub.recv().await.is_some() {
            counter.inc();
            health.queued(SystemTime::now());
            changed.notify_one();
        }
    });
}

/// Node eligibility for `/healthz`: not being deleted, not tainted for deletion.
fn watch_node(nodes: Informer<Node>, name: String, health: Arc<ProxyHealth>) {
    let mut sub = nodes.subscribe();
    tokio::spawn(async move {
        while let Some(change) = sub.recv().await {
            let node = change.object();
            if node.metadata.name.as_deref() != Some(name.as_str()) {
                continue;
            }
            let deleting = matches!(change, rudder_client::Change::Deleted(_))
                || node.metadata.deletion_timestamp.is_some();
            let tainted = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .is_some_and(|t| t.iter().any(|t| t.key == TO_BE_DELETED_TAINT));
            health.set_node_eligible(!deleting && !tainted);
        }
    });
}
