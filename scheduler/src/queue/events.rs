//! Cluster events that can make unschedulable pods schedulable, and which plugins' rejections
//! each can resolve (a coarse form of upstream's queueing hints).

use crate::plugins::names::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterEvent {
    NodeAdd,
    NodeUpdate,
    AssignedPodAdd,
    AssignedPodUpdate,
    AssignedPodDelete,
    PvcChange,
    PvChange,
}

impl ClusterEvent {
    /// Plugins whose rejection this event may resolve; `None` means every plugin.
    fn helps(self) -> Option<&'static [&'static str]> {
        match self {
            ClusterEvent::NodeAdd | ClusterEvent::NodeUpdate => None,
            ClusterEvent::AssignedPodAdd | ClusterEvent::AssignedPodUpdate => {
                Some(&[INTER_POD_AFFINITY, POD_TOPOLOGY_SPREAD])
            }
            ClusterEvent::AssignedPodDelete => Some(&[
                NODE_RESOURCES_FIT,
                NODE_PORTS,
                INTER_POD_AFFINITY,
                POD_TOPOLOGY_SPREAD,
                VOLUME_BINDING,
                DEFAULT_PREEMPTION,
            ]),
            ClusterEvent::PvcChange | ClusterEvent::PvChange => Some(&[VOLUME_BINDING]),
        }
    }

    /// Whether a pod rejected by `plugins` should be retried after this event. A pod with no
    /// recorded plugin (e.g. no nodes at all) retries on every event.
    pub fn may_help(self, plugins: &[&'static str]) -> bool {
        match self.helps() {
            None => true,
            Some(helps) => plugins.is_empty() || plugins.iter().any(|p| helps.contains(p)),
        }
    }
}
