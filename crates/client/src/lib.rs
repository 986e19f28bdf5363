//! rudder-client: what every component other than the apiserver shares: informers, leader
//! election, event recorder, work queue, the component's own health/metrics endpoints.
//!
//! - [`connect`]: `--kubeconfig` (or the usual fallbacks) to a [`kube::Client`].
//! - [`informer`]: one shared list+watch cache per resource per process, with subscribers.
//! - [`workqueue`]: client-go's rate-limited, delaying, de-duplicating work queue.
//! - [`leader`]: Lease-based leader election (`coordination.k8s.io/v1`).
//! - [`events`]: Event recorders for `core/v1` and `events.k8s.io/v1`.
//! - [`serving`]: HTTPS `/healthz`, `/livez`, `/readyz`, `/metrics`.
//! - [`duration`]: Go duration strings (`1m30s`) for upstream-compatible flags.
//!
//! Metrics go to [`prometheus::default_registry()`], each family registered once per process,
//! so that many queues and informers share it and `/metrics` of [`serving`] shows them all.

pub mod connect;
pub mod duration;
mod error;
pub mod events;
mod host;
pub mod informer;
pub mod leader;
mod metrics;
pub mod serving;
pub mod workqueue;

pub use connect::connect;
pub use error::ClientError;
pub use informer::{Change, Informer, InformerFactory, Subscription};
pub use workqueue::{RateLimiter, WorkQueue};

/// The bound every typed API object meets: a built-in (or statically typed) Kubernetes resource
/// that can be listed, watched and cached. Implemented for every such type.
pub trait Object:
    kube::Resource<DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Object for K where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}
