//! Custom resources against their structural schema, end to end through the in-process server:
//! validation with upstream's messages, pruning reported by `fieldValidation`, defaulting on
//! write and on read, versions stored in the storage version, names conflicts, CRD validation,
//! YAML bodies.

mod raw_support;

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use raw_support::send;
use rudder_testkit::TestApiServer;
use serde_json::{Value, json};

async fn get(server: &TestApiServer, uri: &str) -> Value {
    let answer = send(server, "GET", uri, "application/json", "").await;
    assert_eq!(answer.code, 200, "GET {uri}: {}", answer.body);
    answer.body
}

fn schema(with_mode_default: bool) -> Value {
    let mut spec = json!({
        "type": "object",
        "required": ["size"],
        "properties": {
            "replicas": {"type": "integer", "minimum": 0, "default": 1},
            "size": {"type": "string", "enum": ["small", "large"]},
            "mode": {"type": "string"},
            "port": {"x-kubernetes-int-or-string": true}
        }
    });
    if with_mode_default {
        spec["properties"]["mode"]["default"] = json!("fast");
    }
    json!({"type": "object", "properties": {
        "spec": spec,
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
    }})
}

fn widget_crd(with_mode_default: bool) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wd"]},
                 "versions": [
                    {"name": "v1beta1", "served": true, "storage": false,
                     "schema": {"openAPIV3Schema": schema(with_mode_default)}},
                    {"name": "v1", "served": true, "storage": true,
                     "subresources": {"status": {}},
                     "schema": {"openAPIV3Schema": schema(with_mode_default)}}]}
    })
}

async fn established(crds: &Api<CustomResourceDefinition>, name: &str) -> Value {
    rudder_testkit::eventually("the CRD to be established", Duration::from_secs(10), || async {
        let crd = crds.get(name).await.ok()?;
        let value = serde_json::to_value(&crd).ok()?;
        let conditions = value["status"]["conditions"].as_array()?.clone();
        conditions
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
            .then_some(value)
    })
    .await
}

const V1: &str = "/apis/example.com/v1/namespaces/default/widgets";
const V1BETA1: &str = "/apis/example.com/v1beta1/namespaces/default/widgets";

#[tokio::test]
async fn custom_objects_are_validated_pruned_defaulted_and_converted() {
    let server = TestApiServer::start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(server.client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(widget_crd(false)).expect("crd");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create crd");
    let status = established(&crds, "widgets.example.com").await["status"].clone();
    assert_eq!(status["conditions"][0]["reason"], "NoConflicts");
    assert_eq!(status["conditions"][1]["reason"], "InitialNamesAccepted");
    assert_eq!(status["storedVersions"], json!(["v1"]));
    assert_eq!(status["acceptedNames"]["listKind"], "WidgetList");

    // Validation: 422 Invalid with upstream's message and cause.
    let bad = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "bad"},
                     "spec": {"size": "small", "replicas": "string"}});
    let answer = send(&server, "POST", V1, "application/json", &bad.to_string()).await;
    assert_eq!(answer.code, 422, "{}", answer.body);
    assert_eq!(answer.body["reason"], "Invalid");
    assert_eq!(
        answer.body["message"],
        r#"Widget.example.com "bad" is invalid: spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#
    );
    assert_eq!(answer.body["details"]["causes"][0]["field"], "spec.replicas");
    assert_eq!(
        answer.body["details"]["causes"][0]["reason"],
        "FieldValueTypeInvalid"
    );
    let missing = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "bad"},
                         "spec": {"size": "medium", "replicas": -1}});
    let answer = send(&server, "POST", V1, "application/json", &missing.to_string()).await;
    assert_eq!(answer.code, 422);
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(
            "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"
        ),
        "{message}"
    );
    assert!(
        message.contains(r#"spec.size: Unsupported value: "medium": supported values: "small", "large""#),
        "{message}"
    );

    // Unknown fields: refused under Strict, dropped with a warning by default.
    let unknown = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
                         "spec": {"size": "small", "foo": 1, "port": "http"}});
    let strict = send(
        &server,
        "POST",
        &format!("{V1}?fieldValidation=Strict"),
        "application/json",
        &unknown.to_string(),
    )
    .await;
    assert_eq!(strict.code, 400, "{}", strict.body);
    assert_eq!(
        strict.body["message"],
        r#"Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.foo""#
    );
    let warned = send(&server, "POST", V1, "application/json", &unknown.to_string()).await;
    assert_eq!(warned.code, 201, "{}", warned.body);
    assert_eq!(
        warned.warnings,
        vec![r#"299 - "unknown field \"spec.foo\"""#.to_string()]
    );
    assert_eq!(
        warned.body["spec"],
        json!({"size": "small", "port": "http", "replicas": 1}),
        "pruned and defaulted"
    );

    // Patches are pruned and validated too.
    let patch = send(
        &server,
        "PATCH",
        &format!("{V1}/w1?fieldValidation=Strict"),
        "application/merge-patch+json",
        r#"{"spec": {"bar": true}}"#,
    )
    .await;
    assert_eq!(patch.code, 400, "{}", patch.body);
    assert!(
        patch.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(r#"unknown field "spec.bar""#)
    );
    let patch = send(
        &server,
        "PATCH",
        &format!("{V1}/w1"),
        "application/json-patch+json",
        r#"[{"op": "replace", "path": "/spec/replicas", "value": "many"}]"#,
    )
    .await;
    assert_eq!(patch.code, 422, "{}", patch.body);

    // Written through v1beta1, stored as v1, shown in each served version.
    let old = json!({"apiVersion": "example.com/v1beta1", "kind": "Widget", "metadata": {"name": "w2"},
                     "spec": {"size": "large"}});
    let created = send(&server, "POST", V1BETA1, "application/json", &old.to_string()).await;
    assert_eq!(created.code, 201, "{}", created.body);
    assert_eq!(created.body["apiVersion"], "example.com/v1beta1");
    assert_eq!(
        get(&server, &format!("{V1}/w2")).await["apiVersion"],
        "example.com/v1"
    );
    assert_eq!(
        get(&server, &format!("{V1BETA1}/w2")).await["apiVersion"],
        "example.com/v1beta1"
    );
    let list = get(&server, V1BETA1).await;
    let versions: Vec<&str> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["apiVersion"].as_str())
        .collect();
    assert_eq!(versions, vec!["example.com/v1beta1", "example.com/v1beta1"]);

    // A default added to the schema later shows on read of objects stored before.
    let mut updated =
        serde_json::to_value(crds.get("widgets.example.com").await.expect("get crd")).expect("json");
    updated["spec"]["versions"] = widget_crd(true)["spec"]["versions"].clone();
    let updated: CustomResourceDefinition = serde_json::from_value(updated).expect("crd");
    crds.replace("widgets.example.com", &PostParams::default(), &updated)
        .await
        .expect("update crd");
    rudder_testkit::eventually("the new default on read", Duration::from_secs(10), || async {
        let w1 = send(&server, "GET", &format!("{V1}/w1"), "application/json", "").await;
        (w1.body["spec"]["mode"] == "fast").then_some(())
    })
    .await;

    // Status goes through the status subresource and is validated there too.
    let status = send(
        &server,
        "PATCH",
        &format!("{V1}/w1/status"),
        "application/merge-patch+json",
        r#"{"status": {"ready": "yes"}}"#,
    )
    .await;
    assert_eq!(status.code, 422, "{}", status.body);
    let ok = send(
        &server,
        "PATCH",
        &format!("{V1}/w1/status"),
        "application/merge-patch+json",
        r#"{"status": {"ready": true}}"#,
    )
    .await;
    assert_eq!(ok.code, 200, "{}", ok.body);
    assert_eq!(ok.body["status"]["ready"], true);
}

