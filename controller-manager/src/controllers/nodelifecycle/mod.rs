//! The node lifecycle controller (upstream `pkg/controller/nodelifecycle` and the taint
//! eviction controller): heartbeats → Unknown conditions → taints → evictions.

pub(crate) mod eviction;
pub(crate) mod health;
pub(crate) mod taints;
#[cfg(test)]
pub(crate) mod testing;
