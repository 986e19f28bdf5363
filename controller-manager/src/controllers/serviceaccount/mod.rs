//! The ServiceAccount controller (upstream `pkg/controller/serviceaccount`): every active
//! namespace has a `default` ServiceAccount; it is recreated if deleted.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use rudder_client::informer::Change;
use rudder_client::workqueue::{RateLimiter, WorkQueue};

use super::ControllerContext;
use super::util::ObjectKey;
use super::util::api::is_conflict;
use super::util::worker::{Requeue, forward, run_workers, wait_for_sync};

const COMPONENT: &str = "serviceaccount-controller";
/// The service accounts every namespace gets (upstream `--service-accounts` default).
pub const DEFAULT: &str = "default";

/// Which service accounts `namespace` lacks (none if it is terminating).
pub fn missing(namespace: &Namespace, existing: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let terminating = namespace.metadata.deletion_timestamp.is_some()
        || namespace.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    if terminating {
        return Vec::new();
    }
    [DEFAULT].into_iter().filter(|sa| !existing(sa)).collect()
}

struct Shared {
    client: kube::Client,
    namespaces: Store<Namespace>,
    accounts: Store<ServiceAccount>,
}

/// Starts the ServiceAccount controller.
pub fn start(ctx: ControllerContext) -> BoxFuture<'static, ()> {
    let namespaces = ctx.informers.informer::<Namespace>();
    let accounts = ctx.informers.informer::<ServiceAccount>();
    let queue: WorkQueue<String> =
        WorkQueue::with_rate_limiter("serviceaccount", RateLimiter::default_controller());
    {
        let queue = queue.clone();
        forward(namespaces.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Change::Applied(ns) = change {
                queue.add(ns.metadata.name.clone().unwrap_or_default());
            }
        });
    }
    {
        let queue = queue.clone();
        forward(accounts.subscribe(), ctx.shutdown.clone(), move |change| {
            if let Change::Deleted(sa) = change
                && sa.metadata.name.as_deref() == Some(DEFAULT)
            {
                queue.add(sa.metadata.namespace.clone().unwrap_or_default());
            }
        });
    }
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        namespaces: namespaces.store(),
        accounts: accounts.store(),
    });
    let shutdown = ctx.shutdown.clone();
    async move {
        if !wait_for_sync(&shutdown, || namespaces.has_synced() && accounts.has_synced()).await {
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
    let exists = |name: &str| {
        shared
            .accounts
            .get(&ObjectKey::new(namespace, name).to_ref())
            .is_some()
    };
    let api: Api<ServiceAccount> = Api::namespaced(shared.client.clone(), namespace);
    for name in missing(&ns, exists) {
        let sa = ServiceAccount {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&PostParams::default(), &sa).await {
            Ok(_) => tracing::debug!(namespace, name, "created service account"),
            // Created meanwhile (the cache lags), or the namespace is going away.
            Err(e) if is_conflict(&e) || crate::controllers::util::api::is_namespace_terminating(&e) => {}
            Err(e) if crate::controllers::util::api::is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_account_for_active_namespaces_only() {
        let active: Namespace =
            serde_json::from_value(json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}}))
                .expect("ns");
        assert_eq!(missing(&active, |_| false), vec![DEFAULT]);
        assert!(missing(&active, |n| n == DEFAULT).is_empty());
        let terminating: Namespace =
            serde_json::from_value(json!({"metadata": {"name": "t"}, "status": {"phase": "Terminating"}}))
                .expect("ns");
        assert!(missing(&terminating, |_| false).is_empty());
    }
}
