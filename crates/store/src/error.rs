//! Typed storage errors. The apiserver maps each variant to a Kubernetes `Status` in one place.

use crate::types::{KeyValue, Revision};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Boxed source error of an unavailable backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key {key} not found")]
    NotFound { key: String },

    #[error("key {key} already exists")]
    AlreadyExists { key: String },

    /// A compare-and-swap lost: the key changed since `expected`. `current` is its value now
    /// (absent if it was deleted meanwhile), so a retry needs no extra read.
    #[error("key {key} was modified: expected revision {expected}")]
    Conflict {
        key: String,
        expected: Revision,
        current: Option<Box<KeyValue>>,
    },

    #[error("revision {requested} has been compacted (oldest kept: {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },

    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision { requested: Revision, current: Revision },

    #[error("invalid request: {0}")]
    InvalidArgument(String),

    #[error("storage unavailable: {0}")]
    Unavailable(#[source] BoxError),
}

impl StoreError {
    pub fn unavailable(err: impl Into<BoxError>) -> Self {
        StoreError::Unavailable(err.into())
    }
}
