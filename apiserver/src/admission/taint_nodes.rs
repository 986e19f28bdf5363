//! TaintNodesByCondition (upstream `plugin/pkg/admission/nodetaint`): a new Node starts tainted
//! `node.kubernetes.io/not-ready:NoSchedule`, so nothing is scheduled onto it before its kubelet
//! reports Ready and the node lifecycle controller lifts the taint.

use serde_json::{Value, json};

use super::{Attributes, Operation};

pub(crate) const NOT_READY: &str = "node.kubernetes.io/not-ready";

pub(super) fn admit(attrs: &Attributes<'_>, obj: Option<&mut Value>) {
    if !attrs.is_core_main("nodes") || attrs.operation != Operation::Create {
        return;
    }
    if let Some(node) = obj {
        add_not_ready_taint(node);
    }
}

/// Adds the taint unless one with the same key and effect is there.
pub(super) fn add_not_ready_taint(node: &mut Value) {
    let Some(root) = node.as_object_mut() else { return };
    let spec = root.entry("spec").or_insert_with(|| json!({}));
    let Some(spec) = spec.as_object_mut() else { return };
    let taints = spec.entry("taints").or_insert_with(|| json!([]));
    let Some(taints) = taints.as_array_mut() else {
        return;
    };
    let present = taints.iter().any(|t| {
        t.get("key").and_then(Value::as_str) == Some(NOT_READY)
            && t.get("effect").and_then(Value::as_str) == Some("NoSchedule")
    });
    if !present {
        taints.push(json!({"key": NOT_READY, "effect": "NoSchedule"}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;

    #[test]
    fn new_nodes_get_the_not_ready_taint_once() {
        let taint = json!({"key": NOT_READY, "effect": "NoSchedule"});
        let cases = [
            (json!({"metadata": {"name": "n"}}), json!([taint])),
            (
                json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
                json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, taint]),
            ),
            (json!({"spec": {"taints": [taint]}}), json!([taint])),
        ];
        for (mut node, want) in cases {
            admit(&attrs(Operation::Create, "nodes", "", "n"), Some(&mut node));
            assert_eq!(node["spec"]["taints"], want);
        }
        // Updates are left alone.
        let mut node = json!({"spec": {}});
        admit(&attrs(Operation::Update, "nodes", "", "n"), Some(&mut node));
        assert_eq!(node, json!({"spec": {}}));
    }
}
