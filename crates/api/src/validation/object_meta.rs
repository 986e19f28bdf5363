//! `metadata` validation on create and update, mirroring upstream's
//! `apimachinery/pkg/api/validation/objectmeta.go` and `apis/meta/v1/validation`.
//!
//! Works on the JSON `metadata` object. Fields of the wrong JSON type are treated as absent
//! (upstream rejects them earlier, while decoding).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::field::{BadValue, FieldError, FieldPath, go_string_slice};
use super::names::{NameValidator, is_qualified_name, is_valid_label_value, name_is_dns_label};
use super::quote::{go_quote, go_time_string};

/// Upstream `FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE_ERROR_MSG: &str = "field is immutable";
/// Upstream `TotalAnnotationSizeLimitB`: 256 KiB over all keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;
/// Upstream `IsNegativeErrorMsg`.
pub const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";
const FIELD_MANAGER_MAX_LENGTH: usize = 128;
const MAX_SUBRESOURCE_NAME_LENGTH: usize = 256;

fn str_field<'a>(meta: &'a Value, key: &str) -> &'a str {
    meta.get(key).and_then(Value::as_str).unwrap_or("")
}

fn string_list(meta: &Value, key: &str) -> Vec<String> {
    meta.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

/// Upstream `ValidateLabels`: every key a qualified name, every value a label value. Errors
/// are reported on `path` itself (not `path[key]`), with the key or value as the bad value.
pub fn validate_labels(labels: &Map<String, Value>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels {
        errs.extend(validate_label_name(k, path));
        let v = v.as_str().unwrap_or("");
        errs.extend(
            is_valid_label_value(v)
                .into_iter()
                .map(|m| FieldError::invalid(path, v, m)),
        );
    }
    errs
}

/// Upstream `ValidateLabelName`.
pub fn validate_label_name(key: &str, path: &FieldPath) -> Vec<FieldError> {
    is_qualified_name(key)
        .into_iter()
        .map(|m| FieldError::invalid(path, key, m))
        .collect()
}

/// Upstream `ValidateAnnotations`: keys are qualified names ignoring case; total size of keys
/// and values at most 256 KiB.
pub fn validate_annotations(annotations: &Map<String, Value>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), m));
        }
        total = total
            .saturating_add(k.len())
            .saturating_add(v.as_str().map_or(0, str::len));
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errs.push(FieldError::too_long(
            path,
            Some(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES),
        ));
    }
    errs
}

/// Renders an owner reference the way Go's `%#v` prints `metav1.OwnerReference` (pointers are
/// shown as nil or as an opaque address, since Go prints the address).
fn owner_ref_go_syntax(r: &Value) -> String {
    let ptr = |key: &str| {
        if r.get(key).is_some_and(|v| !v.is_null()) {
            "(*bool)(0xc000000000)"
        } else {
            "(*bool)(nil)"
        }
    };
    format!(
        "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, Controller:{}, BlockOwnerDeletion:{}}}",
        go_quote(str_field(r, "apiVersion")),
        go_quote(str_field(r, "kind")),
        go_quote(str_field(r, "name")),
        go_quote(str_field(r, "uid")),
        ptr("controller"),
        ptr("blockOwnerDeletion"),
    )
}

