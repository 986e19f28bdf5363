//! A CustomResourceDefinition version's `openAPIV3Schema`, compiled once into a tree the
//! validator, the defaulter and the pruner walk (upstream's `structuralschema.Structural` plus
//! the value validations kube-openapi checks).

use std::collections::BTreeMap;

use serde_json::Value;

/// One schema node.
#[derive(Debug, Default, Clone)]
pub(crate) struct Schema {
    pub(crate) ty: Option<String>,
    pub(crate) format: Option<String>,
    pub(crate) nullable: bool,
    pub(crate) int_or_string: bool,
    pub(crate) embedded: bool,
    pub(crate) properties: BTreeMap<String, Schema>,
    /// `additionalProperties` as a schema.
    pub(crate) additional: Option<Box<Schema>>,
    pub(crate) items: Option<Box<Schema>>,
    pub(crate) required: Vec<String>,
    pub(crate) enumeration: Option<Vec<Value>>,
    pub(crate) minimum: Option<f64>,
    pub(crate) exclusive_minimum: bool,
    pub(crate) maximum: Option<f64>,
    pub(crate) exclusive_maximum: bool,
    pub(crate) multiple_of: Option<f64>,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) pattern: Option<Pattern>,
    pub(crate) min_items: Option<u64>,
    pub(crate) max_items: Option<u64>,
    pub(crate) unique_items: bool,
    pub(crate) min_properties: Option<u64>,
    pub(crate) max_properties: Option<u64>,
    pub(crate) default: Option<Value>,
    pub(crate) list_type: Option<String>,
    pub(crate) list_map_keys: Vec<String>,
    pub(crate) all_of: Vec<Schema>,
    pub(crate) any_of: Vec<Schema>,
    pub(crate) one_of: Vec<Schema>,
    pub(crate) not: Option<Box<Schema>>,
}

/// A `pattern` as written (for messages) and compiled (`None` when our regex engine cannot
/// compile it; the CRD is refused in that case, so this only guards against panics).
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) source: String,
    pub(crate) regex: Option<regex::Regex>,
}

impl Schema {
    /// Compiles a JSON schema value. Unknown keywords are ignored (the CRD's own validation
    /// refuses what upstream refuses).
    pub(crate) fn compile(v: &Value) -> Schema {
        let Some(map) = v.as_object() else {
            return Schema::default();
        };
        let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
        let flag = |k: &str| map.get(k).and_then(Value::as_bool).unwrap_or(false);
        let uint = |k: &str| map.get(k).and_then(Value::as_u64);
        let float = |k: &str| map.get(k).and_then(Value::as_f64);
        let list = |k: &str| -> Vec<Schema> {
            map.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(Schema::compile).collect())
                .unwrap_or_default()
        };
        let additional = map
            .get("additionalProperties")
            .filter(|a| a.is_object())
            .map(|a| Box::new(Schema::compile(a)));
        Schema {
            ty: text("type").filter(|t| !t.is_empty()),
            format: text("format").filter(|t| !t.is_empty()),
            nullable: flag("nullable"),
            int_or_string: flag("x-kubernetes-int-or-string"),
            embedded: flag("x-kubernetes-embedded-resource"),
            properties: map
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.iter().map(|(k, v)| (k.clone(), Schema::compile(v))).collect())
                .unwrap_or_default(),
            additional,
            items: map
                .get("items")
                .filter(|i| i.is_object())
                .map(|i| Box::new(Schema::compile(i))),
            required: map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            enumeration: map.get("enum").and_then(Value::as_array).cloned(),
            minimum: float("minimum"),
            exclusive_minimum: flag("exclusiveMinimum"),
            maximum: float("maximum"),
            exclusive_maximum: flag("exclusiveMaximum"),
            multiple_of: float("multipleOf"),
            min_length: uint("minLength"),
            max_length: uint("maxLength"),
            pattern: text("pattern").map(|source| Pattern {
                regex: regex::Regex::new(&source).ok(),
                source,
            }),
            min_items: uint("minItems"),
            max_items: uint("maxItems"),
            unique_items: flag("uniqueItems"),
            min_properties: uint("minProperties"),
            max_properties: uint("maxProperties"),
            default: map.get("default").cloned(),
            list_type: text("x-kubernetes-list-type"),
            list_map_keys: map
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            all_of: list("allOf"),
            any_of: list("anyOf"),
            one_of: list("oneOf"),
            not: map
                .get("not")
                .filter(|n| n.is_object())
                .map(|n| Box::new(Schema::compile(n))),
        }
    }

    /// Whether any node of the tree carries a `default` (reads then need defaulting).
    pub(crate) fn has_defaults(&self) -> bool {
        self.default.is_some()
            || self.properties.values().any(Schema::has_defaults)
            || self.additional.as_deref().is_some_and(Schema::has_defaults)
            || self.items.as_deref().is_some_and(Schema::has_defaults)
    }

    /// The schema of a field of an object node: a declared property, else `additionalProperties`.
    pub(crate) fn field(&self, name: &str) -> Option<&Schema> {
        self.properties.get(name).or(self.additional.as_deref())
    }
}
