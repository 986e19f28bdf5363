//! PodSecurity (upstream `pod-security-admission`): the Pod Security Standards enforced per
//! namespace through the labels `pod-security.kubernetes.io/{enforce,audit,warn}[-version]`.
//!
//! - A pod violating the namespace's **enforce** level is refused:
//!   `pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged (...), ...`.
//! - A pod (or a workload's pod template) violating the **warn** level is admitted with the
//!   warning `would violate PodSecurity "restricted:latest": ...`.
//! - Namespaces are checked for valid labels; tightening a namespace's enforce level warns
//!   about the pods already there that violate it.
//! - **audit** levels are parsed and validated; there is no audit log to annotate yet.

mod checks;
mod policy;

use rudder_api::status::ApiError;
use serde_json::{Value, json};

use super::lookup::{NAMESPACES, PODS};
use super::{Attributes, Cluster, Operation};
use policy::{LevelVersion, Policy, detail, evaluate, policy_of, reasons};

/// Where a workload keeps its pod template.
fn template_pointer(attrs: &Attributes<'_>) -> Option<&'static str> {
    match (attrs.resource.group, attrs.resource.plural) {
        ("", "podtemplates") => Some("/template"),
        ("", "replicationcontrollers")
        | ("apps", "replicasets" | "deployments" | "statefulsets" | "daemonsets")
        | ("batch", "jobs") => Some("/spec/template"),
        ("batch", "cronjobs") => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

pub(super) fn validate(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
    warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    let Some(obj) = obj.filter(|_| matches!(attrs.operation, Operation::Create | Operation::Update)) else {
        return Ok(());
    };
    if attrs.is_core_main("namespaces") {
        return namespace(attrs, obj, cluster, warnings);
    }
    if attrs.namespace.is_empty() {
        return Ok(());
    }
    let labels = || {
        cluster
            .get(NAMESPACES, None, attrs.namespace)
            .and_then(|ns| ns.pointer("/metadata/labels").cloned())
    };
    if attrs.is_core("pods") {
        if !matches!(attrs.subresource, "" | "ephemeralcontainers") {
            return Ok(());
        }
        if attrs.operation == Operation::Update && !attrs.old.is_some_and(|old| significant_update(obj, old))
        {
            return Ok(());
        }
        let (policy, _) = policy_of(labels().as_ref());
        return pod(attrs, obj, &policy, true, warnings);
    }
    if let Some(pointer) = template_pointer(attrs).filter(|_| attrs.subresource.is_empty()) {
        let Some(template) = obj.pointer(pointer) else {
            return Ok(());
        };
        let (policy, _) = policy_of(labels().as_ref());
        let name = obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
        let as_pod = json!({"metadata": template.get("metadata").cloned().unwrap_or(json!({"name": name})),
            "spec": template.get("spec").cloned().unwrap_or(json!({}))});
        // Workloads are never refused, only warned about (upstream: enforce is for pods).
        return pod(attrs, &as_pod, &policy, false, warnings);
    }
    Ok(())
}

/// Evaluates one pod: refuses it under `enforce`, or adds the warn-level warning.
pub(super) fn pod(
    attrs: &Attributes<'_>,
    pod: &Value,
    policy: &Policy,
    enforce: bool,
    warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    let meta = pod.get("metadata").cloned().unwrap_or(json!({}));
    let spec = pod.get("spec").cloned().unwrap_or(json!({}));
    if enforce {
        let violations = evaluate(policy.enforce, &meta, &spec);
        if !violations.is_empty() {
            let name = meta.get("name").and_then(Value::as_str).unwrap_or(attrs.name);
            return Err(ApiError::forbidden(
                attrs.resource.group,
                attrs.resource.plural,
                name,
                format!(
                    "violates PodSecurity \"{}\": {}",
                    policy.enforce,
                    detail(&violations)
                ),
            ));
        }
    }
    let violations = evaluate(policy.warn, &meta, &spec);
    if !violations.is_empty() {
        warnings.push(warning(policy.warn, &violations));
    }
    Ok(())
}

fn warning(lv: LevelVersion, violations: &[checks::Violation]) -> String {
    format!("would violate PodSecurity \"{lv}\": {}", detail(violations))
}

/// Whether a pod update can change what the checks see (upstream `isSignificantPodUpdate`):
/// metadata-only changes and image updates of unchanged containers are not re-checked.
fn significant_update(new: &Value, old: &Value) -> bool {
    let strip = |pod: &Value| {
        let mut spec = pod.get("spec").cloned().unwrap_or(Value::Null);
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
                for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                    c.remove("image");
                }
            }
        }
        // Fields a pod update may change that no check looks at.
        if let Some(map) = spec.as_object_mut() {
            map.remove("activeDeadlineSeconds");
            map.remove("tolerations");
            map.remove("terminationGracePeriodSeconds");
        }
        spec
    };
    let seccomp = |pod: &Value| {
        pod.pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .map(|a| {
                a.iter()
                    .filter(|(k, _)| k.contains("seccomp.security.alpha.kubernetes.io"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    strip(new) != strip(old) || seccomp(new) != seccomp(old)
}

/// Namespaces: valid labels, and a warning about existing pods when enforce gets stricter.
fn namespace(
    attrs: &Attributes<'_>,
    ns: &Value,
    cluster: &Cluster<'_>,
    warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    let (policy, errors) = policy_of(ns.pointer("/metadata/labels"));
    let old = attrs.old.map(|o| policy_of(o.pointer("/metadata/labels")));
    let changed_errors = match &old {
        Some((_, old_errors)) => {
            !errors.is_empty()
                && old_errors
                    .iter()
                    .map(|e| e.body())
                    .ne(errors.iter().map(|e| e.body()))
        }
        None => !errors.is_empty(),
    };
    if changed_errors {
        let name = ns
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(attrs.name);
        return Err(ApiError::invalid("", "Namespace", name, &errors));
    }
    let Some((old_policy, _)) = old else {
        return Ok(());
    };
    if old_policy.enforce == policy.enforce || policy.enforce.level == policy::Level::Privileged {
        return Ok(());
    }
    let name = ns
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or(attrs.name);
    warnings.extend(existing_pod_warnings(
        name,
        policy.enforce,
        &cluster.list(PODS, Some(name)),
    ));
    Ok(())
}

/// Upstream `EvaluatePodsInNamespace`: one line for the namespace, then one per distinct set of
/// reasons, naming the first pod and how many others share it.
fn existing_pod_warnings(namespace: &str, enforce: LevelVersion, pods: &[Value]) -> Vec<String> {
    let mut groups: Vec<(String, String, usize)> = Vec::new();
    for pod in pods {
        let meta = pod.get("metadata").cloned().unwrap_or(json!({}));
        let spec = pod.get("spec").cloned().unwrap_or(json!({}));
        let violations = evaluate(enforce, &meta, &spec);
        if violations.is_empty() {
            continue;
        }
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let why = reasons(&violations);
        match groups.iter_mut().find(|(_, r, _)| *r == why) {
            Some(group) => group.2 += 1,
            None => groups.push((name, why, 1)),
        }
    }
    if groups.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!(
        "existing pods in namespace {namespace:?} violate the new PodSecurity enforce level \"{enforce}\""
    )];
    for (name, why, count) in groups {
        out.push(match count {
            1 => format!("{name}: {why}"),
            2 => format!("{name} (and 1 other pod): {why}"),
            n => format!("{name} (and {} other pods): {why}", n - 1),
        });
    }
    out
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
