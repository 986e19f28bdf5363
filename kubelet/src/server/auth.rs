//! The kubelet API's auth filter (upstream's `Server.InstallAuthFilter`): every request on
//! `--port` is authenticated ([`super::authn`]; 401 `Unauthorized` otherwise), mapped to
//! `nodes/<subresource>` attributes of this node and authorized ([`super::authz`]; 403
//! `Forbidden (user=..., verb=..., resource=nodes, subresource(s)=[...])` otherwise) before any
//! handler runs.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rudder_component::tls::{ClientCa, PeerIdentity, TlsError};

use super::authn::{Authenticator, AuthnError, UserInfo};
use super::authz::{WebhookAuthorizer, api_verb, review_spec, subresources};
use super::review::{ApiReviewer, Reviewer};
use crate::config::{AuthorizationMode, ServerAuth};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("--client-ca-file: {0}")]
    ClientCa(#[from] TlsError),
    #[error(
        "no authentication method configured for the kubelet's API: give --client-ca-file, \
         --authentication-token-webhook or --anonymous-auth"
    )]
    NoMethod,
}

/// Why a request was turned away; the response is upstream's.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Unauthorized,
    Forbidden(String),
    /// The SubjectAccessReview could not be made (500).
    AuthorizationError(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized").into_response(),
            Refusal::Forbidden(msg) => (StatusCode::FORBIDDEN, msg).into_response(),
            Refusal::AuthorizationError(msg) => (StatusCode::INTERNAL_SERVER_ERROR, msg).into_response(),
        }
    }
}

#[derive(Debug)]
pub struct KubeletAuth {
    authn: Authenticator,
    /// None: `--authorization-mode=AlwaysAllow`.
    authz: Option<WebhookAuthorizer>,
    node_name: String,
}

impl KubeletAuth {
    /// Reviews go to the apiserver through the kubelet's own client.
    pub fn new(config: &ServerAuth, node_name: &str, client: kube::Client) -> Result<Self, AuthError> {
        Self::with_reviewer(config, node_name, Arc::new(ApiReviewer::new(client)))
    }

    pub fn with_reviewer(
        config: &ServerAuth,
        node_name: &str,
        reviewer: Arc<dyn Reviewer>,
    ) -> Result<Self, AuthError> {
        let client_ca = config
            .client_ca_file
            .as_deref()
            .map(ClientCa::from_pem_file)
            .transpose()?;
        let tokens = config
            .token_webhook
            .then(|| (reviewer.clone(), config.token_webhook_cache_ttl));
        let authn = Authenticator::new(client_ca, tokens, config.anonymous);
        if !authn.has_method() {
            return Err(AuthError::NoMethod);
        }
        let authz = match config.authorization_mode {
            AuthorizationMode::AlwaysAllow => None,
            AuthorizationMode::Webhook => Some(WebhookAuthorizer::new(
                reviewer,
                config.authorized_cache_ttl,
                config.unauthorized_cache_ttl,
            )),
        };
        Ok(KubeletAuth {
            authn,
            authz,
            node_name: node_name.to_string(),
        })
    }

    /// The CA the TLS handshake asks client certificates for.
    pub fn client_ca(&self) -> Option<&ClientCa> {
        self.authn.client_ca()
    }

    /// The caller, if it may make this request.
    pub async fn check(
        &self,
        peer: Option<&PeerIdentity>,
        method: &axum::http::Method,
        path: &str,
        headers: &axum::http::HeaderMap,
    ) -> Result<UserInfo, Refusal> {
        let user = match self.authn.authenticate(peer, headers).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(Refusal::Unauthorized),
            Err(error @ AuthnError::Review(_)) => {
                // The apiserver could not be asked: worth an operator's attention.
                tracing::warn!(%error, path, "unable to authenticate the request");
                return Err(Refusal::Unauthorized);
            }
            Err(error) => {
                tracing::debug!(%error, path, "unable to authenticate the request");
                return Err(Refusal::Unauthorized);
            }
        };
        let Some(authz) = &self.authz else {
            return Ok(user);
        };
        let verb = api_verb(method);
        let subs = subresources(path);
        for sub in &subs {
            let spec = review_spec(&user, verb, sub, &self.node_name);
            match authz.allowed(spec).await {
                Ok(true) => return Ok(user),
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(%error, user = %user.name, verb, subresource = sub, "authorization error");
                    return Err(Refusal::AuthorizationError(format!(
                        "Authorization error (user={}, verb={verb}, resource=nodes, subresource={sub})",
                        user.name
                    )));
                }
            }
        }
        tracing::debug!(user = %user.name, verb, subresources = ?subs, "forbidden");
        Err(Refusal::Forbidden(format!(
            "Forbidden (user={}, verb={verb}, resource=nodes, subresource(s)=[{}])",
            user.name,
            subs.join(" ")
        )))
    }
}

/// The axum middleware in front of every route of the kubelet's HTTPS server.
pub async fn filter(State(auth): State<Arc<KubeletAuth>>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<PeerIdentity>();
    if let Err(refusal) = auth
        .check(peer, request.method(), request.uri().path(), request.headers())
        .await
    {
        return refusal.into_response();
    }
    // A token in the WebSocket subprotocols goes no further (to the runtime's streaming server).
    if let Some(kept) = super::authn::strip_websocket_token(request.headers()) {
        let headers = request.headers_mut();
        headers.remove(axum::http::header::SEC_WEBSOCKET_PROTOCOL);
        if let Ok(value) = kept.parse()
            && !kept.is_empty()
        {
            headers.insert(axum::http::header::SEC_WEBSOCKET_PROTOCOL, value);
        }
    }
    next.run(request).await
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
