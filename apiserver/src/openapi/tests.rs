//! Tests of the OpenAPI documents: their structure as kubectl reads it, the protobuf encoding,
//! and the handlers' negotiation and caching.

use std::collections::{BTreeSet, HashSet};

use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use prost::Message;
use rudder_api::resources::RESOURCES;
use serde_json::Value;

use super::gnostic::{self, non_body_parameter, parameter, parameters_item};
use super::*;

fn v2() -> Value {
    serde_json::from_slice(&v2_json().body).expect("v2 is JSON")
}

fn v3(key: &str) -> Value {
    let (_, doc) = v3_documents()
        .documents
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no v3 document {key}"));
    serde_json::from_slice(&doc.body).expect("v3 document is JSON")
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// Every operation of a document: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, &'static str, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((path.clone(), method, op.clone()));
            }
        }
    }
    out
}

fn has_query_param(op: &Value, name: &str) -> bool {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["name"] == name && p["in"] == "query")
}

fn gvk_of(group: &str, version: &str, kind: &str) -> Value {
    serde_json::json!({"group": group, "kind": kind, "version": version})
}

#[test]
fn v2_definitions_carry_group_version_kind() {
    let doc = v2();
    let defs = &doc["definitions"];
    assert_eq!(doc["swagger"], "2.0");
    for (name, gvk) in [
        ("io.k8s.api.core.v1.Pod", gvk_of("", "v1", "Pod")),
        ("io.k8s.api.core.v1.PodList", gvk_of("", "v1", "PodList")),
        (
            "io.k8s.api.apps.v1.Deployment",
            gvk_of("apps", "v1", "Deployment"),
        ),
        (
            "io.k8s.api.autoscaling.v1.Scale",
            gvk_of("autoscaling", "v1", "Scale"),
        ),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
            gvk_of("", "v1", "Status"),
        ),
    ] {
        assert_eq!(
            defs[name]["x-kubernetes-group-version-kind"],
            serde_json::json!([gvk]),
            "{name}"
        );
    }
    // metadata is optional, as upstream publishes it.
    assert!(defs["io.k8s.api.core.v1.Pod"].get("required").is_none());
    assert_eq!(
        defs["io.k8s.api.core.v1.Container"]["required"],
        serde_json::json!(["name"])
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
        "int-or-string"
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"],
        "string"
    );
}

#[test]
fn v2_definitions_carry_patch_and_list_extensions() {
    let doc = v2();
    let defs = &doc["definitions"];
    let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(
        containers["x-kubernetes-list-map-keys"],
        serde_json::json!(["name"])
    );
    let volumes = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
    assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    let ports = &defs["io.k8s.api.core.v1.Container"]["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        serde_json::json!(["containerPort", "protocol"])
    );
    let finalizers = &defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
    assert_eq!(finalizers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(finalizers["x-kubernetes-list-type"], "set");
    let strategy = &defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
}

/// kubectl's v2 model parser (`kube-openapi` `proto.NewOpenAPIData`) rejects arrays without
/// exactly one item schema, multi-typed schemas and dangling references.
#[test]
fn v2_definitions_are_well_formed() {
    fn check(defs: &serde_json::Map<String, Value>, at: &str, schema: &Value) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let name = r.strip_prefix("#/definitions/").expect("local ref");
            assert!(defs.contains_key(name), "{at}: dangling $ref {r}");
        }
        if let Some(t) = schema.get("type") {
            assert!(t.is_string(), "{at}: type {t}");
            if t == "array" {
                assert!(schema["items"].is_object(), "{at}: array without one item schema");
            }
        }
        for (name, s) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            check(defs, &format!("{at}.{name}"), s);
        }
        for key in ["items", "additionalProperties"] {
            if let Some(s) = schema.get(key).filter(|s| s.is_object()) {
                check(defs, &format!("{at}[{key}]"), s);
            }
        }
    }
    let doc = v2();
    let defs = doc["definitions"].as_object().expect("definitions");
    for (name, schema) in defs {
        check(defs, name, schema);
    }
    for (path, method, op) in operations(&doc) {
        for r in op["responses"].as_object().into_iter().flatten().map(|(_, r)| r) {
            if let Some(schema) = r.get("schema") {
                check(defs, &format!("{method} {path}"), schema);
            }
        }
    }
}

