//! The HTTP side of authentication and authorization: the filter every API request passes
//! (authenticate, authorize, check RBAC escalation) and the review and token endpoints.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use rudder_api::status::ApiError;
use serde_json::{Value, json};

use crate::authn::UserInfo;
use crate::authz::reviews::{self, AccessReview};
use crate::authz::{Attributes, escalation};
use crate::http::AppState;
#[cfg(test)]
use crate::http::request::parse_resource_path;
use crate::http::request::query_map;
use crate::http::response::{ApiResult, ErrorResponse, json_value};

/// Largest body read for an escalation check (upstream's request limit).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Authenticates, authorizes and (for RBAC writes) checks escalation; the user goes into the
/// request's extensions for handlers that need it.
pub(crate) async fn filter(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let start = state
        .auditor
        .as_ref()
        .map(|_| crate::audit::event_start(&request));
    let mut trail = Trail::default();
    match admit(&state, request, &mut trail).await {
        Ok(mut request) => {
            if let (Some(user), Some(note)) = (trail.user, trail.note) {
                request
                    .extensions_mut()
                    .insert(crate::audit::Admitted { user, note });
            }
            next.run(request).await
        }
        Err(error) => {
            if let (Some(auditor), Some(start)) = (&state.auditor, &start) {
                auditor.refused(
                    start,
                    trail.user.as_ref(),
                    trail.note,
                    error.code(),
                    &error.to_status(),
                );
            }
            ErrorResponse(error).into_response()
        }
    }
}

/// Who the request was from and what authorization said, for the audit log.
#[derive(Debug, Default)]
struct Trail {
    user: Option<UserInfo>,
    note: Option<crate::audit::AuthzNote>,
}

async fn admit(state: &AppState, mut request: Request, trail: &mut Trail) -> Result<Request, ApiError> {
    let peer = request
        .extensions()
        .get::<rudder_component::serve::PeerIdentity>()
        .cloned()
        .unwrap_or_else(|| rudder_component::serve::PeerIdentity::anonymous(([0, 0, 0, 0], 0).into()));
    let user = match state.authenticator.authenticate(&peer, request.headers()) {
        Ok(Some(user)) => user,
        Ok(None) if state.anonymous_auth => UserInfo::anonymous(),
        Ok(None) => return Err(ApiError::unauthorized("Unauthorized")),
        Err(error) => {
            tracing::debug!(%error, "authentication failed");
            return Err(ApiError::unauthorized("Unauthorized"));
        }
    };
    let query = query_map(request.uri().query());
    let attrs = Attributes::from_request(&user, request.method(), request.uri().path(), &query);
    let decision = state.authorizer.authorize(&attrs);
    trail.user = Some(user.clone());
    trail.note = Some(crate::audit::AuthzNote {
        allowed: decision.allowed(),
        reason: decision.reason().to_string(),
    });
    if !decision.allowed() {
        tracing::debug!(user = %user.name, verb = %attrs.verb, resource = %attrs.resource,
                        namespace = %attrs.namespace, path = %attrs.path, "forbidden");
        return Err(attrs.forbidden(decision.reason()));
    }
    if let Some(create) = attrs.connect_create_check(request.headers()) {
        let decision = state.authorizer.authorize(&create);
        if !decision.allowed() {
            return Err(create.forbidden(decision.reason()));
        }
    }
    if crate::authz::node::create_needs_check(&attrs) {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| ApiError::request_entity_too_large(&format!("limit is {MAX_BODY}")))?;
        let object = crate::http::decode_request_body(&parts.headers, &bytes)?;
        crate::authz::node::check_create(&attrs, &object)?;
        request = Request::from_parts(parts, Body::from(bytes));
    }
    if escalation::applies(&attrs) {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| ApiError::request_entity_too_large(&format!("limit is {MAX_BODY}")))?;
        if let Some(object) = proposed(state, &attrs, &parts.method, &parts.headers, &bytes)? {
            escalation::check(&state.authorizer, &attrs, &object)?;
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(user);
    Ok(request)
}

