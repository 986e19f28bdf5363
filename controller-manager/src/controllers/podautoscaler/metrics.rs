//! Pod resource usage from the resource metrics API (`metrics.k8s.io/v1beta1` PodMetrics), the
//! one upstream's `--horizontal-pod-autoscaler` reads for Resource metrics.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};

use super::replicas::Sample;
use crate::controllers::resourcequota::quantity::Qty;
use crate::controllers::util::api::status_code;

fn pod_metrics_resource() -> ApiResource {
    ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    }
}

/// Per-pod usage of `resource` in milli-units, by pod name. The error text is upstream's
/// ("unable to fetch metrics from resource metrics API: ...").
pub(crate) async fn pod_usage(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    resource: &str,
) -> Result<BTreeMap<String, Sample>, String> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &pod_metrics_resource());
    let list = api
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| {
            let why = if status_code(&e) == Some(404) {
                "the server could not find the requested resource (get pods.metrics.k8s.io)".to_string()
            } else {
                e.to_string()
            };
            format!("unable to fetch metrics from resource metrics API: {why}")
        })?;
    let mut out = BTreeMap::new();
    for item in list.items {
        let Some(name) = item.metadata.name.clone() else {
            continue;
        };
        let timestamp = item
            .data
            .get("timestamp")
            .and_then(|t| t.as_str())
            .and_then(|t| t.parse::<Timestamp>().ok())
            .unwrap_or_else(Timestamp::now);
        let window = item
            .data
            .get("window")
            .and_then(|w| w.as_str())
            .and_then(|w| w.trim_end_matches('s').parse::<i64>().ok())
            .map_or(SignedDuration::from_secs(30), SignedDuration::from_secs);
        let containers = item.data.get("containers").and_then(|c| c.as_array());
        let mut total = 0i64;
        for c in containers.into_iter().flatten() {
            let q = c
                .get("usage")
                .and_then(|u| u.get(resource))
                .and_then(|q| q.as_str())
                .and_then(Qty::parse);
            if let Some(q) = q {
                total = total.saturating_add(i64::try_from(q.nanos / 1_000_000).unwrap_or(i64::MAX));
            }
        }
        out.insert(
            name,
            Sample {
                value: total,
                timestamp,
                window,
            },
        );
    }
    Ok(out)
}
