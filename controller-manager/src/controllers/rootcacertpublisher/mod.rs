//! The root CA certificate publisher (upstream `pkg/controller/certificates/rootcacertpublisher`):
//! every namespace gets the `kube-root-ca.crt` ConfigMap with the cluster CA, so pods (the
//! projected `kube-api-access-*` volume) can verify the apiserver. It is recreated when deleted
//! and put back when changed.

pub mod plan;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};

use super::ControllerContext;
use super::util::ObjectKey;
use super::util::api::{is_conflict, is_namespace_terminating, is_not_found};
use super::util::worker::{Requeue, forward, run_workers, wait_for_sync};

const COMPONENT: &str = "root-ca-cert-publisher";
/// Where a pod's service account CA lives (the in-cluster fallback).
const IN_CLUSTER_CA: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("read --root-ca-file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    #[error("read the kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("no root CA: set --root-ca-file or use a kubeconfig with certificate-authority data")]
    Missing,
}

/// The CA bundle to publish: `--root-ca-file`, else the certificate authority of the cluster
/// the controller-manager's kubeconfig points at (upstream falls back to the client config's
/// CAData), else the in-cluster service account CA.
pub fn load_root_ca(root_ca_file: Option<&Path>, kubeconfig: Option<&Path>) -> Result<String, CaError> {
    if let Some(path) = root_ca_file {
        return std::fs::read_to_string(path).map_err(|source| CaError::File {
            path: path.to_path_buf(),
            source,
        });
    }
    let kc = match kubeconfig {
        Some(p) => {
            Some(kube::config::Kubeconfig::read_from(p).map_err(|e| CaError::Kubeconfig(e.to_string()))?)
        }
        None => kube::config::Kubeconfig::read().ok(),
    };
    if let Some(kc) = kc
        && let Some(ca) = kubeconfig_ca(&kc)?
    {
        return Ok(ca);
    }
    std::fs::read_to_string(IN_CLUSTER_CA).map_err(|_| CaError::Missing)
}

/// The CA of the current context's cluster (inline data or a file).
fn kubeconfig_ca(kc: &kube::config::Kubeconfig) -> Result<Option<String>, CaError> {
    let context = kc
        .current_context
        .as_deref()
        .and_then(|name| kc.contexts.iter().find(|c| c.name == name))
        .or_else(|| kc.contexts.first())
        .and_then(|c| c.context.as_ref());
    let cluster_name = context.map(|c| c.cluster.as_str());
    let cluster = kc
        .clusters
        .iter()
        .find(|c| Some(c.name.as_str()) == cluster_name)
        .or_else(|| kc.clusters.first())
        .and_then(|c| c.cluster.as_ref());
    let Some(cluster) = cluster else {
        return Ok(None);
    };
    if let Some(data) = &cluster.certificate_authority_data {
        // k8s-openapi's ByteString is base64 in JSON: it decodes the kubeconfig's field.
        let bytes: k8s_openapi::ByteString = serde_json::from_value(serde_json::Value::String(data.clone()))
            .map_err(|e| CaError::Kubeconfig(format!("certificate-authority-data: {e}")))?;
        return String::from_utf8(bytes.0)
            .map(Some)
            .map_err(|e| CaError::Kubeconfig(format!("certificate-authority-data: {e}")));
    }
    if let Some(path) = &cluster.certificate_authority {
        return std::fs::read_to_string(path)
            .map(Some)
            .map_err(|e| CaError::Kubeconfig(format!("certificate-authority {path}: {e}")));
    }
    Ok(None)
}

struct Shared {
    client: kube::Client,
    namespaces: Store<Namespace>,
    config_maps: Store<ConfigMap>,
    ca: String,
}

/// Starts the publisher. Without a CA to publish it logs why and does nothing (upstream does
/// not start it then either).
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let ca = match load_root_ca(
        ctx.config.root_ca_file.as_deref(),
        ctx.config.kubeconfig.as_deref(),
    ) {
        Ok(ca) => ca,
        Err(e) => {
            tracing::warn!(controller = COMPONENT, error = %e, "not started");
            return async {}.boxed();
        }
    };
    let namespaces = ctx.informers.informer::<Namespace>();
    let config_maps = ctx.informers.informer::<ConfigMap>();
    let queue: WorkQueue<String> = WorkQueue::with_rate_limiter(COMPONENT, RateLimiter::default_controller());
    {
        let queue = queue.clone();
        forward(namespaces.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Change::Applied(ns) = change {
                queue.add(ns.metadata.name.clone().unwrap_or_default());
            }
        });
    }
    {
        // Only our ConfigMap matters: a deletion or any change sends its namespace to sync.
        let queue = queue.clone();
        forward(config_maps.subscribe(), ctx.shutdown.clone(), move |change| {
            let (Change::Applied(cm) | Change::Deleted(cm)) = &change;
            if cm.metadata.name.as_deref() == Some(plan::CONFIG_MAP) {
                queue.add(cm.metadata.namespace.clone().unwrap_or_default());
            }
        });
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        namespaces: namespaces.store(),
        config_maps: config_maps.store(),
        ca,
    });
    let shutdown = ctx.shutdown.clone();
    async move {
        if !wait_for_sync(&shutdown, || namespaces.has_synced() && config_maps.has_synced()).await {
            return;
        }
        for ns in shared.namespaces.state() {
            queue.add(ns.metadata.name.clone().unwrap_or_default());
        }
        run_workers(COMPONENT, queue, 1, shutdown, move |name| {
            let shared = shared.clone();
            async move { sync(&shared, &name).await }
        })
        .await;
    }
    .boxed()
}

async fn sync(shared: &Shared, namespace: &str) -> Result<Requeue, kube::Error> {
    let Some(ns) = shared.namespaces.get(&ObjectRef::new(namespace)) else {
        return Ok(None);
    };
    let existing = shared
        .config_maps
        .get(&ObjectKey::new(namespace, plan::CONFIG_MAP).to_ref());
    let api: Api<ConfigMap> = Api::namespaced(shared.client.clone(), namespace);
    match plan::plan(&ns, existing.as_deref(), &shared.ca) {
        plan::Action::Nothing => {}
        plan::Action::Create(cm) => match api.create(&PostParams::default(), &cm).await {
            Ok(_) => tracing::debug!(namespace, "published root CA"),
            // Already there (the cache lags: its event re-queues us), or the namespace is
            // gone or terminating: nothing to retry.
            Err(e) if is_conflict(&e) || is_not_found(&e) || is_namespace_terminating(&e) => {}
            Err(e) => return Err(e),
        },
        plan::Action::Update(cm) => match api.replace(plan::CONFIG_MAP, &PostParams::default(), &cm).await {
            Ok(_) => tracing::debug!(namespace, "restored root CA"),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        },
    }
    Ok(None)
}
