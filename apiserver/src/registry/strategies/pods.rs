//! Pods: upstream `pkg/registry/core/pod/strategy.go` (status on create, QoS class, scheduling
//! gates condition, graceful deletion) with the defaults of `SetDefaults_Pod`, the fields the
//! Priority admission plugin fills for pods without a priority class, and `ValidatePodUpdate`.

use rudder_api::validation::{FieldError, FieldPath};
use serde_json::{Map, Value, json};

use super::podspec::{default_pod_spec, qos_class, validate_pod_spec};
use super::util::{arr, at, child, default_field, int, s, unset};
use crate::registry::strategy::{Strategy, WriteKind};

/// The fields a pod update may change, as upstream lists them in its refusal.
const UPDATABLE: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

#[derive(Debug)]
pub(crate) struct Pods;

impl Strategy for Pods {
    fn default(&self, obj: &mut Value) {
        let Some(root) = obj.as_object_mut() else { return };
        let Some(spec) = child(root, "spec") else { return };
        default_pod_spec(spec, true);
        // What the Priority admission plugin sets for a pod without a priority class.
        if unset(spec.get("priorityClassName")) || spec.get("priorityClassName") == Some(&json!("")) {
            default_field(spec, "priority", json!(0));
            default_field(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let Some(root) = obj.as_object_mut() else { return };
        let spec = root.get("spec").cloned().unwrap_or(Value::Null);
        let mut status = Map::new();
        status.insert("phase".into(), json!("Pending"));
        status.insert("qosClass".into(), json!(qos_class(&spec)));
        if !arr(&spec, "schedulingGates").is_empty() {
            status.insert(
                "conditions".into(),
                json!([{
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": null,
                    "lastTransitionTime": null,
                    "reason": "SchedulingGated",
                    "message": "Scheduling is blocked due to non-empty scheduling gates",
                }]),
            );
        }
        root.insert("status".into(), Value::Object(status));
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, write: WriteKind) -> Vec<FieldError> {
        match (write, old) {
            (WriteKind::StatusUpdate, _) => Vec::new(),
            (WriteKind::Update, Some(old)) => validate_pod_update(obj, old),
            _ => validate_pod_spec(at(obj, "spec"), &FieldPath::new("spec"), true),
        }
    }

    fn graceful_delete_seconds(&self, obj: &Value, requested: Option<i64>) -> Option<i64> {
        pod_grace_period(obj, requested)
    }
}

/// Upstream `podStrategy.CheckGracefulDelete`: a pod bound to a node and not finished waits for
/// its kubelet; a negative period means 1.
pub(super) fn pod_grace_period(pod: &Value, requested: Option<i64>) -> Option<i64> {
    let spec = at(pod, "spec");
    let mut period = requested
        .or_else(|| int(spec, "terminationGracePeriodSeconds"))
        .unwrap_or(30);
    let phase = s(at(pod, "status"), "phase");
    if s(spec, "nodeName").is_empty() || phase == "Succeeded" || phase == "Failed" {
        period = 0;
    }
    if period < 0 {
        period = 1;
    }
    (period > 0).then_some(period)
}

/// Upstream `ValidatePodUpdate`: the spec is validated, then everything but the updatable fields
/// must be unchanged.
pub(super) fn validate_pod_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let spec_path = FieldPath::new("spec");
    let (new_spec, old_spec) = (at(new, "spec"), at(old, "spec"));
    let mut errs = validate_pod_spec(new_spec, &spec_path, true);
    for list in ["containers", "initContainers"] {
        let (n, o) = (arr(new_spec, list), arr(old_spec, list));
        let p = spec_path.child(list);
        if n.len() != o.len() {
            errs.push(FieldError::forbidden(
                &p,
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in n.iter().enumerate() {
            let image = s(c, "image");
            if !image.is_empty() && image.trim() != image {
                errs.push(FieldError::invalid(
                    &p.index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    let deadline_path = spec_path.child("activeDeadlineSeconds");
    match (
        int(new_spec, "activeDeadlineSeconds"),
        int(old_spec, "activeDeadlineSeconds"),
    ) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            let msg = rudder_api::validation::inclusive_range_error(0, i64::from(i32::MAX));
            errs.push(FieldError::invalid(&deadline_path, n, msg));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(
                &deadline_path,
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            &deadline_path,
            rudder_api::validation::BadValue::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    let new_tolerations = arr(new_spec, "tolerations");
    for old_t in arr(old_spec, "tolerations") {
        let same = |t: &&Value| strip(t, "tolerationSeconds") == strip(old_t, "tolerationSeconds");
        if !new_tolerations.iter().any(|t| same(&t)) {
            errs.push(FieldError::forbidden(
                &spec_path.child("tolerations"),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
        }
    }
    let old_gates: Vec<&str> = arr(old_spec, "schedulingGates")
        .iter()
        .map(|g| s(g, "name"))
        .collect();
    for (i, gate) in arr(new_spec, "schedulingGates").iter().enumerate() {
        if !old_gates.contains(&s(gate, "name")) {
            errs.push(FieldError::forbidden(
                &spec_path.child("schedulingGates").index(i),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    s(gate, "name")
                ),
            ));
        }
    }
    if new_spec != old_spec {
        let munged = munge(new_spec, old_spec);
        if &munged != old_spec {
            let diff = spec_diff(old_spec, &munged);
            errs.push(FieldError::forbidden(
                &spec_path,
                format!("pod updates may not change fields other than {UPDATABLE}\n{diff}"),
            ));
        }
    }
    errs
}

fn strip(v: &Value, key: &str) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove(key);
    }
    v
}

/// The new spec with the updatable fields taken from the old one.
fn munge(new_spec: &Value, old_spec: &Value) -> Value {
    let mut munged = new_spec.clone();
    let Some(m) = munged.as_object_mut() else {
        return munged;
    };
    for list in ["containers", "initContainers"] {
        if let (Some(items), Some(old_items)) = (
            m.get_mut(list).and_then(Value::as_array_mut),
            old_spec.get(list).and_then(Value::as_array),
        ) {
            for (c, old_c) in items.iter_mut().zip(old_items) {
                if let (Some(c), Some(image)) = (c.as_object_mut(), old_c.get("image")) {
                    c.insert("image".into(), image.clone());
                }
            }
        }
    }
    for key in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
        match old_spec.get(key) {
            Some(v) => m.insert(key.into(), v.clone()),
            None => m.remove(key),
        };
    }
    if int(old_spec, "terminationGracePeriodSeconds").is_some_and(|g| g < 0)
        && m.get("terminationGracePeriodSeconds").and_then(Value::as_i64) == Some(1)
        && let Some(g) = old_spec.get("terminationGracePeriodSeconds")
    {
        m.insert("terminationGracePeriodSeconds".into(), g.clone());
    }
    // A gated pod may gain node selector entries.
    if !arr(old_spec, "schedulingGates").is_empty() {
        let (new_sel, old_sel) = (at(new_spec, "nodeSelector"), at(old_spec, "nodeSelector"));
        let only_additions = old_sel
            .as_object()
            .is_none_or(|o| o.iter().all(|(k, v)| new_sel.get(k) == Some(v)));
        if only_additions {
            match old_spec.get("nodeSelector") {
                Some(v) => m.insert("nodeSelector".into(), v.clone()),
                None => m.remove("nodeSelector"),
            };
        }
    }
    munged
}

/// A short rendition of upstream's `cmp.Diff(oldSpec, newSpec)`: the changed top-level fields.
fn spec_diff(old: &Value, new: &Value) -> String {
    let empty = Map::new();
    let (o, n) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = String::from("  core.PodSpec{\n");
    for k in keys {
        let (a, b) = (o.get(k.as_str()), n.get(k.as_str()));
        if a == b {
            continue;
        }
        let name = go_field_name(k);
        if let Some(a) = a {
            out.push_str(&format!("- \t{name}: {a},\n"));
        }
        if let Some(b) = b {
            out.push_str(&format!("+ \t{name}: {b},\n"));
        }
    }
    out.push_str("  }\n");
    out
}

fn go_field_name(json_name: &str) -> String {
    let mut chars = json_name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}
