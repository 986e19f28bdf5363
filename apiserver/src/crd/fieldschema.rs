//! The field structure of a custom resource version for pruning and `fieldValidation`: its
//! schema in the shape `registry::fields` compiles, with what upstream adds implicitly (the
//! root's and embedded resources' `apiVersion`, `kind` and a full `metadata`, also where unknown
//! fields are preserved) and with objects that declare no properties made empty (upstream prunes
//! everything below them). Under `x-kubernetes-preserve-unknown-fields` the declared properties
//! are still pruned (upstream's `skipPrune`).

use std::collections::HashMap;
use std::sync::LazyLock;

use parking_lot::Mutex;
use serde_json::{Map, Value, json};

use crate::registry::fields::FieldSchemas;

/// The compiled field schemas of one version, shared by every definition with the same schema
/// (kept for the life of the server, like the served resource's names).
pub(crate) fn compile(api_version: &str, kind: &str, schema: Option<&Value>) -> &'static FieldSchemas {
    static CACHE: LazyLock<Mutex<HashMap<String, &'static FieldSchemas>>> = LazyLock::new(Default::default);
    let key = format!(
        "{api_version}\u{0}{kind}\u{0}{}",
        schema.map(Value::to_string).unwrap_or_default()
    );
    let mut cache = CACHE.lock();
    if let Some(found) = cache.get(&key) {
        return found;
    }
    let mut root = schema
        .cloned()
        .unwrap_or_else(|| json!({"x-kubernetes-preserve-unknown-fields": true}));
    shape(&mut root, true);
    let mut definitions = Map::new();
    definitions.insert("cr".into(), root);
    let compiled: &'static FieldSchemas = Box::leak(Box::new(FieldSchemas::compile(
        &definitions,
        [(api_version.to_string(), kind.to_string(), "cr")],
    )));
    cache.insert(key, compiled);
    compiled
}

fn shape(node: &mut Value, resource: bool) {
    let Some(map) = node.as_object_mut() else {
        return;
    };
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let embedded = map.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    if let Some(props) = map.get_mut("properties").and_then(Value::as_object_mut) {
        for (_, prop) in props.iter_mut() {
            shape(prop, false);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = map.get_mut(key) {
            shape(sub, false);
        }
    }
    // A resource's `apiVersion`, `kind` and `metadata` are checked (metadata as ObjectMeta) even
    // where unknown fields are preserved, as upstream coerces embedded metadata.
    if resource || embedded {
        let props = map
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(props) = props {
            props.insert("apiVersion".into(), json!({"type": "string"}));
            props.insert("kind".into(), json!({"type": "string"}));
            props.insert("metadata".into(), object_meta());
        }
        return;
    }
    if preserve {
        return;
    }
    let is_object = map.get("type").and_then(Value::as_str) == Some("object");
    if is_object && !map.contains_key("properties") && !map.contains_key("additionalProperties") {
        map.insert("properties".into(), json!({}));
    }
}

/// `ObjectMeta`'s fields (unknown ones are dropped and reported as `metadata.<field>`).
fn object_meta() -> Value {
    let free = json!({});
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "annotations": free, "labels": free,
            "creationTimestamp": string, "deletionTimestamp": string,
            "deletionGracePeriodSeconds": free, "generation": free,
            "finalizers": {"type": "array", "items": string},
            "generateName": string, "name": string, "namespace": string,
            "resourceVersion": string, "selfLink": string, "uid": string,
            "managedFields": {"type": "array", "items": {"type": "object", "properties": {
                "apiVersion": string, "fieldsType": string, "fieldsV1": free, "manager": string,
                "operation": string, "subresource": string, "time": string}}},
            "ownerReferences": {"type": "array", "items": {"type": "object", "properties": {
                "apiVersion": string, "blockOwnerDeletion": free, "controller": free,
                "kind": string, "name": string, "uid": string}}},
        }
    })
}
