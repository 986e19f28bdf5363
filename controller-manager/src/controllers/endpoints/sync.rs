//! One sync of a Service's Endpoints: read the caches, plan, write.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::Store;

use super::plan::{self, EndpointsPlan};
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::{ignore_not_found, is_namespace_terminating};
use crate::controllers::util::events::{EventType, Recorder, object_ref};
use crate::controllers::util::worker::Requeue;

/// A failed sync (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error("creating endpoints {key}: {source}")]
    Create {
        key: ObjectKey,
        #[source]
        source: kube::Error,
    },
    #[error("updating endpoints {key}: {source}")]
    Update {
        key: ObjectKey,
        #[source]
        source: kube::Error,
    },
    #[error("deleting endpoints {key}: {source}")]
    Delete {
        key: ObjectKey,
        #[source]
        source: kube::Error,
    },
}

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) services: Store<Service>,
    pub(crate) pods: Store<Pod>,
    pub(crate) endpoints: Store<Endpoints>,
    pub(crate) recorder: Recorder,
}

pub(crate) async fn sync(shared: &Arc<Shared>, key: &ObjectKey) -> Result<Requeue, SyncError> {
    let api: Api<Endpoints> = Api::namespaced(shared.client.clone(), &key.namespace);
    let current = shared.endpoints.get(&key.to_ref());
    let Some(service) = shared.services.get(&key.to_ref()) else {
        // The Service is gone: so are the Endpoints this controller made for it. (Upstream
        // deletes any; Endpoints someone created ahead of their Service are left alone here.)
        let managed = current.as_ref().is_some_and(|ep| {
            ep.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(plan::LABEL_MANAGED_BY))
                .map(String::as_str)
                == Some(plan::CONTROLLER_NAME)
        });
        if managed {
            ignore_not_found(api.delete(&key.name, &DeleteParams::default()).await).map_err(|source| {
                SyncError::Delete {
                    key: key.clone(),
                    source,
                }
            })?;
        }
        return Ok(None);
    };
    let all_pods = shared.pods.state();
    let pods: Vec<&Pod> = all_pods
        .iter()
        .map(AsRef::as_ref)
        .filter(|p| p.metadata.namespace.as_deref() == Some(key.namespace.as_str()))
        .collect();
    match plan::plan(&service, &pods, current.as_deref()) {
        EndpointsPlan::Nothing => Ok(None),
        EndpointsPlan::Create(ep) => match api.create(&PostParams::default(), &ep).await {
            Ok(_) => Ok(None),
            // A terminating namespace refuses new objects: nothing to do.
            Err(e) if is_namespace_terminating(&e) => Ok(None),
            Err(source) => {
                shared.recorder.record(
                    &object_ref(service.as_ref()),
                    EventType::Warning,
                    "FailedToCreateEndpoint",
                    &format!("Failed to create endpoint for service {key}: {source}"),
                );
                Err(SyncError::Create {
                    key: key.clone(),
                    source,
                })
            }
        },
        EndpointsPlan::Update(ep) => match api.replace(&key.name, &PostParams::default(), &ep).await {
            Ok(_) => Ok(None),
            Err(source) => {
                shared.recorder.record(
                    &object_ref(&ep),
                    EventType::Warning,
                    "FailedToUpdateEndpoint",
                    &format!("Failed to update endpoint {key}: {source}"),
                );
                Err(SyncError::Update {
                    key: key.clone(),
                    source,
                })
            }
        },
    }
}
