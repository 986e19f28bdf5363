//! The horizontal pod autoscaler (upstream `pkg/controller/podautoscaler`).

pub(crate) mod normalize;
pub(crate) mod replicas;
