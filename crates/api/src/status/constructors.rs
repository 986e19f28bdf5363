//! Constructors for every Status error Rudder sends, with upstream's exact messages.

use std::fmt;

use super::{ApiError, StatusCause, StatusDetails, StatusReason, group_resource, q};
use crate::validation::{FieldError, aggregate_message};

/// Upstream `OptimisticLockErrorMsg` (registry/generic/registry/store.go).
pub const OPTIMISTIC_LOCK_ERROR_MSG: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// What the authorizer was asked, for [`ApiError::forbidden_request`] (upstream
/// `authorizer.Attributes` as `responsewriters.forbiddenMessage` reads it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthzAttributes {
    pub user: String,
    pub verb: String,
    /// False for non-resource requests such as `/healthz`; then `path` is used.
    pub resource_request: bool,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub path: String,
}

fn with_object(
    code: u16,
    reason: StatusReason,
    msg: String,
    group: &str,
    kind: &str,
    name: &str,
) -> ApiError {
    ApiError::new(code, reason, msg).with_details(StatusDetails::object(group, kind, name))
}

fn retry_details(retry_after_seconds: i32) -> StatusDetails {
    StatusDetails {
        retry_after_seconds,
        ..StatusDetails::default()
    }
}

impl ApiError {
    /// 404 `pods "x" not found` / `deployments.apps "x" not found`; details name the resource.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        let msg = format!("{} {} not found", group_resource(group, resource), q(name));
        with_object(404, StatusReason::NotFound, msg, group, resource, name)
    }

    /// 404 `namespaces "x" not found`: creating into a namespace that does not exist.
    pub fn namespace_not_found(namespace: &str) -> Self {
        Self::not_found("", "namespaces", namespace)
    }

    /// 409 `configmaps "cfg" already exists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        let msg = format!("{} {} already exists", group_resource(group, resource), q(name));
        with_object(409, StatusReason::AlreadyExists, msg, group, resource, name)
    }

    /// 409 AlreadyExists when `generateName` produced a taken name.
    pub fn generate_name_conflict(group: &str, resource: &str, name: &str, retry_after_seconds: i32) -> Self {
        let msg = format!(
            "{} {} already exists, the server was not able to generate a unique name for the object",
            group_resource(group, resource),
            q(name)
        );
        let mut details = StatusDetails::object(group, resource, name);
        details.retry_after_seconds = retry_after_seconds;
        ApiError::new(409, StatusReason::AlreadyExists, msg).with_details(details)
    }

    /// 409 for a stale `resourceVersion`: `Operation cannot be fulfilled on pods "x": the object
    /// has been modified; please apply your changes to the latest version and try again`.
    pub fn conflict(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict_with(group, resource, name, OPTIMISTIC_LOCK_ERROR_MSG)
    }

    /// 409 `Operation cannot be fulfilled on <resource> "<name>": <err>`.
    pub fn conflict_with(group: &str, resource: &str, name: &str, err: impl fmt::Display) -> Self {
        let msg = format!(
            "Operation cannot be fulfilled on {} {}: {err}",
            group_resource(group, resource),
            q(name)
        );
        with_object(409, StatusReason::Conflict, msg, group, resource, name)
    }

    /// 409 server-side-apply conflict (`NewApplyConflict`): details carry only the causes.
    pub fn apply_conflict(causes: Vec<StatusCause>, message: impl Into<String>) -> Self {
        ApiError::new(409, StatusReason::Conflict, message).with_details(StatusDetails {
            causes,
            ..StatusDetails::default()
        })
    }

    /// 422 `Pod "x" is invalid: <errors>` (`NewInvalid`). `kind` is the Kind (`Pod`), qualified
    /// with the group in the message (`Deployment.apps`). One error is printed bare, several as
    /// `[a, b]`; causes carry each error's type, body and field.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let gk = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let msg = match aggregate_message(errors) {
            Some(agg) => format!("{gk} {} is invalid: {agg}", q(name)),
            None => format!("{gk} {} is invalid", q(name)),
        };
        let mut details = StatusDetails::object(group, kind, name);
        details.causes = errors
            .iter()
            .map(|e| StatusCause::new(e.error_type.cause_type(), e.body(), e.field.clone()))
            .collect();
        ApiError::new(422, StatusReason::Invalid, msg).with_details(details)
    }

    /// 400 with the given message (also used for selector parse errors).
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, StatusReason::BadRequest, message)
    }

    /// 400 `field label not supported: <label>` (core/v1 kinds' field-label conversion).
    pub fn field_label_not_supported(label: &str) -> Self {
        Self::bad_request(format!("field label not supported: {label}"))
    }

    /// 401; an empty message becomes `not authorized`. The authentication filter sends
    /// `Unauthorized`.
    pub fn unauthorized(message: &str) -> Self {
        let msg = if message.is_empty() {
            "not authorized"
        } else {
            message
        };
        ApiError::new(401, StatusReason::Unauthorized, msg)
    }

    /// 403 (`NewForbidden`): `forbidden: <err>`, `pods is forbidden: <err>` or
    /// `pods "x" is forbidden: <err>`.
    pub fn forbidden(group: &str, resource: &str, name: &str, err: impl fmt::Display) -> Self {
        let msg = if group.is_empty() && resource.is_empty() {
            format!("forbidden: {err}")
        } else if name.is_empty() {
            format!("{} is forbidden: {err}", group_resource(group, resource))
        } else {
            format!(
                "{} {} is forbidden: {err}",
                group_resource(group, resource),
                q(name)
            )
        };
        with_object(403, StatusReason::Forbidden, msg, group, resource, name)
    }

    /// 403 from authorization (`responsewriters.ForbiddenStatusError`): `pods is forbidden: User
    /// "bob" cannot list resource "pods" in API group "" in the namespace "default"[: reason]`.
    pub fn forbidden_request(attrs: &AuthzAttributes, reason: &str) -> Self {
        let base = if !attrs.resource_request {
            format!(
                "User {} cannot {} path {}",
                q(&attrs.user),
                attrs.verb,
                q(&attrs.path)
            )
        } else {
            let mut resource = attrs.resource.clone();
            if !attrs.subresource.is_empty() {
                resource = format!("{resource}/{}", attrs.subresource);
            }
            let scope = if attrs.namespace.is_empty() {
                "at the cluster scope".to_string()
            } else {
                format!("in the namespace {}", q(&attrs.namespace))
            };
            format!(
                "User {} cannot {} resource {} in API group {} {scope}",
                q(&attrs.user),
                attrs.verb,
                q(&resource),
                q(&attrs.api_group)
            )
        };
        let sanitized = base
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let err = if reason.is_empty() {
            sanitized
        } else {
            format!("{sanitized}: {reason}")
        };
        Self::forbidden(&attrs.api_group, &attrs.resource, &attrs.name, err)
    }

    /// 403 from namespace lifecycle admission: `pods "x" is forbidden: unable to create new
    /// content in namespace ns because it is being terminated`, with a `NamespaceTerminating`
    /// cause on `metadata.namespace`. `name` is the object's name (or generateName, or
    /// `Unknown`, as upstream picks it).
    pub fn namespace_terminating(group: &str, resource: &str, name: &str, namespace: &str) -> Self {
        Self::forbidden(
            group,
            resource,
            name,
            format!("unable to create new content in namespace {namespace} because it is being terminated"),
        )
        .with_cause(StatusCause::new(
            "NamespaceTerminating",
            format!("namespace {namespace} is being terminated"),
            "metadata.namespace",
        ))
    }

    /// 405 `<action> is not supported on resources of kind "<resource>"`.
    pub fn method_not_supported(group: &str, resource: &str, action: &str) -> Self {
        let gr = group_resource(group, resource);
        let msg = format!("{action} is not supported on resources of kind {}", q(&gr));
        with_object(405, StatusReason::MethodNotAllowed, msg, group, resource, "")
    }

    /// 406 `only the following media types are accepted: a, b`.
    pub fn not_acceptable<S: AsRef<str>>(accepted: &[S]) -> Self {
        let list: Vec<&str> = accepted.iter().map(AsRef::as_ref).collect();
        let msg = format!("only the following media types are accepted: {}", list.join(", "));
        ApiError::new(406, StatusReason::NotAcceptable, msg)
    }

    /// 406 `only the following media types are accepted when converting to <target>: a, b`
    /// (e.g. Table requested as protobuf).
    pub fn not_acceptable_conversion<S: AsRef<str>>(target: &str, accepted: &[S]) -> Self {
        let list: Vec<&str> = accepted.iter().map(AsRef::as_ref).collect();
        let msg = format!(
            "only the following media types are accepted when converting to {target}: {}",
            list.join(", ")
        );
        ApiError::new(406, StatusReason::NotAcceptable, msg)
    }

    /// 415 `the body of the request was in an unknown format - accepted media types include: a, b`.
    pub fn unsupported_media_type<S: AsRef<str>>(accepted: &[S]) -> Self {
        let list: Vec<&str> = accepted.iter().map(AsRef::as_ref).collect();
        let msg = format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            list.join(", ")
        );
        ApiError::new(415, StatusReason::UnsupportedMediaType, msg)
    }

    /// 413 `Request entity too large: <msg>` (upstream body limit: `limit is 3145728`).
    pub fn request_entity_too_large(message: &str) -> Self {
        ApiError::new(
            413,
            StatusReason::RequestEntityTooLarge,
            format!("Request entity too large: {message}"),
        )
    }

    /// 410 reason `Gone` (deprecated upstream in favour of [`ApiError::resource_expired`]).
    pub fn gone(message: impl Into<String>) -> Self {
        ApiError::new(410, StatusReason::Gone, message)
    }

    /// 410 reason `Expired`.
    pub fn resource_expired(message: impl Into<String>) -> Self {
        ApiError::new(410, StatusReason::Expired, message)
    }

    /// 410 Expired `too old resource version: <requested> (<oldest>)`, as the watch cache says
    /// it (upstream prints the oldest retained revision minus one as the second number).
    pub fn too_old_resource_version(requested: u64, oldest: u64) -> Self {
        Self::resource_expired(format!("too old resource version: {requested} ({oldest})"))
    }

    /// 410 Expired for a watch from a compacted revision (etcd3 store wording).
    pub fn watch_expired() -> Self {
        Self::resource_expired("The resourceVersion for the provided watch is too old.")
    }

    /// 410 Expired for a list at a compacted revision.
    pub fn list_expired() -> Self {
        Self::resource_expired("The resourceVersion for the provided list is too old.")
    }

    /// 410 Expired for a continue token whose revision was compacted.
    pub fn continue_expired() -> Self {
        Self::resource_expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        )
    }

    /// 410 Expired with a fresh continue token in `metadata.continue` that resumes the list
    /// inconsistently at the latest revision.
    pub fn continue_inconsistent(new_token: impl Into<String>) -> Self {
        Self::resource_expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        )
        .with_continue_token(new_token)
    }

    /// 500 `Internal error occurred: <err>`, with the error as the single cause.
    pub fn internal(err: impl fmt::Display) -> Self {
        let err = err.to_string();
        ApiError::new(
            500,
            StatusReason::InternalError,
            format!("Internal error occurred: {err}"),
        )
        .with_details(StatusDetails {
            causes: vec![StatusCause::new("", err, "")],
            ..StatusDetails::default()
        })
    }

    /// 503 with the given message.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        ApiError::new(503, StatusReason::ServiceUnavailable, message)
    }

    /// 500 ServerTimeout `The <operation> operation against <resource> could not be completed at
    /// this time, please try again.` (details.name is the operation).
    pub fn server_timeout(group: &str, resource: &str, operation: &str, retry_after_seconds: i32) -> Self {
        let msg = format!(
            "The {operation} operation against {} could not be completed at this time, please try again.",
            group_resource(group, resource)
        );
        let mut details = StatusDetails::object(group, resource, operation);
        details.retry_after_seconds = retry_after_seconds;
        ApiError::new(500, StatusReason::ServerTimeout, msg).with_details(details)
    }

    /// 504 `Timeout: <msg>`; details always present (possibly `{}`), as upstream.
    pub fn timeout(message: &str, retry_after_seconds: i32) -> Self {
        ApiError::new(504, StatusReason::Timeout, format!("Timeout: {message}"))
            .with_details(retry_details(retry_after_seconds))
    }

    /// 504 `Timeout: Too large resource version: <min>, current: <current>` with a
    /// `ResourceVersionTooLarge` cause (reads at a revision the store has not reached).
    pub fn too_large_resource_version(minimum: u64, current: u64, retry_after_seconds: i32) -> Self {
        Self::timeout(
            &format!("Too large resource version: {minimum}, current: {current}"),
            retry_after_seconds,
        )
        .with_cause(StatusCause::new(
            "ResourceVersionTooLarge",
            "Too large resource version",
            "",
        ))
    }

    /// 429 (`NewTooManyRequests`, e.g. eviction blocked by a PodDisruptionBudget); details carry
    /// `retryAfterSeconds`.
    pub fn too_many_requests(message: impl Into<String>, retry_after_seconds: i32) -> Self {
        ApiError::new(429, StatusReason::TooManyRequests, message)
            .with_details(retry_details(retry_after_seconds))
    }
}
