//! DefaultTolerationSeconds (upstream `plugin/pkg/admission/defaulttolerationseconds`): a new
//! pod that does not tolerate the `not-ready` and `unreachable` NoExecute taints tolerates them
//! for 300 seconds, so a node that goes away briefly does not evict everything at once.

use serde_json::{Value, json};

use super::{Attributes, Operation};

/// Upstream's `--default-not-ready-toleration-seconds` and `--default-unreachable-toleration-seconds`.
pub(crate) const DEFAULT_SECONDS: i64 = 300;
const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

pub(super) fn admit(attrs: &Attributes<'_>, obj: Option<&mut Value>) {
    if !attrs.is_core_main("pods") || attrs.operation != Operation::Create {
        return;
    }
    if let Some(pod) = obj {
        add_tolerations(pod, DEFAULT_SECONDS);
    }
}

pub(super) fn add_tolerations(pod: &mut Value, seconds: i64) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    let tolerates = |key: &str| {
        list.iter().any(|t| {
            let k = t.get("key").and_then(Value::as_str).unwrap_or_default();
            let e = t.get("effect").and_then(Value::as_str).unwrap_or_default();
            (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
        })
    };
    let (not_ready, unreachable) = (tolerates(NOT_READY), tolerates(UNREACHABLE));
    for (key, present) in [(NOT_READY, not_ready), (UNREACHABLE, unreachable)] {
        if !present {
            list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;

    fn toleration(key: &str) -> Value {
        json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    }

    #[test]
    fn adds_the_missing_tolerations_only() {
        let cases = [
            (json!([]), json!([toleration(NOT_READY), toleration(UNREACHABLE)])),
            (
                json!([{"key": NOT_READY, "operator": "Exists", "effect": "NoExecute"}]),
                json!([{"key": NOT_READY, "operator": "Exists", "effect": "NoExecute"}, toleration(UNREACHABLE)]),
            ),
            // Tolerating every taint (empty key, empty effect) covers both.
            (json!([{"operator": "Exists"}]), json!([{"operator": "Exists"}])),
            (
                json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}]),
                json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"},
                       toleration(NOT_READY), toleration(UNREACHABLE)]),
            ),
        ];
        for (given, want) in cases {
            let mut pod = json!({"spec": {"tolerations": given}});
            admit(&attrs(Operation::Create, "pods", "ns", "p"), Some(&mut pod));
            assert_eq!(pod["spec"]["tolerations"], want);
        }
        let mut pod = json!({"spec": {}});
        admit(&attrs(Operation::Update, "pods", "ns", "p"), Some(&mut pod));
        assert_eq!(pod, json!({"spec": {}}));
    }
}
