//! The scale of a pod's controller (upstream `finders()`: ReplicationController, Deployment via
//! its ReplicaSet, ReplicaSet, StatefulSet, then any resource with a scale subresource).

use std::collections::HashMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::runtime::reflector::{ObjectRef, Store};

use super::plan::ControllerScale;
use crate::controllers::util::events::Recorder;
use crate::controllers::util::owner::controller_ref;

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) pdbs: Store<PodDisruptionBudget>,
    pub(crate) pods: Store<Pod>,
    pub(crate) rss: Store<ReplicaSet>,
    pub(crate) deployments: Store<Deployment>,
    pub(crate) statefulsets: Store<StatefulSet>,
    pub(crate) rcs: Store<ReplicationController>,
    pub(crate) recorder: Recorder,
}

fn is_builtin(r: &OwnerReference) -> bool {
    matches!(
        (r.api_version.as_str(), r.kind.as_str()),
        ("v1", "ReplicationController") | ("apps/v1", "ReplicaSet" | "Deployment" | "StatefulSet")
    )
}

/// Scales of controllers that are not built-in workload kinds, read through their scale
/// subresource, by controller UID. Lookup failures leave the controller out (the sync then
/// reports it as not found).
pub(crate) async fn prefetch(
    shared: &Shared,
    pods: &[&Pod],
) -> HashMap<String, Result<ControllerScale, String>> {
    let mut out = HashMap::new();
    for pod in pods {
        let Some(r) = controller_ref(&pod.metadata) else {
            continue;
        };
        if is_builtin(r) || out.contains_key(&r.uid) {
            continue;
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        out.insert(r.uid.clone(), scale_subresource(&shared.client, r, &ns).await);
    }
    out
}

async fn scale_subresource(
    client: &kube::Client,
    r: &OwnerReference,
    ns: &str,
) -> Result<ControllerScale, String> {
    let (group, version) = match r.api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), r.api_version.clone()),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, &r.kind);
    let (resource, _caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|e| e.to_string())?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
    let scale = api.get_scale(&r.name).await.map_err(|e| e.to_string())?;
    if scale.metadata.uid.as_deref().is_some_and(|u| u != r.uid) {
        return Err(format!(
            "{} {} has another UID than the pod's controllerRef",
            r.kind, r.name
        ));
    }
    Ok(ControllerScale {
        uid: r.uid.clone(),
        scale: scale.spec.and_then(|s| s.replicas).unwrap_or(0),
    })
}

/// The controller's scale from the caches (or the prefetched scale subresource).
pub(crate) fn lookup(
    shared: &Shared,
    prefetched: &HashMap<String, Result<ControllerScale, String>>,
    r: &OwnerReference,
    ns: &str,
) -> Result<Option<ControllerScale>, String> {
    fn key<K: kube::Resource<DynamicType = ()>>(name: &str, ns: &str) -> ObjectRef<K> {
        ObjectRef::new(name).within(ns)
    }
    let found = |uid: Option<&String>, replicas: Option<i32>| {
        (uid == Some(&r.uid)).then(|| ControllerScale {
            uid: r.uid.clone(),
            scale: replicas.unwrap_or(1),
        })
    };
    Ok(match (r.api_version.as_str(), r.kind.as_str()) {
        ("v1", "ReplicationController") => shared.rcs.get(&key(&r.name, ns)).and_then(|rc| {
            found(
                rc.metadata.uid.as_ref(),
                rc.spec.as_ref().and_then(|s| s.replicas),
            )
        }),
        ("apps/v1", "StatefulSet") => shared
            .statefulsets
            .get(&key(&r.name, ns))
            .and_then(|s| found(s.metadata.uid.as_ref(), s.spec.as_ref().and_then(|s| s.replicas))),
        ("apps/v1", "Deployment") => shared
            .deployments
            .get(&key(&r.name, ns))
            .and_then(|d| found(d.metadata.uid.as_ref(), d.spec.as_ref().and_then(|s| s.replicas))),
        ("apps/v1", "ReplicaSet") => {
            let Some(rs) = shared
                .rss
                .get(&key(&r.name, ns))
                .filter(|rs| rs.metadata.uid.as_ref() == Some(&r.uid))
            else {
                return Ok(None);
            };
            // A ReplicaSet of a Deployment counts as the Deployment (one controller, its scale).
            match controller_ref(&rs.metadata).filter(|o| o.kind == "Deployment") {
                Some(owner) => shared.deployments.get(&key(&owner.name, ns)).and_then(|d| {
                    (d.metadata.uid.as_ref() == Some(&owner.uid)).then(|| ControllerScale {
                        uid: owner.uid.clone(),
                        scale: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    })
                }),
                None => found(
                    rs.metadata.uid.as_ref(),
                    rs.spec.as_ref().and_then(|s| s.replicas),
                ),
            }
        }
        _ => match prefetched.get(&r.uid) {
            Some(Ok(scale)) => Some(scale.clone()),
            Some(Err(e)) => return Err(e.clone()),
            None => None,
        },
    })
}
