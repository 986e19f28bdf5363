//! kube-scheduler: assigns pending pods to nodes through a plugin framework shaped like
//! upstream's `pkg/scheduler/framework`.
//!
//! - [`framework`]: node/pod facts, the extension-point traits, statuses (pure).
//! - [`plugins`]: the in-tree plugins with upstream semantics and weights (pure).

pub mod framework;
pub mod plugins;
