//! `x-kubernetes-validations` of a custom resource version, compiled once per schema (upstream's
//! `apiextensions-apiserver/pkg/apiserver/schema/cel` `Validator`): a tree shaped like the
//! schema that keeps only the branches leading to rules, each rule compiled with `self` and
//! `oldSelf` declared (typed from the schema), and the CEL type of every node's value. Versions without rules get no
//! tree, so their writes never touch CEL.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use rudder_cel::{Environment, Program, TypeHint};
use serde_json::Value;

/// One node of the tree.
#[derive(Debug, Default)]
pub(crate) struct CelNode {
    /// The schema's `type` (upstream reports it as the bad value of a failed rule).
    pub(crate) ty: String,
    /// How the node's value is typed in CEL.
    pub(crate) hint: TypeHint,
    pub(crate) rules: Vec<Rule>,
    pub(crate) properties: BTreeMap<String, CelNode>,
    pub(crate) additional: Option<Box<CelNode>>,
    pub(crate) items: Option<Box<CelNode>>,
    /// The keys of an `x-kubernetes-list-type: map` list, whose items correlate with the old
    /// object's items of the same keys (other lists' items do not correlate).
    pub(crate) list_map_keys: Option<Vec<String>>,
    /// `x-kubernetes-map-type: atomic`: the fields of such an object do not correlate.
    pub(crate) atomic_map: bool,
}

/// One rule as written, and compiled.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) rule: String,
    pub(crate) message: String,
    pub(crate) message_expression: Option<Program>,
    pub(crate) reason: Option<String>,
    /// `fieldPath` as path segments below the node (`.spec.x` is `["spec", "x"]`).
    pub(crate) field_path: Vec<String>,
    pub(crate) optional_old_self: bool,
    /// The compiled rule, or why it did not compile (a definition stored before its rules were
    /// checked; reported on every write as upstream does).
    pub(crate) program: Result<Program, String>,
}

impl Rule {
    /// The rule's text in messages: its message if it has one, else the rule.
    pub(crate) fn error_string(&self) -> &str {
        if self.message.is_empty() {
            self.rule.trim()
        } else {
            &self.message
        }
    }
}

/// The rules of a version's `openAPIV3Schema`, or `None` when it has none. Compiled trees are
/// cached by schema text: a definition is re-read on every status change and each read builds
/// its versions again.
pub(crate) fn compile(schema: Option<&Value>) -> Option<Arc<CelNode>> {
    static CACHE: LazyLock<Mutex<HashMap<String, Option<Arc<CelNode>>>>> = LazyLock::new(Default::default);
    let schema = schema?;
    if !has_rules(schema) {
        return None;
    }
    let key = schema.to_string();
    if let Some(found) = CACHE.lock().get(&key) {
        return found.clone();
    }
    let env = match Environment::kubernetes() {
        Ok(env) => env,
        Err(e) => {
            tracing::error!(error = %e, "CEL environment unavailable; validation rules are not run");
            return None;
        }
    };
    let tree = node(env, schema, true).map(Arc::new);
    let mut cache = CACHE.lock();
    // Old schemas are dropped wholesale rather than tracked: recompiling is cheap next to a leak.
    if cache.len() >= 256 {
        cache.clear();
    }
    cache.insert(key, tree.clone());
    tree
}

/// Whether any node of a schema has `x-kubernetes-validations`.
pub(crate) fn has_rules(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else {
        return false;
    };
    if map
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
    {
        return true;
    }
    let children = map.get("properties").and_then(Value::as_object);
    children.is_some_and(|p| p.values().any(has_rules))
        || ["items", "additionalProperties"]
            .iter()
            .any(|k| map.get(*k).is_some_and(has_rules))
        || ["allOf", "anyOf", "oneOf"].iter().any(|k| {
            map.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(has_rules))
        })
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn node(env: &Environment, schema: &Value, resource: bool) -> Option<CelNode> {
    if !has_rules(schema) {
        return None;
    }
    let embedded = resource || flag(schema, "x-kubernetes-embedded-resource");
    let own_hint = hint(schema, embedded);
    let mut rules: Vec<Rule> = schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| compile_rule(env, r, &own_hint))
        .collect();
    // Rules under allOf apply to the same value (upstream runs them as their own validators).
    for sub in schema["allOf"].as_array().into_iter().flatten() {
        for r in sub["x-kubernetes-validations"].as_array().into_iter().flatten() {
            rules.push(compile_rule(env, r, &own_hint));
        }
    }
    let properties = schema["properties"]
        .as_object()
        .map(|p| {
            p.iter()
                .filter_map(|(k, v)| {
                    let embedded_child = flag(v, "x-kubernetes-embedded-resource");
                    node(env, v, embedded_child).map(|n| (k.clone(), n))
                })
                .collect()
        })
        .unwrap_or_default();
    let child = |key: &str| {
        schema
            .get(key)
            .filter(|s| s.is_object())
            .and_then(|s| node(env, s, flag(s, "x-kubernetes-embedded-resource")))
            .map(Box::new)
    };
    let list_map_keys = (text(schema, "x-kubernetes-list-type") == "map").then(|| {
        schema["x-kubernetes-list-map-keys"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    });
    Some(CelNode {
        ty: text(schema, "type"),
        hint: own_hint,
        rules,
        properties,
        additional: child("additionalProperties"),
        items: child("items"),
        list_map_keys,
        atomic_map: text(schema, "x-kubernetes-map-type") == "atomic",
    })
}

