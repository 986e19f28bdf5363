//! Namespaces: upstream `pkg/registry/core/namespace` — the `kubernetes` finalizer and phase
//! `Active` on create, the `kubernetes.io/metadata.name` label, and two-step deletion (the first
//! DELETE marks the namespace `Terminating`; it goes once `spec.finalizers` is empty).

use rudder_api::validation::{FieldError, FieldPath, NameValidator, name_is_dns_label};
use serde_json::{Value, json};

use super::util::{arr, at, child, unset};
use crate::registry::strategy::{Strategy, WriteKind};

const NAME_LABEL: &str = "kubernetes.io/metadata.name";

#[derive(Debug)]
pub(crate) struct Namespaces;

impl Strategy for Namespaces {
    fn name_validator(&self) -> NameValidator {
        name_is_dns_label
    }

    fn default(&self, obj: &mut Value) {
        set_name_label(obj);
        let Some(root) = obj.as_object_mut() else { return };
        if let Some(status) = child(root, "status")
            && unset(status.get("phase"))
        {
            status.insert("phase".into(), json!("Active"));
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let Some(root) = obj.as_object_mut() else { return };
        root.insert("status".into(), json!({"phase": "Active"}));
        let Some(spec) = child(root, "spec") else { return };
        let mut finalizers: Vec<Value> = spec
            .get("finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !finalizers.iter().any(|f| f == "kubernetes") {
            finalizers.push(json!("kubernetes"));
        }
        spec.insert("finalizers".into(), Value::Array(finalizers));
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // Only `/finalize` changes spec.finalizers; status is kept by the generic store.
        let Some(root) = new.as_object_mut() else { return };
        match old.get("spec") {
            Some(spec) => root.insert("spec".into(), spec.clone()),
            None => root.remove("spec"),
        };
    }

    fn canonicalize(&self, obj: &mut Value) {
        set_name_label(obj);
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        validate_finalizers(obj)
    }

    fn begin_delete(&self, obj: &mut Value) -> bool {
        let deleting = obj
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null());
        if deleting && arr(at(obj, "spec"), "finalizers").is_empty() {
            return false;
        }
        if let Some(status) = obj.as_object_mut().and_then(|root| child(root, "status")) {
            status.insert("phase".into(), json!("Terminating"));
        }
        true
    }

    fn can_remove(&self, obj: &Value) -> bool {
        arr(at(obj, "spec"), "finalizers").is_empty()
    }
}

/// Upstream sets the label to the name on every write (defaulting and `Canonicalize`).
fn set_name_label(obj: &mut Value) {
    let Some(name) = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return;
    };
    let name = name.to_string();
    let Some(meta) = obj.as_object_mut().and_then(|root| child(root, "metadata")) else {
        return;
    };
    if let Some(labels) = child(meta, "labels") {
        labels.insert(NAME_LABEL.into(), json!(name));
    }
}

/// Upstream `validateFinalizerName` over `spec.finalizers`: qualified names, and a name without
/// a `/` must be a standard one (`kubernetes`).
fn validate_finalizers(obj: &Value) -> Vec<FieldError> {
    let path = FieldPath::new("spec").child("finalizers");
    let mut errs = Vec::new();
    for f in arr(at(obj, "spec"), "finalizers") {
        let f = f.as_str().unwrap_or("");
        errs.extend(rudder_api::validation::validate_finalizers(
            &[f.to_string()],
            &path,
        ));
        if !f.contains('/') && f != "kubernetes" {
            errs.push(FieldError::invalid(
                &path,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}
