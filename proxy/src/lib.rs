//! kube-proxy: programs the node's packet filter from Services and EndpointSlices.
