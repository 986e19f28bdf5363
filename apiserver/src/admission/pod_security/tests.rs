//! The plugin's decisions: enforce, warn, workloads, updates and namespace labels.

use serde_json::{Value, json};

use super::*;
use crate::admission::tests::{attrs, attrs_in};

fn ns(labels: Value) -> Policy {
    policy_of(Some(&labels)).0
}

fn privileged_pod(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"containers": [{"name": name, "image": "busybox",
        "securityContext": {"privileged": true}}]}})
}

const RESTRICTED_DETAIL: &str = "privileged (container \"x\" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container \"x\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"x\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"x\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"x\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")";

#[test]
fn enforce_refuses_with_upstreams_message_and_warn_warns() {
    let a = attrs(Operation::Create, "pods", "team", "x");
    let mut warnings = Vec::new();
    let restricted = ns(json!({"pod-security.kubernetes.io/enforce": "restricted"}));
    let err = pod(&a, &privileged_pod("x"), &restricted, true, &mut warnings).expect_err("refused");
    assert_eq!(err.code(), 403);
    assert_eq!(
        err.message(),
        format!("pods \"x\" is forbidden: violates PodSecurity \"restricted:latest\": {RESTRICTED_DETAIL}")
    );
    assert!(warnings.is_empty());

    let warn = ns(json!({"pod-security.kubernetes.io/warn": "restricted"}));
    pod(&a, &privileged_pod("x"), &warn, true, &mut warnings).expect("admitted");
    assert_eq!(
        warnings,
        [format!(
            "would violate PodSecurity \"restricted:latest\": {RESTRICTED_DETAIL}"
        )]
    );

    // Baseline enforce with a restricted warning: only the baseline check refuses.
    let mixed = ns(
        json!({"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "v1.30"}),
    );
    let err = pod(&a, &privileged_pod("x"), &mixed, true, &mut Vec::new()).expect_err("refused");
    assert_eq!(
        err.message(),
        "pods \"x\" is forbidden: violates PodSecurity \"baseline:v1.30\": privileged (container \"x\" must not set securityContext.privileged=true)"
    );

    // A compliant pod passes restricted.
    let good = json!({"metadata": {"name": "x"}, "spec": {"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "x", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}});
    let mut warnings = Vec::new();
    pod(&a, &good, &restricted, true, &mut warnings).expect("admitted");
    assert!(warnings.is_empty());
    // Privileged namespaces (no labels) admit anything.
    pod(&a, &privileged_pod("x"), &ns(json!({})), true, &mut warnings).expect("admitted");
}

#[test]
fn workloads_are_warned_about_never_refused() {
    let a = attrs_in("apps", "deployments", Operation::Create, "team", "web");
    let deployment = json!({"metadata": {"name": "web"}, "spec": {"template": {"metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "x", "securityContext": {"privileged": true}}]}}}});
    assert_eq!(template_pointer(&a), Some("/spec/template"));
    let template = deployment.pointer("/spec/template").cloned().unwrap_or_default();
    let mut warnings = Vec::new();
    let policy = ns(json!({"pod-security.kubernetes.io/enforce": "restricted"}));
    pod(&a, &template, &policy, false, &mut warnings).expect("workloads are not refused");
    assert_eq!(
        warnings,
        [format!(
            "would violate PodSecurity \"restricted:latest\": {RESTRICTED_DETAIL}"
        )]
    );
    assert_eq!(
        template_pointer(&attrs_in("batch", "cronjobs", Operation::Create, "team", "c")),
        Some("/spec/jobTemplate/spec/template")
    );
}

#[test]
fn only_significant_pod_updates_are_checked() {
    let base = privileged_pod("x");
    let mut labelled = base.clone();
    labelled["metadata"]["labels"] = json!({"a": "b"});
    let mut image = base.clone();
    image["spec"]["containers"][0]["image"] = json!("busybox:2");
    let mut escalated = base.clone();
    escalated["spec"]["containers"][0]["securityContext"]["runAsUser"] = json!(0);
    assert!(!significant_update(&labelled, &base));
    assert!(!significant_update(&image, &base));
    assert!(significant_update(&escalated, &base));
}

#[test]
fn tightening_a_namespace_warns_about_existing_pods() {
    let pods = [
        privileged_pod("a"),
        privileged_pod("b"),
        json!({"metadata": {"name": "c"}, "spec": {"hostNetwork": true, "containers": [{"name": "c"}]}}),
    ];
    let enforce = ns(json!({"pod-security.kubernetes.io/enforce": "baseline"})).enforce;
    assert_eq!(
        existing_pod_warnings("team", enforce, &pods),
        [
            "existing pods in namespace \"team\" violate the new PodSecurity enforce level \"baseline:latest\"",
            "a (and 1 other pod): privileged",
            "c: host namespaces",
        ]
    );
}
