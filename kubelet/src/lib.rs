//! kubelet: registers its node, heartbeats with a Lease and runs the pods bound to it on a CRI
//! runtime (containerd), with probes and volumes.

pub mod cni;
pub mod cri;
