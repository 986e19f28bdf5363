//! Priority (upstream `plugin/pkg/admission/priority`): a new pod's `priorityClassName` becomes
//! its `priority` and `preemptionPolicy`; a pod naming no class gets the cluster's
//! `globalDefault` class (or priority 0); a class that does not exist refuses the pod; and only
//! one PriorityClass may be the global default. The two system classes upstream's apiserver
//! keeps (`system-node-critical`, `system-cluster-critical`) are created at start.

use rudder_api::status::ApiError;
use serde_json::{Value, json};

use super::lookup::PRIORITY_CLASSES;
use super::{Attributes, Cluster, Operation, forbidden};
use crate::registry::Registry;
use crate::registry::write::{SERVER_MANAGER, WriteOptions};

/// Upstream's `SystemPriorityClasses`.
pub(crate) const SYSTEM_CLASSES: &[(&str, i64, &str)] = &[
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

fn class_name(pod: &Value) -> &str {
    pod.pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn is_default(class: &Value) -> bool {
    class.get("globalDefault").and_then(Value::as_bool) == Some(true)
}

/// The global default class with the lowest value, as upstream picks when several exist.
fn default_class(classes: &[Value]) -> Option<&Value> {
    classes
        .iter()
        .filter(|c| is_default(c))
        .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0))
}

