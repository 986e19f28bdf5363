//! One pass over one node: health → conditions → taints → pods.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use parking_lot::Mutex;
use serde_json::json;

use super::eviction::{self, Eviction};
use super::health::{self, NodeHealth};
use super::taints::{self, ZoneState};
use crate::controllers::util::ObjectKey;
use crate::controllers::util::api::ignore_not_found;
use crate::controllers::util::events::{EventType, Recorder, object_ref};
use crate::controllers::util::worker::Requeue;

/// Namespace of the kubelets' heartbeat Leases.
pub(crate) const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// A failed sync (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error("updating status of node {node}: {source}")]
    NodeStatus {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating taints of node {node}: {source}")]
    Taints {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("marking pod {pod} not ready: {source}")]
    PodStatus {
        pod: ObjectKey,
        #[source]
        source: kube::Error,
    },
    #[error("evicting pod {pod}: {source}")]
    Evict {
        pod: ObjectKey,
        #[source]
        source: kube::Error,
    },
}

pub(crate) struct Shared {
    pub(crate) client: kube::Client,
    pub(crate) nodes: Store<Node>,
    pub(crate) leases: Store<Lease>,
    pub(crate) pods: Store<Pod>,
    pub(crate) recorder: Recorder,
    pub(crate) health: Mutex<HashMap<String, NodeHealth>>,
    pub(crate) grace: SignedDuration,
    pub(crate) startup_grace: SignedDuration,
}

fn to_signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

impl Shared {
    pub(crate) fn grace_from(d: Duration) -> SignedDuration {
        to_signed(d)
    }
}

/// The NoExecute mode for `node`'s zone, from every node's Ready status (this node's as just
/// computed).
fn zone_mode(shared: &Shared, node: &Node) -> taints::NoExecute {
    let mut zones: HashMap<String, Vec<bool>> = HashMap::new();
    for n in shared.nodes.state() {
        let this = n.metadata.name == node.metadata.name;
        let status = if this {
            health::ready_status(node)
        } else {
            health::ready_status(&n)
        };
        zones
            .entry(taints::zone_key(&n))
            .or_default()
            .push(status == "True");
    }
    let states: HashMap<&String, ZoneState> = zones.iter().map(|(k, v)| (k, taints::zone_state(v))).collect();
    let all_full = !states.is_empty() && states.values().all(|s| *s == ZoneState::FullDisruption);
    let key = taints::zone_key(node);
    let size = zones.get(&key).map_or(0, Vec::len);
    let state = states.get(&key).copied().unwrap_or(ZoneState::Normal);
    taints::no_execute_mode(state, size, all_full)
}

pub(crate) async fn sync(shared: &Arc<Shared>, name: &str) -> Result<Requeue, SyncError> {
    let Some(cached) = shared.nodes.get(&ObjectRef::new(name)) else {
        shared.health.lock().remove(name);
        return Ok(None);
    };
    let mut node = (*cached).clone();
    let now = Timestamp::now();
    let lease = shared
        .leases
        .get(&ObjectRef::new(name).within(NODE_LEASE_NAMESPACE));
    let observed = {
        let mut map = shared.health.lock();
        let h = health::observe(map.get(name), &node, lease.as_deref(), now);
        map.insert(name.to_string(), h.clone());
        h
    };
    let nodes: Api<Node> = Api::all(shared.client.clone());

    // 1. Heartbeats stopped: conditions to Unknown.
    let was_ready = health::ready_status(&node) == "True";
    if let Some(conditions) =
        health::stale_conditions(&node, &observed, now, shared.grace, shared.startup_grace)
    {
        node.status.get_or_insert_with(Default::default).conditions = Some(conditions);
        node = nodes
            .replace_status(name, &PostParams::default(), &node)
            .await
            .map_err(|source| SyncError::NodeStatus {
                node: name.into(),
                source,
            })?;
        if was_ready {
            shared.recorder.record(
                &object_ref(&node),
                EventType::Normal,
                "NodeNotReady",
                &format!("Node {name} status is now: NodeNotReady"),
            );
        }
    }

    // 2. Taints from conditions.
    let mode = zone_mode(shared, &node);
    if let Some(next) = taints::desired_taints(&node, now, mode) {
        let patch = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": next},
        });
        node = nodes
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| SyncError::Taints {
                node: name.into(),
                source,
            })?;
    }

    // 3. Pods: marked not ready on a node that is not, evicted per NoExecute taints.
    let ready = health::ready_status(&node) == "True";
    let node_taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let has_no_execute = node_taints.iter().any(|t| t.effect == "NoExecute");
    if ready && !has_no_execute {
        return Ok(None);
    }
    let mut next_eviction: Option<Timestamp> = None;
    let on_node: Vec<Arc<Pod>> = shared
        .pods
        .state()
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name))
        .collect();
    for pod in on_node {
        let key = ObjectKey::of(pod.as_ref());
        let pods: Api<Pod> = Api::namespaced(shared.client.clone(), &key.namespace);
        if let Some(status) = eviction::not_ready_status(&pod, now).filter(|_| !ready) {
            let patch = json!({"status": {"conditions": status.conditions}});
            ignore_not_found(
                pods.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await,
            )
            .map_err(|source| SyncError::PodStatus {
                pod: key.clone(),
                source,
            })?;
        }
        match eviction::eviction(&pod, &node_taints, now) {
            Eviction::Keep => {}
            Eviction::DeleteAt(at) => next_eviction = Some(next_eviction.map_or(at, |n| n.min(at))),
            Eviction::DeleteNow => evict(shared, &pods, &pod, &key, now).await?,
        }
    }
    Ok(next_eviction.map(|at| {
        let wait = at.duration_since(now).max(SignedDuration::ZERO);
        Duration::try_from(wait).unwrap_or_default() + Duration::from_millis(10)
    }))
}

/// The taint manager's deletion: a DisruptionTarget condition, then the delete.
async fn evict(
    shared: &Shared,
    pods: &Api<Pod>,
    pod: &Pod,
    key: &ObjectKey,
    now: Timestamp,
) -> Result<(), SyncError> {
    shared.recorder.record(
        &object_ref(pod),
        EventType::Normal,
        "TaintManagerEviction",
        &format!("Marking for deletion Pod {key}"),
    );
    let mut conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    conditions.retain(|c| c.type_ != "DisruptionTarget");
    conditions.push(eviction::disruption_target(now));
    let patch = json!({"status": {"conditions": conditions}});
    ignore_not_found(
        pods.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await,
    )
    .map_err(|source| SyncError::Evict {
        pod: key.clone(),
        source,
    })?;
    ignore_not_found(pods.delete(&key.name, &DeleteParams::default()).await).map_err(|source| {
        SyncError::Evict {
            pod: key.clone(),
            source,
        }
    })?;
    Ok(())
}
