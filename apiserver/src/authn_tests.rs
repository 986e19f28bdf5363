//! Tests of the request authenticator.
use std::net::SocketAddr;

use base64::Engine;
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
        AuthnSetupError::ParseTokenFile { line, .. } | AuthnSetupError::TooFewColumns { line, .. } => *line,
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
    assert!(matches!(err, AuthnSetupError::ReadTokenFile { .. }) && err.to_string().contains("missing.csv"));
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