pub(super) fn admit(
    attrs: &Attributes<'_>,
    obj: Option<&mut Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    if !attrs.is_core_main("pods") {
        return Ok(());
    }
    let Some(pod) = obj else { return Ok(()) };
    match attrs.operation {
        Operation::Create => {
            let name = class_name(pod).to_string();
            let class = if name.is_empty() {
                default_class(&cluster.list(PRIORITY_CLASSES, None)).cloned()
            } else {
                cluster.get(PRIORITY_CLASSES, None, &name)
            };
            resolve(attrs, pod, &name, class.as_ref())
        }
        Operation::Update => {
            keep_on_update(pod, attrs.old);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The pure part of Admit on create: `class` is the named class (`None`: not found), or the
/// global default when the pod names none.
pub(super) fn resolve(
    attrs: &Attributes<'_>,
    pod: &mut Value,
    name: &str,
    class: Option<&Value>,
) -> Result<(), ApiError> {
    if !name.is_empty() && class.is_none() {
        return Err(forbidden(
            attrs,
            Some(pod),
            format!("no PriorityClass with name {name} was found"),
        ));
    }
    let priority = class
        .and_then(|c| c.get("value"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let policy = class
        .and_then(|c| c.get("preemptionPolicy"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let given = pod.pointer("/spec/priority").and_then(Value::as_i64);
    // Without a class, defaulting already wrote priority 0: that is not the client's choice.
    let given = given.filter(|p| !(name.is_empty() && *p == 0));
    if let Some(given) = given.filter(|g| *g != priority) {
        return Err(forbidden(
            attrs,
            Some(pod),
            format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
            ),
        ));
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if name.is_empty()
        && let Some(class_name) = class.and_then(|c| c.pointer("/metadata/name"))
    {
        spec.insert("priorityClassName".into(), class_name.clone());
    }
    spec.insert("priority".into(), json!(priority));
    if let Some(policy) = policy {
        let given = spec.get("preemptionPolicy").and_then(Value::as_str);
        // Defaulting fills PreemptLowerPriority; only another explicit value conflicts.
        if let Some(given) = given.filter(|g| *g != policy && *g != "PreemptLowerPriority") {
            return Err(ApiError::forbidden(
                attrs.resource.group,
                attrs.resource.plural,
                attrs.name,
                format!(
                    "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
                ),
            ));
        }
        spec.insert("preemptionPolicy".into(), json!(policy));
    }
    Ok(())
}

/// On update, a priority the client left out is kept from the stored pod.
fn keep_on_update(pod: &mut Value, old: Option<&Value>) {
    let Some(old) = old else { return };
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["priority", "preemptionPolicy"] {
        if spec.get(field).is_none_or(Value::is_null)
            && let Some(v) = old.pointer(&format!("/spec/{field}"))
        {
            spec.insert(field.into(), v.clone());
        }
    }
}

/// Validate: at most one global default PriorityClass.
pub(super) fn validate(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    if attrs.resource.group != "scheduling.k8s.io" || attrs.resource.plural != "priorityclasses" {
        return Ok(());
    }
    let Some(class) = obj.filter(|_| matches!(attrs.operation, Operation::Create | Operation::Update)) else {
        return Ok(());
    };
    check_single_default(attrs, class, &cluster.list(PRIORITY_CLASSES, None))
}

pub(super) fn check_single_default(
    attrs: &Attributes<'_>,
    class: &Value,
    existing: &[Value],
) -> Result<(), ApiError> {
    if !is_default(class) {
        return Ok(());
    }
    let name = class
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let other = existing
        .iter()
        .filter(|c| is_default(c))
        .filter_map(|c| c.pointer("/metadata/name").and_then(Value::as_str))
        .find(|n| attrs.operation == Operation::Create || *n != name);
    match other {
        Some(other) => Err(forbidden(
            attrs,
            Some(class),
            format!("PriorityClass {other} is already marked as default. Only one default can exist"),
        )),
        None => Ok(()),
    }
}

/// Creates the system priority classes when missing.
pub(super) async fn ensure_system_classes(registry: &Registry) -> Result<(), ApiError> {
    let Some(res) = registry.get_resource(PRIORITY_CLASSES.0, PRIORITY_CLASSES.1, PRIORITY_CLASSES.2) else {
        return Ok(());
    };
    for (name, value, description) in SYSTEM_CLASSES {
        if registry.get(&res, None, name).await.is_ok() {
            continue;
        }
        let class = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "description": description});
        match registry
            .create(&res, None, class, &WriteOptions::by(SERVER_MANAGER))
            .await
        {
            Ok(_) => tracing::info!(name, "created system priority class"),
            Err(e) if e.code() == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::{attrs, attrs_in};

    fn class(name: &str, value: i64, default: bool) -> Value {
        json!({"metadata": {"name": name}, "value": value, "globalDefault": default})
    }

    #[test]
    fn resolves_the_class_into_the_priority() {
        let a = attrs(Operation::Create, "pods", "ns", "p");
        let pod = |spec: Value| json!({"metadata": {"name": "p"}, "spec": spec});
        let high = class("high", 1000, false);
        let never = json!({"metadata": {"name": "never"}, "value": 5, "preemptionPolicy": "Never"});
        type Want<'a> = Result<(Option<i64>, Option<&'a str>, Option<&'a str>), &'a str>;
        let cases: Vec<(Value, &str, Option<&Value>, Want<'_>)> = vec![
            (
                pod(json!({"priorityClassName": "high"})),
                "high",
                Some(&high),
                Ok((Some(1000), Some("high"), None)),
            ),
            (
                pod(json!({"priorityClassName": "never"})),
                "never",
                Some(&never),
                Ok((Some(5), Some("never"), Some("Never"))),
            ),
            (
                pod(json!({"priorityClassName": "nope"})),
                "nope",
                None,
                Err("pods \"p\" is forbidden: no PriorityClass with name nope was found"),
            ),
            (
                pod(json!({"priorityClassName": "high", "priority": 7})),
                "high",
                Some(&high),
                Err(
                    "pods \"p\" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name",
                ),
            ),
            // No class named: the global default, and defaulting's 0 is replaced.
            (
                pod(json!({"priority": 0})),
                "",
                Some(&high),
                Ok((Some(1000), Some("high"), None)),
            ),
            (pod(json!({"priority": 0})), "", None, Ok((Some(0), None, None))),
        ];
        for (mut p, name, found, want) in cases {
            let got = resolve(&a, &mut p, name, found).map(|_| {
                (
                    p["spec"]["priority"].as_i64(),
                    p["spec"]["priorityClassName"].as_str(),
                    p["spec"]["preemptionPolicy"].as_str(),
                )
            });
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w),
                (Err(e), Err(w)) => assert_eq!(e.message(), w),
                (g, w) => panic!("{name}: got {g:?}, want {w:?}"),
            }
        }
        assert_eq!(
            default_class(&[class("a", 10, true), class("b", 5, true), class("c", 1, false)])
                .and_then(|c| c["metadata"]["name"].as_str()),
            Some("b")
        );
    }

    #[test]
    fn only_one_global_default() {
        let existing = vec![class("first", 1, true), class("other", 2, false)];
        let create = attrs_in("scheduling.k8s.io", "priorityclasses", Operation::Create, "", "");
        let update = attrs_in(
            "scheduling.k8s.io",
            "priorityclasses",
            Operation::Update,
            "",
            "first",
        );
        assert_eq!(
            check_single_default(&create, &class("second", 3, true), &existing).err().map(|e| e.message().to_string()),
            Some("priorityclasses.scheduling.k8s.io \"second\" is forbidden: PriorityClass first is already marked as default. Only one default can exist".to_string())
        );
        assert!(check_single_default(&create, &class("plain", 3, false), &existing).is_ok());
        assert!(check_single_default(&update, &class("first", 9, true), &existing).is_ok());
    }
}
