//! Patch and list extensions on the definitions, derived from the same patch metadata the
//! server's strategic merge uses ([`rudder_api::patch::schema_for`]):
//!
//! - `x-kubernetes-patch-strategy` (`merge`, `replace`, `retainKeys`, `merge,retainKeys`) and
//!   `x-kubernetes-patch-merge-key`, which kubectl's client-side `apply` reads to build
//!   strategic merge patches;
//! - `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` on the merging lists: a list merged
//!   by a key is a `map` keyed by it (a few upstream lists are keyed by more than their merge
//!   key, see [`LIST_MAP_KEYS`]), a merged list of scalars is a `set`.
//!
//! Each kind's patch schema is walked from its top-level definition through the `$ref`s of the
//! fields it describes, so a shared definition such as `Container` is annotated once whichever
//! kind reaches it first (they all carry the same Go struct tags upstream).

use rudder_api::patch::{FieldMeta, PatchSchema, PatchStrategy, schema_for};
use serde_json::{Map, Value, json};

use super::schemas::{Definitions, Schemas, referenced_name};

/// Lists whose upstream map keys differ from their merge key; `&[]` means upstream declares no
/// map list type for it (node addresses may repeat a type, so they are `atomic` there).
const LIST_MAP_KEYS: &[(&str, &str, &[&str])] = &[
    (
        "io.k8s.api.core.v1.Container",
        "ports",
        &["containerPort", "protocol"],
    ),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        &["containerPort", "protocol"],
    ),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", &["port", "protocol"]),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", &[]),
];

/// How deep the patch schemas nest at most (they are finite trees; this only bounds a mistake).
const MAX_DEPTH: usize = 32;

/// Annotates every definition reachable from a kind with patch metadata.
pub(super) fn annotate(schemas: &mut Schemas) {
    let roots: Vec<(String, PatchSchema)> = schemas
        .kinds()
        .iter()
        .map(|k| (k.name.clone(), schema_for(k.group, &k.kind)))
        .filter(|(_, s)| !s.is_untyped())
        .collect();
    for (name, patch) in roots {
        annotate_definition(&mut schemas.defs, &name, &patch, 0);
    }
}

fn annotate_definition(defs: &mut Definitions, name: &str, patch: &PatchSchema, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for field in patch.field_names() {
        let Some(meta) = patch.field(field) else {
            continue;
        };
        let Some(Value::Object(property)) = defs
            .get_mut(name)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(field))
        else {
            continue;
        };
        apply(name, field, meta, property);
        if meta.schema.is_untyped() {
            continue;
        }
        let target = referenced_name(&Value::Object(property.clone())).map(str::to_string);
        if let Some(target) = target {
            annotate_definition(defs, &target, &meta.schema, depth + 1);
        }
    }
}

/// The `x-kubernetes-patch-strategy` value of a field, if it has one.
pub(super) fn strategy_name(meta: &FieldMeta) -> Option<&'static str> {
    match (meta.strategy, meta.retain_keys) {
        (PatchStrategy::Merge, true) => Some("merge,retainKeys"),
        (PatchStrategy::Merge, false) => Some("merge"),
        (PatchStrategy::Replace, _) => Some("replace"),
        (PatchStrategy::Default, true) => Some("retainKeys"),
        (PatchStrategy::Default, false) => None,
    }
}

fn apply(definition: &str, field: &str, meta: &FieldMeta, property: &mut Map<String, Value>) {
    if let Some(strategy) = strategy_name(meta) {
        property.insert("x-kubernetes-patch-strategy".into(), strategy.into());
    }
    if let Some(key) = meta.merge_key {
        property.insert("x-kubernetes-patch-merge-key".into(), key.into());
    }
    let is_array = property.get("type").and_then(Value::as_str) == Some("array");
    if !is_array || meta.strategy != PatchStrategy::Merge {
        return;
    }
    let keys: Vec<&str> = match LIST_MAP_KEYS
        .iter()
        .find(|(d, f, _)| *d == definition && *f == field)
    {
        Some((_, _, keys)) => keys.to_vec(),
        None => meta.merge_key.into_iter().collect(),
    };
    let overridden = LIST_MAP_KEYS
        .iter()
        .any(|(d, f, _)| *d == definition && *f == field);
    if meta.merge_key.is_none() {
        property.insert("x-kubernetes-list-type".into(), "set".into());
    } else if !keys.is_empty() {
        property.insert("x-kubernetes-list-type".into(), "map".into());
        property.insert("x-kubernetes-list-map-keys".into(), json!(keys));
    } else if overridden {
        property.insert("x-kubernetes-list-type".into(), "atomic".into());
    }
}
