//! The audit log (`--audit-log-path`, `--audit-policy-file`): one JSON line per event in
//! upstream's audit.k8s.io/v1 `Event` format, at the level the policy's first matching rule
//! gives. Requests that pass authentication and authorization are recorded by [`layer`] (with the
//! request and response objects at the Request and RequestResponse levels); refused ones by
//! [`Auditor::refused`], from the authentication filter.

mod event;
pub(crate) mod policy;
mod rotate;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::Value;

use crate::authn::UserInfo;
use crate::authz::Attributes;
use crate::http::AppState;
use crate::http::request::query_map;
pub(crate) use event::AuthzNote;
use event::Event;
use policy::{Level, Policy, Stage};
pub use rotate::Rotation;

/// Largest request or response body copied into an event (upstream's request limit).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// The policy and where events go.
pub(crate) struct Auditor {
    policy: Policy,
    sink: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Auditor {
    /// From the flags: both are needed for auditing (upstream logs nothing without a policy).
    /// `-` as the path writes to standard output.
    pub(crate) fn from_flags(
        log_path: Option<&Path>,
        policy: Option<&Path>,
        rotation: Rotation,
    ) -> Result<Option<Arc<Auditor>>, String> {
        let (Some(log_path), Some(policy)) = (log_path, policy) else {
            if log_path.is_some() {
                tracing::warn!("--audit-log-path without --audit-policy-file: nothing is audited");
            }
            return Ok(None);
        };
        let policy = Policy::load(policy)?;
        let sink: Box<dyn Write + Send> = if log_path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            if let Some(dir) = log_path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            let file = rotate::RotatingFile::open(log_path, rotation)
                .map_err(|e| format!("opening {}: {e}", log_path.display()))?;
            Box::new(file)
        };
        Ok(Some(Arc::new(Auditor {
            policy,
            sink: Mutex::new(sink),
        })))
    }

    fn write(&self, event: &Event) {
        let mut line = match serde_json::to_vec(event) {
            Ok(line) => line,
            Err(e) => return tracing::warn!(error = %e, "encoding an audit event"),
        };
        line.push(b'\n');
        if let Err(e) = self.sink.lock().write_all(&line) {
            tracing::warn!(error = %e, "writing the audit log");
        }
    }

    fn decide(&self, attrs: &Attributes) -> policy::Decision {
        self.policy.evaluate(&policy::Request {
            user: &attrs.user.name,
            groups: &attrs.user.groups,
            verb: &attrs.verb,
            resource_request: attrs.resource_request,
            api_group: &attrs.api_group,
            resource: &attrs.resource,
            subresource: &attrs.subresource,
            namespace: &attrs.namespace,
            name: &attrs.name,
            path: &attrs.path,
        })
    }

    /// Records a request refused before reaching a handler (401, 403 and other filter errors).
    pub(crate) fn refused(
        &self,
        start: &event::Start,
        user: Option<&UserInfo>,
        note: Option<AuthzNote>,
        code: u16,
        status: &Value,
    ) {
        let anonymous = UserInfo::anonymous();
        let user = user.unwrap_or(&anonymous);
        let attrs = Attributes::from_request(
            user,
            &start.method,
            &start.path,
            &query_map(start.query.as_deref()),
        );
        let decision = self.decide(&attrs);
        if decision.level == Level::None {
            return;
        }
        let mut ev = Event::new(start, &attrs, decision.level, note);
        if !decision.omit_stages.contains(&Stage::RequestReceived) {
            self.write(&ev.at(Stage::RequestReceived));
        }
        ev.response_status(code, Some(status));
        if !decision.omit_stages.contains(&Stage::ResponseComplete) {
            self.write(&ev.at(Stage::ResponseComplete));
        }
    }
}

/// What the authentication filter learned, handed to the audit layer in the request extensions.
#[derive(Debug, Clone)]
pub(crate) struct Admitted {
    pub(crate) user: UserInfo,
    pub(crate) note: AuthzNote,
}

