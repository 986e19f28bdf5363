//! The error of server-side apply and how the apiserver answers it.

use std::fmt;

use super::conflict::{Conflict, conflict_status};
use super::path::{PathElement, path_string};
use crate::status::ApiError;

/// Why an apply (or a managedFields update) failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// Other managers own fields the configuration would change, and `force` was not set.
    /// 409 Conflict with one `FieldManagerConflict` cause per field ([`ApplyError::to_api_error`]).
    #[error("{}", conflict_status(conflicts).0)]
    Conflict {
        /// One entry per (manager, field), grouped by manager.
        conflicts: Vec<Conflict>,
    },
    /// The request is malformed: `metadata.managedFields` set in the configuration, a
    /// configuration of another kind or version, a configuration that is not an object. 400.
    #[error("{0}")]
    BadRequest(String),
    /// The configuration does not fit the schema: a keyed-list item without its keys, a
    /// duplicated key, a set holding objects. Upstream fails the conversion to a typed value
    /// with this text (`failed to create typed patch object (...): <path>: <message>`) and answers
    /// 500; Rudder suggests 422/400 in the handler.
    #[error("{0}")]
    Invalid(InvalidObject),
    /// The stored `metadata.managedFields` cannot be decoded. 500.
    #[error("failed to decode managed fields: {0}")]
    ManagedFields(String),
}

/// A schema violation at a path.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidObject {
    /// Where, outermost first (empty at the top).
    pub path: Vec<PathElement>,
    /// What (`duplicate entries for key [name="web"]`).
    pub message: String,
}

impl fmt::Display for InvalidObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", path_string(&self.path), self.message)
        }
    }
}

impl ApplyError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ApplyError::Invalid(InvalidObject {
            path: Vec::new(),
            message: message.into(),
        })
    }

    /// Prefixes the path of an [`ApplyError::Invalid`] with `pe` while unwinding.
    pub(crate) fn under(mut self, pe: PathElement) -> Self {
        if let ApplyError::Invalid(inv) = &mut self {
            inv.path.insert(0, pe);
        }
        self
    }

    /// The HTTP status code to answer with.
    pub fn code(&self) -> u16 {
        match self {
            ApplyError::Conflict { .. } => 409,
            ApplyError::BadRequest(_) => 400,
            ApplyError::Invalid(_) => 422,
            ApplyError::ManagedFields(_) => 500,
        }
    }

    /// The `Status` error to answer with: `ApiError::apply_conflict` for conflicts (message
    /// `Apply failed with 1 conflict: conflict with "m" using apps/v1: .spec.replicas`),
    /// `BadRequest`, `Invalid` (422, message `failed to create typed patch object: ...`) or an
    /// internal error.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            ApplyError::Conflict { conflicts } => {
                let (message, causes) = conflict_status(conflicts);
                ApiError::apply_conflict(causes, message)
            }
            ApplyError::BadRequest(msg) => ApiError::bad_request(msg.clone()),
            ApplyError::Invalid(inv) => ApiError::new(
                422,
                crate::status::StatusReason::Invalid,
                format!("failed to create typed patch object: {inv}"),
            ),
            ApplyError::ManagedFields(_) => ApiError::internal(self),
        }
    }
}
