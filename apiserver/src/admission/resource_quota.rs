//! ResourceQuota (upstream `apiserver/pkg/admission/plugin/resourcequota` with the evaluators of
//! `pkg/quota/v1/evaluator/core`): a new object is refused when it would take a namespace's
//! usage past a quota's hard limits, and admitted objects are charged to the quota's
//! `status.used` at once (compare-and-swap on the quota), so a burst cannot overrun it before
//! the resourcequota controller recounts.
//!
//! Counted on create: pods (`pods`, `requests.*`/`limits.*` for cpu and memory, bare `cpu` and
//! `memory`), `count/<resource>[.<group>]` for every resource, the classic object counts
//! (`services`, `configmaps`, `secrets`, `persistentvolumeclaims`, `replicationcontrollers`,
//! `resourcequotas`) and `requests.storage` of claims. Quota scopes and updates are not
//! evaluated (a quota with scopes is skipped).

use std::collections::BTreeMap;

use rudder_api::status::ApiError;
use serde_json::{Value, json};

use super::lookup::RESOURCE_QUOTAS;
use super::{Attributes, Cluster, Operation, forbidden};
use crate::registry::raw::{Preconditions, RawUpdateError};
use rudder_api::quantity::{format_milli, milli};

/// Resource name → usage in milli-units.
pub(super) type Usage = BTreeMap<String, i128>;

const COUNT: i128 = 1000;

/// What creating `obj` adds to a namespace's usage.
pub(super) fn usage(attrs: &Attributes<'_>, obj: &Value) -> Usage {
    let mut u = Usage::new();
    let info = attrs.resource;
    let count_key = match info.group {
        "" => format!("count/{}", info.plural),
        group => format!("count/{}.{group}", info.plural),
    };
    u.insert(count_key, COUNT);
    if info.group.is_empty() {
        match info.plural {
            "pods" => pod_usage(obj, &mut u),
            "persistentvolumeclaims" => {
                u.insert("persistentvolumeclaims".into(), COUNT);
                if let Some(m) = obj.pointer("/spec/resources/requests/storage").and_then(milli) {
                    u.insert("requests.storage".into(), m);
                }
            }
            "services" => {
                u.insert("services".into(), COUNT);
                match obj.pointer("/spec/type").and_then(Value::as_str) {
                    Some("LoadBalancer") => {
                        u.insert("services.loadbalancers".into(), COUNT);
                    }
                    Some("NodePort") => {
                        let ports = obj
                            .pointer("/spec/ports")
                            .and_then(Value::as_array)
                            .map_or(0, Vec::len);
                        u.insert("services.nodeports".into(), ports as i128 * COUNT);
                    }
                    _ => {}
                }
            }
            plural @ ("configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas") => {
                u.insert(plural.to_string(), COUNT);
            }
            _ => {}
        }
    }
    u
}

fn sum(pod: &Value, list: &str, field: &str, res: &str) -> i128 {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.pointer(&format!("/resources/{field}/{res}")).and_then(milli))
        .sum()
}

fn max(pod: &Value, list: &str, field: &str, res: &str) -> i128 {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.pointer(&format!("/resources/{field}/{res}")).and_then(milli))
        .max()
        .unwrap_or(0)
}

/// A pod's requests and limits: the sum of its containers, at least its largest init
/// container, plus its overhead (upstream `PodRequestsAndLimits`).
fn pod_usage(pod: &Value, u: &mut Usage) {
    u.insert("pods".into(), COUNT);
    for field in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            let overhead = pod
                .pointer(&format!("/spec/overhead/{res}"))
                .and_then(milli)
                .unwrap_or(0);
            let total =
                sum(pod, "containers", field, res).max(max(pod, "initContainers", field, res)) + overhead;
            if total > 0 {
                u.insert(format!("{field}.{res}"), total);
                if field == "requests" {
                    u.insert(res.to_string(), total);
                }
            }
        }
    }
}

