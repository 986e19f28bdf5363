//! `metav1.Status` errors exactly as upstream builds them (`apimachinery/pkg/api/errors`,
//! `apiserver/pkg/endpoints/handlers/{responsewriters,negotiation}`, `apiserver/pkg/storage`).
//!
//! [`ApiError`] is the one error type handlers return; [`ApiError::to_status`] renders the wire
//! object and [`ApiError::code`] the HTTP status to send with it.

mod constructors;
mod wire;

#[cfg(test)]
mod tests;

use std::fmt;

pub use constructors::{AuthzAttributes, OPTIMISTIC_LOCK_ERROR_MSG};
pub use wire::{ListMeta, Status, StatusCause, StatusDetails};

use crate::validation::go_quote;

/// `metav1.StatusReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusReason {
    /// `""`: no reason given.
    Unknown,
    Unauthorized,
    Forbidden,
    NotFound,
    AlreadyExists,
    Conflict,
    Gone,
    Invalid,
    ServerTimeout,
    StoreReadError,
    Timeout,
    TooManyRequests,
    BadRequest,
    MethodNotAllowed,
    NotAcceptable,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    InternalError,
    Expired,
    ServiceUnavailable,
}

impl StatusReason {
    const ALL: [StatusReason; 20] = [
        StatusReason::Unknown,
        StatusReason::Unauthorized,
        StatusReason::Forbidden,
        StatusReason::NotFound,
        StatusReason::AlreadyExists,
        StatusReason::Conflict,
        StatusReason::Gone,
        StatusReason::Invalid,
        StatusReason::ServerTimeout,
        StatusReason::StoreReadError,
        StatusReason::Timeout,
        StatusReason::TooManyRequests,
        StatusReason::BadRequest,
        StatusReason::MethodNotAllowed,
        StatusReason::NotAcceptable,
        StatusReason::RequestEntityTooLarge,
        StatusReason::UnsupportedMediaType,
        StatusReason::InternalError,
        StatusReason::Expired,
        StatusReason::ServiceUnavailable,
    ];

    /// The wire value (`NotFound`; `StorageReadError` for `StoreReadError`; `""` for Unknown).
    pub fn as_str(self) -> &'static str {
        match self {
            StatusReason::Unknown => "",
            StatusReason::Unauthorized => "Unauthorized",
            StatusReason::Forbidden => "Forbidden",
            StatusReason::NotFound => "NotFound",
            StatusReason::AlreadyExists => "AlreadyExists",
            StatusReason::Conflict => "Conflict",
            StatusReason::Gone => "Gone",
            StatusReason::Invalid => "Invalid",
            StatusReason::ServerTimeout => "ServerTimeout",
            StatusReason::StoreReadError => "StorageReadError",
            StatusReason::Timeout => "Timeout",
            StatusReason::TooManyRequests => "TooManyRequests",
            StatusReason::BadRequest => "BadRequest",
            StatusReason::MethodNotAllowed => "MethodNotAllowed",
            StatusReason::NotAcceptable => "NotAcceptable",
            StatusReason::RequestEntityTooLarge => "RequestEntityTooLarge",
            StatusReason::UnsupportedMediaType => "UnsupportedMediaType",
            StatusReason::InternalError => "InternalError",
            StatusReason::Expired => "Expired",
            StatusReason::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// Parses a wire value; unrecognised reasons map to `Unknown`.
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .unwrap_or(StatusReason::Unknown)
    }
}

impl fmt::Display for StatusReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API error carrying everything upstream's `StatusError` carries. `Display` is the message,
/// as upstream's `StatusError.Error()`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    code: u16,
    reason: StatusReason,
    message: String,
    /// Boxed so that `Result<_, ApiError>` stays small on every hot path.
    details: Option<Box<StatusDetails>>,
    /// `metadata.continue` of the Status (only the inconsistent-continue 410 sets it).
    continue_token: Option<String>,
}

/// `schema.GroupResource.String()`: `pods`, `deployments.apps`.
pub(crate) fn group_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// `%q` of a name, as upstream messages quote it.
pub(crate) fn q(s: &str) -> String {
    go_quote(s)
}

