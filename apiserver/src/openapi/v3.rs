//! `/openapi/v3/<api/v1 | apis/group/version>`: one OpenAPI 3.0 document per group-version, with
//! that group-version's paths and the schemas they reach (`components.schemas`).
//!
//! Schemas are the Swagger 2.0 definitions rewritten the way upstream's v3 builder writes them:
//! `$ref`s point into `#/components/schemas/`, and a `$ref` with sibling keywords (a field's
//! description or patch extensions) becomes `allOf: [{$ref}]` beside them, since OpenAPI 3.0
//! ignores siblings of `$ref`.

use std::collections::{BTreeSet, VecDeque};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::operations::{GroupVersionApi, Operation, PathItem};
use super::params::{Location, Param};
use super::schemas::{Definitions, GVK_EXTENSION, Schemas, V2_REF_PREFIX, gvk};
use super::v2::{TITLE, info_version};

const V3_REF_PREFIX: &str = "#/components/schemas/";

/// Every group-version's document, keyed as in the `/openapi/v3` index (`api/v1`), serialized.
/// Schemas are converted one at a time while being written, so no document is ever held whole
/// as a JSON tree.
pub(super) fn documents(schemas: &Schemas, apis: &[GroupVersionApi], mut emit: impl FnMut(String, Vec<u8>)) {
    for api in apis {
        emit(api.key(), document(&schemas.defs, api));
    }
}

/// An OpenAPI 3.0 document; `components.schemas` is written lazily by [`ComponentSchemas`].
#[derive(Serialize)]
struct Document<'a> {
    openapi: &'static str,
    info: Value,
    paths: Map<String, Value>,
    components: Components<'a>,
    security: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Components<'a> {
    schemas: ComponentSchemas<'a>,
    security_schemes: Value,
}

/// The named definitions, each converted to v3 as it is serialized.
struct ComponentSchemas<'a> {
    defs: &'a Definitions,
    names: BTreeSet<String>,
}

impl Serialize for ComponentSchemas<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for name in &self.names {
            if let Some(schema) = self.defs.get(name) {
                let mut schema = to_v3(schema);
                one_of_types(name, &mut schema);
                map.serialize_entry(name, &schema)?;
            }
        }
        map.end()
    }
}

fn document(defs: &Definitions, api: &GroupVersionApi) -> Vec<u8> {
    let mut paths = Map::new();
    let mut roots = BTreeSet::new();
    for item in &api.paths {
        paths.insert(item.path.clone(), path_item(item, &mut roots));
    }
    let doc = Document {
        openapi: "3.0.0",
        info: json!({"title": TITLE, "version": info_version()}),
        paths,
        components: Components {
            schemas: ComponentSchemas {
                defs,
                names: closure(defs, roots),
            },
            security_schemes: json!({
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey",
                }
            }),
        },
        security: json!([{"BearerToken": []}]),
    };
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// The two scalar types that take more than one JSON type: v3 says so with `oneOf` instead of
/// v2's `type: string` (upstream's `OpenAPIV3OneOfTypes`), which is also what makes `kubectl
/// explain` print `<IntOrString>` and `<Quantity>` rather than `<string>`.
fn one_of_types(name: &str, schema: &mut Value) {
    let types: &[&str] = match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => &["integer", "string"],
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => &["string", "number"],
        _ => return,
    };
    if let Value::Object(map) = schema {
        map.remove("type");
        let one_of: Vec<Value> = types.iter().map(|t| json!({ "type": t })).collect();
        map.insert("oneOf".into(), one_of.into());
    }
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("{V3_REF_PREFIX}{name}") })
}

fn path_item(item: &PathItem, roots: &mut BTreeSet<String>) -> Value {
    let mut out = Map::new();
    for op in &item.ops {
        out.insert(op.method.into(), operation(op, roots));
    }
    if !item.params.is_empty() {
        out.insert("parameters".into(), item.params.iter().map(parameter).collect());
    }
    Value::Object(out)
}

fn operation(op: &Operation, roots: &mut BTreeSet<String>) -> Value {
    let mut responses = Map::new();
    for r in &op.responses {
        let mut resp = json!({"description": r.description});
        let schema = match (&r.schema, r.text) {
            (Some(def), _) => {
                roots.insert(def.clone());
                Some(reference(def))
            }
            (None, true) => Some(json!({"type": "string"})),
            (None, false) => None,
        };
        if let Some(schema) = schema {
            let content: Map<String, Value> = op
                .produces
                .iter()
                .map(|m| ((*m).to_string(), json!({"schema": schema.clone()})))
                .collect();
            resp["content"] = content.into();
        }
        responses.insert(r.code.into(), resp);
    }
    let mut out = json!({
        "description": op.description,
        "operationId": op.id,
        "responses": responses,
        "tags": [op.tag],
    });
    if !op.params.is_empty() {
        out["parameters"] = op.params.iter().map(parameter).collect();
    }
    if let Some((def, required)) = &op.body {
        roots.insert(def.clone());
        let content: Map<String, Value> = op
            .consumes
            .iter()
            .map(|m| ((*m).to_string(), json!({"schema": reference(def)})))
            .collect();
        out["requestBody"] = json!({"content": content, "required": required});
    }
    if let Some(action) = op.action {
        out["x-kubernetes-action"] = action.into();
    }
    if let Some(g) = &op.gvk {
        out[GVK_EXTENSION] = gvk(&g.group, &g.version, &g.kind);
    }
    out
}

/// A path or query parameter in OpenAPI 3.0 form (type in `schema`).
fn parameter(p: &Param) -> Value {
    let mut out = json!({
        "description": p.description,
        "in": match p.location { Location::Path => "path", Location::Query => "query" },
        "name": p.name,
        "schema": {"type": p.ty, "uniqueItems": true},
    });
    if p.required {
        out["required"] = true.into();
    }
    out
}

/// The names of `roots` and of every definition they reach through `$ref`s, sorted.
pub(super) fn closure(defs: &Definitions, roots: BTreeSet<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = roots.into_iter().collect();
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = defs.get(&name) {
            collect_refs(schema, &mut |r| {
                if !seen.contains(r) {
                    queue.push_back(r.to_string());
                }
            });
        }
    }
    seen
}

/// Calls `found` with the definition name of every `$ref` in `value`.
fn collect_refs(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(V2_REF_PREFIX) {
                            found(name);
                        }
                    }
                    _ => collect_refs(v, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, found)),
        _ => {}
    }
}

/// One schema in OpenAPI 3.0 form.
pub(super) fn to_v3(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    let mut reference = None;
    for (k, v) in map {
        let converted = match (k.as_str(), v) {
            ("$ref", Value::String(r)) => {
                let name = r.strip_prefix(V2_REF_PREFIX).unwrap_or(r);
                reference = Some(format!("{V3_REF_PREFIX}{name}"));
                continue;
            }
            ("properties", Value::Object(props)) => {
                Value::Object(props.iter().map(|(n, s)| (n.clone(), to_v3(s))).collect())
            }
            ("items" | "additionalProperties" | "not", Value::Object(_)) => to_v3(v),
            ("allOf" | "anyOf" | "oneOf", Value::Array(list)) => list.iter().map(to_v3).collect(),
            _ => v.clone(),
        };
        out.insert(k.clone(), converted);
    }
    if let Some(r) = reference {
        if out.is_empty() {
            out.insert("$ref".into(), r.into());
        } else {
            out.insert("allOf".into(), json!([{ "$ref": r }]));
        }
    }
    Value::Object(out)
}
