//! The resource registry: one generic store serving every resource from its table entry, its
//! strategy and its watch cache.

mod apply;
pub(crate) mod binding;
pub(crate) mod conversion;
pub(crate) mod crd;
mod delete;
pub(crate) mod eviction;
pub(crate) mod fields;
mod list;
pub(crate) mod object;
pub(crate) mod raw;
pub(crate) mod scale;
mod stamp;
pub(crate) mod strategies;
pub(crate) mod strategy;
pub(crate) mod watch_cache;
pub(crate) mod write;

use std::collections::HashMap;
use std::sync::Arc;

use rudder_api::resources::{self, ResourceInfo};
use rudder_api::status::ApiError;
use rudder_store::{Store, StoreError};
use serde_json::Value;

pub(crate) use self::apply::ApplyRequest;
pub(crate) use self::delete::DeleteOptions;
pub(crate) use self::list::{ListParams, ListResult};
use self::strategy::Strategy;
use self::watch_cache::{CachedObject, WatchCache};

/// One served resource.
pub(crate) struct Resource {
    pub(crate) info: ResourceInfo,
    pub(crate) strategy: Arc<dyn Strategy>,
    pub(crate) cache: Arc<WatchCache>,
    /// Set when this version is not the storage version of its prefix.
    pub(crate) conversion: Option<Arc<dyn conversion::Conversion>>,
    /// Table columns of a custom resource (`additionalPrinterColumns`).
    pub(crate) printer: Option<Arc<rudder_api::table::CustomResourceColumns>>,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("group", &self.info.group)
            .field("plural", &self.info.plural)
            .finish()
    }
}

impl Resource {
    /// A server-side Table of objects of this resource.
    pub(crate) fn table(
        &self,
        objects: &[Value],
        include: rudder_api::table::IncludeObject,
        meta: &Value,
    ) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        match &self.printer {
            Some(printer) => printer.table(objects, include, meta, now),
            None => rudder_api::table::table(self.info.group, self.info.kind, objects, include, meta, now),
        }
    }

    /// An object as this resource's version shows it (stored objects are in the storage version).
    pub(crate) fn present(&self, obj: Arc<CachedObject>) -> Arc<CachedObject> {
        let Some(conversion) = &self.conversion else {
            return obj;
        };
        let value = conversion.storage_to_served(&obj.value());
        let json = serde_json::to_vec(&value)
            .map(bytes::Bytes::from)
            .unwrap_or_else(|_| obj.json.clone());
        CachedObject::new(value, json, obj.revision)
    }

    /// An object of this resource's version in the storage version.
    pub(crate) fn to_storage<'a>(&self, obj: &'a Value) -> std::borrow::Cow<'a, Value> {
        match &self.conversion {
            Some(conversion) => std::borrow::Cow::Owned(conversion.served_to_storage(obj.clone())),
            None => std::borrow::Cow::Borrowed(obj),
        }
    }

    pub(crate) fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(self.info.group, self.info.plural, name)
    }

    pub(crate) fn key(&self, namespace: Option<&str>, name: &str) -> String {
        self.info.storage_key(namespace, name)
    }
}

/// Every resource the server serves, and the store behind them.
pub(crate) struct Registry {
    pub(crate) store: Arc<dyn Store>,
    resources: HashMap<(String, String, String), Arc<Resource>>,
    /// Custom resources, served while their CustomResourceDefinition is established.
    custom: parking_lot::RwLock<HashMap<(String, String, String), Arc<Resource>>>,
    /// Bumped whenever the set of served resources changes (discovery caches key on it).
    pub(crate) generation: std::sync::atomic::AtomicU64,
    /// The admission chain every write passes (set once at start).
    pub(crate) admission: crate::admission::Chain,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("resources", &self.resources.len())
            .finish()
    }
}

