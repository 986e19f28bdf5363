//! kube-scheduler: assigns pending pods to nodes through a plugin framework shaped like
//! upstream's `pkg/scheduler/framework`.
//!
//! - [`framework`]: node/pod facts, the extension-point traits, statuses (pure).
//! - [`plugins`]: the in-tree plugins with upstream semantics and weights (pure).
//! - [`profile`]: the plugins of one `schedulerName` and the runner over them.
//! - [`algorithm`]: one scheduling decision over a snapshot.
//! - [`config`]: command-line flags and the KubeSchedulerConfiguration file.

pub mod algorithm;
pub mod cache;
pub mod config;
pub mod framework;
pub mod plugins;
pub mod profile;
pub mod queue;
pub mod run;
