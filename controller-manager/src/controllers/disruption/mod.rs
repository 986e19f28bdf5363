//! The disruption controller (upstream `pkg/controller/disruption`): PodDisruptionBudget status.

pub(crate) mod plan;
