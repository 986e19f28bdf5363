//! Who is calling the kubelet's API: upstream's delegating authenticator
//! (`authenticatorfactory.DelegatingAuthenticatorConfig`). x509 client certificates verified
//! against `--client-ca-file` (user = CN, groups = O), then bearer tokens through the apiserver's
//! TokenReview (answers cached for `authentication.webhook.cacheTTL`, whether they accept or not),
//! also as the WebSocket `base64url.bearer.authorization.k8s.io.` subprotocol, and
//! `system:anonymous` only with `--anonymous-auth`. A credential that is presented but
//! rejected is an error, never anonymous.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use rudder_component::tls::{ClientCa, ClientCertError, PeerIdentity};

use super::cache::{DEFAULT_CAPACITY, TtlCache};
use super::review::{ReviewError, Reviewer};

pub const ANONYMOUS_USER: &str = "system:anonymous";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";

/// An authenticated caller, as upstream's `user.Info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    fn named(name: String, groups: Vec<String>) -> Self {
        UserInfo {
            name,
            groups,
            ..Default::default()
        }
    }
}

/// Credentials were presented and refused (or could not be checked): 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    #[error("client certificate: {0}")]
    Certificate(#[from] ClientCertError),
    #[error("invalid bearer token{}", .0.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    InvalidToken(Option<String>),
    #[error(transparent)]
    Review(#[from] ReviewError),
}

/// What a TokenReview said about a token (what the cache keeps).
#[derive(Debug, Clone)]
enum TokenAnswer {
    User(UserInfo),
    Refused(Option<String>),
}

#[derive(Debug)]
struct TokenWebhook {
    reviewer: Arc<dyn Reviewer>,
    cache: TtlCache<String, TokenAnswer>,
    ttl: Duration,
}

#[derive(Debug)]
pub struct Authenticator {
    client_ca: Option<ClientCa>,
    tokens: Option<TokenWebhook>,
    anonymous: bool,
}

impl Authenticator {
    /// `tokens`: a reviewer and the cache TTL when the token webhook is on.
    pub fn new(
        client_ca: Option<ClientCa>,
        tokens: Option<(Arc<dyn Reviewer>, Duration)>,
        anonymous: bool,
    ) -> Self {
        Authenticator {
            client_ca,
            tokens: tokens.map(|(reviewer, ttl)| TokenWebhook {
                reviewer,
                cache: TtlCache::new(DEFAULT_CAPACITY),
                ttl,
            }),
            anonymous,
        }
    }

    /// Whether any way of authenticating is configured (upstream refuses to start otherwise).
    pub fn has_method(&self) -> bool {
        self.client_ca.is_some() || self.tokens.is_some() || self.anonymous
    }

    pub fn client_ca(&self) -> Option<&ClientCa> {
        self.client_ca.as_ref()
    }

    /// `Ok(None)`: no credentials and no anonymous access. Upstream's union: the first method
    /// that accepts wins; if none does, any error is the answer (so a bad token or certificate
    /// is a 401 even when anonymous requests are allowed).
    pub async fn authenticate(
        &self,
        peer: Option<&PeerIdentity>,
        headers: &HeaderMap,
    ) -> Result<Option<UserInfo>, AuthnError> {
        let mut error = None;
        if let (Some(ca), Some(peer)) = (&self.client_ca, peer) {
            match peer.verified_user(ca) {
                Ok(Some((name, groups))) => {
                    return Ok(Some(with_authenticated(UserInfo::named(name, groups))));
                }
                Ok(None) => {}
                Err(e) => error = Some(AuthnError::from(e)),
            }
        }
        if let (Some(webhook), Some(token)) = (&self.tokens, bearer_token(headers)) {
            match webhook.authenticate(token).await {
                Ok(user) => return Ok(Some(with_authenticated(user))),
                Err(e) => error = Some(e),
            }
        }
        if let Some(webhook) = &self.tokens {
            match websocket_token(headers) {
                Ok(Some(token)) => match webhook.authenticate(&token).await {
                    Ok(user) => return Ok(Some(with_authenticated(user))),
                    Err(e) => error = Some(e),
                },
                Ok(None) => {}
                Err(e) => error = Some(e),
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        Ok(self
            .anonymous
            .then(|| UserInfo::named(ANONYMOUS_USER.into(), vec![UNAUTHENTICATED_GROUP.into()])))
    }
}

impl TokenWebhook {
    async fn authenticate(&self, token: &str) -> Result<UserInfo, AuthnError> {
        let answer = match self.cache.get(&token.to_string()) {
            Some(answer) => answer,
            None => {
                // Errors talking to the apiserver are not cached: the next request asks again.
                let status = self.reviewer.review_token(token).await?;
                let answer = match (status.authenticated, status.user) {
                    (Some(true), Some(user)) => TokenAnswer::User(UserInfo {
                        name: user.username.unwrap_or_default(),
                        uid: user.uid.unwrap_or_default(),
                        groups: user.groups.unwrap_or_default(),
                        extra: user.extra.unwrap_or_default(),
                    }),
                    _ => TokenAnswer::Refused(status.error.filter(|e| !e.is_empty())),
                };
                self.cache.insert(token.to_string(), answer.clone(), self.ttl);
                answer
            }
        };
        match answer {
            TokenAnswer::User(user) => Ok(user),
            TokenAnswer::Refused(why) => Err(AuthnError::InvalidToken(why)),
        }
    }
}

/// `Authorization: Bearer <token>` as upstream's bearertoken authenticator reads it: the scheme
/// case-insensitive, an empty token is no token.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let mut parts = value.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub use rudder_component::websocket_token::{
    PROTOCOL_PREFIX as WEBSOCKET_BEARER_PREFIX, without_token as strip_websocket_token,
};

/// The token of the WebSocket bearer subprotocol, refusals worded as upstream's.
fn websocket_token(headers: &HeaderMap) -> Result<Option<String>, AuthnError> {
    rudder_component::websocket_token::bearer_token(headers)
        .map_err(|why| AuthnError::InvalidToken(Some(why.into())))
}

/// Upstream's `AuthenticatedGroupAdder`.
fn with_authenticated(mut user: UserInfo) -> UserInfo {
    let marked = user
        .groups
        .iter()
        .any(|g| g == AUTHENTICATED_GROUP || g == UNAUTHENTICATED_GROUP);
    if !marked {
        user.groups.push(AUTHENTICATED_GROUP.into());
    }
    user
}

#[cfg(test)]
#[path = "authn_tests.rs"]
mod tests;