/// Upstream `ValidateOwnerReferences`. Note upstream reports per-reference errors on
/// `ownerReferences.<field>` without an index.
pub fn validate_owner_references(refs: &[Value], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        let api_version = str_field(r, "apiVersion");
        let kind = str_field(r, "kind");
        // schema.ParseGroupVersion: "" and "v1" have no group; more than one '/' is an error,
        // which leaves the version empty.
        let (group, version) = match api_version.split('/').collect::<Vec<_>>().as_slice() {
            [v] => ("", *v),
            [g, v] => (*g, *v),
            _ => ("", ""),
        };
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("kind"),
                kind,
                "kind must not be empty",
            ));
        }
        if str_field(r, "name").is_empty() {
            errs.push(FieldError::invalid(
                &path.child("name"),
                "",
                "name must not be empty",
            ));
        }
        if str_field(r, "uid").is_empty() {
            errs.push(FieldError::invalid(
                &path.child("uid"),
                "",
                "uid must not be empty",
            ));
        }
        if group.is_empty() && version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                BadValue::Raw(owner_ref_go_syntax(r)),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{kind}/{}", str_field(r, "name"));
            match &first_controller {
                Some(first) => {
                    let all: Vec<String> = refs.iter().map(owner_ref_go_syntax).collect();
                    errs.push(FieldError::invalid(
                        path,
                        BadValue::Raw(format!("[]v1.OwnerReference{{{}}}", all.join(", "))),
                        format!(
                            "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                        ),
                    ));
                }
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// Upstream `ValidateFinalizers`.
pub fn validate_finalizers(finalizers: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in finalizers {
        errs.extend(
            is_qualified_name(f)
                .into_iter()
                .map(|m| FieldError::invalid(path, f.as_str(), m)),
        );
    }
    if finalizers.iter().any(|f| f == "orphan") && finalizers.iter().any(|f| f == "foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            BadValue::string_list(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Upstream `ValidateManagedFields`.
pub fn validate_managed_fields(entries: &[Value], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let p = path.index(i);
        let op = str_field(e, "operation");
        if op != "Apply" && op != "Update" {
            errs.push(FieldError::invalid(
                &p.child("operation"),
                op,
                "must be `Apply` or `Update`",
            ));
        }
        let ft = str_field(e, "fieldsType");
        if !ft.is_empty() && ft != "FieldsV1" {
            errs.push(FieldError::invalid(
                &p.child("fieldsType"),
                ft,
                "must be `FieldsV1`",
            ));
        }
        let manager = str_field(e, "manager");
        if manager.len() > FIELD_MANAGER_MAX_LENGTH {
            errs.push(FieldError::too_long(
                &p.child("manager"),
                Some(FIELD_MANAGER_MAX_LENGTH),
            ));
        }
        for (pos, c) in manager.char_indices() {
            if c.is_control() || (c.is_whitespace() && c != ' ') {
                errs.push(FieldError::invalid(
                    &p.child("manager"),
                    manager,
                    format!("invalid character U+{:04X} (at position {pos})", c as u32),
                ));
            }
        }
        if str_field(e, "subresource").len() > MAX_SUBRESOURCE_NAME_LENGTH {
            errs.push(FieldError::too_long(
                &p.child("subresource"),
                Some(MAX_SUBRESOURCE_NAME_LENGTH),
            ));
        }
    }
    errs
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

fn map_of<'a>(meta: &'a Value, key: &str) -> &'a Map<String, Value> {
    meta.get(key)
        .and_then(Value::as_object)
        .unwrap_or_else(|| empty_map())
}

fn array_of<'a>(meta: &'a Value, key: &str) -> &'a [Value] {
    meta.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn generation(meta: &Value) -> i64 {
    meta.get("generation").and_then(Value::as_i64).unwrap_or(0)
}

/// Upstream `ValidateObjectMeta` for a create, with errors under `metadata`. Expects name
/// generation to have happened already; `name_fn` is the resource's name rule
/// (`name_is_dns_subdomain` for most). `namespaced` is upstream's `requiresNamespace`.
pub fn validate_object_meta(meta: &Value, namespaced: bool, name_fn: NameValidator) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = Vec::new();
    let generate_name = str_field(meta, "generateName");
    if !generate_name.is_empty() {
        for m in name_fn(generate_name, true) {
            errs.push(FieldError::invalid(&path.child("generateName"), generate_name, m));
        }
    }
    let name = str_field(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            &path.child("name"),
            "name or generateName is required",
        ));
    } else {
        errs.extend(
            name_fn(name, false)
                .into_iter()
                .map(|m| FieldError::invalid(&path.child("name"), name, m)),
        );
    }
    let namespace = str_field(meta, "namespace");
    let ns_path = path.child("namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(&ns_path, ""));
        } else {
            errs.extend(
                name_is_dns_label(namespace, false)
                    .into_iter()
                    .map(|m| FieldError::invalid(&ns_path, namespace, m)),
            );
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(&ns_path, "not allowed on this type"));
    }
    let generation = generation(meta);
    if generation < 0 {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            generation,
            IS_NEGATIVE_ERROR_MSG,
        ));
    }
    errs.extend(validate_labels(map_of(meta, "labels"), &path.child("labels")));
    errs.extend(validate_annotations(
        map_of(meta, "annotations"),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        array_of(meta, "ownerReferences"),
        &path.child("ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        &string_list(meta, "finalizers"),
        &path.child("finalizers"),
    ));
    errs.extend(validate_managed_fields(
        array_of(meta, "managedFields"),
        &path.child("managedFields"),
    ));
    errs
}

