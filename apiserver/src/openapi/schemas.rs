//! The `definitions` of the OpenAPI documents: JSON schemas generated from the k8s-openapi types
//! (through their `schemars::JsonSchema` implementations), named as upstream names them
//! (`io.k8s.api.core.v1.Pod`), then brought to upstream's shape:
//!
//! - `x-kubernetes-group-version-kind` on every top-level kind and on the list kinds;
//! - list kinds (`PodList`), which k8s-openapi models generically and so has no schema for;
//! - patch and list-type extensions ([`super::extensions`]);
//! - `metadata` is not required (k8s-openapi makes it required only because its Rust field is
//!   not optional), and the few types whose JSON is free-form get upstream's schema.

use k8s_openapi::Resource;
use k8s_openapi::api::{
    admissionregistration, apps, authentication, authorization, autoscaling, batch, certificates,
    coordination, core, discovery, events, networking, node, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use rudder_api::resources::RESOURCES;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

/// Definitions by name.
pub(super) type Definitions = Map<String, Value>;

/// Where `$ref`s of the Swagger 2.0 document point.
pub(super) const V2_REF_PREFIX: &str = "#/definitions/";

pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(super) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";

/// One kind with a generated schema.
#[derive(Debug, Clone)]
pub(super) struct KindSchema {
    pub(super) group: &'static str,
    pub(super) version: &'static str,
    pub(super) kind: String,
    /// The definition's name.
    pub(super) name: String,
}

/// Every definition plus the index of top-level kinds.
#[derive(Debug)]
pub(super) struct Schemas {
    pub(super) defs: Definitions,
    kinds: Vec<KindSchema>,
}

impl Schemas {
    /// Generates the definitions of every kind the resource table serves.
    pub(super) fn build() -> Schemas {
        let settings = SchemaSettings::draft07().with(|s| {
            s.definitions_path = "/definitions".into();
            s.transforms.clear();
            s.inline_subschemas = false;
        });
        let mut generator = SchemaGenerator::new(settings);
        let mut kinds = Vec::new();
        register_kinds(&mut generator, &mut kinds);
        generator.subschema_for::<meta::DeleteOptions>();
        generator.subschema_for::<meta::Patch>();
        let mut defs = generator.take_definitions(false);
        for (name, schema) in defs.iter_mut() {
            normalize(name, schema);
        }
        for k in &kinds {
            if let Some(Value::Object(def)) = defs.get_mut(&k.name) {
                def.insert(GVK_EXTENSION.into(), json!([gvk(k.group, k.version, &k.kind)]));
            }
        }
        let mut schemas = Schemas { defs, kinds };
        schemas.add_list_kinds();
        super::extensions::annotate(&mut schemas);
        schemas
    }

    /// The definition name of a kind, if it has a schema.
    pub(super) fn name_of(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.kind == kind)
            .map(|k| k.name.as_str())
    }

    /// The kinds with schemas, in registration order.
    pub(super) fn kinds(&self) -> &[KindSchema] {
        &self.kinds
    }

    /// Adds the definitions of served custom resources (and their lists), named as upstream
    /// names them (`com.example.v1.Widget`) from each version's `openAPIV3Schema`.
    pub(super) fn add_custom(&mut self, kinds: &[super::custom::CustomKind]) {
        for k in kinds {
            let r = &k.info;
            let name = custom_definition_name(r.group, r.version, r.kind);
            let mut def =
                k.schema.clone().filter(Value::is_object).unwrap_or_else(
                    || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                );
            if let Value::Object(map) = &mut def {
                let props = map.entry("properties").or_insert_with(|| json!({}));
                if let Value::Object(props) = props {
                    props.insert(
                        "apiVersion".into(),
                        json!({"description": API_VERSION_DOC, "type": "string"}),
                    );
                    props.insert("kind".into(), json!({"description": KIND_DOC, "type": "string"}));
                    let mut metadata = reference("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
                    metadata["description"] = "Standard object's metadata.".into();
                    props.insert("metadata".into(), metadata);
                }
                map.insert(GVK_EXTENSION.into(), json!([gvk(r.group, r.version, r.kind)]));
            }
            self.defs.insert(name.clone(), def);
            let list_kind = r.list_kind();
            let list_name = format!("{name}List");
            let list = list_schema(&name, r.kind, r.plural, gvk(r.group, r.version, &list_kind));
            self.defs.insert(list_name.clone(), list);
            self.kinds.push(KindSchema {
                group: r.group,
                version: r.version,
                kind: r.kind.to_string(),
                name,
            });
            self.kinds.push(KindSchema {
                group: r.group,
                version: r.version,
                kind: list_kind,
                name: list_name,
            });
        }
    }

    /// Adds `<Kind>List` for every listable resource of the table.
    fn add_list_kinds(&mut self) {
        for r in RESOURCES.iter().filter(|r| r.has_verb("list")) {
            let Some(item) = self.name_of(r.group, r.version, r.kind).map(str::to_string) else {
                continue;
            };
            let list_kind = r.list_kind();
            let name = format!("{item}List");
            if self.defs.contains_key(&name) {
                continue;
            }
            let def = list_schema(&item, r.kind, r.plural, gvk(r.group, r.version, &list_kind));
            self.defs.insert(name.clone(), def);
            self.kinds.push(KindSchema {
                group: r.group,
                version: r.version,
                kind: list_kind,
                name,
            });
        }
    }
}

/// Upstream's definition name of a custom kind: the group reversed, then version and kind
/// (`example.com`, `v1`, `Widget` → `com.example.v1.Widget`).
pub(super) fn custom_definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// `x-kubernetes-group-version-kind`: a list on definitions, an object on operations.
pub(super) const GVK_EXTENSION: &str = "x-kubernetes-group-version-kind";

/// `{"group": .., "kind": .., "version": ..}` in upstream's key order.
pub(super) fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// A `$ref` to a definition in the Swagger 2.0 document.
pub(super) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("{V2_REF_PREFIX}{name}") })
}

