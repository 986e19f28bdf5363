//! The scheduler's writes to the cluster behind a trait: bind through `pods/binding`, the
//! `PodScheduled` condition and `nominatedNodeName`, deleting preemption victims, events.
//! Everything here works from the compact [`PodInfo`] (identity and the `PodScheduled`
//! condition); conditions are written with strategic merge patches keyed by `type`, as
//! upstream's `PatchPodStatus`, so the pod's other conditions need not be known.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use rudder_client::events::{EventApi, EventRecorder, EventType};
use serde_json::json;

use crate::framework::PodInfo;

/// What went wrong writing to the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("binding {pod} to {node}: {source}")]
    Bind {
        pod: String,
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating status of {pod}: {source}")]
    Status {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting {pod}: {source}")]
    Delete {
        pod: String,
        #[source]
        source: kube::Error,
    },
}

/// Why a pod was not scheduled, as written to its `PodScheduled` condition.
#[derive(Debug, Clone)]
pub struct Unschedulable {
    /// `Unschedulable` or `SchedulerError`.
    pub reason: &'static str,
    pub message: String,
    /// `Some(name)` sets `status.nominatedNodeName`, `Some("")` clears it, `None` leaves it.
    pub nominated_node: Option<String>,
}

#[async_trait]
pub trait ClusterApi: Send + Sync + std::fmt::Debug {
    async fn bind(&self, pod: &PodInfo, node: &str) -> Result<(), ApiError>;
    async fn mark_unschedulable(&self, pod: &PodInfo, why: &Unschedulable) -> Result<(), ApiError>;
    async fn set_nominated_node(&self, pod: &PodInfo, node: Option<&str>) -> Result<(), ApiError>;
    async fn preempt(&self, victim: &PodInfo, preemptor: &PodInfo, node: &str) -> Result<(), ApiError>;
    fn event(&self, pod: &PodInfo, type_: EventType, reason: &str, action: &str, message: &str);
}

pub(crate) fn pod_name(pod: &PodInfo) -> String {
    pod.full_name()
}

/// The `involvedObject`/`regarding` reference of a pod's events.
fn pod_ref(pod: &PodInfo) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some(pod.namespace.to_string()),
        name: Some(pod.name.clone()),
        uid: Some(pod.uid.clone()).filter(|u| !u.is_empty()),
        resource_version: Some(pod.resource_version.clone()).filter(|v| !v.is_empty()),
        field_path: None,
    }
}

/// The real API through a kube client.
#[derive(Clone)]
pub struct KubeApi {
    client: kube::Client,
    recorder: EventRecorder,
    scheduler_name: String,
}

impl std::fmt::Debug for KubeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeApi").finish()
    }
}

impl KubeApi {
    /// Events are reported by `default-scheduler` (upstream's reportingController).
    pub fn new(client: kube::Client) -> Arc<KubeApi> {
        let recorder = EventRecorder::new(client.clone(), "default-scheduler", EventApi::EventsV1);
        Arc::new(KubeApi {
            client,
            recorder,
            scheduler_name: "default-scheduler".into(),
        })
    }

    fn pods(&self, pod: &PodInfo) -> Api<Pod> {
        let ns = if pod.namespace.is_empty() {
            "default"
        } else {
            &pod.namespace
        };
        Api::namespaced(self.client.clone(), ns)
    }
}

fn name(pod: &PodInfo) -> &str {
    &pod.name
}

