//! Informer changes into the cache and the queue (upstream `eventhandlers.go`).

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, Pod};
use rudder_client::Change;

use super::Inner;
use crate::framework::PodInfo;
use crate::framework::pod_info::pod_key;
use crate::queue::ClusterEvent;

fn assigned(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

/// Pods with `schedulingGates` wait until every gate is removed (upstream SchedulingGates
/// PreEnqueue): they are not queued at all; the update removing the last gate queues them.
fn gated(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

fn terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

impl Inner {
    fn responsible(&self, pod: &Pod) -> bool {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .filter(|n| !n.is_empty())
            .unwrap_or(crate::config::file::DEFAULT_SCHEDULER_NAME);
        self.profiles.contains_key(name)
    }

    fn pod_info(&self, pod: Arc<Pod>) -> Arc<PodInfo> {
        let priority = self.priorities.priority(&pod);
        Arc::new(PodInfo::new(pod, priority))
    }

    pub(crate) fn on_pod(&self, change: Change<Pod>) {
        let now = Instant::now();
        match change {
            Change::Applied(pod) => {
                let key = pod_key(&pod);
                if assigned(&pod) {
                    let mut s = self.shared.lock();
                    s.queue.delete(&key);
                    if terminal(&pod) {
                        s.cache.remove_pod(&key);
                        s.queue.move_on_event(ClusterEvent::AssignedPodDelete, now);
                    } else {
                        let had = s.cache.pod(&key).is_some();
                        let info = self.pod_info(pod);
                        s.cache.add_or_update_pod(info);
                        let ev = if had {
                            ClusterEvent::AssignedPodUpdate
                        } else {
                            ClusterEvent::AssignedPodAdd
                        };
                        s.queue.move_on_event(ev, now);
                    }
                } else if self.responsible(&pod) && pod.metadata.deletion_timestamp.is_none() && !gated(&pod)
                {
                    let info = self.pod_info(pod);
                    let mut s = self.shared.lock();
                    // Assumed pods are being bound; their next update shows the node.
                    if !s.cache.is_assumed(&key) {
                        s.queue.add(info, now);
                        drop(s);
                        self.wake.notify_one();
                    }
                } else {
                    self.shared.lock().queue.delete(&key);
                }
            }
            Change::Deleted(pod) => {
                let key = pod_key(&pod);
                let mut s = self.shared.lock();
                s.queue.delete(&key);
                if s.cache.pod(&key).is_some() {
                    s.cache.remove_pod(&key);
                    s.queue.move_on_event(ClusterEvent::AssignedPodDelete, now);
                    drop(s);
                    self.wake.notify_one();
                }
            }
        }
    }

    pub(crate) fn on_node(&self, change: Change<Node>) {
        let now = Instant::now();
        let mut s = self.shared.lock();
        match change {
            Change::Applied(node) => {
                if s.cache.add_or_update_node(node) {
                    s.queue.move_on_event(ClusterEvent::NodeUpdate, now);
                    drop(s);
                    self.wake.notify_one();
                }
            }
            Change::Deleted(node) => {
                s.cache.remove_node(node.metadata.name.as_deref().unwrap_or(""));
            }
        }
    }

    pub(crate) fn on_volume_event(&self, event: ClusterEvent) {
        self.shared.lock().queue.move_on_event(event, Instant::now());
        self.wake.notify_one();
    }

    pub(crate) fn on_namespace(&self, change: Change<k8s_openapi::api::core::v1::Namespace>) {
        let mut s = self.shared.lock();
        match change {
            Change::Applied(ns) => s.cache.set_namespace_labels(
                ns.metadata.name.as_deref().unwrap_or(""),
                ns.metadata.labels.clone(),
            ),
            Change::Deleted(ns) => s
                .cache
                .set_namespace_labels(ns.metadata.name.as_deref().unwrap_or(""), None),
        }
    }
}
