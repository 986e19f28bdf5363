//! Starting the enabled controllers and running them until shutdown.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::join_all;
use rudder_client::leader::LeaderElection;
use rudder_client::serving::ServingFlags;
use rudder_component::shutdown::Shutdown;

use crate::controllers::{self, ControllerContext};
use crate::options::{Config, DEFAULT_SECURE_PORT};

/// Why the controller-manager could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot build a client from the kubeconfig: {0}")]
    Client(String),
    /// `--bind-address`/`--secure-port` could not be served.
    #[error("serving health and metrics: {0}")]
    Serve(#[source] rudder_client::ClientError),
    /// Leadership was lost: like upstream, the process should exit so it restarts clean.
    #[error("--use-service-account-credentials: {0}")]
    Credentials(#[from] crate::sa_credentials::CredentialsError),
    #[error("leader election: {0}")]
    LeaderElection(#[source] rudder_client::ClientError),
}

/// Connects to the apiserver, starts every enabled controller, and returns when `shutdown` fires
/// and every controller has stopped.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), RunError> {
    let client = rudder_client::connect_with(config.kubeconfig.as_deref(), config.rate_limit)
        .await
        .map_err(|e| RunError::Client(e.to_string()))?;
    // As upstream's ClientBuilder, every controller gets a client of its own, so the
    // `--kube-api-qps`/`--kube-api-burst` budget is per controller: one busy controller (the
    // namespace, serviceaccount and endpoint controllers at start-up) does not leave the
    // ReplicaSet controller's pod creations waiting on a shared token bucket.
    let mut clients = HashMap::new();
    // With --use-service-account-credentials, that client authenticates as the controller's
    // own service account (upstream's SAControllerClientBuilder).
    let root_config = match config.use_service_account_credentials {
        true => Some(crate::sa_credentials::root_config(config.kubeconfig.as_deref()).await?),
        false => None,
    };
    let implemented: Vec<&str> = controllers::starters().into_iter().map(|(n, _)| n).collect();
    // Only controllers that run get a client (and, with service-account credentials, an account).
    for name in config
        .controllers
        .enabled()
        .into_iter()
        .filter(|n| implemented.contains(n))
    {
        let own = match &root_config {
            Some(root_config) => {
                let account = crate::sa_credentials::service_account_name(name);
                crate::sa_credentials::client_for(
                    &client,
                    root_config,
                    account,
                    config.rate_limit,
                    shutdown.clone(),
                )
                .await?
            }
            None => rudder_client::connect_with(config.kubeconfig.as_deref(), config.rate_limit)
                .await
                .map_err(|e| RunError::Client(e.to_string()))?,
        };
        clients.insert(name, own);
    }
    // Health and metrics are served whether or not this instance leads, as upstream does.
    serve(&config, shutdown.clone()).await?;
    match config.leader_election.clone() {
        None => run_controllers(config, client, clients, shutdown).await,
        Some(le) => {
            tracing::info!(lease = %format!("{}/{}", le.namespace, le.name), identity = %le.identity, "waiting to lead");
            LeaderElection::new(client.clone(), le)
                .run(shutdown, move |lost| {
                    run_controllers(config, client, clients, lost)
                })
                .await
                .map_err(RunError::LeaderElection)?;
        }
    }
    Ok(())
}

/// Serves `/healthz`, `/livez`, `/readyz` and `/metrics` over HTTPS on `--bind-address` and
/// `--secure-port` (not at all with port 0) until `shutdown`.
async fn serve(config: &Config, shutdown: Shutdown) -> Result<(), RunError> {
    if config.secure_port == 0 {
        tracing::info!("--secure-port=0: not serving health and metrics endpoints");
        return Ok(());
    }
    let flags = ServingFlags {
        bind_address: config.bind_address,
        secure_port: Some(config.secure_port),
    };
    let addr = rudder_client::serving::serve(&flags, DEFAULT_SECURE_PORT, shutdown)
        .await
        .map_err(RunError::Serve)?;
    if let Some(addr) = addr {
        tracing::info!(%addr, "serving healthz and metrics");
    }
    Ok(())
}

/// Starts the enabled controllers, each on its client in `clients` (else on `client`, which
/// also feeds the shared informers), and waits for all of them to stop.
async fn run_controllers(
    config: Config,
    client: kube::Client,
    clients: HashMap<&'static str, kube::Client>,
    shutdown: Shutdown,
) {
    let informers = rudder_client::informer::InformerFactory::new(client.clone());
    let ctx = ControllerContext {
        informers: informers.clone(),
        client,
        config: Arc::new(config.controllers_config.clone()),
        shutdown,
    };
    let starters = controllers::starters();
    let mut running = Vec::new();
    for name in config.controllers.enabled() {
        match starters.iter().find(|(n, _)| *n == name) {
            Some((_, start)) => {
                tracing::info!(controller = name, "starting controller");
                let mut own = ctx.clone();
                if let Some(c) = clients.get(name) {
                    own.client = c.clone();
                }
                running.push(tokio::spawn(start(own)));
            }
            None => tracing::warn!(controller = name, "controller is not implemented; skipping"),
        }
    }
    // Every controller has asked for its informers synchronously in `start`; informers asked for
    // later start at once too.
    informers.start(ctx.shutdown.clone());
    for result in join_all(running).await {
        if let Err(e) = result {
            tracing::error!(error = %e, "controller task failed");
        }
    }
}
