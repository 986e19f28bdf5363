//! ValidatingAdmissionPolicy end to end: policies and bindings stored through the API, a
//! Deployment refused through `kubectl.1.33 apply` with upstream's message, params from a
//! ConfigMap, Warn, and a missing param under `Deny`.

mod admission_webhook_support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use rudder_testkit::{TestApiServer, eventually};
use serde_json::{Value, json};

use admission_webhook_support::{create as create_object, kubectl_apply, status};

async fn create(server: &TestApiServer, kind: &str, name: &str, spec: Value) {
    create_object(server, kind, name, json!({"spec": spec})).await;
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

    let out = kubectl_apply(&server.kubeconfig, &deployment("web", 7)).await;
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

#[tokio::test]
async fn warn_action_reaches_kubectl() {
    let server = TestApiServer::start().await;
    let validations = json!([{"expression": "object.spec.replicas <= 2", "message": "more than 2 replicas"}]);
    create(
        &server,
        "ValidatingAdmissionPolicy",
        "soft-max",
        json!({"matchConstraints": deployment_rules(), "validations": validations}),
    )
    .await;
    create(
        &server,
        "ValidatingAdmissionPolicyBinding",
        "soft-max-binding",
        json!({"policyName": "soft-max", "validationActions": ["Warn"]}),
    )
    .await;
    // A Deny binding in another namespace only shows the policy is active before kubectl runs.
    create(
        &server,
        "ValidatingAdmissionPolicyBinding",
        "probe",
        json!({"policyName": "soft-max", "validationActions": ["Deny"],
               "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-public"}}}}),
    )
    .await;
    let probe: Api<Deployment> = Api::namespaced(server.client.clone(), "kube-public");
    let mut d = deployment("probe", 3);
    d["metadata"]["namespace"] = json!("kube-public");
    eventually("the policy is active", Duration::from_secs(5), || async {
        let d: Deployment = serde_json::from_value(d.clone()).expect("deployment");
        probe
            .create(
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &d,
            )
            .await
            .err()
    })
    .await;
    let out = kubectl_apply(&server.kubeconfig, &deployment("web", 3)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "Warning: Validation failed for ValidatingAdmissionPolicy 'soft-max' with binding 'soft-max-binding': more than 2 replicas"
    );
}
