//! Defaulting of custom objects from their schema's `default`s (upstream's
//! `structuraldefaulting.Default`), and the dropping of `null`s that a non-nullable field without
//! a default cannot hold (`PruneNonNullableNullsWithoutDefaults`). Runs on every write and on
//! every read from storage, as upstream's decoders do.

use serde_json::Value;

use super::schema::Schema;

/// Fills absent (or non-nullable `null`) fields that have a default, depth first: defaults
/// themselves get their nested defaults.
pub(crate) fn apply(schema: &Schema, value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, prop) in &schema.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                let missing = match map.get(key) {
                    None => true,
                    Some(Value::Null) => !prop.nullable,
                    Some(_) => false,
                };
                if missing {
                    map.insert(key.clone(), default.clone());
                }
            }
            map.retain(|key, v| {
                let prop = schema.field(key);
                !(v.is_null() && prop.is_some_and(|p| !p.nullable && p.default.is_none()))
            });
            for (key, v) in map.iter_mut() {
                if let Some(prop) = schema.field(key) {
                    apply(prop, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for item in items.iter_mut() {
                    if item.is_null()
                        && !item_schema.nullable
                        && let Some(default) = &item_schema.default
                    {
                        *item = default.clone();
                    }
                    apply(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_fill_absent_and_null_fields_recursively() {
        let schema = Schema::compile(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "replicas": {"type": "integer", "default": 1},
                        "mode": {"type": "string", "default": "fast"},
                        "note": {"type": "string"},
                        "opt": {"type": "string", "nullable": true, "default": "x"},
                        "ports": {"type": "array", "items": {
                            "type": "object",
                            "properties": {"protocol": {"type": "string", "default": "TCP"}}
                        }}
                    }
                }
            }
        }));
        let mut empty = json!({});
        apply(&schema, &mut empty);
        assert_eq!(
            empty,
            json!({"spec": {"replicas": 1, "mode": "fast", "opt": "x"}})
        );

        let mut obj = json!({"spec": {"replicas": 3, "mode": null, "note": null, "opt": null,
            "ports": [{"port": 80}, {"protocol": "UDP"}]}});
        apply(&schema, &mut obj);
        assert_eq!(
            obj,
            json!({"spec": {"replicas": 3, "mode": "fast", "opt": null,
                "ports": [{"port": 80, "protocol": "TCP"}, {"protocol": "UDP"}]}})
        );
    }
}