#[tokio::test]
async fn definitions_are_validated_and_conflicting_names_are_not_accepted() {
    let server = TestApiServer::start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(server.client.clone());
    let crd_uri = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

    let mut bad = widget_crd(false);
    bad["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["mode"] =
        json!({"description": "no type"});
    let answer = send(&server, "POST", crd_uri, "application/json", &bad.to_string()).await;
    assert_eq!(answer.code, 422, "{}", answer.body);
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[mode].type: Required value: must not be empty for specified object fields"),
        "{message}"
    );

    // YAML bodies are accepted for creates.
    let yaml = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names:\n    kind: Widget\n    plural: widgets\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n";
    let created = send(&server, "POST", crd_uri, "application/yaml", yaml).await;
    assert_eq!(created.code, 201, "{}", created.body);
    established(&crds, "widgets.example.com").await;

    let mut clash = widget_crd(false);
    clash["metadata"]["name"] = json!("gadgets.example.com");
    clash["spec"]["names"] = json!({"kind": "Widget", "plural": "gadgets", "singular": "gadget"});
    let created = send(&server, "POST", crd_uri, "application/json", &clash.to_string()).await;
    assert_eq!(created.code, 201, "{}", created.body);
    let conditions =
        rudder_testkit::eventually("the conflict to be reported", Duration::from_secs(10), || async {
            let crd = serde_json::to_value(crds.get("gadgets.example.com").await.ok()?).ok()?;
            let conditions = crd["status"]["conditions"].as_array()?.clone();
            (!conditions.is_empty()).then_some(conditions)
        })
        .await;
    assert_eq!(conditions[0]["type"], "NamesAccepted");
    assert_eq!(conditions[0]["status"], "False");
    assert_eq!(conditions[0]["reason"], "KindConflict");
    assert_eq!(conditions[0]["message"], r#""Widget" is already in use"#);
    assert_eq!(conditions[1]["type"], "Established");
    assert_eq!(conditions[1]["status"], "False");
    let unserved = send(
        &server,
        "GET",
        "/apis/example.com/v1/gadgets",
        "application/json",
        "",
    )
    .await;
    assert_eq!(unserved.code, 404);

    // Once the holder of the names goes, the refused definition gets them and is served.
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("delete the first definition");
    established(&crds, "gadgets.example.com").await;
    rudder_testkit::eventually("gadgets to be served", Duration::from_secs(10), || async {
        let served = send(
            &server,
            "GET",
            "/apis/example.com/v1/gadgets",
            "application/json",
            "",
        )
        .await;
        (served.code == 200).then_some(())
    })
    .await;

    // Server-side apply bodies may be YAML, and are pruned like any write.
    let applied = send(
        &server,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm?fieldManager=test&fieldValidation=Strict",
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: \"1\"\n",
    )
    .await;
    assert_eq!(applied.code, 201, "{}", applied.body);
    assert_eq!(applied.body["data"]["a"], "1");
    let strict = send(
        &server,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm?fieldManager=test&fieldValidation=Strict",
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\nbogus: 1\n",
    )
    .await;
    assert_eq!(strict.code, 400, "{}", strict.body);
    assert!(
        strict.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(r#"unknown field "bogus""#)
    );
    let _ = PatchParams::default();
    let _ = Patch::Merge(json!({}));
}
