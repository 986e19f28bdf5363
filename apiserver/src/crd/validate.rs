//! Validation of a custom object against its version's schema, with kube-openapi's messages and
//! the field errors upstream's `kubeOpenAPIResultToFieldErrors` turns them into:
//! `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
//! Then the list-type checks (`x-kubernetes-list-type: set|map`) of upstream's `listtype`.

use rudder_api::validation::{BadValue, FieldError, FieldPath, go_format_float};
use serde_json::Value;

use super::format;
use super::schema::Schema;

/// Every problem of `value` against `schema`, as field errors (empty when valid).
pub(crate) fn validate(schema: &Schema, value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    node(schema, value, "", &mut errors);
    list_types(schema, value, &FieldPath::nil(), &mut errors);
    errors
}

/// The field path of an error named by kube-openapi's dotted path (`""` is the root, which
/// upstream renders as `<nil>`).
fn field_path(name: &str) -> FieldPath {
    if name.is_empty() {
        FieldPath::nil()
    } else {
        FieldPath::new(name)
    }
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// kube-openapi's name of a JSON value's type.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::String(_) => "string",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(schema: &Schema, value: &Value) -> Result<(), String> {
    let actual = type_name(value);
    let expected: Vec<&str> = if schema.int_or_string {
        vec!["integer", "string"]
    } else {
        match &schema.ty {
            Some(t) => vec![t.as_str()],
            None => return Ok(()),
        }
    };
    let is_float_int = actual == "number" && value.as_f64().is_some_and(|f| f.fract() == 0.0);
    let ok = expected.contains(&actual)
        || (is_float_int && expected.contains(&"integer"))
        || (actual == "integer" && expected.contains(&"number"));
    if ok { Ok(()) } else { Err(expected.join(",")) }
}

fn invalid(errors: &mut Vec<FieldError>, path: &str, value: impl Into<BadValue>, message: String) {
    errors.push(FieldError::invalid(&field_path(path), value, message));
}

