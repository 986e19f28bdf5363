//! RuntimeClass (upstream `plugin/pkg/admission/runtimeclass`): a new pod naming a
//! `runtimeClassName` must name an existing RuntimeClass; the class's `overhead.podFixed`
//! becomes the pod's `overhead`, and its `scheduling` node selector and tolerations are merged
//! into the pod's.

use rudder_api::status::ApiError;
use serde_json::{Map, Value, json};

use super::lookup::RUNTIME_CLASSES;
use super::{Attributes, Cluster, Operation, forbidden};
use rudder_api::quantity::milli;

fn applies(attrs: &Attributes<'_>) -> bool {
    attrs.is_core_main("pods") && attrs.operation == Operation::Create
}

fn runtime_class_name(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/runtimeClassName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
}

pub(super) fn admit(
    attrs: &Attributes<'_>,
    obj: Option<&mut Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    let Some(pod) = obj.filter(|_| applies(attrs)) else {
        return Ok(());
    };
    let Some(name) = runtime_class_name(pod).map(str::to_string) else {
        return Ok(());
    };
    let class = cluster.get(RUNTIME_CLASSES, None, &name);
    apply(attrs, pod, &name, class.as_ref())
}

/// Same quantities, whatever their spelling (`1000m` and `1`).
fn same_resources(a: &Value, b: &Value) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter().all(|(k, v)| {
                    b.get(k)
                        .is_some_and(|w| milli(v).is_some() && milli(v) == milli(w))
                })
        }
        _ => a == b,
    }
}

/// The pure part of Admit: `class` is the named RuntimeClass, if it exists.
pub(super) fn apply(
    attrs: &Attributes<'_>,
    pod: &mut Value,
    name: &str,
    class: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(class) = class else {
        return Err(forbidden(
            attrs,
            Some(pod),
            format!("pod rejected: RuntimeClass {name:?} not found"),
        ));
    };
    if let Some(overhead) = class.pointer("/overhead/podFixed") {
        if let Some(given) = pod.pointer("/spec/overhead").filter(|o| !o.is_null())
            && !same_resources(given, overhead)
        {
            return Err(forbidden(
                attrs,
                Some(pod),
                "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
            ));
        }
        if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("overhead".into(), overhead.clone());
        }
    }
    if let Some(selector) = class
        .pointer("/scheduling/nodeSelector")
        .and_then(Value::as_object)
    {
        let mut merged: Map<String, Value> = pod
            .pointer("/spec/nodeSelector")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in selector {
            if let Some(existing) = merged.get(key).filter(|v| *v != value) {
                let show = |v: &Value| v.as_str().unwrap_or_default().to_string();
                return Err(forbidden(
                    attrs,
                    Some(pod),
                    format!(
                        "conflict: runtimeClass.scheduling.nodeSelector[{key}] = {}; pod.spec.nodeSelector[{key}] = {}",
                        show(value),
                        show(existing)
                    ),
                ));
            }
            merged.insert(key.clone(), value.clone());
        }
        if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("nodeSelector".into(), Value::Object(merged));
        }
    }
    if let Some(tolerations) = class.pointer("/scheduling/tolerations").and_then(Value::as_array)
        && let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut)
    {
        let list = spec.entry("tolerations").or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            for t in tolerations {
                if !list.contains(t) {
                    list.push(t.clone());
                }
            }
        }
    }
    Ok(())
}

/// Validate: a pod with an overhead needs a RuntimeClass that defines the same one.
pub(super) fn validate(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    let Some(pod) = obj.filter(|_| applies(attrs)) else {
        return Ok(());
    };
    let Some(overhead) = pod.pointer("/spec/overhead").filter(|o| !o.is_null()) else {
        return Ok(());
    };
    let class = runtime_class_name(pod).and_then(|n| cluster.get(RUNTIME_CLASSES, None, n));
    match class.as_ref().and_then(|c| c.pointer("/overhead/podFixed")) {
        Some(fixed) if same_resources(fixed, overhead) => Ok(()),
        Some(_) => Err(forbidden(
            attrs,
            Some(pod),
            "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
        )),
        None => Err(forbidden(
            attrs,
            Some(pod),
            "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;

    #[test]
    fn runtime_class_sets_overhead_and_scheduling() {
        let a = attrs(Operation::Create, "pods", "ns", "p");
        let class = json!({"metadata": {"name": "kata"}, "handler": "kata",
            "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
            "scheduling": {"nodeSelector": {"runtime": "kata"}, "tolerations": [{"key": "kata", "operator": "Exists"}]}});
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"runtimeClassName": "kata", "nodeSelector": {"zone": "a"}}});
        apply(&a, &mut pod, "kata", Some(&class)).expect("admitted");
        assert_eq!(pod["spec"]["overhead"], json!({"cpu": "250m", "memory": "120Mi"}));
        assert_eq!(
            pod["spec"]["nodeSelector"],
            json!({"zone": "a", "runtime": "kata"})
        );
        assert_eq!(
            pod["spec"]["tolerations"],
            json!([{"key": "kata", "operator": "Exists"}])
        );

        let cases = [
            (
                json!({"runtimeClassName": "kata"}),
                None,
                "pod rejected: RuntimeClass \"kata\" not found",
            ),
            (
                json!({"runtimeClassName": "kata", "overhead": {"cpu": "1"}}),
                Some(&class),
                "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
            ),
            (
                json!({"runtimeClassName": "kata", "nodeSelector": {"runtime": "runc"}}),
                Some(&class),
                "conflict: runtimeClass.scheduling.nodeSelector[runtime] = kata; pod.spec.nodeSelector[runtime] = runc",
            ),
        ];
        for (spec, class, want) in cases {
            let mut pod = json!({"metadata": {"name": "p"}, "spec": spec});
            let err = apply(&a, &mut pod, "kata", class).expect_err("refused");
            assert_eq!(err.message(), format!("pods \"p\" is forbidden: {want}"));
        }
        // The same overhead in another spelling is accepted.
        let mut same =
            json!({"metadata": {"name": "p"}, "spec": {"overhead": {"cpu": "0.25", "memory": "120Mi"}}});
        assert!(apply(&a, &mut same, "kata", Some(&class)).is_ok());
    }
}