impl ApiError {
    /// A Status error with any code, reason and message, and no details.
    pub fn new(code: u16, reason: StatusReason, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            continue_token: None,
        }
    }

    /// Replaces the details (`details` is omitted from the wire when `None`).
    pub fn with_details(mut self, details: StatusDetails) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// Appends a cause, creating empty details if needed.
    pub fn with_cause(mut self, cause: StatusCause) -> Self {
        self.details.get_or_insert_with(Box::default).causes.push(cause);
        self
    }

    pub fn with_continue_token(mut self, token: impl Into<String>) -> Self {
        self.continue_token = Some(token.into());
        self
    }

    /// The HTTP status code to send (equal to the Status `code`).
    pub fn code(&self) -> u16 {
        self.code
    }

    pub fn reason(&self) -> StatusReason {
        self.reason
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn details(&self) -> Option<&StatusDetails> {
        self.details.as_deref()
    }

    /// `Retry-After` to send alongside, from `details.retryAfterSeconds` when positive.
    pub fn retry_after_seconds(&self) -> Option<i32> {
        self.details
            .as_ref()
            .map(|d| d.retry_after_seconds)
            .filter(|s| *s > 0)
    }

    /// The typed wire object, serialising fields in upstream's order.
    pub fn to_status_object(&self) -> Status {
        Status {
            kind: "Status".to_string(),
            api_version: "v1".to_string(),
            metadata: ListMeta {
                continue_token: self.continue_token.clone(),
                ..ListMeta::default()
            },
            status: "Failure".to_string(),
            message: self.message.clone(),
            reason: self.reason.as_str().to_string(),
            details: self.details.as_deref().cloned(),
            code: i32::from(self.code),
        }
    }

    /// The `metav1.Status` JSON body.
    pub fn to_status(&self) -> serde_json::Value {
        serde_json::to_value(self.to_status_object()).unwrap_or(serde_json::Value::Null)
    }

    /// The body as bytes, fields in upstream's order (what the apiserver writes).
    pub fn to_status_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_status_object()).unwrap_or_default()
    }

    /// Reads a Status object (as a client receives it) back into an error. `None` unless
    /// `value` decodes as a Status with `kind: Status`; a missing or invalid code becomes 500.
    pub fn from_status(value: &serde_json::Value) -> Option<Self> {
        let status: Status = serde_json::from_value(value.clone()).ok()?;
        if status.kind != "Status" {
            return None;
        }
        let code = u16::try_from(status.code).ok().filter(|c| *c != 0).unwrap_or(500);
        Some(ApiError {
            code,
            reason: StatusReason::parse(&status.reason),
            message: status.message,
            details: status.details.map(Box::new),
            continue_token: status.metadata.continue_token,
        })
    }

    fn reason_or_code(&self, reason: StatusReason, code: u16) -> bool {
        self.reason == reason || (self.reason == StatusReason::Unknown && self.code == code)
    }

    /// Upstream `IsNotFound` (reason, or an unknown reason with code 404).
    pub fn is_not_found(&self) -> bool {
        self.reason_or_code(StatusReason::NotFound, 404)
    }

    pub fn is_already_exists(&self) -> bool {
        self.reason == StatusReason::AlreadyExists
    }

    pub fn is_conflict(&self) -> bool {
        self.reason_or_code(StatusReason::Conflict, 409)
    }

    pub fn is_invalid(&self) -> bool {
        self.reason_or_code(StatusReason::Invalid, 422)
    }

    pub fn is_forbidden(&self) -> bool {
        self.reason_or_code(StatusReason::Forbidden, 403)
    }

    pub fn is_gone(&self) -> bool {
        self.reason_or_code(StatusReason::Gone, 410)
    }

    pub fn is_resource_expired(&self) -> bool {
        self.reason == StatusReason::Expired
    }

    pub fn is_bad_request(&self) -> bool {
        self.reason_or_code(StatusReason::BadRequest, 400)
    }

    pub fn is_timeout(&self) -> bool {
        self.reason_or_code(StatusReason::Timeout, 504)
    }

    /// Whether `details.causes` has a cause of this type (upstream `HasStatusCause`).
    pub fn has_cause(&self, cause_type: &str) -> bool {
        self.details
            .as_ref()
            .is_some_and(|d| d.causes.iter().any(|c| c.cause_type == cause_type))
    }
}
