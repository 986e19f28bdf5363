//! Helpers shared by the admission webhook and policy tests: a real HTTPS webhook
//! ([`hook::Hook`]), creating admissionregistration objects, kubectl.
#![allow(dead_code, reason = "each test binary uses a different part")]

pub(crate) mod hook;

use std::path::Path;
use std::process::{Command, Output};

use kube::Api;
use kube::api::{DynamicObject, PostParams};
use kube::discovery::ApiResource;
use rudder_testkit::TestApiServer;
use serde_json::{Value, json};

/// Creates an `admissionregistration.k8s.io/v1` object of `kind` with `fields` (`webhooks`
/// or `spec`) besides its metadata.
pub(crate) async fn create(server: &TestApiServer, kind: &str, name: &str, fields: Value) {
    let plural = format!("{}s", kind.to_lowercase()).replace("policys", "policies");
    let ar = ApiResource {
        group: "admissionregistration.k8s.io".into(),
        version: "v1".into(),
        api_version: "admissionregistration.k8s.io/v1".into(),
        kind: kind.into(),
        plural,
    };
    let api: Api<DynamicObject> = Api::all_with(server.client.clone(), &ar);
    let mut obj =
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name}});
    if let (Some(o), Some(f)) = (obj.as_object_mut(), fields.as_object()) {
        o.extend(f.clone());
    }
    let obj: DynamicObject = serde_json::from_value(obj).expect("object");
    api.create(&PostParams::default(), &obj).await.expect("create");
}

/// The Status of a failed call.
pub(crate) fn status(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other}"),
    }
}

/// `kubectl.1.33 apply -f <manifest>` as the admin.
pub(crate) async fn kubectl_apply(kubeconfig: &Path, manifest: &Value) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("manifest.json");
    std::fs::write(&file, manifest.to_string()).expect("write manifest");
    let (bin, kubeconfig) = (rudder_testkit::kubectl_binary("1.33"), kubeconfig.to_path_buf());
    tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["apply", "-f"])
            .arg(&file)
            .env("HOME", std::env::temp_dir())
            .output()
            .expect("run kubectl")
    })
    .await
    .expect("kubectl task")
}
