//! Validation and defaulting of CustomResourceDefinitions themselves (upstream's
//! `apiextensions/validation` and v1 defaults): names, group, scope, versions, and each
//! version's schema being structural, with upstream's field paths and messages.

use rudder_api::validation::{
    BadValue, FieldError, FieldPath, is_dns1035_label, is_dns1123_subdomain, validate_immutable_field,
};
use serde_json::{Value, json};

use super::schema::Schema;
use super::validate;

/// v1 defaults: `singular` and `listKind` from `kind`, conversion strategy `None`.
pub(crate) fn default(crd: &mut Value) {
    let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if names
            .get("singular")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            names.insert("singular".into(), json!(kind.to_lowercase()));
        }
        if names
            .get("listKind")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && !kind.is_empty()
        {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    let conversion = spec.entry("conversion").or_insert_with(|| json!({}));
    if let Some(c) = conversion.as_object_mut()
        && c.get("strategy")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        c.insert("strategy".into(), json!("None"));
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Every problem of a definition (create, or update with `old`).
pub(crate) fn validate_definition(crd: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = &crd["spec"];
    let path = FieldPath::new("spec");
    let group = text(spec, "group");
    let plural = text(&spec["names"], "plural");
    let name = text(&crd["metadata"], "name");
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errors.push(FieldError::invalid(
            &FieldPath::new("metadata").child("name"),
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errors.push(FieldError::required(&path.child("group"), ""));
    } else {
        let errs = is_dns1123_subdomain(group);
        if !errs.is_empty() {
            errors.push(FieldError::invalid(&path.child("group"), group, errs.join(",")));
        } else if group.split('.').count() < 2 {
            errors.push(FieldError::invalid(
                &path.child("group"),
                group,
                "should be a domain with at least one dot",
            ));
        }
    }
    match text(spec, "scope") {
        "" => errors.push(FieldError::required(&path.child("scope"), "")),
        "Cluster" | "Namespaced" => {}
        other => errors.push(FieldError::not_supported(
            &path.child("scope"),
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    names(&spec["names"], &path.child("names"), &mut errors);
    versions(spec, &path, &mut errors);
    errors.extend(super::cel_definition::validate(spec));
    if let Some(old) = old {
        errors.extend(validate_immutable_field(
            &spec["group"],
            &old["spec"]["group"],
            &path.child("group"),
        ));
    }
    errors
}

fn names(names: &Value, path: &FieldPath, errors: &mut Vec<FieldError>) {
    for field in ["plural", "singular", "kind", "listKind"] {
        if text(names, field).is_empty() {
            errors.push(FieldError::required(&path.child(field), ""));
        }
    }
    for field in ["plural", "singular"] {
        let value = text(names, field);
        let errs = is_dns1035_label(value);
        if !value.is_empty() && !errs.is_empty() {
            errors.push(FieldError::invalid(&path.child(field), value, errs.join(",")));
        }
    }
    for field in ["kind", "listKind"] {
        let value = text(names, field);
        let errs = is_dns1035_label(&value.to_lowercase());
        if !value.is_empty() && !errs.is_empty() {
            errors.push(FieldError::invalid(
                &path.child(field),
                value,
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    errs.join(",")
                ),
            ));
        }
    }
    for field in ["shortNames", "categories"] {
        for (i, item) in names[field].as_array().into_iter().flatten().enumerate() {
            let value = item.as_str().unwrap_or_default();
            let errs = is_dns1035_label(value);
            if !errs.is_empty() {
                errors.push(FieldError::invalid(
                    &path.child(field).index(i),
                    value,
                    errs.join(","),
                ));
            }
        }
    }
    let kind = text(names, "kind");
    if !kind.is_empty() && kind == text(names, "listKind") {
        errors.push(FieldError::invalid(
            &path.child("listKind"),
            kind,
            "kind and listKind may not be the same",
        ));
    }
}

fn versions(spec: &Value, path: &FieldPath, errors: &mut Vec<FieldError>) {
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let vpath = path.child("versions");
    if versions.is_empty() {
        errors.push(FieldError::required(
            &vpath,
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let mut seen = std::collections::HashSet::new();
    let mut unique = true;
    for (i, version) in versions.iter().enumerate() {
        let name = text(version, "name");
        unique &= seen.insert(name.to_string());
        let errs = is_dns1035_label(name);
        if !errs.is_empty() {
            errors.push(FieldError::invalid(
                &vpath.index(i).child("name"),
                name,
                errs.join(","),
            ));
        }
        let schema_path = vpath.index(i).child("schema").child("openAPIV3Schema");
        match version.pointer("/schema/openAPIV3Schema") {
            Some(schema) if schema.is_object() => structural(schema, &schema_path, errors),
            _ => errors.push(FieldError::required(&schema_path, "schemas are required")),
        }
    }
    let shown = BadValue::Raw(Value::Array(versions.clone()).to_string());
    if !unique {
        errors.push(FieldError::invalid(
            &vpath,
            shown.clone(),
            "must contain unique version names",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v["storage"].as_bool() == Some(true))
        .count();
    if storage != 1 {
        errors.push(FieldError::invalid(
            &vpath,
            shown,
            "must have exactly one version marked as storage version",
        ));
    }
}

/// The structural-schema rules that matter for serving: every specified field has a type, the
/// root is an object, `metadata` only restricts `name`/`generateName`, arrays have `items`,
/// `properties` and `additionalProperties` are exclusive, patterns compile, defaults are valid.
fn structural(root: &Value, path: &FieldPath, errors: &mut Vec<FieldError>) {
    match text(root, "type") {
        "" => errors.push(FieldError::required(
            &path.child("type"),
            "must not be empty at the root",
        )),
        "object" => {}
        other => errors.push(FieldError::invalid(
            &path.child("type"),
            other,
            "must be object at the root",
        )),
    }
    if let Some(meta) = root.pointer("/properties/metadata") {
        let mpath = path.child("properties").key("metadata");
        let t = text(meta, "type");
        if !t.is_empty() && t != "object" {
            errors.push(FieldError::invalid(&mpath.child("type"), t, "must be object"));
        }
        let only_names = meta.as_object().is_none_or(|m| {
            m.keys().all(|k| k == "type" || k == "properties")
                && m.get("properties")
                    .and_then(Value::as_object)
                    .is_none_or(|p| p.keys().all(|k| k == "name" || k == "generateName"))
        });
        if !only_names {
            errors.push(FieldError::forbidden(
                &mpath,
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
    node(root, path, true, errors);
}

fn node(schema: &Value, path: &FieldPath, root: bool, errors: &mut Vec<FieldError>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    let flag = |k: &str| map.get(k).and_then(Value::as_bool).unwrap_or(false);
    let ty = text(schema, "type");
    if !root
        && ty.is_empty()
        && !flag("x-kubernetes-int-or-string")
        && !flag("x-kubernetes-preserve-unknown-fields")
    {
        errors.push(FieldError::required(
            &path.child("type"),
            "must not be empty for specified object fields",
        ));
    }
    if map.contains_key("properties")
        && map
            .get("additionalProperties")
            .is_some_and(|a| a != &json!(false))
    {
        errors.push(FieldError::forbidden(
            &path.child("additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    if ty == "array" && !map.get("items").is_some_and(Value::is_object) {
        errors.push(FieldError::required(&path.child("items"), "must be specified"));
    }
    if let Some(pattern) = map.get("pattern").and_then(Value::as_str)
        && let Err(e) = regex::Regex::new(pattern)
    {
        errors.push(FieldError::invalid(
            &path.child("pattern"),
            pattern,
            format!("must be a valid regular expression, but isn't: {e}"),
        ));
    }
    if let Some(default) = map.get("default") {
        let compiled = Schema::compile(schema);
        for e in validate::validate(&compiled, default) {
            errors.push(FieldError::invalid(
                &path.child("default"),
                default,
                e.to_string(),
            ));
        }
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (key, prop) in props {
            if root && key == "metadata" {
                continue;
            }
            node(prop, &path.child("properties").key(key), false, errors);
        }
    }
    if let Some(items) = map.get("items").filter(|i| i.is_object()) {
        node(items, &path.child("items"), false, errors);
    }
    if let Some(additional) = map.get("additionalProperties").filter(|a| a.is_object()) {
        node(additional, &path.child("additionalProperties"), false, errors);
    }
}
