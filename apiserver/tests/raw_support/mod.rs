//! A raw request to the in-process apiserver with a chosen content type, for tests that check
//! status codes, `Warning` headers and error bodies exactly as a client sees them.

use kube::client::Body;
use rudder_testkit::TestApiServer;
use serde_json::Value;

pub(crate) struct Answer {
    pub(crate) code: u16,
    pub(crate) warnings: Vec<String>,
    pub(crate) body: Value,
}

pub(crate) async fn send(
    server: &TestApiServer,
    method: &str,
    uri: &str,
    content_type: &str,
    body: &str,
) -> Answer {
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body.as_bytes().to_vec()))
        .expect("request");
    let response = server.client.send(request).await.expect("send");
    let code = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect();
    let bytes = response.into_body().collect_bytes().await.expect("body");
    Answer {
        code,
        warnings,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}
