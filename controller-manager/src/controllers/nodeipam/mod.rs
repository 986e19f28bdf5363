//! The node IPAM controller's range allocator (upstream `pkg/controller/nodeipam`): a podCIDR
//! per node from `--cluster-cidr`.

pub(crate) mod cidrset;
pub(crate) mod plan;
