//! `/openapi/v2`: one Swagger 2.0 document with every path of every group-version and every
//! definition.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::operations::{GroupVersionApi, Operation, PathItem};
use super::params::{Location, Param};
use super::schemas::{Definitions, GVK_EXTENSION, Schemas, gvk, reference};

/// The `info.title` upstream publishes.
pub(super) const TITLE: &str = "Kubernetes";

/// `v1.33.0`: the Kubernetes version the API corresponds to.
pub(super) fn info_version() -> String {
    let (major, minor, patch) = rudder_api::KUBERNETES_VERSION;
    format!("v{major}.{minor}.{patch}")
}

/// The Swagger 2.0 document as JSON. Path items are built one at a time as they are written.
pub(super) fn json(schemas: &Schemas, apis: &[GroupVersionApi]) -> Vec<u8> {
    let doc = Document {
        swagger: "2.0",
        info: info(),
        paths: PathItems(apis),
        definitions: &schemas.defs,
        security_definitions: security_definitions(),
        security: security(),
    };
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// The same document as gnostic protobuf (what kubectl 1.27/1.28 ask for).
pub(super) fn protobuf(schemas: &Schemas, apis: &[GroupVersionApi]) -> Vec<u8> {
    let top = json!({
        "swagger": "2.0",
        "info": info(),
        "securityDefinitions": security_definitions(),
        "security": security(),
    });
    let paths = apis
        .iter()
        .flat_map(|api| &api.paths)
        .map(|item| (item.path.clone(), path_item(item)));
    super::proto::encode(&top, paths, &schemas.defs)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    swagger: &'static str,
    info: Value,
    paths: PathItems<'a>,
    definitions: &'a Definitions,
    security_definitions: Value,
    security: Value,
}

/// Every group-version's path items, as one map.
struct PathItems<'a>(&'a [GroupVersionApi]);

impl Serialize for PathItems<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for item in self.0.iter().flat_map(|api| &api.paths) {
            map.serialize_entry(&item.path, &path_item(item))?;
        }
        map.end()
    }
}

fn info() -> Value {
    json!({"title": TITLE, "version": info_version()})
}

fn security_definitions() -> Value {
    json!({
        "BearerToken": {
            "description": "Bearer Token authentication",
            "in": "header",
            "name": "authorization",
            "type": "apiKey",
        }
    })
}

fn security() -> Value {
    json!([{"BearerToken": []}])
}

fn path_item(item: &PathItem) -> Value {
    let mut out = Map::new();
    for op in &item.ops {
        out.insert(op.method.into(), operation(op));
    }
    if !item.params.is_empty() {
        out.insert("parameters".into(), item.params.iter().map(parameter).collect());
    }
    Value::Object(out)
}

fn operation(op: &Operation) -> Value {
    let mut parameters: Vec<Value> = Vec::new();
    if let Some((def, required)) = &op.body {
        parameters.push(json!({
            "in": "body",
            "name": "body",
            "required": required,
            "schema": reference(def),
        }));
    }
    parameters.extend(op.params.iter().map(parameter));
    let mut responses = Map::new();
    for r in &op.responses {
        let mut resp = json!({"description": r.description});
        if let Some(schema) = &r.schema {
            resp["schema"] = reference(schema);
        } else if r.text {
            resp["schema"] = json!({"type": "string"});
        }
        responses.insert(r.code.into(), resp);
    }
    let mut out = json!({
        "consumes": op.consumes,
        "description": op.description,
        "operationId": op.id,
        "produces": op.produces,
        "responses": responses,
        "schemes": ["https"],
        "tags": [op.tag],
    });
    if !parameters.is_empty() {
        out["parameters"] = parameters.into();
    }
    if let Some(action) = op.action {
        out["x-kubernetes-action"] = action.into();
    }
    if let Some(g) = &op.gvk {
        out[GVK_EXTENSION] = gvk(&g.group, &g.version, &g.kind);
    }
    out
}

/// A path or query parameter in Swagger 2.0 form (type inline, `uniqueItems` as upstream).
fn parameter(p: &Param) -> Value {
    let mut out = json!({
        "description": p.description,
        "in": match p.location { Location::Path => "path", Location::Query => "query" },
        "name": p.name,
        "type": p.ty,
        "uniqueItems": true,
    });
    if p.required {
        out["required"] = true.into();
    }
    out
}
