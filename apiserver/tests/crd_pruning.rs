//! Structural pruning as upstream's (apiextensions `pruning` and `objectmeta.Coerce`): below
//! `x-kubernetes-preserve-unknown-fields` unknown keys stay (no warning) while declared
//! properties are still pruned; embedded resources keep `apiVersion`/`kind` and have their
//! `metadata` reduced to ObjectMeta, also where unknown fields are preserved.

mod raw_support;

use std::time::Duration;

use raw_support::send;
use rudder_testkit::TestApiServer;
use serde_json::json;

#[tokio::test]
async fn preserved_subtrees_keep_unknown_keys_but_prune_declared_ones() {
    let server = TestApiServer::start().await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "boxes.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"kind": "Box", "plural": "boxes"},
                 "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "properties": {
                        "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                                 "properties": {"known": {"type": "object",
                                                          "properties": {"a": {"type": "string"}}}}},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                     "x-kubernetes-preserve-unknown-fields": true},
                        "closed": {"type": "object", "x-kubernetes-embedded-resource": true,
                                   "properties": {"spec": {"type": "object",
                                                           "properties": {"n": {"type": "integer"}}}}}
                    }}}}}}]}
    });
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let created = send(&server, "POST", crds, "application/json", &crd.to_string()).await;
    assert_eq!(created.code, 201, "{}", created.body);

    let boxes = "/apis/example.com/v1/namespaces/default/boxes";
    let object = json!({
        "apiVersion": "example.com/v1", "kind": "Box", "metadata": {"name": "b"},
        "spec": {
            "open": {"extra": {"deep": 1}, "known": {"a": "x", "b": "pruned"}},
            "template": {"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": "p", "labels": {"l": "v"}, "bogus": 1},
                         "spec": {"anything": ["kept"]}},
            "closed": {"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "t", "bogus": 2},
                       "spec": {"n": 1, "m": 2}, "other": true}
        }
    });
    let uri = format!("{boxes}?fieldValidation=Warn");
    let answer = rudder_testkit::eventually(
        "the custom resource to be served",
        Duration::from_secs(10),
        || {
            let (server, uri, body) = (&server, uri.clone(), object.to_string());
            async move {
                let answer = send(server, "POST", &uri, "application/json", &body).await;
                (answer.code != 404).then_some(answer)
            }
        },
    )
    .await;
    assert_eq!(answer.code, 201, "{}", answer.body);
    let mut warnings = answer.warnings.clone();
    warnings.sort();
    assert_eq!(
        warnings,
        [
            r#"299 - "unknown field \"spec.closed.metadata.bogus\"""#,
            r#"299 - "unknown field \"spec.closed.other\"""#,
            r#"299 - "unknown field \"spec.closed.spec.m\"""#,
            r#"299 - "unknown field \"spec.open.known.b\"""#,
            r#"299 - "unknown field \"spec.template.metadata.bogus\"""#,
        ]
    );
    let spec = &answer.body["spec"];
    assert_eq!(spec["open"], json!({"extra": {"deep": 1}, "known": {"a": "x"}}));
    assert_eq!(
        spec["template"],
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"l": "v"}},
               "spec": {"anything": ["kept"]}})
    );
    assert_eq!(
        spec["closed"],
        json!({"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"n": 1}})
    );
}
