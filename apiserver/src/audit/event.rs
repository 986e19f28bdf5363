//! One audit event, serialized as upstream's audit.k8s.io/v1 `Event`.

use axum::extract::Request;
use axum::http::{HeaderMap, Method};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::policy::{Level, Stage};
use crate::authz::Attributes;

/// What is known of a request when it arrives.
#[derive(Debug, Clone)]
pub(crate) struct Start {
    pub(crate) audit_id: String,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) source_ips: Vec<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) received: String,
}

impl Start {
    pub(crate) fn of(request: &Request) -> Start {
        Start::from_parts(
            request.method(),
            request.uri(),
            request.headers(),
            request
                .extensions()
                .get::<rudder_component::serve::PeerIdentity>()
                .map(|p| p.remote_addr.ip().to_string()),
        )
    }

    pub(crate) fn from_parts(
        method: &Method,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        peer: Option<String>,
    ) -> Start {
        // Upstream takes a client's Audit-ID when it sends one.
        let audit_id = headers
            .get("audit-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 64)
            .map(str::to_string)
            .unwrap_or_else(crate::registry::object::new_uid);
        let mut source_ips: Vec<String> = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(peer) = peer.filter(|p| !source_ips.contains(p)) {
            source_ips.push(peer);
        }
        Start {
            audit_id,
            method: method.clone(),
            path: uri.path().to_string(),
            query: uri.query().map(str::to_string),
            source_ips,
            user_agent: headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            received: crate::registry::object::now_micro_time(),
        }
    }
}

/// The authorizer's answer, as the `authorization.k8s.io/*` annotations carry it.
#[derive(Debug, Clone)]
pub(crate) struct AuthzNote {
    pub(crate) allowed: bool,
    pub(crate) reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Event {
    kind: &'static str,
    api_version: &'static str,
    level: &'static str,
    #[serde(rename = "auditID")]
    audit_id: String,
    stage: &'static str,
    #[serde(rename = "requestURI")]
    request_uri: String,
    verb: String,
    user: Value,
    #[serde(rename = "sourceIPs")]
    source_ips: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object_ref: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_status: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) response_object: Option<Value>,
    request_received_timestamp: String,
    stage_timestamp: String,
    #[serde(skip_serializing_if = "Map::is_empty")]
    annotations: Map<String, Value>,
}

impl Event {
    pub(crate) fn new(start: &Start, attrs: &Attributes, level: Level, note: Option<AuthzNote>) -> Event {
        let mut user = json!({ "username": attrs.user.name, "groups": attrs.user.groups });
        if !attrs.user.uid.is_empty() {
            user["uid"] = json!(attrs.user.uid);
        }
        if !attrs.user.extra.is_empty() {
            user["extra"] = json!(attrs.user.extra);
        }
        let object_ref = attrs.resource_request.then(|| {
            let mut r = Map::new();
            let mut put = |k: &str, v: &str| {
                if !v.is_empty() {
                    r.insert(k.into(), json!(v));
                }
            };
            put("resource", &attrs.resource);
            put("namespace", &attrs.namespace);
            put("name", &attrs.name);
            put("apiGroup", &attrs.api_group);
            put("apiVersion", &attrs.api_version);
            put("subresource", &attrs.subresource);
            Value::Object(r)
        });
        let mut annotations = Map::new();
        if let Some(note) = note {
            let decision = if note.allowed { "allow" } else { "forbid" };
            annotations.insert("authorization.k8s.io/decision".into(), json!(decision));
            annotations.insert("authorization.k8s.io/reason".into(), json!(note.reason));
        }
        Event {
            kind: "Event",
            api_version: "audit.k8s.io/v1",
            level: level.name(),
            audit_id: start.audit_id.clone(),
            stage: Stage::RequestReceived.name(),
            request_uri: match &start.query {
                Some(q) => format!("{}?{q}", start.path),
                None => start.path.clone(),
            },
            verb: attrs.verb.clone(),
            user,
            source_ips: start.source_ips.clone(),
            user_agent: start.user_agent.clone(),
            object_ref,
            response_status: None,
            request_object: None,
            response_object: None,
            request_received_timestamp: start.received.clone(),
            stage_timestamp: start.received.clone(),
            annotations,
        }
    }

    /// A copy at `stage`, stamped now. Objects are recorded only where upstream puts them: the
    /// request object from RequestReceived on, the response object at ResponseComplete.
    pub(crate) fn at(&self, stage: Stage) -> Event {
        let mut ev = self.clone();
        ev.stage = stage.name();
        ev.stage_timestamp = crate::registry::object::now_micro_time();
        if stage != Stage::ResponseComplete {
            ev.response_object = None;
        }
        if stage == Stage::RequestReceived {
            ev.response_status = None;
        }
        ev
    }

    /// The response's status: its code, and for failures the Status' message and reason.
    pub(crate) fn response_status(&mut self, code: u16, status: Option<&Value>) {
        let mut s = json!({ "metadata": {}, "code": code });
        if let Some(st) = status {
            for k in ["status", "message", "reason"] {
                if let Some(v) = st.get(k).filter(|v| v.as_str().is_some_and(|t| !t.is_empty())) {
                    s[k] = v.clone();
                }
            }
        }
        self.response_status = Some(s);
    }

    pub(crate) fn code(&self) -> u16 {
        self.response_status
            .as_ref()
            .and_then(|s| s.get("code"))
            .and_then(Value::as_u64)
            .map_or(0, |c| c as u16)
    }
}

/// Drops `metadata.managedFields` (from items of lists too) when the policy says so.
pub(crate) fn trim(mut v: Value, omit_managed_fields: bool) -> Value {
    if omit_managed_fields {
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
            for item in items {
                if let Some(meta) = item.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("managedFields");
                }
            }
        }
    }
    v
}
