//! CustomResourceDefinitions: a new definition carries upstream's cleanup finalizer, so that
//! deleting it first removes every custom object (see `registry::crd`); validation and defaults
//! are upstream's (see `crate::crd::definition`).

use rudder_api::validation::FieldError;
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

    fn default(&self, obj: &mut Value) {
        crate::crd::definition::default(obj);
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, write: WriteKind) -> Vec<FieldError> {
        if write == WriteKind::StatusUpdate {
            return Vec::new();
        }
        crate::crd::definition::validate_definition(obj, old)
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}
