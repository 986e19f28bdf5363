//! Per-resource strategies. Resources without an entry here use [`Plain`].

use std::net::Ipv4Addr;
use std::sync::Arc;

use rudder_api::resources::ResourceInfo;

use super::strategy::{Plain, Strategy};
use super::watch_cache::WatchCache;

/// Server settings some strategies need (address allocation).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Network address and prefix length of `--service-cluster-ip-range`.
    pub(crate) service_range: (Ipv4Addr, u8),
    /// `--service-node-port-range`, inclusive.
    pub(crate) node_port_range: (u16, u16),
}

/// The strategy for a built-in resource. `cache` is the resource's own watch cache (used, for
/// example, to find addresses already allocated).
pub(crate) fn for_resource(info: &ResourceInfo, _settings: &Settings, _cache: &Arc<WatchCache>) -> Arc<dyn Strategy> {
    let has_spec_status = info.subresource("status").is_some() && info.kind != "Namespace";
    Arc::new(Plain { generation: has_spec_status && info.kind != "Pod" })
}