/// The RBAC object a write would store; `None` when there is nothing to check (a patch of an
/// object that does not exist fails in the handler).
fn proposed(
    state: &AppState,
    attrs: &Attributes,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Value>, ApiError> {
    if *method != Method::PATCH {
        return crate::http::decode_request_body(headers, body).map(Some);
    }
    let Some(res) = state
        .registry
        .get_resource(&attrs.api_group, &attrs.api_version, &attrs.resource)
    else {
        return Ok(None);
    };
    let namespace = (!attrs.namespace.is_empty()).then_some(attrs.namespace.as_str());
    let Some(current) = res.cache.get(&res.key(namespace, &attrs.name)) else {
        return Ok(None);
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    escalation::patched(&current.value(), content_type, body, res.info.kind).map(Some)
}

/// The review and token endpoints.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/apis/authentication.k8s.io/{version}/selfsubjectreviews",
            any(self_subject_review),
        )
        .route("/apis/authentication.k8s.io/v1/tokenreviews", any(token_review))
        .route(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            any(subject_access),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            any(self_subject_access),
        )
        .route(
            "/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews",
            any(local_subject_access),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            any(rules_review),
        )
        .route(
            "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            any(token_request),
        )
}

type UserExt = axum::Extension<UserInfo>;

fn require_post(method: &Method) -> Result<(), ApiError> {
    if *method == Method::POST {
        Ok(())
    } else {
        Err(crate::errors::method_not_allowed())
    }
}

/// Decodes a review body and checks its kind; fills `apiVersion`/`kind` when absent.
fn review_body(headers: &HeaderMap, body: &[u8], api_version: &str, kind: &str) -> Result<Value, ApiError> {
    let mut value = if body.is_empty() {
        json!({})
    } else {
        crate::http::decode_request_body(headers, body)?
    };
    if !value.is_object() {
        return Err(ApiError::bad_request("the request body must be an object"));
    }
    match value.get("kind").and_then(Value::as_str) {
        None | Some("") => value["kind"] = json!(kind),
        Some(k) if k == kind => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!("{other} is not a {kind}")));
        }
    }
    if value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
    {
        value["apiVersion"] = json!(api_version);
    }
    Ok(value)
}

fn created(value: &Value) -> Response {
    json_value(StatusCode::CREATED, value)
}

fn user_json(user: &UserInfo) -> Value {
    let mut info = json!({ "username": user.name, "groups": user.groups });
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    if !user.extra.is_empty() {
        info["extra"] = json!(user.extra);
    }
    info
}

/// `kubectl auth whoami`: v1 (kubectl ≥ 1.28 tries it first), v1beta1 (1.27) and v1alpha1.
async fn self_subject_review(
    Path(version): Path<String>,
    method: Method,
    axum::Extension(user): UserExt,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    if !matches!(version.as_str(), "v1" | "v1beta1" | "v1alpha1") {
        return Err(crate::errors::path_not_found().into());
    }
    require_post(&method)?;
    let api_version = format!("authentication.k8s.io/{version}");
    let mut review = review_body(&headers, &body, &api_version, "SelfSubjectReview")?;
    review["status"] = json!({ "userInfo": user_json(&user) });
    Ok(created(&review))
}

async fn token_review(
    State(state): State<Arc<AppState>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require_post(&method)?;
    let mut review = review_body(&headers, &body, "authentication.k8s.io/v1", "TokenReview")?;
    let token = review
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let audiences: Vec<String> = review
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    let result = if token.is_empty() {
        Err("token is empty".to_string())
    } else {
        crate::authn_reviews::review_token(
            &state.authenticator,
            state.sa_tokens.as_deref(),
            &token,
            &audiences,
        )
    };
    review["status"] = match result {
        Ok((user, audiences)) => {
            let mut status = json!({ "authenticated": true, "user": user_json(&user) });
            if !audiences.is_empty() {
                status["audiences"] = json!(audiences);
            }
            status
        }
        Err(error) => json!({ "authenticated": false, "user": {}, "error": error }),
    };
    Ok(created(&review))
}