impl Registry {
    /// Builds the registry of built-in resources, starting one watch cache per storage prefix.
    pub(crate) async fn new(
        store: Arc<dyn Store>,
        settings: strategies::Settings,
    ) -> Result<Registry, StoreError> {
        let mut caches: HashMap<&'static str, Arc<WatchCache>> = HashMap::new();
        let mut resources = HashMap::new();
        for info in resources::RESOURCES
            .iter()
            .filter(|r| !r.storage_prefix.is_empty())
        {
            let cache = match caches.get(info.storage_prefix) {
                Some(cache) => cache.clone(),
                None => {
                    let cache = WatchCache::start(store.clone(), format!("{}/", info.storage_prefix)).await?;
                    caches.insert(info.storage_prefix, cache.clone());
                    cache
                }
            };
            let strategy = strategies::for_resource(info, &settings, &cache);
            let conversion = conversion::for_resource(info);
            let resource = Arc::new(Resource {
                info: *info,
                strategy,
                cache,
                conversion,
                printer: None,
            });
            resources.insert(
                (
                    info.group.to_string(),
                    info.version.to_string(),
                    info.plural.to_string(),
                ),
                resource,
            );
        }
        resources
            .get(&(String::new(), "v1".to_string(), "namespaces".to_string()))
            .ok_or_else(|| StoreError::InvalidArgument("resource table has no namespaces".into()))?;
        Ok(Registry {
            store,
            resources,
            custom: Default::default(),
            generation: Default::default(),
            admission: Default::default(),
        })
    }

    pub(crate) fn get_resource(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Resource>> {
        let key = (group.to_string(), version.to_string(), plural.to_string());
        self.resources
            .get(&key)
            .cloned()
            .or_else(|| self.custom.read().get(&key).cloned())
    }

    /// The custom resources served now.
    pub(crate) fn custom_resources(&self) -> Vec<Arc<Resource>> {
        self.custom.read().values().cloned().collect()
    }

    /// Serves (or stops serving, with `None`) the versions of one custom resource.
    pub(crate) fn set_custom(&self, group: &str, plural: &str, versions: Vec<Arc<Resource>>) {
        let mut custom = self.custom.write();
        custom.retain(|(g, _, p), _| !(g == group && p == plural));
        for res in versions {
            let key = (
                res.info.group.to_string(),
                res.info.version.to_string(),
                res.info.plural.to_string(),
            );
            custom.insert(key, res);
        }
        drop(custom);
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Reads one object (a consistent read from the store).
    pub(crate) async fn get(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Arc<CachedObject>, ApiError> {
        let kv = self
            .store
            .get(&res.key(namespace, name), None)
            .await
            .map_err(store_error)?;
        let kv = kv.ok_or_else(|| res.not_found(name))?;
        watch_cache::CachedObject::from_kv(&kv)
            .map(|o| res.present(o))
            .ok_or_else(|| corrupt(&kv.key))
    }
}

/// The one place that turns a storage error into an API error.
pub(crate) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Compacted { requested, compacted } => {
            ApiError::too_old_resource_version(requested.max(0) as u64, compacted.max(0) as u64)
        }
        StoreError::FutureRevision { requested, current } => {
            ApiError::too_large_resource_version(requested.max(0) as u64, current.max(0) as u64, 1)
        }
        StoreError::InvalidArgument(msg) => ApiError::bad_request(msg),
        StoreError::NotFound { key }
        | StoreError::AlreadyExists { key }
        | StoreError::Conflict { key, .. } => {
            ApiError::internal(format!("unexpected storage state for {key}"))
        }
        StoreError::Unavailable(e) => ApiError::service_unavailable(format!("storage unavailable: {e}")),
    }
}

/// A patch that could not be applied, as upstream reports it.
pub(crate) fn patch_error(e: &rudder_api::patch::PatchError) -> ApiError {
    use rudder_api::status::StatusReason;
    ApiError::new(e.code(), StatusReason::parse(e.reason()), e.status_message())
}

fn corrupt(key: &str) -> ApiError {
    ApiError::internal(format!("stored object {key} cannot be decoded"))
}

/// Serialises an object for storage: without `resourceVersion`, which the store's revision
/// supplies on every read.
pub(crate) fn encode_for_storage(obj: &Value) -> Result<bytes::Bytes, ApiError> {
    let meta = obj.get("metadata").and_then(Value::as_object);
    let needs_strip = meta.is_some_and(|m| m.contains_key("resourceVersion") || m.contains_key("selfLink"));
    let encoded = if needs_strip {
        let mut obj = obj.clone();
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
            meta.remove("selfLink");
        }
        serde_json::to_vec(&obj)
    } else {
        // The common case (creates): no copy of the object.
        serde_json::to_vec(obj)
    };
    encoded
        .map(bytes::Bytes::from)
        .map_err(|e| ApiError::internal(e.to_string()))
}
