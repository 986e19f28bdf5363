//! AlwaysDeny (upstream `plugin/pkg/admission/deny`): refuses every write; for tests of the
//! chain itself. AlwaysAdmit has nothing to do.

use rudder_api::status::ApiError;
use serde_json::Value;

use super::{Attributes, forbidden};

pub(super) fn deny(attrs: &Attributes<'_>, obj: Option<&Value>) -> Result<(), ApiError> {
    Err(forbidden(
        attrs,
        obj,
        "admission control is denying all modifications",
    ))
}
