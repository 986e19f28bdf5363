//! Informer changes into the cache and the queue (upstream `eventhandlers.go`).

use std::time::Instant;

use k8s_openapi::api::core::v1::Node;
use rudder_client::Change;

use super::Inner;
use crate::framework::PodInfo;
use crate::queue::ClusterEvent;

impl Inner {
    fn responsible(&self, pod: &PodInfo) -> bool {
        let name = if pod.scheduler_name.is_empty() {
            crate::config::file::DEFAULT_SCHEDULER_NAME
        } else {
            &pod.scheduler_name
        };
        self.profiles.contains_key(name)
    }

    /// A pod changed: assigned pods go to the cache, pending pods of our profiles to the
    /// queue. Pods with `schedulingGates` wait until every gate is removed (upstream
    /// SchedulingGates PreEnqueue): they are not queued at all; the update removing the last
    /// gate queues them.
    pub(crate) fn on_pod(&self, change: Change<PodInfo>) {
        let now = Instant::now();
        match change {
            Change::Applied(pod) => {
                let key = &pod.key;
                if pod.node_name().is_some() {
                    let mut s = self.shared.lock();
                    s.queue.delete(key);
                    if pod.is_terminal() {
                        s.cache.remove_pod(key);
                        s.queue.move_on_event(ClusterEvent::AssignedPodDelete, now);
                    } else {
                        let had = s.cache.pod(key).is_some();
                        s.cache.add_or_update_pod(pod.clone());
                        let ev = if had {
                            ClusterEvent::AssignedPodUpdate
                        } else {
                            ClusterEvent::AssignedPodAdd
                        };
                        s.queue.move_on_event(ev, now);
                    }
                } else if self.responsible(&pod) && !pod.is_terminating() && !pod.gated {
                    let mut s = self.shared.lock();
                    // Assumed pods are being bound; their next update shows the node.
                    if !s.cache.is_assumed(key) {
                        s.queue.add(pod.clone(), now);
                        drop(s);
                        self.wake.notify_one();
                    }
                } else {
                    self.shared.lock().queue.delete(key);
                }
            }
            Change::Deleted(pod) => {
                let key = &pod.key;
                let mut s = self.shared.lock();
                s.queue.delete(key);
                if s.cache.pod(key).is_some() {
                    s.cache.remove_pod(key);
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