async fn subject_access(
    State(state): State<Arc<AppState>>,
    method: Method,
    axum::Extension(user): UserExt,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    access(
        &state,
        &method,
        &user,
        &headers,
        &body,
        AccessReview::Subject,
        None,
    )
}

async fn self_subject_access(
    State(state): State<Arc<AppState>>,
    method: Method,
    axum::Extension(user): UserExt,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    access(
        &state,
        &method,
        &user,
        &headers,
        &body,
        AccessReview::SelfSubject,
        None,
    )
}

async fn local_subject_access(
    State(state): State<Arc<AppState>>,
    Path(namespace): Path<String>,
    method: Method,
    axum::Extension(user): UserExt,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    access(
        &state,
        &method,
        &user,
        &headers,
        &body,
        AccessReview::Local,
        Some(&namespace),
    )
}

fn access(
    state: &AppState,
    method: &Method,
    user: &UserInfo,
    headers: &HeaderMap,
    body: &[u8],
    kind: AccessReview,
    namespace: Option<&str>,
) -> ApiResult {
    require_post(method)?;
    let name = match kind {
        AccessReview::Subject => "SubjectAccessReview",
        AccessReview::SelfSubject => "SelfSubjectAccessReview",
        AccessReview::Local => "LocalSubjectAccessReview",
    };
    let review = review_body(headers, body, "authorization.k8s.io/v1", name)?;
    let answered = reviews::access_review(&state.authorizer, user, kind, namespace, review)?;
    Ok(created(&answered))
}

async fn rules_review(
    State(state): State<Arc<AppState>>,
    method: Method,
    axum::Extension(user): UserExt,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require_post(&method)?;
    let review = review_body(
        &headers,
        &body,
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
    )?;
    Ok(created(&reviews::rules_review(&state.authorizer, &user, review)))
}

async fn token_request(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require_post(&method)?;
    let Some(tokens) = &state.sa_tokens else {
        return Err(ApiError::method_not_supported("", "serviceaccounts/token", "create").into());
    };
    let request = review_body(&headers, &body, "authentication.k8s.io/v1", "TokenRequest")?;
    let answered =
        crate::authn_token_request::create(&state.registry, tokens, &namespace, &name, request).await?;
    Ok(created(&answered))
}

/// Whether a path is one of the endpoints above (for tests of the route table).
#[cfg(test)]
fn is_auth_path(path: &str) -> bool {
    parse_resource_path(path).is_some_and(|p| {
        matches!(
            p.resource.as_str(),
            "selfsubjectreviews"
                | "tokenreviews"
                | "subjectaccessreviews"
                | "selfsubjectaccessreviews"
                | "localsubjectaccessreviews"
                | "selfsubjectrulesreviews"
        ) || p.subresource.as_deref() == Some("token")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_paths_parse_as_resources() {
        assert!(is_auth_path(
            "/apis/authentication.k8s.io/v1beta1/selfsubjectreviews"
        ));
        assert!(is_auth_path("/api/v1/namespaces/x/serviceaccounts/default/token"));
        assert!(!is_auth_path("/api/v1/namespaces/x/pods"));
    }

    #[test]
    fn review_bodies_get_their_kind() {
        let headers = HeaderMap::new();
        let v = review_body(
            &headers,
            b"{}",
            "authorization.k8s.io/v1",
            "SelfSubjectRulesReview",
        )
        .expect("ok");
        assert_eq!(v["kind"], "SelfSubjectRulesReview");
        assert_eq!(v["apiVersion"], "authorization.k8s.io/v1");
        assert!(review_body(&headers, br#"{"kind":"Pod"}"#, "v1", "TokenReview").is_err());
    }
}
