//! The kubelet's /exec, /attach and /portForward refusals, on the fake runtime (no streaming
//! server): upstream's status codes and texts before anything is proxied.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rudder_kubelet::cri::fake::FakeRuntime;
use rudder_kubelet::cri::{RuntimeService, api, labels};
use tower::ServiceExt;

async fn call(app: &axum::Router, method: &str, uri: &str, upgrade: bool) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if upgrade {
        req = req.header("connection", "Upgrade").header("upgrade", "SPDY/3.1");
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A ready sandbox for default/web with a running container "app".
async fn running_pod(rt: &FakeRuntime) {
    let sandbox = api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: "web".into(),
            namespace: "default".into(),
            uid: "u1".into(),
            attempt: 0,
        }),
        labels: HashMap::from([
            (labels::POD_NAME.to_string(), "web".to_string()),
            (labels::POD_NAMESPACE.to_string(), "default".to_string()),
        ]),
        ..Default::default()
    };
    let id = rt.run_pod_sandbox(sandbox.clone()).await.expect("sandbox");
    let container = api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: "app".into(),
            attempt: 0,
        }),
        image: Some(api::ImageSpec {
            image: "busybox".into(),
            ..Default::default()
        }),
        labels: HashMap::from([(labels::CONTAINER_NAME.to_string(), "app".to_string())]),
        ..Default::default()
    };
    let c = rt
        .create_container(&id, container, sandbox)
        .await
        .expect("container");
    rt.start_container(&c).await.expect("start");
}

#[tokio::test]
async fn streaming_endpoints_refuse_as_upstream() {
    let rt = Arc::new(FakeRuntime::simulated());
    running_pod(&rt).await;
    let app = rudder_kubelet::server::router(rt.clone());

    // No stream asked for: refused before the runtime is asked.
    let (code, body) = call(&app, "POST", "/exec/default/web/app?command=ls", true).await;
    assert_eq!(
        (code, body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 of stdin, stdout, stderr"
        )
    );
    let (code, body) = call(&app, "POST", "/exec/default/nope/app?command=ls&output=1", true).await;
    assert_eq!(
        (code, body.as_str()),
        (StatusCode::NOT_FOUND, "pod does not exist")
    );
    let (code, body) = call(&app, "POST", "/attach/default/web/other?output=1", true).await;
    assert_eq!(
        (code, body.as_str()),
        (StatusCode::NOT_FOUND, "container not found (\"other\")")
    );
    // Found: the fake runtime has no streaming server, which is reported.
    let (code, body) = call(&app, "POST", "/exec/default/web/app?command=ls&output=1", true).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("no streaming server"), "{body}");
    let (code, body) = call(&app, "POST", "/exec/default/web/u1/app?command=ls&output=1", true).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let (code, _) = call(&app, "POST", "/portForward/default/web", true).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    let (code, body) = call(&app, "GET", "/portForward/default/nope", true).await;
    assert_eq!(
        (code, body.as_str()),
        (StatusCode::NOT_FOUND, "pod does not exist")
    );
    let (code, body) = call(&app, "POST", "/portForward/default/web?port=x", true).await;
    assert_eq!(
        (code, body.as_str()),
        (StatusCode::BAD_REQUEST, "unable to parse \"x\" as a port")
    );
    // Other methods are not routes.
    let (code, _) = call(&app, "PUT", "/exec/default/web/app?command=ls&output=1", true).await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
}
