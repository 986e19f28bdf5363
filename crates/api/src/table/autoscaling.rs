//! The `autoscaling` group: HorizontalPodAutoscaler (v1 and v2 shapes) and Scale.

use serde_json::{Value, json};

use super::quantity::quantity_ptr;
use super::util::{age, age_col, arr_at, cells, col, get, int_at, name, opt_int, present, str_at};
use super::{ColumnDefinition, Printer};

pub(super) fn lookup(kind: &str) -> Option<Printer> {
    match kind {
        "HorizontalPodAutoscaler" => Some(Printer::new(hpa_columns, hpa_row)),
        "Scale" => Some(Printer::new(scale_columns, scale_row)),
        _ => None,
    }
}

fn hpa_columns() -> Vec<ColumnDefinition> {
    vec![
        super::util::name_col(),
        col(
            "Reference",
            "string",
            "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
        ),
        col(
            "Targets",
            "string",
            "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).",
        ),
        col(
            "MinPods",
            "string",
            "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
        ),
        col(
            "MaxPods",
            "string",
            "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
        ),
        col(
            "Replicas",
            "string",
            "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
        ),
        age_col(),
    ]
}

/// The v2 `spec.metrics` / `status.currentMetrics`, converting the v1 CPU-only fields as
/// upstream's v1 → internal conversion does.
fn metrics(obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let is_v1 = str_at(obj, &["apiVersion"]) == "autoscaling/v1"
        || (get(obj, &["spec", "metrics"]).is_none()
            && get(obj, &["spec", "targetCPUUtilizationPercentage"]).is_some());
    if !is_v1 {
        return (
            arr_at(obj, &["spec", "metrics"]).to_vec(),
            arr_at(obj, &["status", "currentMetrics"]).to_vec(),
        );
    }
    let specs = opt_int(obj, &["spec", "targetCPUUtilizationPercentage"])
        .map(|t| vec![json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": t}}})])
        .unwrap_or_default();
    let statuses = opt_int(obj, &["status", "currentCPUUtilizationPercentage"])
        .map(|c| vec![json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c}}})])
        .unwrap_or_default();
    (specs, statuses)
}

/// Upstream `formatHPAMetrics`.
fn format_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 2;
    let unknown = || "<unknown>".to_string();
    let mut list = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        // statuses[i].<source>, when that status exists and carries the source.
        let status = |source: &str| statuses.get(i).and_then(|s| present(s, &[source]));
        let entry = match str_at(spec, &["type"]) {
            source_type @ ("External" | "Object") => {
                let source = if source_type == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = get(spec, &[source, "target"]).unwrap_or(&Value::Null);
                if present(target, &["averageValue"]).is_some() {
                    let current = status(source)
                        .and_then(|s| present(s, &["current", "averageValue"]))
                        .map_or_else(unknown, |q| quantity_ptr(Some(q)));
                    format!("{current}/{} (avg)", quantity_ptr(get(target, &["averageValue"])))
                } else {
                    let current =
                        status(source).map_or_else(unknown, |s| quantity_ptr(get(s, &["current", "value"])));
                    format!("{current}/{}", quantity_ptr(get(target, &["value"])))
                }
            }
            "Pods" => {
                let current = status("pods")
                    .map_or_else(unknown, |s| quantity_ptr(get(s, &["current", "averageValue"])));
                format!(
                    "{current}/{}",
                    quantity_ptr(get(spec, &["pods", "target", "averageValue"]))
                )
            }
            source_type @ ("Resource" | "ContainerResource") => {
                let source = if source_type == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let resource = str_at(spec, &[source, "name"]);
                let target = get(spec, &[source, "target"]).unwrap_or(&Value::Null);
                if present(target, &["averageValue"]).is_some() {
                    let current = status(source)
                        .map_or_else(unknown, |s| quantity_ptr(get(s, &["current", "averageValue"])));
                    format!(
                        "{resource}: {current}/{}",
                        quantity_ptr(get(target, &["averageValue"]))
                    )
                } else {
                    let current = status(source)
                        .and_then(|s| opt_int(s, &["current", "averageUtilization"]))
                        .map_or_else(unknown, |u| format!("{u}%"));
                    let target = opt_int(target, &["averageUtilization"])
                        .map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                    format!("{resource}: {current}/{target}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > MAX {
        list.truncate(MAX);
        return format!("{} + {} more...", list.join(", "), count - MAX);
    }
    list.join(", ")
}

fn hpa_row(obj: &Value, now: i64) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        str_at(obj, &["spec", "scaleTargetRef", "kind"]),
        str_at(obj, &["spec", "scaleTargetRef", "name"])
    );
    let (specs, statuses) = metrics(obj);
    let min_pods =
        opt_int(obj, &["spec", "minReplicas"]).map_or_else(|| "<unset>".to_string(), |m| m.to_string());
    cells![
        name(obj),
        reference,
        format_metrics(&specs, &statuses),
        min_pods,
        int_at(obj, &["spec", "maxReplicas"]),
        int_at(obj, &["status", "currentReplicas"]),
        age(obj, now),
    ]
}

fn scale_columns() -> Vec<ColumnDefinition> {
    vec![
        col("Name", "string", super::util::NAME_DESC),
        col(
            "Desired",
            "integer",
            "replicas is the desired number of instances for the scaled object.",
        ),
        col(
            "Available",
            "integer",
            "replicas is the actual number of observed instances of the scaled object.",
        ),
        age_col(),
    ]
}

fn scale_row(obj: &Value, now: i64) -> Vec<Value> {
    cells![
        name(obj),
        int_at(obj, &["spec", "replicas"]),
        int_at(obj, &["status", "replicas"]),
        age(obj, now),
    ]
}