/// How upstream prints a `metav1.Time` bad value (a `Stringer`), or `*metav1.Time` (`null`).
fn time_value(meta: &Value, key: &str, pointer: bool) -> BadValue {
    match meta.get(key).and_then(Value::as_str) {
        Some(t) => go_time_string(t).map_or_else(|| BadValue::Str(t.to_string()), BadValue::Raw),
        None if pointer => BadValue::Null,
        None => BadValue::Raw("0001-01-01 00:00:00 +0000 UTC".to_string()),
    }
}

fn same_time(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a == b || matches!((go_time_string(a), go_time_string(b)), (Some(x), Some(y)) if x == y)
        }
        (None, None) => true,
        _ => false,
    }
}

/// Upstream `ValidateImmutableField` for a string: `Invalid value: "<new>": field is immutable`.
pub fn validate_immutable_field(new: &Value, old: &Value, path: &FieldPath) -> Vec<FieldError> {
    if new == old {
        Vec::new()
    } else {
        vec![FieldError::invalid(path, new, FIELD_IMMUTABLE_ERROR_MSG)]
    }
}

/// Upstream `ValidateObjectMetaUpdate`, with errors under `metadata`.
pub fn validate_object_meta_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = Vec::new();
    if old.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let old_f: BTreeSet<String> = string_list(old, "finalizers").into_iter().collect();
        let extra: BTreeSet<String> = string_list(new, "finalizers")
            .into_iter()
            .filter(|f| !old_f.contains(f))
            .collect();
        if !extra.is_empty() {
            let extra: Vec<String> = extra.into_iter().collect();
            let list = go_string_slice(&extra);
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!("no new finalizers can be added if the object is being deleted, found new finalizers {list}"),
            ));
        }
    }
    let rv = str_field(new, "resourceVersion");
    if rv.is_empty() {
        errs.push(FieldError::invalid(
            &path.child("resourceVersion"),
            rv,
            "must be specified for an update",
        ));
    }
    if generation(new) < generation(old) {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            generation(new),
            "must not be decremented",
        ));
    }
    for key in ["name", "namespace", "uid"] {
        let (n, o) = (str_field(new, key), str_field(old, key));
        if n != o {
            errs.push(FieldError::invalid(
                &path.child(key),
                n,
                FIELD_IMMUTABLE_ERROR_MSG,
            ));
        }
    }
    for (key, pointer) in [("creationTimestamp", false), ("deletionTimestamp", true)] {
        let (n, o) = (
            new.get(key).and_then(Value::as_str),
            old.get(key).and_then(Value::as_str),
        );
        if !same_time(n, o) {
            errs.push(FieldError::invalid(
                &path.child(key),
                time_value(new, key, pointer),
                FIELD_IMMUTABLE_ERROR_MSG,
            ));
        }
    }
    let (n, o) = (
        new.get("deletionGracePeriodSeconds"),
        old.get("deletionGracePeriodSeconds"),
    );
    let norm = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned().unwrap_or(Value::Null);
    errs.extend(validate_immutable_field(
        &norm(n),
        &norm(o),
        &path.child("deletionGracePeriodSeconds"),
    ));
    errs.extend(validate_labels(map_of(new, "labels"), &path.child("labels")));
    errs.extend(validate_annotations(
        map_of(new, "annotations"),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        array_of(new, "ownerReferences"),
        &path.child("ownerReferences"),
    ));
    errs.extend(validate_managed_fields(
        array_of(new, "managedFields"),
        &path.child("managedFields"),
    ));
    errs
}