/// `cond` as it should be written over `old` (same type); `None` when nothing changes
/// (lastTransitionTime only moves when status flips, like upstream `UpdatePodCondition`).
pub(crate) fn updated_condition(old: Option<&PodCondition>, mut cond: PodCondition) -> Option<PodCondition> {
    if let Some(old) = old {
        if old.status == cond.status && old.reason == cond.reason && old.message == cond.message {
            return None;
        }
        if old.status == cond.status {
            cond.last_transition_time = old.last_transition_time.clone();
        }
    }
    Some(cond)
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

#[async_trait]
impl ClusterApi for KubeApi {
    async fn bind(&self, pod: &PodInfo, node: &str) -> Result<(), ApiError> {
        let uid = Some(pod.uid.as_str()).filter(|u| !u.is_empty());
        let body = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name(pod), "namespace": pod.namespace(), "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        self.pods(pod)
            .create_subresource::<_, serde_json::Value>("binding", name(pod), &PostParams::default(), &body)
            .await
            .map(|_| ())
            .map_err(|source| ApiError::Bind {
                pod: pod_name(pod),
                node: node.to_string(),
                source,
            })
    }

    async fn mark_unschedulable(&self, pod: &PodInfo, why: &Unschedulable) -> Result<(), ApiError> {
        let cond = PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some(why.reason.into()),
            message: Some(why.message.clone()),
            last_transition_time: Some(now()),
            ..PodCondition::default()
        };
        let current_nominated = pod.nominated_node_name.as_deref().unwrap_or("");
        let nominated_change = why.nominated_node.as_ref().filter(|n| *n != current_nominated);
        let condition = updated_condition(pod.scheduled_condition.as_deref(), cond);
        if condition.is_none() && nominated_change.is_none() {
            return Ok(());
        }
        let mut status = serde_json::Map::new();
        if let Some(c) = condition {
            // Merged by `type` into the pod's conditions (strategic merge).
            status.insert("conditions".into(), json!([c]));
        }
        if let Some(n) = nominated_change {
            status.insert(
                "nominatedNodeName".into(),
                if n.is_empty() { json!(null) } else { json!(n) },
            );
        }
        self.pods(pod)
            .patch_status(
                name(pod),
                &PatchParams::default(),
                &Patch::Strategic(json!({"status": status})),
            )
            .await
            .map(|_| ())
            .map_err(|source| ApiError::Status {
                pod: pod_name(pod),
                source,
            })
    }

    async fn set_nominated_node(&self, pod: &PodInfo, node: Option<&str>) -> Result<(), ApiError> {
        let patch = json!({"status": {"nominatedNodeName": node}});
        self.pods(pod)
            .patch_status(name(pod), &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map(|_| ())
            .map_err(|source| ApiError::Status {
                pod: pod_name(pod),
                source,
            })
    }

    async fn preempt(&self, victim: &PodInfo, preemptor: &PodInfo, node: &str) -> Result<(), ApiError> {
        // Like upstream: mark why the victim goes (DisruptionTarget), then delete it.
        let cond = PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some("PreemptionByScheduler".into()),
            message: Some(format!(
                "{}: preempting to accommodate a higher priority pod",
                self.scheduler_name
            )),
            last_transition_time: Some(now()),
            ..PodCondition::default()
        };
        // Merged by `type` into the victim's conditions (strategic merge).
        let patch = json!({"status": {"conditions": [cond]}});
        if let Err(error) = self
            .pods(victim)
            .patch_status(name(victim), &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            tracing::warn!(pod = %pod_name(victim), %error, "setting DisruptionTarget condition");
        }
        let deleted = self
            .pods(victim)
            .delete(name(victim), &DeleteParams::default())
            .await;
        match deleted {
            Ok(_) => {}
            // Already gone: that is what we wanted.
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(source) => {
                return Err(ApiError::Delete {
                    pod: pod_name(victim),
                    source,
                });
            }
        }
        let uid = &preemptor.uid;
        self.event(
            victim,
            EventType::Normal,
            "Preempted",
            "Preempting",
            &format!("Preempted by pod {uid} on node {node}"),
        );
        Ok(())
    }

    fn event(&self, pod: &PodInfo, type_: EventType, reason: &str, action: &str, message: &str) {
        self.recorder
            .record(&pod_ref(pod), type_, reason, action, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(status: &str, message: &str, time: &str) -> PodCondition {
        PodCondition {
            type_: "PodScheduled".into(),
            status: status.into(),
            reason: Some("Unschedulable".into()),
            message: Some(message.into()),
            last_transition_time: Some(Time(time.parse().expect("time"))),
            ..PodCondition::default()
        }
    }

    #[test]
    fn condition_written_only_when_it_changes_and_keeps_its_transition_time() {
        let old = cond("False", "0/3 nodes are available", "2026-01-01T00:00:00Z");
        // Same status, reason and message: nothing to write.
        let same = cond("False", "0/3 nodes are available", "2026-01-02T00:00:00Z");
        assert_eq!(updated_condition(Some(&old), same), None);
        // A new message under the same status keeps the old transition time.
        let new = cond("False", "0/4 nodes are available", "2026-01-02T00:00:00Z");
        let written = updated_condition(Some(&old), new).expect("changed");
        assert_eq!(written.message.as_deref(), Some("0/4 nodes are available"));
        assert_eq!(written.last_transition_time, old.last_transition_time);
        // A status flip, or no condition yet, takes the new time.
        let flipped = cond("True", "", "2026-01-03T00:00:00Z");
        let written = updated_condition(Some(&old), flipped.clone()).expect("changed");
        assert_eq!(written.last_transition_time, flipped.last_transition_time);
        assert_eq!(updated_condition(None, flipped.clone()), Some(flipped));
    }
}