#[test]
fn every_resource_has_a_patchable_operation_with_field_validation() {
    let doc = v2();
    let ops = operations(&doc);
    for r in RESOURCES.iter().filter(|r| r.has_verb("patch")) {
        let gvk = gvk_of(r.group, r.version, r.kind);
        let patch = ops
            .iter()
            .find(|(_, m, op)| *m == "patch" && op["x-kubernetes-group-version-kind"] == gvk)
            .unwrap_or_else(|| panic!("no PATCH operation for {}", r.kind));
        assert!(has_query_param(&patch.2, "fieldValidation"), "{}", r.kind);
        assert!(has_query_param(&patch.2, "dryRun"), "{}", r.kind);
    }
    for r in RESOURCES {
        let found = ops
            .iter()
            .any(|(_, _, op)| op["x-kubernetes-group-version-kind"] == gvk_of(r.group, r.version, r.kind));
        assert!(found, "no operation for {}/{} {}", r.group, r.version, r.kind);
    }
}

#[test]
fn writes_take_field_validation_dry_run_and_field_manager() {
    let doc = v2();
    let mut ids = HashSet::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"].as_str().expect("operationId").to_string();
        assert!(ids.insert(id.clone()), "duplicate operationId {id}");
        assert!(
            op["x-kubernetes-action"].is_string() || path.ends_with('/'),
            "{method} {path}"
        );
        let action = op["x-kubernetes-action"].as_str().unwrap_or_default();
        if matches!(method, "post" | "put" | "patch") && action != "connect" {
            for name in ["fieldValidation", "dryRun", "fieldManager"] {
                assert!(has_query_param(&op, name), "{method} {path} lacks {name}");
            }
        }
    }
    let pods = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
    assert_eq!(pods["patch"]["x-kubernetes-action"], "patch");
    assert_eq!(
        pods["patch"]["x-kubernetes-group-version-kind"],
        gvk_of("", "v1", "Pod")
    );
    assert!(
        pods["patch"]["consumes"]
            .as_array()
            .expect("consumes")
            .contains(&"application/strategic-merge-patch+json".into())
    );
    let scale = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["put"]["x-kubernetes-group-version-kind"],
        gvk_of("autoscaling", "v1", "Scale")
    );
    assert_eq!(
        doc["paths"]["/api/v1/pods"]["get"]["operationId"],
        "listCoreV1PodForAllNamespaces"
    );
    assert_eq!(doc["paths"]["/api/v1/pods"]["get"]["x-kubernetes-action"], "list");
}

#[test]
fn v3_index_lists_group_versions_with_their_hashes() {
    let docs = v3_documents();
    let index: Value = serde_json::from_slice(&docs.index.body).expect("index is JSON");
    for key in [
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/autoscaling/v2",
        "apis/autoscaling/v1",
    ] {
        let (_, doc) = docs.documents.iter().find(|(k, _)| k == key).expect(key);
        assert_eq!(
            index["paths"][key]["serverRelativeURL"],
            format!("/openapi/v3/{key}?hash={}", doc.hash),
        );
        assert_eq!(doc.hash, sha512_hex(&doc.body));
    }
}

