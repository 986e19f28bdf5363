//! Request authentication, in upstream's order (`pkg/kubeapiserver/authenticator/config.go`):
//!
//! 1. x509 client certificate: the chain the client presented (TLS proved it holds the key) is
//!    verified against `--client-ca-file`; CN = user, each O = group; an empty CN is no user.
//! 2. `Authorization: Bearer <token>` against the token authenticators (`--token-auth-file`,
//!    later service-account JWTs), then the WebSocket subprotocol
//!    `base64url.bearer.authorization.k8s.io.<token>`.
//!
//! The first success wins; `system:authenticated` is then added as upstream's
//! `AuthenticatedGroupAdder` does. Failures do not stop the chain (a bad certificate with a good
//! token authenticates), but if nothing succeeded and anything failed (an unverifiable
//! certificate, an unknown bearer token) the result is [`AuthnError::Unauthorized`]: upstream's
//! `union.NewFailOnError(..., anonymous)` never treats bad credentials as anonymous. No
//! credentials at all is `Ok(None)`, anonymous; the caller decides between `system:anonymous`
//! and 401.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::HeaderMap;
use rudder_component::tls::{ClientCa, PeerIdentity, TlsError};

pub const ALL_AUTHENTICATED: &str = "system:authenticated";
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ANONYMOUS: &str = "system:anonymous";

#[cfg(test)]
use rudder_component::websocket_token::PROTOCOL_PREFIX as WEBSOCKET_TOKEN_PROTOCOL;

/// An authenticated user (upstream `user.Info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// `system:anonymous` in `system:unauthenticated`, for requests without credentials.
    pub fn anonymous() -> Self {
        Self {
            name: ANONYMOUS.into(),
            groups: vec![ALL_UNAUTHENTICATED.into()],
            ..Self::default()
        }
    }
}

/// Building the authenticator failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthnSetupError {
    #[error("reading token file {path}: {source}")]
    ReadTokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("token file {path}, line {line}: {reason}")]
    ParseTokenFile {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "token file {path}, line {line}: must have at least 3 columns (token, user name, user uid), found {found}"
    )]
    TooFewColumns {
        path: PathBuf,
        line: usize,
        found: usize,
    },
    #[error(transparent)]
    ClientCa(#[from] TlsError),
}

/// A request's credentials were presented but not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    /// Answer 401. The reason is for logs, not for the client (upstream logs it too).
    #[error("Unauthorized: {0}")]
    Unauthorized(String),
}

/// Turns a bearer token into a user.
pub trait TokenAuthenticator: Send + Sync + fmt::Debug {
    /// `Ok(None)` for a token this authenticator does not know; `Err` for one it recognised but
    /// rejects (e.g. an expired service-account token).
    fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, AuthnError>;
}

/// `--token-auth-file`: upstream's CSV, `token,user,uid[,"group1,group2,..."]`, parsed with Go's
/// `encoding/csv` rules (double-quoted fields, `""` escapes, quoted newlines, blank lines
/// skipped, no comments). Tokens are kept only as SHA-256 digests and looked up by digest, so the
/// lookup's timing reveals nothing about the secret tokens.
pub struct TokenFile {
    users: HashMap<[u8; 32], UserInfo>,
}

impl fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFile")
            .field("tokens", &self.users.len())
            .finish()
    }
}

