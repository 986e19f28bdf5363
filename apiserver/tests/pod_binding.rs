//! `pods/binding` and the legacy `bindings` resource through kube-rs, as a scheduler uses them.

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kube::core::Status;
use rudder_testkit::TestApiServer;
use serde_json::{Value, json};

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": {"kept": "yes"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .expect("pod")
}

fn binding(pod: &str, node: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod, "annotations": {"scheduler.example/score": "7"}},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    })
}

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

async fn bind(pods: &Api<Pod>, name: &str, node: &str) -> Result<Status, kube::Error> {
    pods.create_subresource::<Value, Status>("binding", name, &PostParams::default(), &binding(name, node))
        .await
}

#[tokio::test]
async fn binding_assigns_the_node_once() {
    let server = TestApiServer::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "default");
    pods.create(&PostParams::default(), &pod("web"))
        .await
        .expect("create pod");

    let status = bind(&pods, "web", "node-1").await.expect("bind");
    assert_eq!(status.code, 201);
    assert!(status.is_success(), "{status:?}");

    let bound = pods.get("web").await.expect("get");
    let spec = bound.spec.as_ref().expect("spec");
    assert_eq!(spec.node_name.as_deref(), Some("node-1"));
    let annotations = bound.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("kept").map(String::as_str), Some("yes"));
    assert_eq!(
        annotations.get("scheduler.example/score").map(String::as_str),
        Some("7"),
        "the binding's annotations are copied"
    );
    let conditions = bound
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let scheduled = conditions
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .expect("PodScheduled condition");
    assert_eq!(scheduled.status, "True");
    assert!(scheduled.last_transition_time.is_some());

    // A second binding conflicts, with upstream's message.
    let err = api_error(bind(&pods, "web", "node-2").await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        err.message,
        r#"Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node "node-1""#
    );

    let err = api_error(bind(&pods, "absent", "node-1").await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert_eq!(err.message, r#"pods "absent" not found"#);
}

#[tokio::test]
async fn binding_refuses_bad_requests_and_deleting_pods_and_honours_dry_run() {
    let server = TestApiServer::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "default");
    pods.create(&PostParams::default(), &pod("a"))
        .await
        .expect("create pod");

    // The name in the body must be the pod's.
    let err = api_error(
        pods.create_subresource::<Value, Status>("binding", "a", &PostParams::default(), &binding("b", "n"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 400);
    assert_eq!(err.message, "name in URL does not match name in Binding object");

    // Dry run: answered with success, nothing stored.
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let status: Status = pods
        .create_subresource("binding", "a", &dry, &binding("a", "n"))
        .await
        .expect("dry-run bind");
    assert!(status.is_success());
    let stored = pods.get("a").await.expect("get");
    assert_eq!(stored.spec.and_then(|s| s.node_name), None);

    // A pod being deleted (held by a finalizer) cannot be bound.
    let mut held = pod("held");
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    pods.create(&PostParams::default(), &held)
        .await
        .expect("create held pod");
    pods.delete("held", &DeleteParams::default())
        .await
        .expect("delete held pod");
    let err = api_error(bind(&pods, "held", "n").await.unwrap_err());
    assert_eq!(err.code, 409);
    assert_eq!(
        err.message,
        r#"Operation cannot be fulfilled on pods/binding "held": pod held is being deleted, cannot be assigned to a host"#
    );
}

#[tokio::test]
async fn legacy_bindings_resource_binds_the_named_pod() {
    let server = TestApiServer::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), "default");
    pods.create(&PostParams::default(), &pod("old"))
        .await
        .expect("create pod");
    let request = http::Request::post("/api/v1/namespaces/default/bindings")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&binding("old", "node-9")).expect("encode"))
        .expect("request");
    let status: Value = server.client.request(request).await.expect("legacy bind");
    assert_eq!(status["status"], "Success");
    assert_eq!(status["code"], 201);
    let bound = pods.get("old").await.expect("get");
    assert_eq!(bound.spec.and_then(|s| s.node_name).as_deref(), Some("node-9"));
}
