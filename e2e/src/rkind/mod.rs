//! rkind: a kind-like local cluster without Docker. The control plane runs as host processes on
//! the address of a per-cluster bridge; each node is a network namespace on that bridge with its
//! own hostname, containerd, kubelet and kube-proxy. See docs in README ("Run what exists today").

pub mod addons;
pub mod binaries;
pub mod components;
pub mod create;
pub mod cri;
pub mod delete;
pub mod identity;
pub mod images;
pub mod layout;
pub mod logs;
pub mod net;
pub mod node;
pub mod plan;
pub mod preflight;
pub mod spec;
pub mod state;
pub mod sys;
pub mod wait;

pub use create::{CreateOptions, create};
pub use delete::delete;

/// Why an rkind command failed.
#[derive(Debug, thiserror::Error)]
pub enum RkindError {
    #[error("{0}")]
    Preflight(String),
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Sys(#[from] sys::SysError),
    #[error(transparent)]
    Addon(#[from] addons::AddonError),
    #[error("cluster {0:?} already exists (rkind delete cluster --name {0})")]
    Exists(String),
    #[error("no cluster named {0:?} (rkind get clusters lists them)")]
    NotFound(String),
    #[error("no free network: {0} rkind clusters (or other users of 10.250.X.0/24) exist")]
    NoFreeIndex(u8),
    #[error("{what} did not become ready within {secs}s{detail}")]
    Timeout { what: String, secs: u64, detail: String },
    #[error("{role} exited: {detail}")]
    Exited { role: String, detail: String },
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}
