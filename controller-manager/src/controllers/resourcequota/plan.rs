//! A ResourceQuota's status from the objects in its namespace (upstream
//! `syncResourceQuota`: `status.hard` mirrors `spec.hard`, `status.used` holds the usage of
//! exactly the resources with a hard limit).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ResourceQuota, ResourceQuotaStatus, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity::Qty;
use super::usage::{self, Usage};

/// The objects of one namespace that quotas count.
#[derive(Debug, Default)]
pub(crate) struct NamespaceObjects<'a> {
    pub(crate) pods: Vec<&'a Pod>,
    pub(crate) services: Vec<&'a Service>,
    pub(crate) pvcs: Vec<&'a PersistentVolumeClaim>,
    pub(crate) configmaps: usize,
    pub(crate) secrets: usize,
    pub(crate) replication_controllers: usize,
    pub(crate) resource_quotas: usize,
}

fn merge(into: &mut Usage, from: Usage) {
    for (k, v) in from {
        let e = into.entry(k).or_default();
        *e = e.add(v);
    }
}

/// Resource names some evaluator here tracks: they get a "0" when nothing uses them.
fn is_known(name: &str) -> bool {
    const PLAIN: [&str; 21] = [
        "pods",
        "count/pods",
        "cpu",
        "memory",
        "ephemeral-storage",
        "services",
        "count/services",
        "services.loadbalancers",
        "services.nodeports",
        "persistentvolumeclaims",
        "count/persistentvolumeclaims",
        "requests.storage",
        "configmaps",
        "count/configmaps",
        "secrets",
        "count/secrets",
        "replicationcontrollers",
        "count/replicationcontrollers",
        "resourcequotas",
        "count/resourcequotas",
        "requests.cpu",
    ];
    PLAIN.contains(&name)
        || name.starts_with("requests.")
        || name.starts_with("limits.")
        || name.contains(".storageclass.storage.k8s.io/")
}

/// Everything the namespace uses, as far as `quota` counts it.
pub(crate) fn usage_for(quota: &ResourceQuota, objects: &NamespaceObjects<'_>) -> Usage {
    let mut total = Usage::new();
    let scoped = usage::is_scoped(quota);
    for pod in &objects.pods {
        if !scoped || usage::pod_matches_scopes(quota, pod) {
            merge(&mut total, usage::pod_usage(pod));
        }
    }
    if scoped {
        return total;
    }
    for svc in &objects.services {
        merge(&mut total, usage::service_usage(svc));
    }
    for pvc in &objects.pvcs {
        merge(&mut total, usage::pvc_usage(pvc));
    }
    merge(&mut total, usage::object_count("configmaps", objects.configmaps));
    merge(&mut total, usage::object_count("secrets", objects.secrets));
    merge(
        &mut total,
        usage::object_count("replicationcontrollers", objects.replication_controllers),
    );
    merge(
        &mut total,
        usage::object_count("resourcequotas", objects.resource_quotas),
    );
    total
}

fn same_list(a: Option<&BTreeMap<String, Quantity>>, b: Option<&BTreeMap<String, Quantity>>) -> bool {
    let norm = |m: Option<&BTreeMap<String, Quantity>>| -> BTreeMap<String, Option<i128>> {
        m.into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), Qty::parse(&v.0).map(|q| q.nanos)))
            .collect()
    };
    norm(a) == norm(b)
}

/// The new status, or None when the current one is already right.
pub(crate) fn plan(quota: &ResourceQuota, objects: &NamespaceObjects<'_>) -> Option<ResourceQuotaStatus> {
    let hard = quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let total = usage_for(quota, objects);
    let used: BTreeMap<String, Quantity> = hard
        .keys()
        .filter_map(|k| match total.get(k) {
            Some(q) => Some((k.clone(), Quantity(q.canonical()))),
            None if is_known(k) => Some((k.clone(), Quantity("0".into()))),
            None => None,
        })
        .collect();
    let next = ResourceQuotaStatus {
        hard: Some(hard),
        used: Some(used),
    };
    let current = quota.status.as_ref();
    let unchanged = current.is_some_and(|c| {
        same_list(c.hard.as_ref(), next.hard.as_ref()) && same_list(c.used.as_ref(), next.used.as_ref())
    });
    (!unchanged).then_some(next)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
