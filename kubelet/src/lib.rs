//! kubelet: registers its node and runs pods on containerd through CRI.
