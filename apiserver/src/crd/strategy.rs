//! How one served version of a custom resource is written and read: unknown fields pruned,
//! defaults applied, the object validated against the version's schema; objects stored in the
//! storage version and shown in the served one (conversion strategy `None`: only `apiVersion`
//! changes, as upstream's `nopConverter`).

use std::sync::Arc;

use rudder_api::validation::FieldError;
use serde_json::{Value, json};

use super::schema::Schema;
use super::{defaults, validate};
use crate::registry::conversion::Conversion;
use crate::registry::fields::{self, FieldIssues, FieldSchemas, SchemaRef};
use crate::registry::strategy::{Strategy, WriteKind};

/// One version's schema, compiled for validation, defaulting and pruning.
#[derive(Debug)]
pub(crate) struct VersionSchema {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    /// `None` when the version has no schema (everything is kept, nothing is checked).
    pub(crate) schema: Option<Schema>,
    pub(crate) fields: &'static FieldSchemas,
    /// The version's `x-kubernetes-validations`, `None` when it has none.
    pub(crate) cel: Option<Arc<super::cel::CelNode>>,
}

impl VersionSchema {
    pub(crate) fn new(api_version: &str, kind: &str, openapi: Option<&Value>) -> VersionSchema {
        VersionSchema {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            schema: openapi.map(Schema::compile),
            fields: super::fieldschema::compile(api_version, kind, openapi),
            cel: super::cel::compile(openapi),
        }
    }

    pub(crate) fn field_schema(&self) -> Option<SchemaRef<'static>> {
        self.fields.root(&self.api_version, &self.kind)
    }

    /// Drops unknown fields, returning their paths (`spec.foo`), then applies defaults.
    pub(crate) fn prune_and_default(&self, obj: &mut Value) -> FieldIssues {
        let mut pruned = FieldIssues::default();
        if let Some(root) = self.field_schema() {
            fields::prune(obj, root, &mut pruned);
        }
        if let Some(schema) = &self.schema {
            defaults::apply(schema, obj);
        }
        pruned
    }
}

/// The strategy of a served custom resource version.
#[derive(Debug)]
pub(crate) struct CustomResourceStrategy {
    pub(crate) version: Arc<VersionSchema>,
}

impl Strategy for CustomResourceStrategy {
    fn default(&self, obj: &mut Value) {
        self.version.prune_and_default(obj);
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        let Some(schema) = &self.version.schema else {
            return Vec::new();
        };
        let mut errors = validate::validate(schema, obj);
        if let Some(old) = old {
            errors = super::cel_ratchet::ratchet(errors, schema, obj, old);
        }
        if let Some(rules) = &self.version.cel {
            match super::cel_eval::blocked(&errors) {
                Some(blocked) => errors.push(blocked),
                None => errors.extend(super::cel_eval::validate(rules, obj, old)),
            }
        }
        errors
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn field_schema(&self) -> Option<SchemaRef<'static>> {
        self.version.field_schema()
    }
}

/// Storage version ⇄ served version, with the served version's pruning and defaulting on read.
#[derive(Debug)]
pub(crate) struct VersionConversion {
    pub(crate) storage_api_version: String,
    pub(crate) served: Arc<VersionSchema>,
}

impl Conversion for VersionConversion {
    fn served_to_storage(&self, mut obj: Value) -> Value {
        if let Some(map) = obj.as_object_mut() {
            map.insert("apiVersion".into(), json!(self.storage_api_version));
        }
        obj
    }

    fn storage_to_served(&self, obj: &Value) -> Value {
        let mut out = obj.clone();
        if let Some(map) = out.as_object_mut() {
            map.insert("apiVersion".into(), json!(self.served.api_version));
        }
        self.served.prune_and_default(&mut out);
        out
    }
}
