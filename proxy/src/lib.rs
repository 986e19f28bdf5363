//! kube-proxy: programs the node's packet filter from Services and EndpointSlices.
//!
//! - [`model`]: pure; API objects → desired [`model::ProxyState`].
//! - [`hash`]: upstream's chain names.
//! - [`iptables`], [`nftables`]: render the state and apply it in one transaction, behind
//!   [`backend::Backend`]; every command goes through [`exec::Executor`] (real, netns, fake).
//! - [`conntrack`]: stale UDP flow cleanup.
//! - [`sync`]: the debounced, periodic, retrying sync loop; [`run`]: wiring.

pub mod backend;
pub mod config;
pub mod conntrack;
pub mod exec;
pub mod hash;
pub mod health;
pub mod iptables;
pub mod metrics;
pub mod model;
pub mod nftables;
pub mod run;
pub mod server;
pub mod sync;

#[cfg(test)]
mod fixtures;
