//! kube-scheduler: assigns pending pods to nodes through a plugin framework shaped like upstream's.
