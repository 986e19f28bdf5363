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

use base64::Engine;
use http::HeaderMap;
use rudder_component::tls::{ClientCa, PeerIdentity, TlsError};

pub const ALL_AUTHENTICATED: &str = "system:authenticated";
pub const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ANONYMOUS: &str = "system:anonymous";

/// Prefix of the WebSocket subprotocol that carries a bearer token (browsers cannot set headers).
const WEBSOCKET_TOKEN_PROTOCOL: &str = "base64url.bearer.authorization.k8s.io.";

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

/// Upstream `websocket.ProtocolAuthenticator`: on WebSocket upgrade requests, a subprotocol
/// `base64url.bearer.authorization.k8s.io.<unpadded base64url token>` carries the token; at least
/// one other subprotocol must be offered.
fn websocket_token(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    let upgrade = headers
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let connection = headers
        .get(http::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let upgrades = connection
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if !upgrade.eq_ignore_ascii_case("websocket") || !upgrades {
        return Ok(None);
    }
    let mut token = None;
    let mut others = 0;
    for value in headers.get_all(http::header::SEC_WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        for protocol in value.split(',').map(str::trim) {
            let Some(encoded) = protocol.strip_prefix(WEBSOCKET_TOKEN_PROTOCOL) else {
                others += 1;
                continue;
            };
            if token.is_some() {
                return Err("multiple base64.bearer.authorization tokens specified");
            }
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| "invalid base64.bearer.authorization token encoding")?;
            token =
                Some(String::from_utf8(decoded).map_err(|_| "invalid base64.bearer.authorization token")?);
        }
    }
    match token {
        Some(t) if t.is_empty() => Ok(None),
        Some(_) if others == 0 => Err("missing additional subprotocol"),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use http::HeaderValue;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::*;
    use crate::pki::{self, CertificateAuthority};

    const TOKENS: &str = "\
secret-1,alice,uid-1,\"system:masters,dev\"
secret-2,bob,uid-2
";

    fn token_file(text: &str) -> TokenFile {
        TokenFile::parse(text, Path::new("tokens.csv")).expect("token file parses")
    }

    fn user(token_file: &TokenFile, token: &str) -> Option<UserInfo> {
        token_file.authenticate_token(token).expect("no error")
    }

    fn parse_err(text: &str) -> AuthnSetupError {
        TokenFile::parse(text, Path::new("tokens.csv")).expect_err("parse error")
    }

    fn line_of(err: &AuthnSetupError) -> usize {
        match err {
            AuthnSetupError::ParseTokenFile { line, .. } | AuthnSetupError::TooFewColumns { line, .. } => {
                *line
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn token_file_format() {
        let tokens = token_file(TOKENS);
        assert_eq!(tokens.len(), 2);
        let alice = user(&tokens, "secret-1").expect("alice");
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.uid, "uid-1");
        assert_eq!(alice.groups, vec!["system:masters", "dev"]);
        assert_eq!(
            user(&tokens, "secret-2").expect("bob").groups,
            Vec::<String>::new()
        );
        assert_eq!(user(&tokens, "secret-3"), None);
        assert_eq!(user(&tokens, "secret-"), None);
        assert!(!format!("{tokens:?}").contains("secret"), "tokens never printed");
    }

    #[test]
    fn token_file_follows_go_csv() {
        // CRLF, blank lines, "" escapes, a quoted newline, an empty 4th column, a trailing comma.
        let text = "\r\n\nt1,\"a \"\"quoted\"\" name\",u1,\"g1,g2\"\r\n\nt2,\"multi\nline\",u2,\n t3 ,c,u3,g,extra\nt4,d,u4";
        let tokens = token_file(text);
        assert_eq!(user(&tokens, "t1").expect("t1").name, "a \"quoted\" name");
        assert_eq!(user(&tokens, "t1").expect("t1").groups, vec!["g1", "g2"]);
        let t2 = user(&tokens, "t2").expect("t2");
        assert_eq!(t2.name, "multi\nline");
        assert_eq!(
            t2.groups,
            vec![""],
            "strings.Split(\"\", \",\") is one empty group"
        );
        assert_eq!(user(&tokens, " t3 ").expect("spaces are kept").groups, vec!["g"]);
        assert_eq!(user(&tokens, "t4").expect("no final newline").uid, "u4");

        // Duplicates: the later wins. Empty tokens are skipped.
        let tokens = token_file("t,first,1\nt,second,2\n,nobody,3\n");
        assert_eq!(user(&tokens, "t").expect("t").name, "second");
        assert_eq!(tokens.len(), 1);
        assert_eq!(user(&tokens, ""), None);
    }

    #[test]
    fn token_file_errors_carry_line_numbers() {
        let err = parse_err("t1,a,u1\n\nt2,b\n");
        assert!(
            matches!(err, AuthnSetupError::TooFewColumns { found: 2, .. }),
            "{err}"
        );
        assert_eq!(line_of(&err), 3);
        assert!(err.to_string().contains("tokens.csv, line 3"), "{err}");

        let err = parse_err("t1,a,u1\nt2,b\"ad,u2\n");
        assert_eq!(line_of(&err), 2);
        assert!(err.to_string().contains("bare \""), "{err}");

        let err = parse_err("t1,a,u1\nt2,\"unterminated,u2\nt3,c,u3\n");
        assert!(err.to_string().contains("extraneous or missing \""), "{err}");
        assert_eq!(line_of(&err), 2, "the record whose quote never closes");

        let err = parse_err("t1,\"a\"x,u1\n");
        assert_eq!(line_of(&err), 1);

        // Lines starting with '#' are not comments (Go's reader has no comment character set).
        assert_eq!(line_of(&parse_err("# a comment\nt1,a,u1\n")), 1);

        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.csv");
        let err = TokenFile::load(&missing).expect_err("missing file");
        assert!(
            matches!(err, AuthnSetupError::ReadTokenFile { .. }) && err.to_string().contains("missing.csv")
        );
    }

    struct Certs {
        ca: CertificateAuthority,
        other: CertificateAuthority,
    }

    fn certs() -> Certs {
        Certs {
            ca: CertificateAuthority::generate("test-ca").expect("CA"),
            other: CertificateAuthority::generate("other-ca").expect("CA"),
        }
    }

    fn peer_with(ca: &CertificateAuthority, cn: &str, groups: &[&str]) -> PeerIdentity {
        let (pem, _) = pki::sign_client_cert(ca, cn, groups).expect("sign");
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM");
        PeerIdentity {
            remote_addr: SocketAddr::from(([127, 0, 0, 1], 1234)),
            peer_certificates: Arc::from(vec![der]),
        }
    }

    fn authenticator(certs: &Certs, tokens: Option<&str>) -> Authenticator {
        let client_ca = ClientCa::from_pem(certs.ca.cert_pem().as_bytes()).expect("client CA");
        let tokens: Vec<Arc<dyn TokenAuthenticator>> = tokens
            .map(|t| Arc::new(token_file(t)) as Arc<dyn TokenAuthenticator>)
            .into_iter()
            .collect();
        Authenticator::from_parts(Some(client_ca), tokens)
    }

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    fn name_and_groups(result: Result<Option<UserInfo>, AuthnError>) -> (String, Vec<String>) {
        let user = result.expect("authenticated").expect("a user");
        (user.name, user.groups)
    }

    #[test]
    fn bearer_tokens() {
        let certs = certs();
        let authn = authenticator(&certs, Some(TOKENS));
        let anonymous = PeerIdentity::default();

        assert_eq!(
            authn.authenticate(&anonymous, &HeaderMap::new()).expect("ok"),
            None
        );
        assert_eq!(
            name_and_groups(authn.authenticate(&anonymous, &bearer("Bearer secret-1"))),
            (
                "alice".into(),
                vec!["system:masters".into(), "dev".into(), ALL_AUTHENTICATED.into()]
            )
        );
        // Scheme is case-insensitive; extra parts after the token are ignored.
        assert_eq!(
            name_and_groups(authn.authenticate(&anonymous, &bearer("bearer secret-2 x"))).0,
            "bob"
        );
        // Unknown token: 401, never anonymous.
        let err = authn
            .authenticate(&anonymous, &bearer("Bearer nope"))
            .expect_err("unknown token");
        assert!(err.to_string().contains("invalid bearer token"), "{err}");
        // Not a bearer token, or an empty one: no credentials.
        for value in ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer  secret-1", "   "] {
            assert_eq!(
                authn.authenticate(&anonymous, &bearer(value)).expect("ok"),
                None,
                "{value:?}"
            );
        }
        // Without a token authenticator, bearer tokens are not looked at (upstream too).
        let no_tokens = authenticator(&certs, None);
        assert_eq!(
            no_tokens
                .authenticate(&anonymous, &bearer("Bearer nope"))
                .expect("ok"),
            None
        );
    }

    #[test]
    fn client_certificates_come_first() {
        let certs = certs();
        let authn = authenticator(&certs, Some(TOKENS));
        let admin = peer_with(&certs.ca, "kubernetes-admin", &["system:masters"]);
        assert_eq!(
            name_and_groups(authn.authenticate(&admin, &HeaderMap::new())),
            (
                "kubernetes-admin".into(),
                vec!["system:masters".into(), ALL_AUTHENTICATED.into()]
            )
        );
        // x509 runs before tokens: a valid certificate wins over a bad (or good) token.
        assert_eq!(
            name_and_groups(authn.authenticate(&admin, &bearer("Bearer nope"))).0,
            "kubernetes-admin"
        );
        assert_eq!(
            name_and_groups(authn.authenticate(&admin, &bearer("Bearer secret-2"))).0,
            "kubernetes-admin"
        );

        // A certificate from another CA fails, but the chain goes on to the token.
        let mallory = peer_with(&certs.other, "mallory", &["system:masters"]);
        assert_eq!(
            name_and_groups(authn.authenticate(&mallory, &bearer("Bearer secret-2"))).0,
            "bob"
        );
        let err = authn
            .authenticate(&mallory, &HeaderMap::new())
            .expect_err("untrusted certificate");
        assert!(err.to_string().contains("mallory"), "{err}");
        let err = authn
            .authenticate(&mallory, &bearer("Bearer nope"))
            .expect_err("both bad");
        assert!(
            err.to_string().starts_with("Unauthorized: ["),
            "aggregated: {err}"
        );

        // An empty CN is no user, and not an error.
        let nameless = peer_with(&certs.ca, "", &["g"]);
        assert_eq!(
            authn.authenticate(&nameless, &HeaderMap::new()).expect("ok"),
            None
        );

        // Without a client CA, certificates are ignored.
        let no_ca = Authenticator::default();
        assert_eq!(no_ca.authenticate(&admin, &HeaderMap::new()).expect("ok"), None);
    }

    #[test]
    fn authenticated_group_is_added_once() {
        let certs = certs();
        let authn = authenticator(
            &certs,
            Some("t1,a,1,system:authenticated\nt2,system:anonymous,2\nt3,c,3,\"x,system:unauthenticated\"\n"),
        );
        let peer = PeerIdentity::default();
        assert_eq!(
            name_and_groups(authn.authenticate(&peer, &bearer("Bearer t1"))).1,
            vec![ALL_AUTHENTICATED]
        );
        assert_eq!(
            name_and_groups(authn.authenticate(&peer, &bearer("Bearer t2"))).1,
            Vec::<String>::new()
        );
        assert_eq!(
            name_and_groups(authn.authenticate(&peer, &bearer("Bearer t3"))).1,
            vec!["x", ALL_UNAUTHENTICATED]
        );
    }

    fn websocket(protocols: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        for p in protocols {
            headers.append(
                http::header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_str(p).expect("header"),
            );
        }
        headers
    }

    #[test]
    fn websocket_subprotocol_tokens() {
        let certs = certs();
        let authn = authenticator(&certs, Some(TOKENS));
        let peer = PeerIdentity::default();
        let encoded = |t: &str| {
            format!(
                "{WEBSOCKET_TOKEN_PROTOCOL}{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t)
            )
        };
        let good = encoded("secret-2");
        let headers = websocket(&[&format!("v5.channel.k8s.io, {good}")]);
        assert_eq!(name_and_groups(authn.authenticate(&peer, &headers)).0, "bob");
        // The token protocol may come in its own header line.
        assert_eq!(
            name_and_groups(authn.authenticate(&peer, &websocket(&["v4.channel.k8s.io", &good]))).0,
            "bob"
        );

        authn
            .authenticate(&peer, &websocket(&[&good]))
            .expect_err("needs another subprotocol");
        authn
            .authenticate(&peer, &websocket(&[&format!("a, {good}, {good}")]))
            .expect_err("two tokens");
        authn
            .authenticate(&peer, &websocket(&[&format!("a, {WEBSOCKET_TOKEN_PROTOCOL}!!!")]))
            .expect_err("bad base64");
        authn
            .authenticate(&peer, &websocket(&[&format!("a, {}", encoded("nope"))]))
            .expect_err("unknown");
        assert_eq!(
            authn
                .authenticate(&peer, &websocket(&["v5.channel.k8s.io"]))
                .expect("ok"),
            None
        );

        // Not a WebSocket upgrade: the subprotocol header is not looked at.
        let mut plain = HeaderMap::new();
        plain.insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(&format!("a, {good}")).expect("h"),
        );
        assert_eq!(authn.authenticate(&peer, &plain).expect("ok"), None);
    }

    /// Every kubectl found: the versioned `kubectl.1.NN` binaries google-cloud-sdk ships (on PATH
    /// or in its bin directory), else plain `kubectl`.
    fn kubectl_binaries() -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.push(PathBuf::from("/usr/lib/google-cloud-sdk/bin"));
        let mut found: Vec<PathBuf> = (27..=33)
            .filter_map(|minor| {
                dirs.iter()
                    .map(|d| d.join(format!("kubectl.1.{minor}")))
                    .find(|p| p.is_file())
            })
            .collect();
        if found.is_empty()
            && std::process::Command::new("kubectl")
                .args(["version", "--client"])
                .output()
                .is_ok()
        {
            found.push(PathBuf::from("kubectl"));
        }
        found
    }

    /// Stock kubectl (the versions found) against our TLS serving, generated PKI and
    /// authenticator: client certificate via IP and DNS SANs, bearer token, bad token, and a
    /// certificate from a foreign CA (a 401 like upstream, not a TLS failure). Skipped (with a
    /// note) when no kubectl is installed.
    #[tokio::test]
    async fn kubectl_authenticates_with_generated_credentials() {
        let binaries = kubectl_binaries();
        if binaries.is_empty() {
            eprintln!("kubectl not installed; skipping the kubectl round trip");
            return;
        }
        use axum::extract::{Extension, Request};
        use axum::response::IntoResponse;

        let dir = tempfile::tempdir().expect("tempdir");
        let pki = pki::ensure_pki(&dir.path().join("pki"), &[]).expect("pki");
        let tokens = dir.path().join("tokens.csv");
        std::fs::write(&tokens, "s3cret,token-user,42,\"group-a,group-b\"\n").expect("write");
        let authn =
            Arc::new(Authenticator::new(Some(&pki.client_ca_path), Some(&tokens)).expect("authenticator"));
        let tls = rudder_component::tls::load_server_config(
            &pki.serving_cert_path,
            &pki.serving_key_path,
            Some(&pki.client_ca_path),
        )
        .expect("TLS config");

        let app = axum::Router::new().route(
            "/whoami",
            axum::routing::get(move |Extension(peer): Extension<PeerIdentity>, request: Request| {
                let authn = authn.clone();
                async move {
                    match authn.authenticate(&peer, request.headers()) {
                        Ok(Some(user)) => format!("{} {}", user.name, user.groups.join(",")).into_response(),
                        _ => (
                            http::StatusCode::UNAUTHORIZED,
                            [(http::header::CONTENT_TYPE, "application/json")],
                            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#,
                        )
                            .into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (trigger, shutdown) = rudder_component::shutdown::Shutdown::new();
        let server = tokio::spawn(rudder_component::tls::serve(listener, tls, app, shutdown));

        let cache = dir.path().join("cache");
        let kubectl = |binary: PathBuf, kubeconfig: PathBuf| {
            let cache = cache.clone();
            async move {
                let output = tokio::process::Command::new(&binary)
                    .arg("--kubeconfig")
                    .arg(&kubeconfig)
                    .arg("--cache-dir")
                    .arg(&cache)
                    .args(["get", "--raw", "/whoami"])
                    .output()
                    .await
                    .expect("run kubectl");
                (
                    output.status.success(),
                    String::from_utf8_lossy(&output.stdout).trim().to_string(),
                    String::from_utf8_lossy(&output.stderr).into_owned(),
                )
            }
        };

        let mut kubeconfigs = Vec::new();
        for host in ["127.0.0.1", "localhost"] {
            let path = dir.path().join(format!("admin-{host}.kubeconfig"));
            let url = format!("https://{host}:{port}");
            let (ca, cert, key) = (&pki.ca_cert_pem, &pki.admin_cert_pem, &pki.admin_key_pem);
            pki::write_kubeconfig(&path, "rudder", &url, ca, cert, key).expect("kubeconfig");
            kubeconfigs.push((path, Some("kubernetes-admin system:masters,system:authenticated")));
        }
        let url = format!("https://127.0.0.1:{port}");
        let path = dir.path().join("token.kubeconfig");
        pki::write_token_kubeconfig(&path, "rudder", &url, &pki.ca_cert_pem, "token-user", "s3cret")
            .expect("write");
        kubeconfigs.push((path, Some("token-user group-a,group-b,system:authenticated")));
        let path = dir.path().join("bad-token.kubeconfig");
        pki::write_token_kubeconfig(&path, "rudder", &url, &pki.ca_cert_pem, "x", "wrong").expect("write");
        kubeconfigs.push((path, None));
        let foreign = CertificateAuthority::generate("foreign").expect("CA");
        let (cert, key) = pki::sign_client_cert(&foreign, "mallory", &["system:masters"]).expect("sign");
        let path = dir.path().join("foreign-cert.kubeconfig");
        pki::write_kubeconfig(&path, "rudder", &url, &pki.ca_cert_pem, &cert, &key).expect("write");
        kubeconfigs.push((path, None));

        // The oldest and newest kubectl try everything; those between only the admin certificate.
        let last = binaries.len() - 1;
        for (i, binary) in binaries.into_iter().enumerate() {
            let cases = if i == 0 || i == last {
                &kubeconfigs[..]
            } else {
                &kubeconfigs[..1]
            };
            for (kubeconfig, expected) in cases {
                let (ok, out, err) = kubectl(binary.clone(), kubeconfig.clone()).await;
                let what = format!("{} with {}", binary.display(), kubeconfig.display());
                match expected {
                    Some(expected) => {
                        assert!(ok, "{what} failed: {err}");
                        assert_eq!(out, *expected, "{what}");
                    }
                    // kubectl prints "error: You must be logged in to the server (Unauthorized)".
                    None => assert!(!ok && err.contains("Unauthorized"), "{what}: {err}"),
                }
            }
        }

        trigger.trigger();
        server.await.expect("server task").expect("serve");
    }
}
