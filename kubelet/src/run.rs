//! `run(config, shutdown)`: the kubelet's wiring.

use std::sync::Arc;

use rudder_component::shutdown::Shutdown;
use tracing::info;

use crate::config::{Config, Runtime};
use crate::cri::fake::FakeRuntime;
use crate::cri::remote::RemoteRuntime;
use crate::cri::{ImageService, RuntimeService};
use crate::node::NodeAgent;
use crate::node::machine::Machine;
use crate::pod::{PodContext, PodManager};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("connect to the API server: {0}")]
    Client(String),
    #[error(transparent)]
    Cri(#[from] crate::cri::CriError),
    #[error("running with swap on is not supported; turn swap off or set --fail-swap-on=false")]
    SwapOn,
    #[error(transparent)]
    Server(#[from] crate::server::ServerError),
    #[error("TLS bootstrap: {0}")]
    Bootstrap(#[from] crate::bootstrap::BootstrapError),
    #[error("create {path}: {source}")]
    Dir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The kube client for `config.kubeconfig`.
pub async fn client(config: &Config) -> Result<kube::Client, RunError> {
    rudder_client::connect(config.kubeconfig.as_deref())
        .await
        .map_err(|e| RunError::Client(e.to_string()))
}

/// Runs the kubelet with a client of the caller's until `shutdown`.
pub async fn run_with_client(
    config: Config,
    client: kube::Client,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    if config.fail_swap_on && Machine::swap_on() {
        return Err(RunError::SwapOn);
    }
    for dir in [config.root_dir.join("pods"), config.pod_logs_dir.clone()] {
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Dir {
            path: dir.clone(),
            source,
        })?;
    }
    let (runtime, images): (Arc<dyn RuntimeService>, Arc<dyn ImageService>) = match &config.runtime {
        Runtime::Remote { endpoint } => {
            let r = Arc::new(RemoteRuntime::connect(endpoint)?);
            (r.clone(), r)
        }
        Runtime::Simulated => {
            let r = Arc::new(FakeRuntime::simulated());
            (r.clone(), r)
        }
    };
    run_with_runtime(config, client, runtime, images, shutdown).await
}

/// Runs the kubelet on the given runtime (tests pass a fake they control).
pub async fn run_with_runtime(
    config: Config,
    client: kube::Client,
    runtime: Arc<dyn RuntimeService>,
    images: Arc<dyn ImageService>,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let config = Arc::new(config);
    let node = Arc::new(NodeAgent::new(config.clone(), client.clone(), runtime.clone()));
    info!(node = %config.node_name, ip = %node.facts.ip, "kubelet starting");
    let ctx = Arc::new(PodContext {
        config: config.clone(),
        client: client.clone(),
        runtime,
        images,
        facts: node.facts.clone(),
        events: Some(rudder_client::events::EventRecorder::new(
            client,
            "kubelet",
            rudder_client::events::EventApi::CoreV1,
        )),
        starts: Arc::new(tokio::sync::Semaphore::new(config.parallel_starts())),
    });
    if config.port != 0 {
        let addr = std::net::SocketAddr::new(config.address, config.port);
        let auth =
            crate::server::auth::KubeletAuth::new(&config.server_auth, &config.node_name, ctx.client.clone())
                .map_err(crate::server::ServerError::from)?;
        let bound = crate::server::start(
            addr,
            node.facts.ip,
            ctx.runtime.clone(),
            Arc::new(auth),
            shutdown.clone(),
        )
        .await?;
        info!(address = %bound, "kubelet server listening");
    }
    // Upstream's kubelet notifies as soon as it has started its loops (startKubelet).
    rudder_component::systemd::notify_ready_or_log();
    let node_task = tokio::spawn(node.run(shutdown.clone()));
    PodManager::new(ctx).run(shutdown.clone()).await;
    let _ = node_task.await;
    Ok(())
}

pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), RunError> {
    crate::bootstrap::ensure_client_certificate(&config).await?;
    let client = client(&config).await?;
    run_with_client(config, client, shutdown).await
}