#[test]
fn v3_documents_have_patch_operations_and_complete_components() {
    for key in ["api/v1", "apis/apps/v1", "apis/rbac.authorization.k8s.io/v1"] {
        let doc = v3(key);
        assert_eq!(doc["openapi"], "3.0.0");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        // Every $ref resolves inside the document.
        let mut refs = BTreeSet::new();
        collect(&doc, &mut refs);
        for r in &refs {
            let name = r.strip_prefix("#/components/schemas/").expect("v3 ref");
            assert!(schemas.contains_key(name), "{key}: dangling {r}");
        }
        for (path, method, op) in operations(&doc) {
            if method == "patch" && op["x-kubernetes-action"] != "connect" {
                assert!(has_query_param(&op, "fieldValidation"), "{key} {path}");
                assert!(op["requestBody"]["content"]["application/merge-patch+json"].is_object());
            }
        }
    }
    let apps = v3("apis/apps/v1");
    let patch = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        gvk_of("apps", "v1", "Deployment")
    );
    assert!(patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object());
    let field_validation = patch["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "fieldValidation")
        .expect("fieldValidation");
    assert_eq!(field_validation["in"], "query");
    assert_eq!(field_validation["schema"]["type"], "string");
    let deployment = &apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        serde_json::json!([gvk_of("apps", "v1", "Deployment")])
    );
    // A $ref with a description beside it becomes allOf, as upstream writes v3.
    let spec = &deployment["properties"]["spec"];
    assert_eq!(
        spec["allOf"],
        serde_json::json!([{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}])
    );
    assert!(spec["description"].is_string());
    let core = v3("api/v1");
    let containers = &core["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(
        containers["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Container"
    );
    // Namespace PATCH is what kubectl checks for custom resources.
    let ns = &core["paths"]["/api/v1/namespaces/{name}"]["patch"];
    assert!(has_query_param(ns, "fieldValidation"));
}

