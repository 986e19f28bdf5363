//! ValidatingAdmissionPolicy end to end: policies and bindings stored through the API, a
//! Deployment refused through `kubectl.1.33 apply` with upstream's message, params from a
//! ConfigMap, Warn, and a missing param under `Deny`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::{Value, json};

async fn create(server: &TestApiServer, kind: &str, name: &str, spec: Value) {
    let ar = ApiResource {
        group: "admissionregistration.k8s.io".into(),
        version: "v1".into(),
        api_version: "admissionregistration.k8s.io/v1".into(),
        kind: kind.into(),
        plural: format!("{}s", kind.to_lowercase()).replace("policys", "policies"),
    };
    let api: Api<DynamicObject> = Api::all_with(server.client.clone(), &ar);
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": name}, "spec": spec,
    }))
    .expect("object");
    api.create(&PostParams::default(), &obj).await.expect("create");
}

fn deployment(name: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
        },
    })
}

fn deployment_rules() -> Value {
    json!({"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}]})
}

fn status(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other}"),
    }
}

/// Creating `deployment(name, replicas)` fails (retried until the policy is in effect).
async fn refused(deploys: &Api<Deployment>, name: &str, replicas: i32) -> kube::core::Status {
    let err = eventually("the policy refuses", Duration::from_secs(5), || async {
        let d: Deployment = serde_json::from_value(deployment(name, replicas)).expect("deployment");
        let pp = PostParams {
            dry_run: true,
            ..Default::default()
        };
        deploys.create(&pp, &d).await.err()
    })
    .await;
    status(err)
}

/// `$(dirname $(readlink -f $(which kubectl)))/kubectl.<version>`.
fn kubectl_binary(version: &str) -> PathBuf {
    let path = std::env::var_os("PATH").expect("PATH");
    let kubectl = std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.exists())
        .expect("kubectl on PATH");
    let real = std::fs::canonicalize(kubectl).expect("resolve kubectl");
    let versioned = real.parent().expect("dir").join(format!("kubectl.{version}"));
    assert!(versioned.exists(), "{} missing", versioned.display());
    versioned
}

#[tokio::test]
async fn kubectl_apply_prints_the_policy_denial() {
    let server = TestApiServer::start().await;
    let validations =
        json!([{"expression": "object.spec.replicas <= 5", "message": "replicas must be <= 5"}]);
    create(
        &server,
        "ValidatingAdmissionPolicy",
        "max-replicas",
        json!({"failurePolicy": "Fail", "matchConstraints": deployment_rules(), "validations": validations}),
    )
    .await;
    create(
        &server,
        "ValidatingAdmissionPolicyBinding",
        "max-replicas-binding",
        json!({"policyName": "max-replicas", "validationActions": ["Deny"]}),
    )
    .await;
    let deploys: Api<Deployment> = Api::namespaced(server.client.clone(), "default");
    let err = refused(&deploys, "probe", 6).await;
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("web.yaml");
    std::fs::write(&file, deployment("web", 7).to_string()).expect("write manifest");
    let (bin, kubeconfig) = (kubectl_binary("1.33"), server.kubeconfig.clone());
    let out = tokio::task::spawn_blocking(move || {
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
    .expect("kubectl task");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "The deployments \"web\" is invalid: : ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-binding' denied request: replicas must be <= 5"
    );
    // Within the limit it is created.
    let d: Deployment = serde_json::from_value(deployment("small", 5)).expect("deployment");
    deploys
        .create(&PostParams::default(), &d)
        .await
        .expect("5 replicas are fine");
}

#[tokio::test]
async fn params_come_from_a_config_map() {
    let server = TestApiServer::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let limits: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "limits"}, "data": {"max": "2"}})).expect("cm");
    cms.create(&PostParams::default(), &limits).await.expect("params");
    create(
        &server,
        "ValidatingAdmissionPolicy",
        "param-max",
        json!({
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": deployment_rules(),
            "variables": [{"name": "max", "expression": "int(params.data.max)"}],
            "validations": [{
                "expression": "object.spec.replicas <= variables.max",
                "messageExpression": "'replicas ' + string(object.spec.replicas) + ' over ' + string(variables.max)",
                "reason": "Forbidden",
            }],
        }),
    )
    .await;
    create(
        &server,
        "ValidatingAdmissionPolicyBinding",
        "param-max-binding",
        json!({"policyName": "param-max", "validationActions": ["Deny"],
               "paramRef": {"name": "limits", "parameterNotFoundAction": "Deny"}}),
    )
    .await;
    let deploys: Api<Deployment> = Api::namespaced(server.client.clone(), "default");
    let err = refused(&deploys, "three", 3).await;
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        err.message,
        "deployments.apps \"three\" is forbidden: ValidatingAdmissionPolicy 'param-max' with binding 'param-max-binding' denied request: replicas 3 over 2"
    );
    // Raising the param lets it through.
    cms.patch(
        "limits",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"max": "5"}})),
    )
    .await
    .expect("raise");
    eventually("the new param applies", Duration::from_secs(5), || async {
        let d: Deployment = serde_json::from_value(deployment("three", 3)).expect("deployment");
        deploys.create(&PostParams::default(), &d).await.ok()
    })
    .await;
    // Without the param, `Deny` refuses.
    cms.delete("limits", &Default::default())
        .await
        .expect("delete params");
    let err = refused(&deploys, "four", 4).await;
    assert!(
        err.message.ends_with(
            "denied request: no params found for policy binding with `Deny` parameterNotFoundAction"
        ),
        "{}",
        err.message
    );
}
