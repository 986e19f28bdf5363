//! How plugins read the cluster: the apiserver's own watch caches (upstream's plugins read
//! informers), with a storage read where a just-written object may not have reached the cache
//! yet (upstream's plugins fall back to a live lookup in the same places).

use std::sync::Arc;

use rudder_api::status::ApiError;
use serde_json::Value;

use crate::registry::watch_cache::CachedObject;
use crate::registry::{Registry, Resource, store_error};

/// A resource by group, version and plural.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind(
    pub(crate) &'static str,
    pub(crate) &'static str,
    pub(crate) &'static str,
);

pub(crate) const NAMESPACES: Kind = Kind("", "v1", "namespaces");
pub(crate) const PODS: Kind = Kind("", "v1", "pods");
pub(crate) const SERVICE_ACCOUNTS: Kind = Kind("", "v1", "serviceaccounts");
pub(crate) const LIMIT_RANGES: Kind = Kind("", "v1", "limitranges");
pub(crate) const RESOURCE_QUOTAS: Kind = Kind("", "v1", "resourcequotas");
pub(crate) const PRIORITY_CLASSES: Kind = Kind("scheduling.k8s.io", "v1", "priorityclasses");
pub(crate) const STORAGE_CLASSES: Kind = Kind("storage.k8s.io", "v1", "storageclasses");
pub(crate) const RUNTIME_CLASSES: Kind = Kind("node.k8s.io", "v1", "runtimeclasses");

/// Read access to the cluster for plugins.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cluster<'r> {
    pub(crate) registry: &'r Registry,
}

impl<'r> Cluster<'r> {
    pub(crate) fn new(registry: &'r Registry) -> Self {
        Cluster { registry }
    }

    pub(crate) fn resource(&self, kind: Kind) -> Option<Arc<Resource>> {
        self.registry.get_resource(kind.0, kind.1, kind.2)
    }

    /// One object from the watch cache.
    pub(crate) fn get(&self, kind: Kind, namespace: Option<&str>, name: &str) -> Option<Value> {
        let res = self.resource(kind)?;
        res.cache.get(&res.key(namespace, name)).map(|o| o.value())
    }

    /// One object, from the cache or else from storage (for objects written a moment ago).
    pub(crate) async fn get_live(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        let Some(res) = self.resource(kind) else {
            return Ok(None);
        };
        let key = res.key(namespace, name);
        if let Some(obj) = res.cache.get(&key) {
            return Ok(Some(obj.value()));
        }
        let kv = self.registry.store.get(&key, None).await.map_err(store_error)?;
        Ok(kv.and_then(|kv| CachedObject::from_kv(&kv)).map(|o| o.value()))
    }

    /// Every object of a kind in a namespace (all namespaces with `None`), from the cache.
    pub(crate) fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<Value> {
        let Some(res) = self.resource(kind) else {
            return Vec::new();
        };
        let (objects, _) = res
            .cache
            .snapshot_prefix(&res.info.storage_list_prefix(namespace));
        objects.iter().map(|o| o.value()).collect()
    }
}
