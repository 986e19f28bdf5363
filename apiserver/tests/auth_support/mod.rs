//! Helpers shared by the authentication and authorization tests.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::time::Duration;

use base64::Engine;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::PostParams;
use rudder_testkit::TestApiServer;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The Status of a failed call.
pub(crate) fn status(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

/// The HTTP code of a call's result (200 for success).
pub(crate) fn code<T>(result: &Result<T, kube::Error>) -> u16 {
    match result {
        Ok(_) => 200,
        Err(kube::Error::Api(status)) => status.code,
        Err(other) => panic!("expected an API error, got {other}"),
    }
}

pub(crate) fn object<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("valid object")
}

pub(crate) async fn namespace(server: &TestApiServer, name: &str) {
    Api::<Namespace>::all(server.client.clone())
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": name}})),
        )
        .await
        .expect("create namespace");
}

/// A client with the server's CA and no credentials at all.
pub(crate) async fn anonymous_client(server: &TestApiServer) -> kube::Client {
    let ca = std::fs::read_to_string(server.cert_dir().join("ca.crt")).expect("read CA");
    let b64 = base64::engine::general_purpose::STANDARD.encode(ca);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{}\n    certificate-authority-data: {b64}\nusers:\n- name: anonymous\n  user: {{}}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: anonymous\ncurrent-context: c\n",
        server.addr
    );
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("client config");
    kube::Client::try_from(config).expect("client")
}

/// GET `path` as text.
pub(crate) async fn get_text(client: &kube::Client, path: &str) -> Result<String, kube::Error> {
    let request = http::Request::get(path).body(Vec::new()).expect("request");
    client.request_text(request).await
}

/// POST a JSON body, returning the JSON answer.
pub(crate) async fn post_json(client: &kube::Client, path: &str, body: Value) -> Result<Value, kube::Error> {
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).expect("json"))
        .expect("request");
    client.request::<Value>(request).await
}

/// Binds `role` (a ClusterRole) to `user` in `namespace` as the admin.
pub(crate) async fn bind(server: &TestApiServer, namespace: &str, name: &str, role: &str, user: &str) {
    use k8s_openapi::api::rbac::v1::RoleBinding;
    Api::<RoleBinding>::namespaced(server.client.clone(), namespace)
        .create(
            &PostParams::default(),
            &object(json!({
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
            })),
        )
        .await
        .expect("create role binding");
}

pub(crate) fn pod(name: &str, extra_spec: Value) -> k8s_openapi::api::core::v1::Pod {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox"}]});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    object(json!({"metadata": {"name": name}, "spec": spec}))
}