fn node(schema: &Schema, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let name = if path.is_empty() { "." } else { path };
    if value.is_null() && schema.nullable {
        return;
    }
    if let Err(expected) = type_matches(schema, value) {
        let actual = type_name(value);
        errors.push(FieldError::type_invalid(
            &field_path(path),
            actual,
            format!("{name} in body must be of type {expected}: \"{actual}\""),
        ));
        return;
    }
    combinators(schema, value, path, errors);
    match value {
        Value::String(s) => string(schema, s, path, errors),
        Value::Number(_) => number(schema, value, path, errors),
        Value::Array(items) => array(schema, items, path, errors),
        Value::Object(map) => object(schema, map, path, errors),
        _ => {}
    }
    if let Some(allowed) = &schema.enumeration
        && !allowed.iter().any(|a| json_equal(a, value))
    {
        let values: Vec<String> = allowed
            .iter()
            .map(|a| match a {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        errors.push(FieldError::not_supported(&field_path(path), value, &values));
    }
}

/// Equality as Go compares decoded JSON: numbers by value (`1` equals `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn combinators(schema: &Schema, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let name = if path.is_empty() { "." } else { path };
    let passes = |s: &Schema| {
        let mut e = Vec::new();
        node(s, value, path, &mut e);
        e.is_empty()
    };
    if !schema.all_of.is_empty() {
        let before = errors.len();
        for s in &schema.all_of {
            node(s, value, path, errors);
        }
        if errors.len() > before {
            invalid(
                errors,
                path,
                "",
                format!("{name} in body must validate all the schemas (allOf)"),
            );
        }
    }
    if !schema.any_of.is_empty() && !schema.any_of.iter().any(passes) {
        invalid(
            errors,
            path,
            "",
            format!("{name} in body must validate at least one schema (anyOf)"),
        );
    }
    if !schema.one_of.is_empty() && schema.one_of.iter().filter(|s| passes(s)).count() != 1 {
        invalid(
            errors,
            path,
            "",
            format!("{name} in body must validate one and only one schema (oneOf)"),
        );
    }
    if let Some(not) = &schema.not
        && passes(not)
    {
        invalid(
            errors,
            path,
            "",
            format!("{name} in body must not validate the schema (not)"),
        );
    }
}

fn string(schema: &Schema, s: &str, path: &str, errors: &mut Vec<FieldError>) {
    let name = if path.is_empty() { "." } else { path };
    let chars = s.chars().count() as u64;
    if let Some(max) = schema.max_length
        && chars > max
    {
        errors.push(FieldError::too_long(&field_path(path), usize::try_from(max).ok()));
    }
    if let Some(min) = schema.min_length
        && chars < min
    {
        invalid(
            errors,
            path,
            s,
            format!("{name} in body should be at least {min} chars long"),
        );
    }
    if let Some(pattern) = &schema.pattern
        && pattern.regex.as_ref().is_some_and(|r| !r.is_match(s))
    {
        invalid(
            errors,
            path,
            s,
            format!("{name} in body should match '{}'", pattern.source),
        );
    }
    if let Some(fmt) = &schema.format
        && !schema.int_or_string
        && !format::is_valid(fmt, s)
    {
        errors.push(FieldError::type_invalid(
            &field_path(path),
            s,
            format!("{name} in body must be of type {fmt}: \"{s}\""),
        ));
    }
}

fn number(schema: &Schema, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let name = if path.is_empty() { "." } else { path };
    let Some(n) = value.as_f64() else {
        return;
    };
    if let Some(m) = schema.multiple_of
        && m > 0.0
        && (n / m).fract() != 0.0
    {
        invalid(
            errors,
            path,
            value,
            format!("{name} in body should be a multiple of {}", go_format_float(m)),
        );
    }
    if let Some(max) = schema.maximum {
        let (bad, word) = if schema.exclusive_maximum {
            (n >= max, "less than")
        } else {
            (n > max, "less than or equal to")
        };
        if bad {
            invalid(
                errors,
                path,
                value,
                format!("{name} in body should be {word} {}", go_format_float(max)),
            );
        }
    }
    if let Some(min) = schema.minimum {
        let (bad, word) = if schema.exclusive_minimum {
            (n <= min, "greater than")
        } else {
            (n < min, "greater than or equal to")
        };
        if bad {
            invalid(
                errors,
                path,
                value,
                format!("{name} in body should be {word} {}", go_format_float(min)),
            );
        }
    }
}

fn array(schema: &Schema, items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    let name = if path.is_empty() { "." } else { path };
    if let Some(item_schema) = &schema.items {
        for (i, item) in items.iter().enumerate() {
            node(item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
    let len = items.len() as u64;
    if let Some(min) = schema.min_items
        && len < min
    {
        invalid(
            errors,
            path,
            len as i64,
            format!("{name} in body should have at least {min} items"),
        );
    }
    if let Some(max) = schema.max_items
        && len > max
    {
        errors.push(FieldError::too_many(
            &field_path(path),
            Some(items.len()),
            usize::try_from(max).ok(),
        ));
    }
    if schema.unique_items {
        let duplicated = items
            .iter()
            .enumerate()
            .any(|(i, a)| items[..i].iter().any(|b| json_equal(a, b)));
        if duplicated {
            invalid(
                errors,
                path,
                "",
                format!("{name} in body shouldn't contain duplicates"),
            );
        }
    }
}

fn object(schema: &Schema, map: &serde_json::Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    let name = if path.is_empty() { "." } else { path };
    if let Some(max) = schema.max_properties
        && map.len() as u64 > max
    {
        errors.push(FieldError::too_many(
            &field_path(path),
            Some(map.len()),
            usize::try_from(max).ok(),
        ));
    }
    if let Some(min) = schema.min_properties
        && (map.len() as u64) < min
    {
        invalid(
            errors,
            path,
            min as i64,
            format!("{name} in body should have at least {min} properties"),
        );
    }
    if schema.embedded {
        for field in ["apiVersion", "kind"] {
            if map.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
                errors.push(FieldError::required(
                    &field_path(&child(path, field)),
                    "must not be empty",
                ));
            }
        }
    }
    for required in &schema.required {
        if !map.contains_key(required) {
            errors.push(FieldError::required(&field_path(&child(path, required)), ""));
        }
    }
    for (key, value) in map {
        if let Some(prop) = schema.properties.get(key) {
            node(prop, value, &child(path, key), errors);
        } else if let Some(additional) = &schema.additional {
            node(additional, value, &child(path, key), errors);
        }
    }
}

/// `x-kubernetes-list-type: set` items and `map` keys must be unique (upstream's
/// `listtype.ValidateListSetsAndMaps`).
fn list_types(schema: &Schema, value: &Value, path: &FieldPath, errors: &mut Vec<FieldError>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if let Some(s) = schema.field(key) {
                    list_types(s, v, &path.child(key), errors);
                }
            }
        }
        Value::Array(items) => {
            match schema.list_type.as_deref() {
                Some("set") => {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].iter().any(|b| json_equal(item, b)) {
                            errors.push(FieldError::duplicate(&path.index(i), item));
                        }
                    }
                }
                Some("map") if !schema.list_map_keys.is_empty() => {
                    let key = |item: &Value| -> Vec<Value> {
                        schema
                            .list_map_keys
                            .iter()
                            .map(|k| item.get(k).cloned().unwrap_or(Value::Null))
                            .collect()
                    };
                    for (i, item) in items.iter().enumerate() {
                        let k = key(item);
                        if items[..i].iter().any(|b| key(b) == k) {
                            let mut shown = serde_json::Map::new();
                            for (name, v) in schema.list_map_keys.iter().zip(k) {
                                shown.insert(name.clone(), v);
                            }
                            errors.push(FieldError::duplicate(
                                &path.index(i),
                                BadValue::Raw(Value::Object(shown).to_string()),
                            ));
                        }
                    }
                }
                _ => {}
            }
            if let Some(item_schema) = &schema.items {
                for (i, item) in items.iter().enumerate() {
                    list_types(item_schema, item, &path.index(i), errors);
                }
            }
        }
        _ => {}
    }
}
