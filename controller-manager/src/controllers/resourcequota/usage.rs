//! What objects use, per quota resource name (upstream `pkg/quota/v1/evaluator/core`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ResourceQuota, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity::Qty;

/// Usage by resource name.
pub(crate) type Usage = BTreeMap<String, Qty>;

fn add(usage: &mut Usage, name: &str, q: Qty) {
    let entry = usage.entry(name.to_string()).or_default();
    *entry = entry.add(q);
}

/// `QuotaV1Pod`: terminal pods use nothing.
pub(crate) fn pod_counts(pod: &Pod) -> bool {
    !matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

fn resource_map(list: Option<&BTreeMap<String, Quantity>>) -> BTreeMap<String, Qty> {
    list.into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), Qty::parse(&v.0)?)))
        .collect()
}

/// `PodRequests` / `PodLimits`: the larger of the app containers' sum and any one init
/// container (restartable init containers, sidecars, add to the sum), plus overhead.
fn pod_resources(pod: &Pod, limits: bool) -> BTreeMap<String, Qty> {
    let Some(spec) = pod.spec.as_ref() else {
        return BTreeMap::new();
    };
    let of = |c: &k8s_openapi::api::core::v1::Container| {
        let r = c.resources.as_ref();
        resource_map(if limits {
            r.and_then(|r| r.limits.as_ref())
        } else {
            r.and_then(|r| r.requests.as_ref())
        })
    };
    let mut sum: BTreeMap<String, Qty> = BTreeMap::new();
    let mut sidecars: BTreeMap<String, Qty> = BTreeMap::new();
    for c in &spec.containers {
        for (k, v) in of(c) {
            let e = sum.entry(k).or_default();
            *e = e.add(v);
        }
    }
    let mut init_max: BTreeMap<String, Qty> = BTreeMap::new();
    for c in spec.init_containers.iter().flatten() {
        let res = of(c);
        if c.restart_policy.as_deref() == Some("Always") {
            for (k, v) in &res {
                let e = sidecars.entry(k.clone()).or_default();
                *e = e.add(*v);
            }
        }
        for (k, v) in res {
            // An init container runs beside the sidecars started before it.
            let with_sidecars = sidecars.get(&k).copied().unwrap_or_default().add(v);
            let e = init_max.entry(k).or_default();
            *e = e.max(with_sidecars);
        }
    }
    for (k, v) in sidecars {
        let e = sum.entry(k).or_default();
        *e = e.add(v);
    }
    for (k, v) in init_max {
        let e = sum.entry(k).or_default();
        *e = e.max(v);
    }
    for (k, v) in resource_map(spec.overhead.as_ref()) {
        let e = sum.entry(k).or_default();
        *e = e.add(v);
    }
    sum
}

/// A pod's usage (`PodUsageFunc`).
pub(crate) fn pod_usage(pod: &Pod) -> Usage {
    let mut usage = Usage::new();
    if !pod_counts(pod) {
        return usage;
    }
    add(&mut usage, "pods", Qty::from_count(1));
    add(&mut usage, "count/pods", Qty::from_count(1));
    for (k, v) in pod_resources(pod, false) {
        add(&mut usage, &format!("requests.{k}"), v);
        if matches!(k.as_str(), "cpu" | "memory" | "ephemeral-storage") {
            add(&mut usage, &k, v);
        }
    }
    for (k, v) in pod_resources(pod, true) {
        add(&mut usage, &format!("limits.{k}"), v);
    }
    usage
}

/// Whether a pod requests or limits nothing (`BestEffort` scope).
pub(crate) fn is_best_effort(pod: &Pod) -> bool {
    pod_resources(pod, false).is_empty() && pod_resources(pod, true).is_empty()
}

