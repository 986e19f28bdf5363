//! kube-controller-manager: the control loops that drive cluster state toward the declared state.
