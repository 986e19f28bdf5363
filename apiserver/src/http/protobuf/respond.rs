//! Protobuf answers for resource requests. Handlers build JSON; this layer negotiates the
//! encoding from `Accept` as upstream does (`negotiation.NegotiateOutputMediaType` for the
//! answer, `ErrorNegotiated` for errors) and re-encodes what the handler built: objects and
//! lists in the `k8s\0` envelope, watch streams as length-prefixed `WatchEvent`s, and error
//! `Status`es. Custom resources have no protobuf form, so a client that accepts only protobuf
//! for one gets 406, and one that also accepts JSON gets JSON.

use std::future::Future;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rudder_api::status::ApiError;
use serde_json::Value;

use super::{MEDIA_TYPE, schema};
use crate::http::AppState;
use crate::http::request::parse_resource_path;
use crate::http::response::{ApiResult, Encoding, ErrorResponse, error_encoding, negotiate_media};

/// Runs `inner` (a JSON handler, given the request headers) and answers in the negotiated
/// encoding. `watching` marks a watch request, whose body is a stream of JSON event lines.
pub(crate) async fn respond<F, Fut>(
    state: &AppState,
    path: &str,
    mut headers: HeaderMap,
    watching: bool,
    inner: F,
) -> Response
where
    F: FnOnce(HeaderMap) -> Fut,
    Fut: Future<Output = ApiResult>,
{
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let errors = error_encoding(accept.as_deref());
    let media = match negotiate_media(accept.as_deref(), has_protobuf(state, path)) {
        Ok(media) => media,
        Err(err) => return error_response(&err, errors),
    };
    if media.encoding == Encoding::Protobuf {
        // The handler answers with the same content as JSON; it is re-encoded below.
        if let Ok(value) = HeaderValue::from_str(&media.json_accept()) {
            headers.insert(header::ACCEPT, value);
        }
    }
    let response = match inner(headers).await {
        Ok(response) => response,
        Err(ErrorResponse(err)) => return error_response(&err, errors),
    };
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        return reencode_error(response, errors).await;
    }
    if media.encoding == Encoding::Json || !is_json(&response) || !status.is_success() {
        return response;
    }
    if watching {
        return super::watch::reframe(response);
    }
    reencode_object(response).await
}

/// Whether the resource a path addresses has a protobuf form: every built-in resource does,
/// custom resources do not (upstream's CRD handler lists protobuf among its serializers for
/// Status and metadata, but not among the `StandardSerializers` its objects may use).
fn has_protobuf(state: &AppState, path: &str) -> bool {
    let Some(path) = parse_resource_path(path) else {
        return false;
    };
    state
        .registry
        .get_resource(&path.group, &path.version, &path.resource)
        .is_some_and(|res| schema::lookup(&res.info.api_version(), res.info.kind).is_some())
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or_default().trim() == "application/json")
}

/// An error as a `Status` in the negotiated encoding (JSON when protobuf cannot be had).
pub(crate) fn error_response(err: &ApiError, encoding: Encoding) -> Response {
    if encoding == Encoding::Protobuf
        && let Ok(body) = super::encode(&err.to_status())
    {
        let code = StatusCode::from_u16(err.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return protobuf_response(code, body);
    }
    ErrorResponse(err.clone()).into_response()
}

fn protobuf_response(code: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// An error a handler answered as a JSON `Status` response rather than as an `Err`.
async fn reencode_error(response: Response, encoding: Encoding) -> Response {
    if encoding == Encoding::Json || !is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ErrorResponse(ApiError::internal("reading the response")).into_response();
    };
    let status = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| ApiError::from_status(&v));
    match status {
        Some(err) => {
            let mut out = error_response(&err, encoding);
            *out.status_mut() = parts.status;
            for (name, value) in &parts.headers {
                if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                    out.headers_mut().append(name, value.clone());
                }
            }
            out
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// A JSON object or list answer, re-encoded. A kind without a protobuf form (which negotiation
/// should have ruled out) stays JSON, which client-go decodes by the Content-Type.
async fn reencode_object(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let err = ApiError::internal(format!("reading the response: {e}"));
            return ErrorResponse(err).into_response();
        }
    };
    let encoded = serde_json::from_slice::<Value>(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|value| super::encode(&value).map_err(|e| e.to_string()));
    match encoded {
        Ok(proto) => {
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(proto))
        }
        Err(e) => {
            tracing::warn!(error = %e, "answering JSON: the object has no protobuf form");
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}
