//! rudder-api: the shared API-types crate. Pure data and functions: no async, no HTTP, no storage.
//!
//! It re-exports k8s-openapi with the one Kubernetes version feature Rudder serves (see
//! `docs/adr/0002-kubernetes-version.md`), and holds the resource table, label and field
//! selectors, defaulting, validation with field paths, `Status` builders, table printers and
//! patch application for built-in types.

pub use k8s_openapi;

pub mod apply;
pub mod discovery;
pub mod patch;
pub mod quantity;
pub mod resources;
pub mod selectors;
pub mod status;
pub mod table;
pub mod validation;

/// The Kubernetes version Rudder's API corresponds to (what `/version` reports).
pub const KUBERNETES_VERSION: (u32, u32, u32) = (1, 33, 0);
