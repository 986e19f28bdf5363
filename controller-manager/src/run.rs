//! Starting the enabled controllers and running them until shutdown.

use std::sync::Arc;

use futures::future::join_all;
use rudder_client::leader::LeaderElection;
use rudder_component::shutdown::Shutdown;

use crate::controllers::{self, ControllerContext};
use crate::options::Config;

/// Why the controller-manager could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot build a client from the kubeconfig: {0}")]
    Client(String),
    /// Leadership was lost: like upstream, the process should exit so it restarts clean.
    #[error("leader election: {0}")]
    LeaderElection(#[source] rudder_client::ClientError),
}

/// Connects to the apiserver, starts every enabled controller, and returns when `shutdown` fires
/// and every controller has stopped.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), RunError> {
    let client = rudder_client::connect(config.kubeconfig.as_deref())
        .await
        .map_err(|e| RunError::Client(e.to_string()))?;
    match config.leader_election.clone() {
        None => run_with_client(config, client, shutdown).await,
        Some(le) => {
            tracing::info!(lease = %format!("{}/{}", le.namespace, le.name), identity = %le.identity, "waiting to lead");
            LeaderElection::new(client.clone(), le)
                .run(shutdown, move |lost| run_with_client(config, client, lost))
                .await
                .map_err(RunError::LeaderElection)?;
        }
    }
    Ok(())
}

/// Starts the enabled controllers on `client` and waits for all of them to stop.
pub(crate) async fn run_with_client(config: Config, client: kube::Client, shutdown: Shutdown) {
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
                running.push(tokio::spawn(start(ctx.clone())));
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
