//! rudder-dns: the cluster DNS add-on. Serves the cluster domain (`cluster.local`) from
//! Services, EndpointSlices and Namespaces as the Kubernetes DNS specification and CoreDNS's
//! `kubernetes` plugin do, and forwards every other name to the upstream resolvers.
//!
//! - [`index`]: the objects reduced to what DNS needs (pure).
//! - [`lookup`]: name + type → records / NODATA / NXDOMAIN / forward (pure, table-tested).
//! - [`respond`]: outcomes as DNS messages (hickory-proto), UDP truncation.
//! - [`handler`], [`listeners`], [`forward`]: the server.
//! - [`watch`]: informers → index rebuilds. [`http`], [`metrics`]: CoreDNS's endpoints and
//!   metric names. [`run`]: wiring; [`options`]: flags.

pub mod forward;
pub mod handler;
pub mod http;
pub mod index;
pub mod listeners;
pub mod lookup;
pub mod metrics;
pub mod options;
pub mod resolv;
pub mod respond;
pub mod run;
pub mod watch;

#[cfg(test)]
mod lookup_tests;
#[cfg(test)]
mod respond_tests;

pub use options::{Config, Options};
pub use run::{RunError, Running, run, start};
