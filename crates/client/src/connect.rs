//! Building a [`kube::Client`] the way upstream components do from `--kubeconfig`.

use std::path::Path;

use crate::ClientError;
use crate::ratelimit::{RateLimit, RateLimitLayer};

/// `--kubeconfig` path → client. Without a path: `$KUBECONFIG`, then `~/.kube/config`, then the
/// in-cluster service account (kube's `Config::infer`, same order as client-go's defaults).
pub async fn connect(kubeconfig: Option<&Path>) -> Result<kube::Client, ClientError> {
    kube::Client::try_from(load(kubeconfig).await?).map_err(ClientError::BuildClient)
}

/// [`connect`] with client-side rate limiting (`--kube-api-qps`, `--kube-api-burst`); `None`
/// means unlimited.
pub async fn connect_with(
    kubeconfig: Option<&Path>,
    limit: Option<RateLimit>,
) -> Result<kube::Client, ClientError> {
    let config = load(kubeconfig).await?;
    let Some(limit) = limit else {
        return kube::Client::try_from(config).map_err(ClientError::BuildClient);
    };
    let builder = kube::client::ClientBuilder::try_from(config).map_err(ClientError::BuildClient)?;
    Ok(builder.with_layer(&RateLimitLayer::new(limit)).build())
}

async fn load(kubeconfig: Option<&Path>) -> Result<kube::Config, ClientError> {
    let config = match kubeconfig {
        Some(path) => {
            let file =
                kube::config::Kubeconfig::read_from(path).map_err(|source| ClientError::ReadKubeconfig {
                    path: path.to_path_buf(),
                    source,
                })?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|source| ClientError::KubeconfigConfig {
                    path: path.to_path_buf(),
                    source,
                })?
        }
        None => kube::Config::infer().await?,
    };
    Ok(config)
}
