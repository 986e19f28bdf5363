//! Conversion between versions that share one storage prefix, as upstream serves them:
//! `events.k8s.io/v1` Events are stored as core `v1` Events (so both APIs list the same events),
//! and `autoscaling/v1` HorizontalPodAutoscalers are stored as `autoscaling/v2`.

use std::sync::Arc;

use rudder_api::resources::ResourceInfo;
use serde_json::{Map, Value, json};

/// Converts one served version to and from the storage version.
pub(crate) trait Conversion: Send + Sync + 'static {
    fn served_to_storage(&self, obj: Value) -> Value;
    fn storage_to_served(&self, obj: &Value) -> Value;
}

/// The conversion a served resource needs, if its version is not the storage version.
pub(crate) fn for_resource(info: &ResourceInfo) -> Option<Arc<dyn Conversion>> {
    match (info.group, info.version, info.kind) {
        ("events.k8s.io", "v1", "Event") => Some(Arc::new(EventsV1)),
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => Some(Arc::new(HpaV1)),
        _ => None,
    }
}

/// Moves fields between two maps under new names; fields not listed are kept as they are.
fn rename(obj: &Value, api_version: &str, pairs: &[(&str, &str)]) -> Value {
    let Some(map) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let renamed = pairs
            .iter()
            .find(|(from, _)| from == key)
            .map_or(key.as_str(), |(_, to)| to);
        out.insert(renamed.to_string(), value.clone());
    }
    out.insert("apiVersion".into(), json!(api_version));
    Value::Object(out)
}

/// events.k8s.io/v1 ⇄ v1 field names (upstream `pkg/apis/events/v1/conversion.go`).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

struct EventsV1;

impl Conversion for EventsV1 {
    fn served_to_storage(&self, obj: Value) -> Value {
        rename(&obj, "v1", EVENT_FIELDS)
    }

    fn storage_to_served(&self, obj: &Value) -> Value {
        let reversed: Vec<(&str, &str)> = EVENT_FIELDS.iter().map(|(a, b)| (*b, *a)).collect();
        rename(obj, "events.k8s.io/v1", &reversed)
    }
}

/// autoscaling/v1 keeps only a CPU utilization target; v2 expresses it as a Resource metric.
struct HpaV1;

impl Conversion for HpaV1 {
    fn served_to_storage(&self, obj: Value) -> Value {
        let mut out = obj.clone();
        out["apiVersion"] = json!("autoscaling/v2");
        if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut)
            && let Some(target) = spec.remove("targetCPUUtilizationPercentage")
        {
            spec.insert(
                "metrics".into(),
                json!([{ "type": "Resource", "resource": { "name": "cpu",
                    "target": { "type": "Utilization", "averageUtilization": target } } }]),
            );
        }
        if let Some(status) = out.get_mut("status").and_then(Value::as_object_mut)
            && let Some(current) = status.remove("currentCPUUtilizationPercentage")
        {
            status.insert(
                "currentMetrics".into(),
                json!([{ "type": "Resource", "resource": { "name": "cpu",
                    "current": { "averageUtilization": current } } }]),
            );
        }
        out
    }

    fn storage_to_served(&self, obj: &Value) -> Value {
        let mut out = obj.clone();
        out["apiVersion"] = json!("autoscaling/v1");
        let cpu = |metrics: Option<Value>, field: &str| {
            metrics.and_then(|m| {
                m.as_array()?
                    .iter()
                    .find(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu")
                    .map(|m| m["resource"][field]["averageUtilization"].clone())
                    .filter(|v| !v.is_null())
            })
        };
        if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
            if let Some(target) = cpu(spec.remove("metrics"), "target") {
                spec.insert("targetCPUUtilizationPercentage".into(), target);
            }
            spec.remove("behavior");
        }
        if let Some(status) = out.get_mut("status").and_then(Value::as_object_mut) {
            if let Some(current) = cpu(status.remove("currentMetrics"), "current") {
                status.insert("currentCPUUtilizationPercentage".into(), current);
            }
            status.remove("conditions");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_between_the_two_apis() {
        let new_api = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "web"}, "note": "pulled", "reason": "Pulled",
            "reportingController": "kubelet", "deprecatedCount": 2, "type": "Normal"});
        let stored = EventsV1.served_to_storage(new_api.clone());
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "web");
        assert_eq!(stored["message"], "pulled");
        assert_eq!(stored["reportingComponent"], "kubelet");
        assert_eq!(stored["count"], 2);
        assert_eq!(EventsV1.storage_to_served(&stored), new_api);
    }

    #[test]
    fn hpa_v1_cpu_target_is_a_v2_resource_metric() {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 5, "targetCPUUtilizationPercentage": 80,
                     "scaleTargetRef": {"kind": "Deployment", "name": "web"}}});
        let stored = HpaV1.served_to_storage(v1.clone());
        assert_eq!(
            stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert_eq!(HpaV1.storage_to_served(&stored), v1);
    }
}
