//! ConfigMaps and Secrets: keys must be config keys, `binaryData`/`data` of a secret are base64
//! (upstream decodes them into `[]byte`), a secret's `stringData` is merged into `data`, its type
//! defaults to `Opaque`, and `immutable: true` freezes the content.

use rudder_api::validation::{BadValue, FieldError, FieldPath};
use serde_json::{Map, Value, json};

use super::util::{at, base64_encode, config_map_key_errors, default_str, go_base64_decode, s};
use crate::registry::strategy::{Strategy, WriteKind};

/// Upstream `MaxSecretSize`, also the ConfigMap limit.
const MAX_SIZE: usize = 1024 * 1024;
const IMMUTABLE_MSG: &str = "field is immutable when `immutable` is set";

#[derive(Debug)]
pub(crate) struct ConfigMaps;

#[derive(Debug)]
pub(crate) struct Secrets;

/// The first value of a base64 map that Go would refuse to decode, as the decoder reports it.
fn base64_error(obj: &Value, field: &str) -> Option<String> {
    let map = at(obj, field).as_object()?;
    map.values()
        .filter_map(Value::as_str)
        .find_map(|v| go_base64_decode(v).err())
}

/// The decoded byte size of the base64 values in `obj.field`.
fn decoded_size(obj: &Value, field: &str) -> usize {
    at(obj, field).as_object().map_or(0, |m| {
        m.values()
            .filter_map(Value::as_str)
            .map(|v| go_base64_decode(v).map_or(0, |b| b.len()))
            .sum()
    })
}

fn validate_keys(obj: &Value, field: &str, errs: &mut Vec<FieldError>) {
    if let Some(map) = at(obj, field).as_object() {
        let path = FieldPath::new(field);
        for key in map.keys() {
            let p = path.key(key);
            errs.extend(
                config_map_key_errors(key)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p, key.as_str(), m)),
            );
        }
    }
}

fn validate_immutable(new: &Value, old: &Value, fields: &[&str], errs: &mut Vec<FieldError>) {
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(FieldError::forbidden(&FieldPath::new("immutable"), IMMUTABLE_MSG));
    }
    for field in fields {
        let empty = |v: &Value| v.is_null() || v.as_object().is_some_and(Map::is_empty);
        let (n, o) = (at(new, field), at(old, field));
        if n != o && !(empty(n) && empty(o)) {
            errs.push(FieldError::forbidden(&FieldPath::new(field), IMMUTABLE_MSG));
        }
    }
}

impl Strategy for ConfigMaps {
    fn decode_error(&self, obj: &Value) -> Option<String> {
        base64_error(obj, "binaryData")
    }

    fn default(&self, obj: &mut Value) {
        canonical_base64(obj, "binaryData");
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(old) = old {
            validate_immutable(obj, old, &["data", "binaryData"], &mut errs);
        }
        validate_keys(obj, "data", &mut errs);
        let mut size = 0;
        if let Some(data) = at(obj, "data").as_object() {
            let binary = at(obj, "binaryData");
            for (key, value) in data {
                if binary.get(key).is_some() {
                    let p = FieldPath::new("data").key(key);
                    errs.push(FieldError::invalid(
                        &p,
                        key.as_str(),
                        "duplicate of key present in binaryData",
                    ));
                }
                size += value.as_str().map_or(0, str::len);
            }
        }
        validate_keys(obj, "binaryData", &mut errs);
        if let Some(e) = base64_error(obj, "binaryData") {
            errs.push(FieldError::invalid(
                &FieldPath::new("binaryData"),
                BadValue::Omitted,
                e,
            ));
        }
        size += decoded_size(obj, "binaryData");
        if size > MAX_SIZE {
            errs.push(FieldError::too_long(&FieldPath::new(""), Some(MAX_SIZE)));
        }
        errs
    }
}