fn collect(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        out.insert(r.clone());
                    }
                    _ => collect(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

#[test]
fn protobuf_decodes_back_to_the_json_document() {
    let json = v2();
    let decoded = gnostic::Document::decode(v2_protobuf().body.as_ref()).expect("decodes");
    assert_eq!(decoded.swagger, "2.0");
    let paths = decoded.paths.as_ref().expect("paths");
    assert_eq!(paths.path.len(), json["paths"].as_object().expect("paths").len());
    let defs = decoded.definitions.as_ref().expect("definitions");
    assert_eq!(
        defs.additional_properties.len(),
        json["definitions"].as_object().expect("definitions").len()
    );
    // As kubectl 1.27's query-param verifier reads it: the PATCH of the GVK, its vendor
    // extension as YAML, and a query parameter named fieldValidation.
    let item = paths
        .path
        .iter()
        .find(|p| p.name == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        .and_then(|p| p.value.as_ref())
        .expect("deployment path");
    let patch = item.patch.as_ref().expect("patch");
    let gvk = patch
        .vendor_extension
        .iter()
        .find(|e| e.name == "x-kubernetes-group-version-kind")
        .and_then(|e| e.value.as_ref())
        .expect("gvk extension");
    let gvk: Value = serde_json::from_str(&gvk.yaml).expect("gvk yaml is JSON");
    assert_eq!(gvk, gvk_of("apps", "v1", "Deployment"));
    let query_names: Vec<&str> = patch
        .parameters
        .iter()
        .filter_map(|p| match &p.oneof {
            Some(parameters_item::Oneof::Parameter(gnostic::Parameter {
                oneof: Some(parameter::Oneof::NonBodyParameter(nb)),
            })) => match &nb.oneof {
                Some(non_body_parameter::Oneof::QueryParameterSubSchema(q)) => Some(q.name.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(query_names.contains(&"fieldValidation"), "{query_names:?}");
    // Definitions keep their structure and extensions.
    let pod_spec = defs
        .additional_properties
        .iter()
        .find(|d| d.name == "io.k8s.api.core.v1.PodSpec")
        .and_then(|d| d.value.as_ref())
        .expect("PodSpec");
    let containers = pod_spec
        .properties
        .as_ref()
        .and_then(|p| p.additional_properties.iter().find(|n| n.name == "containers"))
        .and_then(|n| n.value.as_ref())
        .expect("containers");
    assert_eq!(
        containers.r#type.as_ref().map(|t| t.value.clone()),
        Some(vec!["array".to_string()])
    );
    assert_eq!(
        containers.items.as_ref().map(|i| i.schema[0].r#ref.as_str()),
        Some("#/definitions/io.k8s.api.core.v1.Container")
    );
    let merge_key = containers
        .vendor_extension
        .iter()
        .find(|e| e.name == "x-kubernetes-patch-merge-key")
        .and_then(|e| e.value.as_ref())
        .expect("merge key");
    assert_eq!(merge_key.yaml.trim(), "\"name\"");
    // Re-encoding the decoded message gives the same bytes: nothing was lost on the way.
    assert_eq!(decoded.encode_to_vec(), v2_protobuf().body.as_ref());
}

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.insert(name.clone(), HeaderValue::from_str(value).expect("header"));
    }
    h
}

#[tokio::test]
async fn v2_negotiates_json_and_protobuf_and_revalidates() {
    let json = serve_v2_with(None, headers(&[(header::ACCEPT, "application/json")])).await;
    assert_eq!(json.status(), StatusCode::OK);
    assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json");
    let etag = json.headers()[header::ETAG].to_str().expect("etag").to_string();
    assert_eq!(json.headers()[header::CACHE_CONTROL], "no-cache, private");

    let pb = serve_v2_with(None, headers(&[(header::ACCEPT, PROTOBUF_DEPRECATED)])).await;
    assert_eq!(pb.status(), StatusCode::OK);
    assert_eq!(pb.headers()[header::CONTENT_TYPE], PROTOBUF);
    let pb_etag = pb.headers()[header::ETAG].to_str().expect("etag").to_string();
    assert_ne!(pb_etag, etag, "each representation has its own ETag");

    let again = serve_v2_with(
        None,
        headers(&[(header::ACCEPT, PROTOBUF), (header::IF_NONE_MATCH, &pb_etag)]),
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let stale = serve_v2_with(None, headers(&[(header::IF_NONE_MATCH, "\"old\"")])).await;
    assert_eq!(stale.status(), StatusCode::OK);

    let refused = serve_v2_with(None, headers(&[(header::ACCEPT, "text/html")])).await;
    assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn v3_documents_are_immutable_under_their_hash() {
    let index = serve_v3_index_with(None, HeaderMap::new()).await;
    assert_eq!(index.status(), StatusCode::OK);
    let docs = v3_documents();
    let (_, apps) = docs
        .documents
        .iter()
        .find(|(k, _)| k == "apis/apps/v1")
        .expect("apps/v1");
    let get = |query: Option<String>, h: HeaderMap| {
        serve_v3_group_version_with(None, Path("apis/apps/v1".to_string()), RawQuery(query), h)
    };
    let hashed = get(Some(format!("hash={}", apps.hash)), HeaderMap::new()).await;
    assert_eq!(hashed.status(), StatusCode::OK);
    assert_eq!(hashed.headers()[header::CACHE_CONTROL], "public, immutable");
    assert!(hashed.headers().contains_key(header::EXPIRES));

    let stale = get(Some("hash=0123".into()), HeaderMap::new()).await;
    assert_eq!(stale.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        stale.headers()[header::LOCATION],
        format!("/openapi/v3/apis/apps/v1?hash={}", apps.hash).as_str()
    );

    let etag = format!("\"{}\"", apps.hash);
    let cached = get(None, headers(&[(header::IF_NONE_MATCH, &etag)])).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    let missing = serve_v3_group_version_with(
        None,
        Path("apis/nope/v1".into()),
        RawQuery(None),
        HeaderMap::new(),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[test]
fn negotiation_follows_quality_then_order() {
    let offered = [JSON, PROTOBUF_DEPRECATED, PROTOBUF];
    assert_eq!(negotiate(None, &offered), Some(JSON));
    assert_eq!(negotiate(Some("*/*"), &offered), Some(JSON));
    assert_eq!(
        negotiate(Some(PROTOBUF_DEPRECATED), &offered),
        Some(PROTOBUF_DEPRECATED)
    );
    assert_eq!(
        negotiate(
            Some("application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
            &offered
        ),
        Some(PROTOBUF)
    );
    assert_eq!(negotiate(Some("application/*"), &offered), Some(JSON));
    assert_eq!(negotiate(Some("application/json;q=0"), &offered), None);
    assert_eq!(negotiate(Some("text/plain"), &offered), None);
}

#[test]
fn etags_and_dates() {
    assert!(etag_matches("\"A\"", "\"A\""));
    assert!(etag_matches("\"B\", W/\"A\"", "\"A\""));
    assert!(etag_matches("*", "\"A\""));
    assert!(!etag_matches("\"B\"", "\"A\""));
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
}
