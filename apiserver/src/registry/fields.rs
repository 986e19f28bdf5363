//! Unknown and duplicate fields in request bodies (`fieldValidation`), as upstream's strict
//! decoding reports them: `unknown field "spec.template.spec.containers[0].foo"` and
//! `duplicate field "spec.paused"`. Unknown fields of built-in kinds are dropped whatever the
//! directive (upstream decodes into Go structs); `Strict` refuses the request, `Warn` (the
//! default) answers with one `Warning` header per problem.
//!
//! Bodies of creates and updates are checked while they are parsed (document order, one pass);
//! patches are checked twice like upstream: the patch body for duplicates, then the patched
//! object for unknown fields (in key order).

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// `fieldValidation`: what to do about unknown and duplicate fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    /// Dropped silently.
    Ignore,
    /// Dropped, with a `Warning` header each (upstream's default).
    Warn,
    /// The request fails with 400.
    Strict,
}

/// The field structure of every built-in kind, compiled from the OpenAPI definitions.
#[derive(Debug, Default)]
pub(crate) struct FieldSchemas {
    /// `(apiVersion, kind)` → root node.
    roots: HashMap<(String, String), u32>,
    nodes: Vec<Node>,
}

/// One schema node; scalars and free-form values are [`Node::Free`].
#[derive(Debug, Clone)]
enum Node {
    Object(HashMap<Box<str>, u32>),
    /// `x-kubernetes-preserve-unknown-fields` with declared properties: those are checked (and
    /// pruned below), every other key is kept unchecked, as upstream's `skipPrune`.
    Open(HashMap<Box<str>, u32>),
    Map(u32),
    Array(u32),
    Free,
}

/// A schema node to check a value against, or none (duplicates only).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchemaRef<'s> {
    schemas: &'s FieldSchemas,
    node: u32,
}

impl FieldSchemas {
    /// Compiles `definitions` (Swagger 2.0, `$ref`s to `#/definitions/<name>`); `kinds` lists
    /// `(apiVersion, kind, definition name)` of the top-level kinds.
    pub(crate) fn compile<'a>(
        definitions: &Map<String, Value>,
        kinds: impl IntoIterator<Item = (String, String, &'a str)>,
    ) -> FieldSchemas {
        let mut compiler = Compiler {
            definitions,
            memo: HashMap::new(),
            nodes: vec![Node::Free],
        };
        let roots = kinds
            .into_iter()
            .filter(|(_, _, name)| definitions.contains_key(*name))
            .map(|(api_version, kind, name)| ((api_version, kind), compiler.definition(name)))
            .collect();
        FieldSchemas {
            roots,
            nodes: compiler.nodes,
        }
    }

    /// The schema of a built-in kind, if known.
    pub(crate) fn root(&self, api_version: &str, kind: &str) -> Option<SchemaRef<'_>> {
        self.roots
            .get(&(api_version.to_string(), kind.to_string()))
            .map(|&node| SchemaRef { schemas: self, node })
    }
}

struct Compiler<'d> {
    definitions: &'d Map<String, Value>,
    memo: HashMap<String, u32>,
    nodes: Vec<Node>,
}

const FREE: u32 = 0;

impl Compiler<'_> {
    fn definition(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.memo.get(name) {
            return id;
        }
        let Some(schema) = self.definitions.get(name) else {
            return FREE;
        };
        // Reserved before compiling, so recursive types (JSONSchemaProps) terminate.
        let id = self.nodes.len() as u32;
        self.nodes.push(Node::Free);
        self.memo.insert(name.to_string(), id);
        let node = self.node(schema);
        self.nodes[id as usize] = node;
        id
    }

    fn schema(&mut self, schema: &Value) -> u32 {
        if let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/definitions/"))
        {
            return self.definition(name);
        }
        match self.node(schema) {
            Node::Free => FREE,
            node => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn node(&mut self, schema: &Value) -> Node {
        let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            let fields = props
                .iter()
                .map(|(k, v)| (k.as_str().into(), self.schema(v)))
                .collect();
            return if preserve {
                Node::Open(fields)
            } else {
                Node::Object(fields)
            };
        }
        if preserve {
            return Node::Free;
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("object") => match schema.get("additionalProperties") {
                Some(v) if v.is_object() => Node::Map(self.schema(v)),
                _ => Node::Free,
            },
            Some("array") => match schema.get("items") {
                Some(items) => Node::Array(self.schema(items)),
                None => Node::Free,
            },
            _ => Node::Free,
        }
    }
}

/// Problems found in a body, as upstream words them, in the order found.
#[derive(Debug, Default)]
pub(crate) struct FieldIssues(pub(crate) Vec<String>);