/// The definition a schema points at, directly or as the element or value type of a list or
/// map, or through a one-element `allOf`.
pub(super) fn referenced_name(schema: &Value) -> Option<&str> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.strip_prefix(V2_REF_PREFIX);
    }
    if let Some(first) = schema.get("allOf").and_then(|a| a.get(0)) {
        return referenced_name(first);
    }
    schema
        .get("items")
        .or_else(|| schema.get("additionalProperties"))
        .and_then(referenced_name)
}

/// `<Kind>List`: `apiVersion`, `items`, `kind` and list `metadata`.
fn list_schema(item: &str, kind: &str, plural: &str, gvk: Value) -> Value {
    let mut items = json!({"type": "array", "items": reference(item)});
    items["description"] = format!("List of {plural}.").into();
    let mut metadata = reference("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta");
    metadata["description"] = "Standard list metadata.".into();
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {"description": API_VERSION_DOC, "type": "string"},
            "items": items,
            "kind": {"description": KIND_DOC, "type": "string"},
            "metadata": metadata,
        },
        "required": ["items"],
        GVK_EXTENSION: [gvk],
    })
}

const API_VERSION_DOC: &str = "The versioned schema of this representation of the list: the group and \
version, or just the version for the core group.";
const KIND_DOC: &str = "The REST resource this object represents, in CamelCase.";

/// Brings one generated definition to upstream's shape.
fn normalize(name: &str, schema: &mut Value) {
    let Value::Object(def) = schema else {
        return;
    };
    // Free-form JSON values: upstream publishes only their description.
    const FREE_FORM: &[&str] = &[
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
    ];
    if FREE_FORM.contains(&name) {
        def.retain(|k, _| k == "description");
        return;
    }
    match name {
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            def.remove("x-kubernetes-int-or-string");
            def.insert("type".into(), "string".into());
        }
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            def.remove("x-kubernetes-int-or-string");
            def.insert("type".into(), "string".into());
            def.insert("format".into(), "int-or-string".into());
        }
        _ => {}
    }
    if let Some(Value::Array(required)) = def.get_mut("required") {
        required.retain(|f| f != "metadata");
        if required.is_empty() {
            def.remove("required");
        }
    }
}

/// Registers the schema of each listed type and records its group, version and kind.
macro_rules! kinds {
    ($generator:ident, $out:ident; $($ty:ty),* $(,)?) => {
        $( register::<$ty>($generator, $out); )*
    };
}

fn register<T: JsonSchema + Resource>(generator: &mut SchemaGenerator, out: &mut Vec<KindSchema>) {
    generator.subschema_for::<T>();
    out.push(KindSchema {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND.to_string(),
        name: T::schema_name().into_owned(),
    });
}

/// Every kind the resource table serves, including subresource bodies (`Scale`, `Eviction`,
/// `Binding`, `TokenRequest`) and `Status`.
fn register_kinds(generator: &mut SchemaGenerator, out: &mut Vec<KindSchema>) {
    kinds!(generator, out;
        core::v1::Namespace,
        core::v1::Pod,
        core::v1::Service,
        core::v1::Endpoints,
        core::v1::ConfigMap,
        core::v1::Secret,
        core::v1::ServiceAccount,
        core::v1::Node,
        core::v1::Event,
        core::v1::PersistentVolume,
        core::v1::PersistentVolumeClaim,
        core::v1::LimitRange,
        core::v1::ResourceQuota,
        core::v1::ReplicationController,
        core::v1::PodTemplate,
        core::v1::Binding,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        apps::v1::DaemonSet,
        apps::v1::ControllerRevision,
        events::v1::Event,
        authentication::v1::SelfSubjectReview,
        authentication::v1::TokenReview,
        authentication::v1::TokenRequest,
        authorization::v1::LocalSubjectAccessReview,
        authorization::v1::SelfSubjectAccessReview,
        authorization::v1::SelfSubjectRulesReview,
        authorization::v1::SubjectAccessReview,
        autoscaling::v2::HorizontalPodAutoscaler,
        autoscaling::v1::HorizontalPodAutoscaler,
        autoscaling::v1::Scale,
        batch::v1::Job,
        batch::v1::CronJob,
        certificates::v1::CertificateSigningRequest,
        networking::v1::Ingress,
        networking::v1::IngressClass,
        networking::v1::NetworkPolicy,
        policy::v1::PodDisruptionBudget,
        policy::v1::Eviction,
        rbac::v1::Role,
        rbac::v1::RoleBinding,
        rbac::v1::ClusterRole,
        rbac::v1::ClusterRoleBinding,
        storage::v1::StorageClass,
        storage::v1::CSIDriver,
        storage::v1::CSINode,
        storage::v1::VolumeAttachment,
        admissionregistration::v1::MutatingWebhookConfiguration,
        admissionregistration::v1::ValidatingWebhookConfiguration,
        admissionregistration::v1::ValidatingAdmissionPolicy,
        admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        apiextensions::CustomResourceDefinition,
        scheduling::v1::PriorityClass,
        coordination::v1::Lease,
        node::v1::RuntimeClass,
        discovery::v1::EndpointSlice,
        meta::Status,
        meta::APIResourceList,
    );
}
