//! The scheduler's writes to the cluster behind a trait: bind through `pods/binding`, the
//! `PodScheduled` condition and `nominatedNodeName`, deleting preemption victims, events.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use rudder_client::events::{EventApi, EventRecorder, EventType, object_ref};
use serde_json::json;

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
    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), ApiError>;
    async fn mark_unschedulable(&self, pod: &Pod, why: &Unschedulable) -> Result<(), ApiError>;
    async fn set_nominated_node(&self, pod: &Pod, node: Option<&str>) -> Result<(), ApiError>;
    async fn preempt(&self, victim: &Pod, preemptor: &Pod, node: &str) -> Result<(), ApiError>;
    fn event(&self, pod: &Pod, type_: EventType, reason: &str, action: &str, message: &str);
}

pub(crate) fn pod_name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or("")
    )
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

    fn pods(&self, pod: &Pod) -> Api<Pod> {
        Api::namespaced(
            self.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        )
    }
}

fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("")
}

/// The pod's conditions with `cond` replacing any of its type; `None` when nothing changes
/// (lastTransitionTime only moves when status flips, like upstream `UpdatePodCondition`).
fn with_condition(pod: &Pod, mut cond: PodCondition) -> Option<Vec<PodCondition>> {
    let mut conds = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    match conds.iter_mut().find(|c| c.type_ == cond.type_) {
        Some(old) => {
            if old.status == cond.status && old.reason == cond.reason && old.message == cond.message {
                return None;
            }
            if old.status == cond.status {
                cond.last_transition_time = old.last_transition_time.clone();
            }
            *old = cond;
        }
        None => conds.push(cond),
    }
    Some(conds)
}

fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

#[async_trait]
impl ClusterApi for KubeApi {
    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), ApiError> {
        let body = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name(pod), "namespace": pod.metadata.namespace, "uid": pod.metadata.uid},
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

    async fn mark_unschedulable(&self, pod: &Pod, why: &Unschedulable) -> Result<(), ApiError> {
        let cond = PodCondition {
            type_: "PodScheduled".into(),
            status: "False".into(),
            reason: Some(why.reason.into()),
            message: Some(why.message.clone()),
            last_transition_time: Some(now()),
            ..PodCondition::default()
        };
        let current_nominated = pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.clone())
            .unwrap_or_default();
        let nominated_change = why.nominated_node.as_ref().filter(|n| **n != current_nominated);
        let conditions = with_condition(pod, cond);
        if conditions.is_none() && nominated_change.is_none() {
            return Ok(());
        }
        let mut status = serde_json::Map::new();
        if let Some(c) = conditions {
            status.insert("conditions".into(), json!(c));
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
                &Patch::Merge(json!({"status": status})),
            )
            .await
            .map(|_| ())
            .map_err(|source| ApiError::Status {
                pod: pod_name(pod),
                source,
            })
    }

    async fn set_nominated_node(&self, pod: &Pod, node: Option<&str>) -> Result<(), ApiError> {
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

    async fn preempt(&self, victim: &Pod, preemptor: &Pod, node: &str) -> Result<(), ApiError> {
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
        if let Some(conds) = with_condition(victim, cond) {
            let patch = json!({"status": {"conditions": conds}});
            if let Err(error) = self
                .pods(victim)
                .patch_status(name(victim), &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                tracing::warn!(pod = %pod_name(victim), %error, "setting DisruptionTarget condition");
            }
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
        let uid = preemptor.metadata.uid.as_deref().unwrap_or("");
        self.event(
            victim,
            EventType::Normal,
            "Preempted",
            "Preempting",
            &format!("Preempted by pod {uid} on node {node}"),
        );
        Ok(())
    }

    fn event(&self, pod: &Pod, type_: EventType, reason: &str, action: &str, message: &str) {
        self.recorder
            .record(&object_ref(pod), type_, reason, action, message);
    }
}