impl TokenFile {
    pub fn load(path: &Path) -> Result<Self, AuthnSetupError> {
        let bytes = std::fs::read(path).map_err(|source| AuthnSetupError::ReadTokenFile {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| AuthnSetupError::ParseTokenFile {
            path: path.to_path_buf(),
            line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count(),
            reason: "not valid UTF-8".into(),
        })?;
        Self::parse(&text, path)
    }

    /// Parse file contents; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, AuthnSetupError> {
        let mut users = HashMap::new();
        let records = parse_csv(text).map_err(|(line, reason)| AuthnSetupError::ParseTokenFile {
            path: path.to_path_buf(),
            line,
            reason,
        })?;
        for (line, record) in records {
            if record.len() < 3 {
                return Err(AuthnSetupError::TooFewColumns {
                    path: path.to_path_buf(),
                    line,
                    found: record.len(),
                });
            }
            if record[0].is_empty() {
                tracing::warn!(path = %path.display(), line, "empty token in token file; skipped");
                continue;
            }
            let user = UserInfo {
                name: record[1].clone(),
                uid: record[2].clone(),
                // Upstream: strings.Split(record[3], ","), so an empty column is one empty group.
                groups: record
                    .get(3)
                    .map(|g| g.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                extra: BTreeMap::new(),
            };
            if users.insert(digest(&record[0]), user).is_some() {
                tracing::warn!(path = %path.display(), line, "duplicate token in token file; the later one wins");
            }
        }
        Ok(Self { users })
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl TokenAuthenticator for TokenFile {
    fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, AuthnError> {
        Ok(self.users.get(&digest(token)).cloned())
    }
}

fn digest(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// Go `encoding/csv` with `FieldsPerRecord = -1`: records as (line number, fields), or the line
/// and reason of the first syntax error.
/// A CSV record and the line it starts on.
type CsvRecord = (usize, Vec<String>);
/// A CSV syntax error: line and reason.
type CsvError = (usize, String);

fn parse_csv(text: &str) -> Result<Vec<CsvRecord>, CsvError> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start_line = line;
        // Blank lines are skipped.
        if matches!(chars.peek(), Some('\n')) {
            chars.next();
            line += 1;
            continue;
        }
        if let Some('\r') = chars.peek() {
            let mut ahead = chars.clone();
            ahead.next();
            if matches!(ahead.peek(), Some('\n') | None) {
                chars = ahead;
                if chars.next().is_some() {
                    line += 1;
                }
                continue;
            }
        }
        let mut fields = Vec::new();
        loop {
            let mut field = String::new();
            let mut end_of_record = false;
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => {
                            return Err((
                                start_line,
                                "extraneous or missing \" in quoted-field (it runs to the end of the file)"
                                    .into(),
                            ));
                        }
                        Some('"') => match chars.peek() {
                            Some('"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some(',') => {
                                chars.next();
                                break;
                            }
                            Some('\n') | None => {
                                end_of_record = true;
                                break;
                            }
                            Some('\r') => {
                                let mut ahead = chars.clone();
                                ahead.next();
                                if matches!(ahead.peek(), Some('\n') | None) {
                                    chars = ahead;
                                    end_of_record = true;
                                    break;
                                }
                                return Err((line, "extraneous or missing \" in quoted-field".into()));
                            }
                            Some(_) => return Err((line, "extraneous or missing \" in quoted-field".into())),
                        },
                        Some('\r') if chars.peek() == Some(&'\n') => {}
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                    }
                }
            } else {
                loop {
                    match chars.peek() {
                        None | Some('\n') => {
                            end_of_record = true;
                            break;
                        }
                        Some(',') => {
                            chars.next();
                            break;
                        }
                        Some('"') => return Err((line, "bare \" in non-quoted-field".into())),
                        Some(&c) => {
                            chars.next();
                            field.push(c);
                        }
                    }
                }
                // A record ending in "\r\n" loses the "\r".
                if end_of_record && field.ends_with('\r') {
                    field.pop();
                }
            }
            fields.push(field);
            if end_of_record {
                if chars.next().is_some() {
                    line += 1;
                }
                break;
            }
        }
        records.push((start_line, fields));
    }
    Ok(records)
}

/// The request authenticator: x509 client certificates, then bearer tokens.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    client_ca: Option<ClientCa>,
    tokens: Vec<Arc<dyn TokenAuthenticator>>,
    /// Client certificate chains verified recently: a signature check per request is the
    /// largest cost of a small request otherwise.
    verified: Arc<parking_lot::Mutex<VerifiedChains>>,
}

/// Verified chains (by their DER bytes) and when each must be checked again.
#[derive(Debug, Default)]
struct VerifiedChains(std::collections::HashMap<Vec<u8>, (String, Vec<String>, std::time::Instant)>);

/// How long a verified chain is trusted before it is verified again (expiry is re-checked then).
const VERIFIED_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// Bound on cached chains; the cache is emptied when it is full.
const VERIFIED_MAX: usize = 4096;

impl Authenticator {
    /// From `--client-ca-file` and `--token-auth-file`.
    pub fn new(
        client_ca_file: Option<&Path>,
        token_auth_file: Option<&Path>,
    ) -> Result<Self, AuthnSetupError> {
        let client_ca = client_ca_file.map(ClientCa::from_pem_file).transpose()?;
        let mut tokens: Vec<Arc<dyn TokenAuthenticator>> = Vec::new();
        if let Some(path) = token_auth_file {
            tokens.push(Arc::new(TokenFile::load(path)?));
        }
        Ok(Self {
            client_ca,
            tokens,
            verified: Default::default(),
        })
    }

    /// From parts already loaded.
    pub fn from_parts(client_ca: Option<ClientCa>, tokens: Vec<Arc<dyn TokenAuthenticator>>) -> Self {
        Self {
            client_ca,
            tokens,
            verified: Default::default(),
        }
    }

    /// Add a token authenticator after the existing ones (e.g. service-account tokens).
    pub fn with_token_authenticator(mut self, authenticator: Arc<dyn TokenAuthenticator>) -> Self {
        self.tokens.push(authenticator);
        self
    }

    /// `--enable-bootstrap-token-auth`: bootstrap token Secrets, after the other token
    /// authenticators (upstream's order puts them after the token file and service accounts).
    pub(crate) fn with_bootstrap_tokens(
        self,
        enabled: bool,
        registry: &Arc<crate::registry::Registry>,
    ) -> Self {
        if !enabled {
            return self;
        }
        self.with_token_authenticator(Arc::new(crate::authn_bootstrap::BootstrapTokens::new(
            registry.clone(),
        )))
    }

