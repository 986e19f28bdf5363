//! A definition's conditions through its life, as upstream's controllers step them: names
//! accepted → `Established=False` `Installing` → `Established=True` `InitialNamesAccepted`;
//! on deletion `Terminating=True` `InstanceDeletionInProgress` → objects removed →
//! `Terminating=False` `InstanceDeletionCompleted` → the definition goes. Read back from the
//! definition's watch history.

mod raw_support;

use std::time::Duration;

use raw_support::send;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::{Value, json};

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const NAME: &str = "crates.example.com";

/// Every event of the definition after `from` (the watch times out after a second).
async fn history(server: &TestApiServer, from: &str) -> Vec<(String, Value)> {
    let uri = format!(
        "{CRDS}?watch=true&resourceVersion={from}&timeoutSeconds=1&fieldSelector=metadata.name%3D{NAME}"
    );
    let request = http::Request::builder()
        .uri(uri)
        .body(kube::client::Body::empty())
        .expect("request");
    let response = server.client.send(request).await.expect("watch");
    let body = response.into_body().collect_bytes().await.expect("body");
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).expect("event"))
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_string(),
                e["object"].clone(),
            )
        })
        .collect()
}

fn condition(crd: &Value, kind: &str) -> Option<(String, String)> {
    let c = crd["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)?;
    Some((
        c["status"].as_str()?.to_string(),
        c["reason"].as_str()?.to_string(),
    ))
}

#[tokio::test]
async fn conditions_step_through_installing_and_terminating() {
    let server = TestApiServer::start().await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": NAME},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"kind": "Crate", "plural": "crates"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    let created = send(&server, "POST", CRDS, "application/json", &crd.to_string()).await;
    assert_eq!(created.code, 201, "{}", created.body);
    assert!(created.warnings.is_empty(), "{:?}", created.warnings);
    let from = created.body["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let crates = "/apis/example.com/v1/namespaces/default/crates";
    let object = r#"{"apiVersion":"example.com/v1","kind":"Crate","metadata":{"name":"c"}}"#;
    eventually("the resource to be served", Duration::from_secs(10), || async {
        (send(&server, "POST", crates, "application/json", object)
            .await
            .code
            == 201)
            .then_some(())
    })
    .await;

    let established: Vec<(String, String)> = history(&server, &from)
        .await
        .iter()
        .filter_map(|(_, crd)| condition(crd, "Established"))
        .collect();
    let installing = ("False".to_string(), "Installing".to_string());
    let done = ("True".to_string(), "InitialNamesAccepted".to_string());
    let first_installing = established.iter().position(|c| *c == installing);
    let first_done = established.iter().position(|c| *c == done);
    assert!(
        matches!((first_installing, first_done), (Some(i), Some(d)) if i < d),
        "Installing, then established: {established:?}"
    );
    let current = send(&server, "GET", &format!("{CRDS}/{NAME}"), "application/json", "").await;
    assert_eq!(current.body["status"]["storedVersions"], json!(["v1"]));

    let deleted = send(
        &server,
        "DELETE",
        &format!("{CRDS}/{NAME}"),
        "application/json",
        "",
    )
    .await;
    assert!(matches!(deleted.code, 200 | 202), "{}", deleted.body);
    let from = deleted.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    eventually("the definition to go", Duration::from_secs(10), || async {
        (send(&server, "GET", &format!("{CRDS}/{NAME}"), "application/json", "")
            .await
            .code
            == 404)
            .then_some(())
    })
    .await;
    let events = history(&server, &from).await;
    let steps: Vec<(String, Option<(String, String)>)> = events
        .iter()
        .map(|(kind, crd)| (kind.clone(), condition(crd, "Terminating")))
        .collect();
    let at = |want: (&str, &str)| {
        steps
            .iter()
            .position(|(_, c)| c.as_ref().is_some_and(|(s, r)| (s.as_str(), r.as_str()) == want))
    };
    let in_progress = at(("True", "InstanceDeletionInProgress"));
    let completed = at(("False", "InstanceDeletionCompleted"));
    let gone = steps.iter().position(|(kind, _)| kind == "DELETED");
    assert!(
        matches!((in_progress, completed, gone), (Some(a), Some(b), Some(c)) if a < b && b < c),
        "{steps:?}"
    );
    // Its objects went with it: a new definition of the same names starts empty.
    let again = send(&server, "POST", CRDS, "application/json", &crd.to_string()).await;
    assert_eq!(again.code, 201);
    let list = eventually(
        "the resource to be served again",
        Duration::from_secs(10),
        || async {
            let list = send(&server, "GET", crates, "application/json", "").await;
            (list.code == 200).then_some(list.body)
        },
    )
    .await;
    assert_eq!(list["items"], json!([]));
}