/// The middleware (inside the authentication filter): records each admitted request.
pub(crate) async fn layer(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(auditor) = state.auditor.clone() else {
        return next.run(request).await;
    };
    let Some(admitted) = request.extensions().get::<Admitted>().cloned() else {
        return next.run(request).await;
    };
    let start = event::Start::of(&request);
    let attrs = Attributes::from_request(
        &admitted.user,
        request.method(),
        request.uri().path(),
        &query_map(request.uri().query()),
    );
    let decision = auditor.decide(&attrs);
    if decision.level == Level::None {
        return next.run(request).await;
    }
    let mut ev = Event::new(&start, &attrs, decision.level, Some(admitted.note));
    let omit = decision.omit_stages.clone();
    let (request, request_object) = if decision.level >= Level::Request && has_body(request.method()) {
        match capture_request(request, decision.omit_managed_fields).await {
            Ok(captured) => captured,
            Err(refused) => return refused,
        }
    } else {
        (request, None)
    };
    ev.request_object = request_object;
    if !omit.contains(&Stage::RequestReceived) {
        auditor.write(&ev.at(Stage::RequestReceived));
    }
    let long_running =
        attrs.verb == "watch" || request.headers().contains_key(header::UPGRADE) || is_follow(&start);
    let response = next.run(request).await;
    ev.response_status(response.status().as_u16(), None);
    if long_running {
        if !omit.contains(&Stage::ResponseStarted) {
            auditor.write(&ev.at(Stage::ResponseStarted));
        }
        // ResponseComplete when the stream ends (or the client goes away).
        let guard = CompleteOnDrop {
            auditor,
            event: Some(ev),
            write: !omit.contains(&Stage::ResponseComplete),
        };
        let (parts, body) = response.into_parts();
        let stream = body.into_data_stream().map(move |chunk| {
            let _ = &guard;
            chunk
        });
        return Response::from_parts(parts, Body::from_stream(stream));
    }
    let (response, response_object) =
        if decision.level == Level::RequestResponse && is_json(response.headers()) {
            capture_response(response, decision.omit_managed_fields).await
        } else {
            (response, None)
        };
    ev.response_object = response_object;
    if let Some(Value::Object(status)) = &ev.response_object
        && status.get("kind").and_then(Value::as_str) == Some("Status")
    {
        ev.response_status(ev.code(), ev.response_object.clone().as_ref());
    }
    if !omit.contains(&Stage::ResponseComplete) {
        auditor.write(&ev.at(Stage::ResponseComplete));
    }
    response
}

struct CompleteOnDrop {
    auditor: Arc<Auditor>,
    event: Option<Event>,
    write: bool,
}

impl Drop for CompleteOnDrop {
    fn drop(&mut self) {
        if let Some(ev) = self.event.take().filter(|_| self.write) {
            self.auditor.write(&ev.at(Stage::ResponseComplete));
        }
    }
}

fn has_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"))
}

fn is_follow(start: &event::Start) -> bool {
    start.path.ends_with("/log") && start.query.as_deref().is_some_and(|q| q.contains("follow=true"))
}

/// Copies a write's body for the event; a body over the limit is refused here with upstream's
/// 413, since it cannot be handed on after a partial read.
async fn capture_request(
    request: Request,
    omit_managed_fields: bool,
) -> Result<(Request, Option<Value>), Response> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        let err = rudder_api::status::ApiError::request_entity_too_large(&format!("limit is {MAX_BODY}"));
        axum::response::IntoResponse::into_response(crate::http::response::ErrorResponse(err))
    })?;
    let object = crate::http::decode_request_body(&parts.headers, &bytes)
        .ok()
        .map(|v| event::trim(v, omit_managed_fields));
    Ok((Request::from_parts(parts, Body::from(bytes)), object))
}

/// Copies a response body whose size is known and within the limit; others are passed on
/// untouched (the event then has no responseObject).
async fn capture_response(response: Response, omit_managed_fields: bool) -> (Response, Option<Value>) {
    use axum::body::HttpBody;
    let (parts, body) = response.into_parts();
    if body.size_hint().exact().is_none_or(|n| n > MAX_BODY as u64) {
        return (Response::from_parts(parts, body), None);
    }
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            let object = serde_json::from_slice(&bytes)
                .ok()
                .map(|v| event::trim(v, omit_managed_fields));
            (Response::from_parts(parts, Body::from(bytes)), object)
        }
        Err(_) => (Response::from_parts(parts, Body::empty()), None),
    }
}

/// What the audit log needs of a request before it is handled.
pub(crate) fn event_start(request: &Request) -> event::Start {
    event::Start::of(request)
}
