//! API errors the HTTP layer raises that have no object behind them.

use rudder_api::status::{ApiError, StatusReason};

/// 404 for a path that names no resource: upstream's text.
pub(crate) fn path_not_found() -> ApiError {
    ApiError::new(
        404,
        StatusReason::NotFound,
        "the server could not find the requested resource",
    )
}

/// 405 for a verb the resource does not support.
pub(crate) fn method_not_allowed() -> ApiError {
    ApiError::new(
        405,
        StatusReason::MethodNotAllowed,
        "the server does not allow this method on the requested resource",
    )
}
