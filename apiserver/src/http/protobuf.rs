//! Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`): the `k8s\0` envelope around
//! a `runtime.Unknown` carrying the type and the object's protobuf bytes (being written).

use rudder_api::status::ApiError;
use serde_json::Value;

pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Decodes a protobuf request body into the object's JSON form.
pub(crate) fn decode(_body: &[u8]) -> Result<Value, ApiError> {
    Err(ApiError::unsupported_media_type(&["application/json"]))
}