/// Re-encodes valid base64 values canonically, as a decode and re-encode upstream does.
fn canonical_base64(obj: &mut Value, field: &str) {
    if let Some(map) = obj.get_mut(field).and_then(Value::as_object_mut) {
        for value in map.values_mut() {
            if let Some(bytes) = value.as_str().and_then(|v| go_base64_decode(v).ok()) {
                *value = json!(base64_encode(&bytes));
            }
        }
    }
}

impl Strategy for Secrets {
    fn decode_error(&self, obj: &Value) -> Option<String> {
        if let Some(e) = base64_error(obj, "data") {
            return Some(e);
        }
        let bad = at(obj, "stringData")
            .as_object()?
            .values()
            .find(|v| !v.is_string() && !v.is_null())?;
        let kind = match bad {
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::Array(_) => "array",
            _ => "object",
        };
        Some(format!(
            "json: cannot unmarshal {kind} into Go struct field Secret.stringData of type string"
        ))
    }

    fn default(&self, obj: &mut Value) {
        canonical_base64(obj, "data");
        let Some(root) = obj.as_object_mut() else { return };
        default_str(root, "type", "Opaque");
        let Some(Value::Object(string_data)) = root.remove("stringData") else {
            return;
        };
        let data = match root.get_mut("data") {
            Some(Value::Object(m)) => m,
            _ => {
                root.insert("data".into(), Value::Object(Map::new()));
                match root.get_mut("data").and_then(Value::as_object_mut) {
                    Some(m) => m,
                    None => return,
                }
            }
        };
        for (k, v) in string_data {
            if let Some(text) = v.as_str() {
                data.insert(k, json!(base64_encode(text.as_bytes())));
            }
        }
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(old) = old {
            let (n, o) = (s(obj, "type"), s(old, "type"));
            if n != o {
                errs.push(FieldError::invalid(
                    &FieldPath::new("type"),
                    n,
                    "field is immutable",
                ));
            }
            validate_immutable(obj, old, &["data"], &mut errs);
        }
        validate_keys(obj, "data", &mut errs);
        if let Some(e) = base64_error(obj, "data") {
            errs.push(FieldError::invalid(&FieldPath::new("data"), BadValue::Omitted, e));
        }
        if decoded_size(obj, "data") > MAX_SIZE {
            errs.push(FieldError::too_long(&FieldPath::new("data"), Some(MAX_SIZE)));
        }
        errs.extend(validate_secret_type(obj));
        errs
    }
}

/// The keys each built-in secret type requires.
fn validate_secret_type(obj: &Value) -> Vec<FieldError> {
    let data = at(obj, "data");
    let path = FieldPath::new("data");
    let has = |k: &str| data.get(k).is_some_and(|v| !v.is_null());
    let required = |k: &str| FieldError::required(&path.key(k), "");
    let mut errs = Vec::new();
    match s(obj, "type") {
        "kubernetes.io/service-account-token" => {
            let name = at(
                at(at(obj, "metadata"), "annotations"),
                "kubernetes.io/service-account.name",
            );
            if name.as_str().unwrap_or("").is_empty() {
                let p = FieldPath::new("metadata")
                    .child("annotations")
                    .key("kubernetes.io/service-account.name");
                errs.push(FieldError::required(&p, ""));
            }
        }
        t @ ("kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson") => {
            let key = if t == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match data.get(key).and_then(Value::as_str) {
                None => errs.push(required(key)),
                Some(v) => {
                    let bytes = go_base64_decode(v).unwrap_or_default();
                    if let Err(e) = serde_json::from_slice::<Map<String, Value>>(&bytes) {
                        let msg = if bytes.is_empty() || e.is_eof() {
                            "unexpected end of JSON input".to_string()
                        } else {
                            e.to_string()
                        };
                        errs.push(FieldError::invalid(
                            &path.key(key),
                            "<secret contents redacted>",
                            msg,
                        ));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(required("username"));
            errs.push(required("password"));
        }
        "kubernetes.io/ssh-auth"
            if data
                .get("ssh-privatekey")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty() =>
        {
            errs.push(required("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has(key) {
                    errs.push(required(key));
                }
            }
        }
        _ => {}
    }
    errs
}
