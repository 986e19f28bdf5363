//! Custom resources in `/openapi/v2` and `/openapi/v3`, published once their definition is
//! established and updated when its schema changes.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kube::client::Body;
use rudder_testkit::TestApiServer;
use serde_json::{Value, json};

async fn fetch(server: &TestApiServer, uri: &str, accept: &str) -> (u16, Vec<u8>) {
    let request = http::Request::builder()
        .uri(uri)
        .header("accept", accept)
        .body(Body::empty())
        .expect("request");
    let response = server.client.send(request).await.expect("send");
    let code = response.status().as_u16();
    let bytes = response.into_body().collect_bytes().await.expect("body");
    (code, bytes.to_vec())
}

async fn json_doc(server: &TestApiServer, uri: &str) -> Value {
    let (code, body) = fetch(server, uri, "application/json").await;
    assert_eq!(code, 200, "{uri}");
    serde_json::from_slice(&body).expect("JSON document")
}

fn crd(replicas_description: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"kind": "Widget", "plural": "widgets"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {
                                       "replicas": {"type": "integer", "description": replicas_description}}}}}}}]}
    }))
    .expect("crd")
}

#[tokio::test]
async fn custom_resources_are_published_in_openapi_v2_and_v3() {
    let server = TestApiServer::start().await;
    let index = json_doc(&server, "/openapi/v3").await;
    assert!(index["paths"].get("apis/example.com/v1").is_none());

    let crds: Api<CustomResourceDefinition> = Api::all(server.client.clone());
    crds.create(&PostParams::default(), &crd("How many."))
        .await
        .expect("create crd");
    let url = rudder_testkit::eventually(
        "the v3 index to list the group-version",
        Duration::from_secs(10),
        || async {
            let index = json_doc(&server, "/openapi/v3").await;
            index["paths"]["apis/example.com/v1"]["serverRelativeURL"]
                .as_str()
                .map(str::to_string)
        },
    )
    .await;
    assert!(index["paths"].get("api/v1").is_some(), "built-ins stay");
    let doc = json_doc(&server, &url).await;
    let widget = &doc["components"]["schemas"]["com.example.v1.Widget"];
    assert_eq!(
        widget["properties"]["spec"]["properties"]["replicas"]["type"],
        "integer"
    );
    assert_eq!(widget["x-kubernetes-group-version-kind"][0]["kind"], "Widget");
    assert!(
        doc["components"]["schemas"]
            .get("com.example.v1.WidgetList")
            .is_some()
    );
    assert!(
        doc["components"]["schemas"]
            .get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            .is_some()
    );
    let patch = &doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Widget");
    let params: Vec<&str> = patch["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(params.contains(&"fieldValidation"), "{params:?}");
    let content = patch["requestBody"]["content"]
        .as_object()
        .expect("patch body types");
    assert!(!content.contains_key("application/strategic-merge-patch+json"));
    assert!(
        doc["paths"]
            .get("/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status")
            .is_some()
    );

    let v2 = json_doc(&server, "/openapi/v2").await;
    assert_eq!(
        v2["definitions"]["com.example.v1.Widget"]["properties"]["spec"]["properties"]["replicas"]["description"],
        "How many."
    );
    assert!(v2["paths"].get("/apis/example.com/v1/widgets").is_some());
    assert!(v2["definitions"].get("io.k8s.api.core.v1.Pod").is_some());
    let (code, proto) = fetch(
        &server,
        "/openapi/v2",
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        proto
            .windows(b"com.example.v1.Widget".len())
            .any(|w| w == b"com.example.v1.Widget")
    );

    // A schema change is republished under a new hash.
    let mut updated = crds.get("widgets.example.com").await.expect("get");
    let fresh = crd("How many now.");
    updated.spec = fresh.spec;
    crds.replace("widgets.example.com", &PostParams::default(), &updated)
        .await
        .expect("update");
    rudder_testkit::eventually("the new description", Duration::from_secs(10), || async {
        let v2 = json_doc(&server, "/openapi/v2").await;
        (v2["definitions"]["com.example.v1.Widget"]["properties"]["spec"]["properties"]["replicas"]["description"]
            == "How many now.")
            .then_some(())
    })
    .await;
    let (code, _) = fetch(&server, &url, "application/json").await;
    assert_eq!(code, 301, "the old hash redirects");

    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("delete");
    rudder_testkit::eventually("the group-version to go", Duration::from_secs(10), || async {
        let index = json_doc(&server, "/openapi/v3").await;
        index["paths"].get("apis/example.com/v1").is_none().then_some(())
    })
    .await;
}
