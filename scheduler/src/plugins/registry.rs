//! Plugin construction by name, the default plugin order per extension point and the default
//! score weights (upstream `getDefaultPlugins` for v1).

use std::sync::Arc;

use crate::framework::{FilterPlugin, PostFilterPlugin, PreFilterPlugin, PreScorePlugin, ScorePlugin};

use super::balanced_allocation::BalancedAllocation;
use super::default_preemption::{DefaultPreemption, PdbLister};
use super::image_locality::ImageLocality;
use super::inter_pod_affinity::InterPodAffinity;
use super::names::*;
use super::node_affinity::NodeAffinity;
use super::node_name::NodeName;
use super::node_ports::NodePorts;
use super::node_resources_fit::NodeResourcesFit;
use super::node_unschedulable::NodeUnschedulable;
use super::pod_topology_spread::{PodTopologySpread, WorkloadSelectors};
use super::taint_toleration::TaintToleration;
use super::volume_binding::{VolumeBinding, VolumeLister};

/// What plugins need from the cluster beyond nodes and pods.
#[derive(Debug, Clone, Default)]
pub struct PluginDeps {
    pub volumes: Option<Arc<dyn VolumeLister>>,
    pub workloads: Option<Arc<dyn WorkloadSelectors>>,
    /// PodDisruptionBudgets for DefaultPreemption's victim choice.
    pub pdbs: Option<Arc<dyn PdbLister>>,
}

/// A no-claims lister for profiles built without volume informers.
#[derive(Debug)]
struct NoVolumes;

impl VolumeLister for NoVolumes {
    fn claim(&self, _: &str, _: &str) -> Option<Arc<k8s_openapi::api::core::v1::PersistentVolumeClaim>> {
        None
    }
    fn volume(&self, _: &str) -> Option<Arc<k8s_openapi::api::core::v1::PersistentVolume>> {
        None
    }
}

/// One plugin instance under each extension point it implements.
#[derive(Debug, Default)]
pub struct Registered {
    pub pre_filter: Option<Arc<dyn PreFilterPlugin>>,
    pub filter: Option<Arc<dyn FilterPlugin>>,
    pub post_filter: Option<Arc<dyn PostFilterPlugin>>,
    pub pre_score: Option<Arc<dyn PreScorePlugin>>,
    pub score: Option<Arc<dyn ScorePlugin>>,
}

/// Builds the plugin called `name`; `None` for names we do not know.
pub fn build(name: &str, deps: &PluginDeps) -> Option<Registered> {
    let r = match name {
        NODE_NAME => {
            let p = Arc::new(NodeName);
            Registered {
                filter: Some(p),
                ..Registered::default()
            }
        }
        NODE_UNSCHEDULABLE => {
            let p = Arc::new(NodeUnschedulable);
            Registered {
                filter: Some(p),
                ..Registered::default()
            }
        }
        NODE_RESOURCES_FIT => {
            let p = Arc::new(NodeResourcesFit::default());
            Registered {
                filter: Some(p.clone()),
                score: Some(p),
                ..Registered::default()
            }
        }
        NODE_RESOURCES_BALANCED_ALLOCATION => {
            let p = Arc::new(BalancedAllocation);
            Registered {
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Registered::default()
            }
        }
        NODE_PORTS => {
            let p = Arc::new(NodePorts);
            Registered {
                pre_filter: Some(p.clone()),
                filter: Some(p),
                ..Registered::default()
            }
        }
        NODE_AFFINITY => {
            let p = Arc::new(NodeAffinity);
            Registered {
                pre_filter: Some(p.clone()),
                filter: Some(p.clone()),
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Registered::default()
            }
        }
        TAINT_TOLERATION => {
            let p = Arc::new(TaintToleration);
            Registered {
                filter: Some(p.clone()),
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Registered::default()
            }
        }
        INTER_POD_AFFINITY => {
            let p = Arc::new(InterPodAffinity::default());
            Registered {
                pre_filter: Some(p.clone()),
                filter: Some(p.clone()),
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Registered::default()
            }
        }
        POD_TOPOLOGY_SPREAD => {
            let p = Arc::new(PodTopologySpread {
                workloads: deps.workloads.clone(),
                ..PodTopologySpread::default()
            });
            Registered {
                pre_filter: Some(p.clone()),
                filter: Some(p.clone()),
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Registered::default()
            }
        }
        IMAGE_LOCALITY => {
            let p = Arc::new(ImageLocality);
            Registered {
                pre_score: Some(p.clone()),
                score: Some(p),
                ..Registered::default()
            }
        }
        VOLUME_BINDING => {
            let lister = deps.volumes.clone().unwrap_or_else(|| Arc::new(NoVolumes));
            let p = Arc::new(VolumeBinding { lister });
            Registered {
                pre_filter: Some(p.clone()),
                filter: Some(p),
                ..Registered::default()
            }
        }
        DEFAULT_PREEMPTION => Registered {
            post_filter: Some(Arc::new(DefaultPreemption {
                pdbs: deps.pdbs.clone(),
                ..DefaultPreemption::default()
            })),
            ..Registered::default()
        },
        _ => return None,
    };
    Some(r)
}

/// Upstream's default plugins in their order (filters run in this order and the first
/// rejection is the node's reason).
pub const DEFAULT_PLUGINS: &[&str] = &[
    NODE_UNSCHEDULABLE,
    NODE_NAME,
    TAINT_TOLERATION,
    NODE_AFFINITY,
    NODE_PORTS,
    NODE_RESOURCES_FIT,
    VOLUME_BINDING,
    POD_TOPOLOGY_SPREAD,
    INTER_POD_AFFINITY,
    DEFAULT_PREEMPTION,
    NODE_RESOURCES_BALANCED_ALLOCATION,
    IMAGE_LOCALITY,
];

/// Upstream's default score weights.
pub fn default_weight(name: &str) -> i64 {
    match name {
        TAINT_TOLERATION => 3,
        NODE_AFFINITY | POD_TOPOLOGY_SPREAD | INTER_POD_AFFINITY => 2,
        _ => 1,
    }
}