/// Resources whose quota makes every container state its own value (upstream's backward
/// compatible `Constraints`): `failed quota: <name>: must specify ...`.
fn missing(pod: &Value, constrained: &[&str]) -> Option<String> {
    let mut lines = Vec::new();
    for res in constrained {
        let (field, name) = match *res {
            "requests.cpu" | "cpu" => ("requests", "cpu"),
            "requests.memory" | "memory" => ("requests", "memory"),
            "limits.cpu" => ("limits", "cpu"),
            "limits.memory" => ("limits", "memory"),
            _ => continue,
        };
        let mut names: Vec<String> = ["containers", "initContainers"]
            .iter()
            .flat_map(|l| {
                pod.pointer(&format!("/spec/{l}"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .filter(|c| c.pointer(&format!("/resources/{field}/{name}")).is_none())
            .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        if !names.is_empty() {
            lines.push(format!("{res} for: {}", names.join(",")));
        }
    }
    lines.sort();
    (!lines.is_empty()).then(|| format!("must specify {}", lines.join("; ")))
}

fn is_binary(res: &str) -> bool {
    res.contains("memory") || res.contains("storage")
}

fn pretty(list: &BTreeMap<String, String>) -> String {
    list.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn resource_list(obj: &Value, pointer: &str) -> BTreeMap<String, Value> {
    obj.pointer(pointer)
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Checks one quota against the delta and, when it fits, returns the new `status.used`.
pub(super) fn charge(
    attrs: &Attributes<'_>,
    obj: &Value,
    quota: &Value,
    delta: &Usage,
) -> Result<Option<Value>, ApiError> {
    let name = quota
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let hard = resource_list(quota, "/status/hard");
    let spec_hard = resource_list(quota, "/spec/hard");
    let relevant: Vec<&String> = spec_hard.keys().filter(|k| delta.contains_key(*k)).collect();
    if attrs.is_core("pods") {
        let constrained: Vec<&str> = spec_hard.keys().map(String::as_str).collect();
        if let Some(msg) = missing(obj, &constrained) {
            return Err(forbidden(
                attrs,
                Some(obj),
                format!("failed quota: {name}: {msg}"),
            ));
        }
    }
    if relevant.is_empty() {
        return Ok(None);
    }
    let used = resource_list(quota, "/status/used");
    if relevant
        .iter()
        .any(|k| !hard.contains_key(*k) || !used.contains_key(*k))
    {
        let mut names: Vec<&str> = relevant.iter().map(|k| k.as_str()).collect();
        names.sort();
        return Err(forbidden(
            attrs,
            Some(obj),
            format!("status unknown for quota: {name}, resources: {}", names.join(",")),
        ));
    }
    let mut exceeded = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut new_used = used.clone();
    for k in &relevant {
        let d = delta.get(*k).copied().unwrap_or(0);
        let u = used.get(*k).and_then(milli).unwrap_or(0);
        let h = hard.get(*k).and_then(milli).unwrap_or(0);
        if u + d > h {
            exceeded.0.insert(k.to_string(), format_milli(d, is_binary(k)));
            exceeded.1.insert(
                k.to_string(),
                used.get(*k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            );
            exceeded.2.insert(
                k.to_string(),
                hard.get(*k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        new_used.insert(k.to_string(), json!(format_milli(u + d, is_binary(k))));
    }
    if !exceeded.0.is_empty() {
        return Err(forbidden(
            attrs,
            Some(obj),
            format!(
                "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
                pretty(&exceeded.0),
                pretty(&exceeded.1),
                pretty(&exceeded.2)
            ),
        ));
    }
    Ok(Some(json!(new_used)))
}

pub(super) async fn validate(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    let Some(obj) = obj.filter(|_| attrs.operation == Operation::Create && attrs.subresource.is_empty())
    else {
        return Ok(());
    };
    if attrs.namespace.is_empty() {
        return Ok(());
    }
    let quotas: Vec<Value> = cluster
        .list(RESOURCE_QUOTAS, Some(attrs.namespace))
        .into_iter()
        .filter(|q| {
            q.pointer("/spec/scopes")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        })
        .filter(|q| q.pointer("/spec/scopeSelector").is_none_or(Value::is_null))
        .collect();
    if quotas.is_empty() {
        return Ok(());
    }
    let delta = usage(attrs, obj);
    // Every quota is checked before any is charged.
    for q in &quotas {
        charge(attrs, obj, q, &delta)?;
    }
    if attrs.dry_run {
        return Ok(());
    }
    let Some(res) = cluster.resource(RESOURCE_QUOTAS) else {
        return Ok(());
    };
    for q in &quotas {
        let name = q
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let charged = cluster
            .registry
            .update_raw(
                &res,
                Some(attrs.namespace),
                name,
                &Preconditions::default(),
                false,
                |current| {
                    if let Some(used) = charge(attrs, obj, current, &delta)? {
                        current["status"]["used"] = used;
                    }
                    Ok(())
                },
            )
            .await;
        match charged {
            Ok(_) | Err(RawUpdateError::NotFound) => {}
            Err(RawUpdateError::Refused(e)) | Err(RawUpdateError::Api(e)) => return Err(e),
            Err(RawUpdateError::Precondition(m)) => return Err(ApiError::internal(m)),
            Err(RawUpdateError::Conflict) => {
                return Err(ApiError::conflict("", "resourcequotas", name));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;

    fn quota(hard: Value, used: Value) -> Value {
        json!({"metadata": {"name": "compute"}, "spec": {"hard": hard}, "status": {"hard": hard, "used": used}})
    }

    fn pod(cpu: &str) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"cpu": cpu, "memory": "64Mi"}}}]}})
    }

    #[test]
    fn pods_are_charged_or_refused() {
        let a = attrs(Operation::Create, "pods", "ns", "p");
        let delta = usage(&a, &pod("500m"));
        assert_eq!(delta.get("pods"), Some(&1000));
        assert_eq!(delta.get("requests.cpu"), Some(&500));
        assert_eq!(delta.get("count/pods"), Some(&1000));

        let q = quota(
            json!({"pods": "2", "requests.cpu": "1"}),
            json!({"pods": "1", "requests.cpu": "250m"}),
        );
        let used = charge(&a, &pod("500m"), &q, &delta).expect("fits");
        assert_eq!(used, Some(json!({"pods": "2", "requests.cpu": "750m"})));

        let full = quota(
            json!({"pods": "2", "requests.cpu": "1"}),
            json!({"pods": "2", "requests.cpu": "750m"}),
        );
        assert_eq!(
            charge(&a, &pod("500m"), &full, &delta)
                .expect_err("over")
                .message(),
            "pods \"p\" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=500m, used: pods=2,requests.cpu=750m, limited: pods=2,requests.cpu=1"
        );

        let unknown = json!({"metadata": {"name": "compute"}, "spec": {"hard": {"pods": "2"}}});
        assert_eq!(
            charge(&a, &pod("1"), &unknown, &delta)
                .expect_err("no status")
                .message(),
            "pods \"p\" is forbidden: status unknown for quota: compute, resources: pods"
        );

        let bare = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}, {"name": "d"}]}});
        let limits = quota(
            json!({"limits.cpu": "2", "requests.memory": "1Gi"}),
            json!({"limits.cpu": "0", "requests.memory": "0"}),
        );
        assert_eq!(
            charge(&a, &bare, &limits, &usage(&a, &bare))
                .expect_err("must specify")
                .message(),
            "pods \"p\" is forbidden: failed quota: compute: must specify limits.cpu for: c,d; requests.memory for: c,d"
        );
    }

    #[test]
    fn objects_count_against_their_kind() {
        let a = attrs(Operation::Create, "configmaps", "ns", "c");
        let delta = usage(&a, &json!({"metadata": {"name": "c"}}));
        let q = quota(json!({"configmaps": "1"}), json!({"configmaps": "1"}));
        assert!(charge(&a, &json!({"metadata": {"name": "c"}}), &q, &delta).is_err());
        let other = quota(json!({"secrets": "1"}), json!({"secrets": "1"}));
        assert_eq!(
            charge(&a, &json!({"metadata": {"name": "c"}}), &other, &delta).expect("unrelated"),
            None
        );
    }
}