impl FieldIssues {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `strict decoding error: <issue>, <issue>`.
    pub(crate) fn strict_message(&self) -> String {
        format!("strict decoding error: {}", self.0.join(", "))
    }
}

#[derive(Debug, Clone)]
enum Seg {
    Field(String),
    Index(usize),
}

fn path_string(path: &[Seg], last: &str) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Field(f) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(f);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(last);
    out
}

/// Parses a JSON body, reporting duplicate keys and (with a schema) unknown fields, which are
/// dropped from the result.
pub(crate) fn parse(
    body: &[u8],
    schema: Option<SchemaRef<'_>>,
) -> Result<(Value, FieldIssues), serde_json::Error> {
    let mut ctx = Ctx {
        schemas: schema.map(|s| s.schemas),
        path: Vec::new(),
        issues: FieldIssues::default(),
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Seed {
        ctx: &mut ctx,
        node: schema.map(|s| s.node),
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((value, ctx.issues))
}

struct Ctx<'s> {
    schemas: Option<&'s FieldSchemas>,
    path: Vec<Seg>,
    issues: FieldIssues,
}

impl Ctx<'_> {
    fn node(&self, id: Option<u32>) -> Option<&Node> {
        Some(&self.schemas?.nodes[id? as usize])
    }
}

struct Seed<'c, 's> {
    ctx: &'c mut Ctx<'s>,
    /// `None`: not checked for unknown fields.
    node: Option<u32>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Where a key leads: a known child (checked against `Some(node)` or unchecked), or nowhere.
enum Child {
    Known(Option<u32>),
    Unknown,
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let elem = match self.ctx.node(self.node) {
            Some(Node::Array(e)) => Some(*e),
            _ => None,
        };
        let mut out = Vec::new();
        loop {
            self.ctx.path.push(Seg::Index(out.len()));
            let next = seq.next_element_seed(Seed {
                ctx: &mut *self.ctx,
                node: elem,
            });
            self.ctx.path.pop();
            match next? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut unknown: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = match self.ctx.node(self.node) {
                Some(Node::Object(fields)) => match fields.get(key.as_str()) {
                    Some(&id) => Child::Known(Some(id)),
                    None => Child::Unknown,
                },
                Some(Node::Open(fields)) => Child::Known(fields.get(key.as_str()).copied()),
                Some(Node::Map(v)) => Child::Known(Some(*v)),
                _ => Child::Known(None),
            };
            match child {
                Child::Unknown => {
                    // Reported once, even when repeated (upstream's typed decoding does too).
                    if unknown.insert(key.clone()) {
                        let path = path_string(&self.ctx.path, &key);
                        self.ctx.issues.0.push(format!("unknown field {path:?}"));
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                Child::Known(node) => {
                    if out.contains_key(&key) {
                        let path = path_string(&self.ctx.path, &key);
                        self.ctx.issues.0.push(format!("duplicate field {path:?}"));
                    }
                    self.ctx.path.push(Seg::Field(key));
                    let value = map.next_value_seed(Seed {
                        ctx: &mut *self.ctx,
                        node,
                    });
                    let Some(Seg::Field(key)) = self.ctx.path.pop() else {
                        unreachable!("pushed above")
                    };
                    out.insert(key, value?);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Drops the unknown fields of `value` (checked against `schema`), reporting each in key order
/// (upstream's check of a patched object).
pub(crate) fn prune(value: &mut Value, schema: SchemaRef<'_>, issues: &mut FieldIssues) {
    let mut path = Vec::new();
    prune_node(value, schema.schemas, schema.node, &mut path, issues);
}

fn prune_node(
    value: &mut Value,
    schemas: &FieldSchemas,
    node: u32,
    path: &mut Vec<Seg>,
    issues: &mut FieldIssues,
) {
    match (&schemas.nodes[node as usize], value) {
        (Node::Object(fields), Value::Object(map)) => {
            // Depth first in key order, as upstream's converter walks a patched object.
            let mut unknown = Vec::new();
            for (key, child) in map.iter_mut() {
                match fields.get(key.as_str()) {
                    Some(&id) => {
                        path.push(Seg::Field(key.clone()));
                        prune_node(child, schemas, id, path, issues);
                        path.pop();
                    }
                    None => {
                        issues
                            .0
                            .push(format!("unknown field {:?}", path_string(path, key)));
                        unknown.push(key.clone());
                    }
                }
            }
            for key in unknown {
                map.remove(&key);
            }
        }
        (Node::Open(fields), Value::Object(map)) => {
            for (key, child) in map.iter_mut() {
                if let Some(&id) = fields.get(key.as_str()) {
                    path.push(Seg::Field(key.clone()));
                    prune_node(child, schemas, id, path, issues);
                    path.pop();
                }
            }
        }
        (Node::Map(elem), Value::Object(map)) => {
            for (key, child) in map.iter_mut() {
                path.push(Seg::Field(key.clone()));
                prune_node(child, schemas, *elem, path, issues);
                path.pop();
            }
        }
        (Node::Array(elem), Value::Array(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                prune_node(item, schemas, *elem, path, issues);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A `Warning` header value (`299 - "<text>"`), quoted as upstream's `NewWarningHeader`.
pub(crate) fn warning_header(text: &str) -> String {
    let mut out = String::from("299 - \"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> FieldSchemas {
        let defs = json!({
            "Deployment": {"properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "metadata": {"$ref": "#/definitions/Meta"},
                "spec": {"$ref": "#/definitions/Spec"}}},
            "Meta": {"properties": {"name": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "Spec": {"properties": {"paused": {"type": "boolean"}, "template": {"$ref": "#/definitions/Template"},
                "free": {"type": "object"}}},
            "Template": {"properties": {"spec": {"properties": {"containers": {"type": "array",
                "items": {"$ref": "#/definitions/Container"}}}}}},
            "Container": {"properties": {"name": {"type": "string"}, "imagePullPolicy": {"type": "string"}}},
        });
        let defs = defs.as_object().cloned().unwrap();
        FieldSchemas::compile(
            &defs,
            [("apps/v1".to_string(), "Deployment".to_string(), "Deployment")],
        )
    }

    /// Upstream's field_validation_test body, reduced.
    const BODY: &str = r#"{
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "dupename", "name": "x", "labels": {"app": "nginx"}, "unknownMeta": "metaVal"},
        "spec": {"unknown1": "val1", "unknownDupe": "a", "unknownDupe": "b", "paused": true, "paused": false,
            "free": {"anything": {"goes": 1}},
            "template": {"spec": {"containers": [{"name": "nginx", "unknownNested": "val1",
                "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}}
    }"#;

    #[test]
    fn parse_reports_in_document_order_and_drops_unknown_fields() {
        let s = schemas();
        let (value, issues) = parse(BODY.as_bytes(), s.root("apps/v1", "Deployment")).unwrap();
        assert_eq!(
            issues.strict_message(),
            r#"strict decoding error: duplicate field "metadata.name", unknown field "metadata.unknownMeta", unknown field "spec.unknown1", unknown field "spec.unknownDupe", duplicate field "spec.paused", unknown field "spec.template.spec.containers[0].unknownNested", duplicate field "spec.template.spec.containers[0].imagePullPolicy""#
        );
        assert_eq!(
            value["metadata"],
            json!({"name": "x", "labels": {"app": "nginx"}})
        );
        assert_eq!(value["spec"]["paused"], json!(false), "the last duplicate wins");
        assert_eq!(value["spec"]["free"], json!({"anything": {"goes": 1}}));
        assert_eq!(
            value["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "nginx", "imagePullPolicy": "Never"})
        );
    }

    #[test]
    fn schemaless_parse_reports_duplicates_only() {
        let (value, issues) = parse(br#"{"spec": {"a": 1, "a": 2, "b": [{"c": 1, "c": 2}]}}"#, None).unwrap();
        assert_eq!(
            issues.0,
            vec![r#"duplicate field "spec.a""#, r#"duplicate field "spec.b[0].c""#]
        );
        assert_eq!(value, json!({"spec": {"a": 2, "b": [{"c": 2}]}}));
        assert!(parse(b"{\"a\": 1} x", None).is_err());
    }

    #[test]
    fn prune_reports_in_key_order() {
        let s = schemas();
        let mut obj = json!({"apiVersion": "apps/v1", "spec": {"unknown1": 1, "paused": true,
            "template": {"spec": {"containers": [{"name": "n", "zzz": 1}]}}}, "extra": {}});
        let mut issues = FieldIssues::default();
        prune(&mut obj, s.root("apps/v1", "Deployment").unwrap(), &mut issues);
        assert_eq!(
            issues.0,
            vec![
                r#"unknown field "extra""#,
                r#"unknown field "spec.template.spec.containers[0].zzz""#,
                r#"unknown field "spec.unknown1""#
            ]
        );
        assert_eq!(
            obj["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "n"})
        );
    }

    #[test]
    fn warning_headers_are_quoted_as_upstream() {
        assert_eq!(
            warning_header(r#"unknown field "spec.foo""#),
            r#"299 - "unknown field \"spec.foo\"""#
        );
    }
}
