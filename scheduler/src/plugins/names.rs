//! Upstream plugin names (as used in KubeSchedulerConfiguration).

pub const NODE_NAME: &str = "NodeName";
pub const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";
pub const NODE_RESOURCES_FIT: &str = "NodeResourcesFit";
pub const NODE_RESOURCES_BALANCED_ALLOCATION: &str = "NodeResourcesBalancedAllocation";
pub const NODE_PORTS: &str = "NodePorts";
pub const NODE_AFFINITY: &str = "NodeAffinity";
pub const TAINT_TOLERATION: &str = "TaintToleration";
pub const INTER_POD_AFFINITY: &str = "InterPodAffinity";
pub const POD_TOPOLOGY_SPREAD: &str = "PodTopologySpread";
pub const IMAGE_LOCALITY: &str = "ImageLocality";
pub const VOLUME_BINDING: &str = "VolumeBinding";
pub const DEFAULT_PREEMPTION: &str = "DefaultPreemption";
pub const DEFAULT_BINDER: &str = "DefaultBinder";
