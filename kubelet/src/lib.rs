//! kubelet: registers its node, heartbeats with a Lease and runs the pods bound to it on a CRI
//! runtime (containerd), with probes and volumes.

pub mod bootstrap;
pub mod cni;
pub mod config;
pub mod cri;
pub mod eviction;
pub mod gc;
pub mod node;
pub mod options;
pub mod pod;
pub mod quantity;
pub mod run;
pub mod server;
