//! One sync of a Service's EndpointSlices: read the caches, plan, write.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};

use super::plan::{self, LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
use super::tracker::Tracker;
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::{ignore_not_found, is_namespace_terminating};
use crate::controllers::util::events::{EventType, Recorder, object_ref};
use crate::controllers::util::worker::Requeue;

/// A failed sync (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error("creating an EndpointSlice for {key}: {source}")]
    Create {
        key: ObjectKey,
        #[source]
        source: kube::Error,
    },
    #[error("updating EndpointSlice {name} of {key}: {source}")]
    Update {
        key: ObjectKey,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting EndpointSlice {name} of {key}: {source}")]
    Delete {
        key: ObjectKey,
        name: String,
        #[source]
        source: kube::Error,
    },
}

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) services: Store<Service>,
    pub(crate) pods: Store<Pod>,
    pub(crate) slices: Store<EndpointSlice>,
    pub(crate) nodes: Store<Node>,
    pub(crate) recorder: Recorder,
    pub(crate) tracker: Tracker,
    pub(crate) max_endpoints_per_slice: usize,
}

/// The Service a slice belongs to, if this controller manages it.
pub(crate) fn owning_service(slice: &EndpointSlice) -> Option<ObjectKey> {
    let labels = slice.metadata.labels.as_ref()?;
    if labels.get(LABEL_MANAGED_BY).map(String::as_str) != Some(plan::CONTROLLER_NAME) {
        return None;
    }
    let name = labels.get(LABEL_SERVICE_NAME)?;
    Some(ObjectKey::new(
        slice.metadata.namespace.clone().unwrap_or_default(),
        name.clone(),
    ))
}

pub(crate) async fn sync(shared: &Arc<Shared>, key: &ObjectKey) -> Result<Requeue, SyncError> {
    let api: Api<EndpointSlice> = Api::namespaced(shared.client.clone(), &key.namespace);
    let all_slices = shared.slices.state();
    let ours: Vec<&EndpointSlice> = all_slices
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| owning_service(s).as_ref() == Some(key))
        .collect();
    if !shared.tracker.is_current(key, &ours) {
        // Our last writes are not in the cache yet; look again shortly.
        return Ok(Some(Duration::from_millis(100)));
    }
    let Some(service) = shared.services.get(&key.to_ref()) else {
        // The garbage collector would remove them through their ownerReference; do it now.
        for s in &ours {
            let name = s.metadata.name.clone().unwrap_or_default();
            ignore_not_found(api.delete(&name, &DeleteParams::default()).await).map_err(|source| {
                SyncError::Delete {
                    key: key.clone(),
                    name,
                    source,
                }
            })?;
        }
        shared.tracker.forget(key);
        return Ok(None);
    };
    let all_pods = shared.pods.state();
    let pods: Vec<&Pod> = all_pods
        .iter()
        .map(AsRef::as_ref)
        .filter(|p| p.metadata.namespace.as_deref() == Some(key.namespace.as_str()))
        .collect();
    let zone_of = |node: &str| {
        shared.nodes.get(&ObjectRef::new(node)).and_then(|n| {
            n.metadata
                .labels
                .as_ref()?
                .get("topology.kubernetes.io/zone")
                .cloned()
        })
    };
    let plan = plan::plan(&service, &pods, &ours, &zone_of, shared.max_endpoints_per_slice);
    if plan.is_empty() {
        return Ok(None);
    }
    let mut present = Vec::new();
    let mut absent = Vec::new();
    let result = execute(shared, &api, key, &service, plan, &mut present, &mut absent).await;
    shared.tracker.record(key, present, absent);
    result.map(|()| None)
}

async fn execute(
    shared: &Shared,
    api: &Api<EndpointSlice>,
    key: &ObjectKey,
    service: &Service,
    plan: plan::SlicePlan,
    present: &mut Vec<(String, u64)>,
    absent: &mut Vec<String>,
) -> Result<(), SyncError> {
    // Creates first, deletes last: readers never see fewer endpoints than before in between.
    for slice in plan.create {
        match api.create(&PostParams::default(), &slice).await {
            Ok(created) => present.push((
                created.metadata.name.clone().unwrap_or_default(),
                Tracker::resource_version(&created),
            )),
            // A terminating namespace refuses new objects.
            Err(e) if is_namespace_terminating(&e) => return Ok(()),
            Err(source) => {
                shared.recorder.record(
                    &object_ref(service),
                    EventType::Warning,
                    "FailedToUpdateEndpointSlices",
                    &format!("Error updating Endpoint Slices for Service {key}: {source}"),
                );
                return Err(SyncError::Create {
                    key: key.clone(),
                    source,
                });
            }
        }
    }
    for slice in plan.update {
        let name = slice.metadata.name.clone().unwrap_or_default();
        match api.replace(&name, &PostParams::default(), &slice).await {
            Ok(updated) => present.push((name, Tracker::resource_version(&updated))),
            Err(source) => {
                shared.recorder.record(
                    &object_ref(service),
                    EventType::Warning,
                    "FailedToUpdateEndpointSlices",
                    &format!("Error updating Endpoint Slices for Service {key}: {source}"),
                );
                return Err(SyncError::Update {
                    key: key.clone(),
                    name,
                    source,
                });
            }
        }
    }
    for name in plan.delete {
        ignore_not_found(api.delete(&name, &DeleteParams::default()).await).map_err(|source| {
            SyncError::Delete {
                key: key.clone(),
                name: name.clone(),
                source,
            }
        })?;
        absent.push(name);
    }
    Ok(())
}