    /// Who made this request: `Ok(Some(user))`, `Ok(None)` without credentials (anonymous), or
    /// `Err(Unauthorized)` when credentials were presented and none was accepted.
    pub fn authenticate(
        &self,
        peer: &PeerIdentity,
        headers: &HeaderMap,
    ) -> Result<Option<UserInfo>, AuthnError> {
        let mut failures: Vec<String> = Vec::new();

        if let Some(ca) = &self.client_ca {
            let chain_key: Vec<u8> = peer
                .peer_certificates
                .iter()
                .flat_map(|c| c.as_ref().iter().copied())
                .collect();
            if !chain_key.is_empty() {
                let cache = self.verified.lock();
                if let Some((name, groups, until)) = cache.0.get(&chain_key)
                    && *until > std::time::Instant::now()
                {
                    return Ok(Some(with_authenticated_group(UserInfo {
                        name: name.clone(),
                        groups: groups.clone(),
                        ..UserInfo::default()
                    })));
                }
            }
            match peer.verified_user(ca) {
                Ok(Some((name, groups))) => {
                    let mut cache = self.verified.lock();
                    if cache.0.len() >= VERIFIED_MAX {
                        cache.0.clear();
                    }
                    let until = std::time::Instant::now() + VERIFIED_TTL;
                    cache.0.insert(chain_key, (name.clone(), groups.clone(), until));
                    drop(cache);
                    return Ok(Some(with_authenticated_group(UserInfo {
                        name,
                        groups,
                        ..UserInfo::default()
                    })));
                }
                Ok(None) => {}
                Err(error) => failures.push(error.to_string()),
            }
        }

        // Like upstream, bearer tokens are only looked at when a token authenticator exists.
        if !self.tokens.is_empty() {
            if let Some(token) = bearer_token(headers) {
                match self.authenticate_token(token) {
                    Ok(Some(user)) => return Ok(Some(with_authenticated_group(user))),
                    Ok(None) => failures.push("invalid bearer token".into()),
                    Err(error) => failures.push(error.to_string()),
                }
            }
            match websocket_token(headers) {
                Ok(Some(token)) => match self.authenticate_token(&token) {
                    Ok(Some(user)) => return Ok(Some(with_authenticated_group(user))),
                    Ok(None) => failures.push("invalid token".into()),
                    Err(error) => failures.push(error.to_string()),
                },
                Ok(None) => {}
                Err(reason) => failures.push(reason.into()),
            }
        }

        match failures.len() {
            0 => Ok(None),
            1 => Err(AuthnError::Unauthorized(failures.remove(0))),
            _ => Err(AuthnError::Unauthorized(format!("[{}]", failures.join(", ")))),
        }
    }

    /// A bearer token alone (TokenReview): the user with `system:authenticated`, `Ok(None)` when
    /// no token authenticator knows it.
    pub(crate) fn authenticate_bearer(&self, token: &str) -> Result<Option<UserInfo>, AuthnError> {
        Ok(self.authenticate_token(token)?.map(with_authenticated_group))
    }

    /// Upstream's `AuthenticatedGroupAdder`, for users authenticated outside [`Self::authenticate`].
    pub(crate) fn add_authenticated_group(&self, user: UserInfo) -> UserInfo {
        with_authenticated_group(user)
    }

    /// Upstream's token union: the first authenticator that knows the token wins; errors from
    /// others only matter if none does.
    fn authenticate_token(&self, token: &str) -> Result<Option<UserInfo>, AuthnError> {
        let mut errors = Vec::new();
        for authenticator in &self.tokens {
            match authenticator.authenticate_token(token) {
                Ok(Some(user)) => return Ok(Some(user)),
                Ok(None) => {}
                Err(AuthnError::Unauthorized(reason)) => errors.push(reason),
            }
        }
        if errors.is_empty() {
            Ok(None)
        } else {
            Err(AuthnError::Unauthorized(errors.join(", ")))
        }
    }
}

/// Upstream `AuthenticatedGroupAdder`.
fn with_authenticated_group(mut user: UserInfo) -> UserInfo {
    let has_marker = user
        .groups
        .iter()
        .any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED);
    if user.name != ANONYMOUS && !has_marker {
        user.groups.push(ALL_AUTHENTICATED.into());
    }
    user
}

/// Upstream `bearertoken`: the first `Authorization` header, trimmed, split on spaces into at
/// most three parts; the scheme is case-insensitive; an empty token is no token.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = std::str::from_utf8(headers.get(http::header::AUTHORIZATION)?.as_bytes())
        .ok()?
        .trim();
    let mut parts = value.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Upstream `websocket.ProtocolAuthenticator` (shared with the kubelet).
fn websocket_token(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    rudder_component::websocket_token::bearer_token(headers)
}

#[cfg(test)]
#[path = "authn_tests.rs"]
mod tests;
