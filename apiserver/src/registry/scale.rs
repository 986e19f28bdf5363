//! The `scale` subresource (`autoscaling/v1` `Scale`) of deployments, replicasets, statefulsets
//! and replicationcontrollers: a view of `spec.replicas` that `kubectl scale` reads and patches.

use std::sync::Arc;

use rudder_api::status::ApiError;
use serde_json::{Value, json};

use super::write::{PatchType, WriteOptions};
use super::{Registry, Resource};
use crate::registry::watch_cache::CachedObject;

/// The Scale view of an object.
pub(crate) fn to_scale(obj: &CachedObject) -> Value {
    let v = &obj.value();
    let meta = &v["metadata"];
    let mut metadata = json!({
        "name": meta["name"],
        "uid": meta["uid"],
        "resourceVersion": obj.revision.to_string(),
        "creationTimestamp": meta["creationTimestamp"],
    });
    if let Some(ns) = meta.get("namespace") {
        metadata["namespace"] = ns.clone();
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": { "replicas": v["spec"]["replicas"].as_i64().unwrap_or(0) },
        "status": {
            "replicas": v["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector_string(&v["spec"]["selector"]),
        },
    })
}

/// A label selector rendered as a string (`app=web,tier in (a,b)`); replicationcontrollers use a
/// plain map.
fn selector_string(selector: &Value) -> String {
    let labels = selector
        .get("matchLabels")
        .or(Some(selector))
        .and_then(Value::as_object);
    let mut parts: Vec<String> = labels
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                .collect()
        })
        .unwrap_or_default();
    for expr in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expr["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expr["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        parts.push(match expr["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    parts.sort();
    parts.join(",")
}

impl Registry {
    /// Updates `spec.replicas` from a Scale that is replaced (PUT) or patched.
    pub(crate) async fn write_scale(
        &self,
        res: &Resource,
        namespace: Option<&str>,
        name: &str,
        change: ScaleChange<'_>,
        opts: &WriteOptions,
    ) -> Result<Arc<CachedObject>, ApiError> {
        use rudder_api::patch as p;
        let current = self.get(res, namespace, name).await?;
        let scale = to_scale(&current);
        let next = match change {
            ScaleChange::Replace(body) => body.clone(),
            ScaleChange::Patch(PatchType::Json, patch) => {
                p::apply_json_patch(&scale, patch).map_err(patch_error)?
            }
            ScaleChange::Patch(PatchType::Merge, patch) => {
                p::apply_merge_patch(&scale, patch).map_err(patch_error)?
            }
            ScaleChange::Patch(PatchType::StrategicMerge, patch) => {
                p::apply_strategic_merge_patch(&scale, patch, &p::schema_for("autoscaling", "Scale"))
                    .map_err(patch_error)?
            }
        };
        let replicas = next["spec"]["replicas"]
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("Scale spec.replicas must be an integer"))?;
        if replicas < 0 {
            let path = rudder_api::validation::FieldPath::new("spec").child("replicas");
            let err = rudder_api::validation::FieldError::invalid(
                &path,
                rudder_api::validation::BadValue::from_json(&json!(replicas)),
                "must be greater than or equal to 0",
            );
            return Err(ApiError::invalid("autoscaling", "Scale", name, &[err]));
        }
        let mut patch = json!({ "spec": { "replicas": replicas } });
        if let Some(rv) = next["metadata"]["resourceVersion"]
            .as_str()
            .filter(|rv| !rv.is_empty())
        {
            patch["metadata"] = json!({ "resourceVersion": rv });
        }
        let opts = WriteOptions {
            subresource: "scale",
            ..opts.clone()
        };
        self.patch(res, namespace, name, PatchType::Merge, &patch, false, &opts)
            .await
    }
}

/// How a Scale is written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ScaleChange<'a> {
    Replace(&'a Value),
    Patch(PatchType, &'a Value),
}

fn patch_error(e: rudder_api::patch::PatchError) -> ApiError {
    crate::registry::patch_error(&e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_render_like_upstream() {
        let sel = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]});
        assert_eq!(selector_string(&sel), "app=web,tier in (a,b)");
        assert_eq!(selector_string(&json!({"app": "rc"})), "app=rc");
    }
}
