//! Configuration: upstream's command-line flags and the KubeSchedulerConfiguration file.

pub mod file;
pub mod options;
pub mod plugins;
