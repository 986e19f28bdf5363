//! `pods/binding` (and the legacy `bindings` resource): assigns a pod to a node, as upstream's
//! `BindingREST` in pkg/registry/core/pod/storage does. The pod is changed at the storage level
//! (no update strategy), so `spec.nodeName` can be set although pod updates cannot change it.

use rudder_api::status::{ApiError, StatusReason};
use serde_json::{Map, Value, json};

use super::object;
use super::raw::{Preconditions, RawUpdateError};
use super::{Registry, Resource};

impl Registry {
    /// Binds pod `name` to the node `binding.target.name`. `pods` is the pods resource.
    pub(crate) async fn bind(
        &self,
        pods: &Resource,
        namespace: &str,
        name: &str,
        binding: &Value,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        check_binding(binding, name)?;
        let target = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let annotations = object::meta(binding)
            .get("annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let preconditions = Preconditions {
            uid: object::meta_str(binding, "uid").map(str::to_string),
            resource_version: object::meta_str(binding, "resourceVersion").map(str::to_string),
        };
        let now = object::now_rfc3339();
        let result = self
            .update_raw(pods, Some(namespace), name, &preconditions, dry_run, |pod| {
                assign(pod, &target, &annotations, &now).map_err(|msg| {
                    // Upstream wraps every refusal of the update function as a conflict on
                    // `pods/binding`.
                    ApiError::conflict_with("", "pods/binding", name, msg)
                })
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(RawUpdateError::NotFound) => Err(pods.not_found(name)),
            Err(RawUpdateError::Precondition(msg)) => Err(ApiError::conflict_with("", "pods", name, msg)),
            Err(RawUpdateError::Conflict) => Err(ApiError::conflict("", "pods", name)),
            Err(RawUpdateError::Refused(e) | RawUpdateError::Api(e)) => Err(e),
        }
    }
}

/// The `Status` a successful binding answers with (201, as upstream's create handler fills in).
pub(crate) fn success_status() -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    })
}

/// Upstream's `ValidatePodBinding` plus the URL/body name check of `BindingREST.Create`.
fn check_binding(binding: &Value, name: &str) -> Result<(), ApiError> {
    if object::name(binding).unwrap_or_default() != name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Binding object",
        ));
    }
    let mut errors = Vec::new();
    let kind = binding
        .pointer("/target/kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !kind.is_empty() && kind != "Node" {
        errors.push(format!(
            "target.kind: Unsupported value: \"{kind}\": supported values: \"Node\", \"<empty>\""
        ));
    }
    let target = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if target.is_empty() {
        errors.push("target.name: Required value".to_string());
    }
    match errors.len() {
        0 => Ok(()),
        // Upstream returns the aggregate as a plain error, which its handler reports as a
        // 500 with no reason.
        1 => Err(ApiError::new(500, StatusReason::Unknown, errors.remove(0))),
        _ => Err(ApiError::new(
            500,
            StatusReason::Unknown,
            format!("[{}]", errors.join(", ")),
        )),
    }
}

/// `setPodNodeAndMetadata`'s update function. Returns upstream's error text on refusal.
fn assign(pod: &mut Value, node: &str, annotations: &Map<String, Value>, now: &str) -> Result<(), String> {
    let name = object::name(pod).unwrap_or_default().to_string();
    if object::is_deleting(pod) {
        return Err(format!(
            "pod {name} is being deleted, cannot be assigned to a host"
        ));
    }
    let current = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !current.is_empty() {
        return Err(format!("pod {name} is already assigned to node {current:?}"));
    }
    if pod
        .pointer("/spec/schedulingGates")
        .and_then(Value::as_array)
        .is_some_and(|g| !g.is_empty())
    {
        return Err(format!("pod {name} has non-empty .spec.schedulingGates"));
    }
    let Some(map) = pod.as_object_mut() else {
        return Err("unexpected object".into());
    };
    let spec = map.entry("spec").or_insert_with(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        spec.insert("nodeName".into(), json!(node));
    }
    if !annotations.is_empty() {
        let meta = object::meta_mut(pod);
        let existing = meta.entry("annotations").or_insert_with(|| json!({}));
        if !existing.is_object() {
            *existing = json!({});
        }
        if let Some(existing) = existing.as_object_mut() {
            for (k, v) in annotations {
                existing.insert(k.clone(), v.clone());
            }
        }
    }
    set_scheduled(pod, now);
    Ok(())
}

/// `UpdatePodCondition(PodScheduled=True)`: replaces the condition, keeping its transition time
/// when the status does not change.
fn set_scheduled(pod: &mut Value, now: &str) {
    let Some(map) = pod.as_object_mut() else {
        return;
    };
    let status = map.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    let conditions = &mut status["conditions"];
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(conditions) = conditions.as_array_mut() else {
        return;
    };
    let mut condition = json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": now,
    });
    match conditions
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled"))
    {
        Some(old) => {
            if old.get("status").and_then(Value::as_str) == Some("True")
                && let Some(t) = old.get("lastTransitionTime")
            {
                condition["lastTransitionTime"] = t.clone();
            }
            *old = condition;
        }
        None => conditions.push(condition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "annotations": {"a": "1"}}, "spec": {"containers": []}, "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]}})
    }

    #[test]
    fn assigns_node_annotations_and_condition() {
        let mut p = pod();
        let ann = json!({"b": "2"}).as_object().cloned().unwrap();
        assign(&mut p, "n1", &ann, "2026-02-02T00:00:00Z").unwrap();
        assert_eq!(p["spec"]["nodeName"], "n1");
        assert_eq!(p["metadata"]["annotations"], json!({"a": "1", "b": "2"}));
        assert_eq!(
            p["status"]["conditions"],
            json!([{"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-02-02T00:00:00Z"}])
        );
    }

    #[test]
    fn refuses_assigned_deleting_and_gated_pods() {
        let none = Map::new();
        let mut p = pod();
        p["spec"]["nodeName"] = json!("n0");
        assert_eq!(
            assign(&mut p, "n1", &none, "t").unwrap_err(),
            "pod p is already assigned to node \"n0\""
        );
        let mut p = pod();
        p["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(
            assign(&mut p, "n1", &none, "t").unwrap_err(),
            "pod p is being deleted, cannot be assigned to a host"
        );
        let mut p = pod();
        p["spec"]["schedulingGates"] = json!([{"name": "g"}]);
        assert_eq!(
            assign(&mut p, "n1", &none, "t").unwrap_err(),
            "pod p has non-empty .spec.schedulingGates"
        );
    }

    #[test]
    fn validates_binding() {
        let ok = json!({"metadata": {"name": "p"}, "target": {"name": "n1"}});
        assert!(check_binding(&ok, "p").is_ok());
        assert_eq!(check_binding(&ok, "q").unwrap_err().code(), 400);
        let bad = json!({"metadata": {"name": "p"}, "target": {"kind": "Pod"}});
        let err = check_binding(&bad, "p").unwrap_err();
        assert_eq!(err.code(), 500);
        assert_eq!(
            err.message(),
            "[target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\", target.name: Required value]"
        );
    }
}