pub(crate) fn service_usage(svc: &Service) -> Usage {
    let mut usage = Usage::new();
    add(&mut usage, "services", Qty::from_count(1));
    add(&mut usage, "count/services", Qty::from_count(1));
    let spec = svc.spec.as_ref();
    let type_ = spec.and_then(|s| s.type_.as_deref()).unwrap_or("ClusterIP");
    let ports = spec.and_then(|s| s.ports.as_ref()).map_or(0, Vec::len);
    match type_ {
        "LoadBalancer" => {
            add(&mut usage, "services.loadbalancers", Qty::from_count(1));
            let allocate = spec
                .and_then(|s| s.allocate_load_balancer_node_ports)
                .unwrap_or(true);
            let node_ports = if allocate {
                ports
            } else {
                spec.and_then(|s| s.ports.as_ref())
                    .map_or(0, |p| p.iter().filter(|p| p.node_port.unwrap_or(0) != 0).count())
            };
            add(
                &mut usage,
                "services.nodeports",
                Qty::from_count(i64::try_from(node_ports).unwrap_or(0)),
            );
        }
        "NodePort" => {
            add(
                &mut usage,
                "services.nodeports",
                Qty::from_count(i64::try_from(ports).unwrap_or(0)),
            );
        }
        _ => {}
    }
    usage
}

pub(crate) fn pvc_usage(pvc: &PersistentVolumeClaim) -> Usage {
    let mut usage = Usage::new();
    add(&mut usage, "persistentvolumeclaims", Qty::from_count(1));
    add(&mut usage, "count/persistentvolumeclaims", Qty::from_count(1));
    let spec = pvc.spec.as_ref();
    let request = spec
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| Qty::parse(&q.0))
        .unwrap_or_default();
    add(&mut usage, "requests.storage", request);
    if let Some(class) = spec
        .and_then(|s| s.storage_class_name.as_deref())
        .filter(|c| !c.is_empty())
    {
        let prefix = format!("{class}.storageclass.storage.k8s.io/");
        add(&mut usage, &format!("{prefix}requests.storage"), request);
        add(
            &mut usage,
            &format!("{prefix}persistentvolumeclaims"),
            Qty::from_count(1),
        );
    }
    usage
}

/// `count/<resource>` plus the legacy short name, for plain object counts.
pub(crate) fn object_count(resource: &str, n: usize) -> Usage {
    let mut usage = Usage::new();
    let q = Qty::from_count(i64::try_from(n).unwrap_or(i64::MAX));
    add(&mut usage, &format!("count/{resource}"), q);
    add(&mut usage, resource, q);
    usage
}

/// Whether a quota's scopes (and scope selector) select this pod. Quotas with scopes only
/// ever match pods.
pub(crate) fn pod_matches_scopes(quota: &ResourceQuota, pod: &Pod) -> bool {
    let spec = quota.spec.as_ref();
    let terminating = pod
        .spec
        .as_ref()
        .and_then(|s| s.active_deadline_seconds)
        .is_some();
    let priority_class = pod
        .spec
        .as_ref()
        .and_then(|s| s.priority_class_name.clone())
        .unwrap_or_default();
    let scope_ok = |scope: &str, op: &str, values: &[String]| -> bool {
        match scope {
            "Terminating" => terminating,
            "NotTerminating" => !terminating,
            "BestEffort" => is_best_effort(pod),
            "NotBestEffort" => !is_best_effort(pod),
            "PriorityClass" => match op {
                "In" => values.contains(&priority_class),
                "NotIn" => !values.contains(&priority_class),
                "Exists" => !priority_class.is_empty(),
                "DoesNotExist" => priority_class.is_empty(),
                _ => false,
            },
            _ => false,
        }
    };
    let scopes_ok = spec
        .and_then(|s| s.scopes.as_ref())
        .into_iter()
        .flatten()
        .all(|s| scope_ok(s, "Exists", &[]));
    let selector_ok = spec
        .and_then(|s| s.scope_selector.as_ref())
        .and_then(|s| s.match_expressions.as_ref())
        .into_iter()
        .flatten()
        .all(|r| scope_ok(&r.scope_name, &r.operator, r.values.as_deref().unwrap_or(&[])));
    scopes_ok && selector_ok
}

/// Whether the quota has any scope at all (then only pods count against it).
pub(crate) fn is_scoped(quota: &ResourceQuota) -> bool {
    let spec = quota.spec.as_ref();
    spec.and_then(|s| s.scopes.as_ref())
        .is_some_and(|s| !s.is_empty())
        || spec
            .and_then(|s| s.scope_selector.as_ref())
            .and_then(|s| s.match_expressions.as_ref())
            .is_some_and(|m| !m.is_empty())
}
