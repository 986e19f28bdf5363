//! OpenAPI with custom resources: while CustomResourceDefinitions are served, the documents are
//! the built-in ones plus each served version's schema and paths, rebuilt when the set of
//! served custom resources or one of their schemas changes (upstream republishes on every
//! established definition, so `kubectl explain` and client-side validation see new kinds).

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rudder_api::resources::ResourceInfo;
use serde_json::Value;

use super::operations::{self, GroupVersionApi};
use super::schemas::Schemas;
use super::{Cached, V3Documents};
use crate::registry::Registry;

/// One served custom resource version and its `openAPIV3Schema`.
#[derive(Debug, Clone)]
pub(super) struct CustomKind {
    pub(super) info: ResourceInfo,
    pub(super) schema: Option<Value>,
}

/// The documents for one set of served custom resources, each built on first request.
#[derive(Debug)]
pub(super) struct CustomSet {
    fingerprint: String,
    kinds: Vec<CustomKind>,
    pub(super) v2_json: OnceLock<Cached>,
    pub(super) v2_protobuf: OnceLock<Cached>,
    pub(super) v3: OnceLock<V3Documents>,
}

static CURRENT: Mutex<Option<Arc<CustomSet>>> = Mutex::new(None);

/// The custom resources served now, or `None` when there are none (the built-in documents
/// are served as they are).
pub(super) fn current(registry: &Registry) -> Option<Arc<CustomSet>> {
    let kinds = served(registry);
    if kinds.is_empty() {
        return None;
    }
    let mut text = String::new();
    for k in &kinds {
        let r = &k.info;
        text.push_str(&format!("{}/{}/{}/{}\u{0}", r.group, r.version, r.plural, r.kind));
        text.push_str(&k.schema.as_ref().map(Value::to_string).unwrap_or_default());
        text.push('\u{1}');
    }
    let fingerprint = super::sha512_hex(text.as_bytes());
    let mut current = CURRENT.lock();
    if let Some(set) = current.as_ref().filter(|s| s.fingerprint == fingerprint) {
        return Some(set.clone());
    }
    let set = Arc::new(CustomSet {
        fingerprint,
        kinds,
        v2_json: OnceLock::new(),
        v2_protobuf: OnceLock::new(),
        v3: OnceLock::new(),
    });
    *current = Some(set.clone());
    Some(set)
}

/// Served custom resource versions, sorted, each with its schema from its definition.
fn served(registry: &Registry) -> Vec<CustomKind> {
    let mut infos: Vec<ResourceInfo> = registry.custom_resources().iter().map(|r| r.info).collect();
    if infos.is_empty() {
        return Vec::new();
    }
    infos.sort_by_key(|r| (r.group, r.version, r.plural));
    let crds: Vec<Value> = registry
        .get_resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .map(|res| res.cache.snapshot().0.iter().map(|o| o.value()).collect())
        .unwrap_or_default();
    infos
        .into_iter()
        .map(|info| {
            let schema = crds
                .iter()
                .find(|c| c["spec"]["group"] == info.group && c["spec"]["names"]["plural"] == info.plural)
                .and_then(|c| c["spec"]["versions"].as_array())
                .and_then(|versions| versions.iter().find(|v| v["name"] == info.version))
                .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
                .cloned();
            CustomKind { info, schema }
        })
        .collect()
}

impl CustomSet {
    /// The built-in definitions and paths plus the custom ones.
    pub(super) fn build(&self) -> (Schemas, Vec<GroupVersionApi>) {
        let mut schemas = Schemas::build();
        schemas.add_custom(&self.kinds);
        let mut apis = operations::group_versions(&schemas);
        let infos: Vec<ResourceInfo> = self.kinds.iter().map(|k| k.info).collect();
        apis.extend(operations::custom_group_versions(&schemas, &infos));
        (schemas, apis)
    }
}