fn compile_rule(env: &Environment, r: &Value, this: &TypeHint) -> Rule {
    let rule = text(r, "rule");
    let vars = [("self", this), ("oldSelf", this)];
    let message_expression = Some(text(r, "messageExpression"))
        .filter(|m| !m.trim().is_empty())
        .and_then(|m| env.compile_typed(&m, &vars).ok());
    Rule {
        program: env.compile_typed(&rule, &vars).map_err(|e| e.to_string()),
        message: text(r, "message").trim().to_string(),
        message_expression,
        reason: r.get("reason").and_then(Value::as_str).map(str::to_string),
        field_path: parse_field_path(&text(r, "fieldPath")).unwrap_or_default(),
        optional_old_self: flag(r, "optionalOldSelf"),
        rule,
    }
}

/// The CEL type of a schema's values (upstream's `SchemaDeclType`). A resource's root and an
/// embedded resource also carry `apiVersion`, `kind` and `metadata` with only `name` and
/// `generateName` readable.
pub(crate) fn hint(schema: &Value, resource: bool) -> TypeHint {
    if flag(schema, "x-kubernetes-int-or-string") {
        return TypeHint::IntOrString;
    }
    match text(schema, "type").as_str() {
        "boolean" => TypeHint::Bool,
        "integer" => TypeHint::Int,
        "number" => TypeHint::Double,
        "string" => match text(schema, "format").as_str() {
            "date-time" | "date" => TypeHint::Timestamp,
            "duration" => TypeHint::Duration,
            "byte" => TypeHint::Bytes,
            _ => TypeHint::String,
        },
        "array" => TypeHint::List(Box::new(hint(
            &schema["items"],
            flag(&schema["items"], "x-kubernetes-embedded-resource"),
        ))),
        "object" | "" => object_hint(schema, resource),
        _ => TypeHint::Dynamic,
    }
}

fn object_hint(schema: &Value, resource: bool) -> TypeHint {
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        let embedded = flag(additional, "x-kubernetes-embedded-resource");
        return TypeHint::Map(Box::new(hint(additional, embedded)));
    }
    let mut fields: BTreeMap<String, TypeHint> = schema["properties"]
        .as_object()
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.clone(), hint(v, flag(v, "x-kubernetes-embedded-resource"))))
                .collect()
        })
        .unwrap_or_default();
    if resource {
        fields.insert("apiVersion".into(), TypeHint::String);
        fields.insert("kind".into(), TypeHint::String);
        let meta = [("name", TypeHint::String), ("generateName", TypeHint::String)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        fields.insert(
            "metadata".into(),
            TypeHint::Object {
                fields: meta,
                preserve_unknown: false,
            },
        );
    }
    if fields.is_empty() && preserve && schema.get("type").is_none() {
        return TypeHint::Dynamic;
    }
    TypeHint::Object {
        fields,
        preserve_unknown: preserve,
    }
}

/// Parses a rule's `fieldPath` (`.a.b`, `.a['b.c']`) into names; `None` when malformed.
pub(crate) fn parse_field_path(path: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = path.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            out.push(after[..end].to_string());
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']")?;
            out.push(after[..end].replace("\\'", "'").replace("\\\\", "\\"));
            rest = &after[end + 2..];
        } else {
            return None;
        }
    }
    Some(out)
}
