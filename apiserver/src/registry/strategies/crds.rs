//! CustomResourceDefinitions: a new definition carries upstream's cleanup finalizer, so that
//! deleting it first removes every custom object (see `registry::crd`); `spec.group`, names and
//! versions are required.

use rudder_api::validation::{FieldError, FieldPath};
use serde_json::{Value, json};

use super::super::crd::CLEANUP_FINALIZER;
use super::super::strategy::{Strategy, WriteKind};

#[derive(Debug)]
pub(crate) struct Crds;

impl Strategy for Crds {
    fn prepare_for_create(&self, obj: &mut Value) {
        let meta = &mut obj["metadata"];
        let mut finalizers: Vec<Value> = meta["finalizers"].as_array().cloned().unwrap_or_default();
        if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
            finalizers.push(json!(CLEANUP_FINALIZER));
        }
        meta["finalizers"] = Value::Array(finalizers);
        if let Some(map) = obj.as_object_mut() {
            map.remove("status");
        }
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        let spec = FieldPath::new("spec");
        let mut errors = Vec::new();
        let group = obj["spec"]["group"].as_str().unwrap_or_default();
        let plural = obj["spec"]["names"]["plural"].as_str().unwrap_or_default();
        if group.is_empty() {
            errors.push(FieldError::required(&spec.child("group"), ""));
        }
        if plural.is_empty() {
            errors.push(FieldError::required(&spec.child("names").child("plural"), ""));
        }
        if obj["spec"]["names"]["kind"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
        {
            errors.push(FieldError::required(&spec.child("names").child("kind"), ""));
        }
        let name = obj["metadata"]["name"].as_str().unwrap_or_default();
        if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
            errors.push(FieldError::invalid(
                &FieldPath::new("metadata").child("name"),
                name,
                "must be spec.names.plural+\".\"+spec.group",
            ));
        }
        let versions = obj["spec"]["versions"].as_array().cloned().unwrap_or_default();
        if versions.is_empty() {
            errors.push(FieldError::required(
                &spec.child("versions"),
                "must have exactly one version marked as storage version",
            ));
        } else if versions
            .iter()
            .filter(|v| v["storage"].as_bool() == Some(true))
            .count()
            != 1
        {
            errors.push(FieldError::invalid(
                &spec.child("versions"),
                rudder_api::validation::BadValue::from_json(&Value::Array(versions)),
                "must have exactly one version marked as storage version",
            ));
        }
        errors
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}
