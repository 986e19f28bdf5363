//! Real TLS round trips against `tls::serve` / `tls::serve_plain` on 127.0.0.1:0.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Extension};
use axum::routing::get;
use axum::{Router, body::Body};
use http::{Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_component::tls::{self, ClientCa, PeerIdentity, TlsError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(cn: &str) -> Ca {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().expect("CA key");
    let pem = params.self_signed(&key).expect("self-sign").pem();
    Ca {
        pem,
        issuer: Issuer::new(params, key),
    }
}

/// (certificate PEM, PKCS#8 key PEM)
fn leaf(ca: &Ca, cn: &str, orgs: &[&str], server: bool, key: Option<KeyPair>) -> (String, String) {
    let sans = if server {
        vec!["localhost".to_string(), "127.0.0.1".to_string()]
    } else {
        vec![]
    };
    let mut params = CertificateParams::new(sans).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    for org in orgs {
        params.distinguished_name.push(DnType::OrganizationName, *org);
    }
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let key = key.unwrap_or_else(|| KeyPair::generate().expect("key"));
    let cert = params.signed_by(&key, &ca.issuer).expect("sign");
    (cert.pem(), key.serialize_pem())
}

struct Fixture {
    _dir: tempfile::TempDir,
    ca: Ca,
    cert_file: std::path::PathBuf,
    key_file: std::path::PathBuf,
    ca_file: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = new_ca("test-ca");
    let (cert, key) = leaf(&ca, "kube-apiserver", &[], true, None);
    let cert_file = dir.path().join("server.crt");
    let key_file = dir.path().join("server.key");
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&cert_file, cert).expect("write");
    std::fs::write(&key_file, key).expect("write");
    std::fs::write(&ca_file, &ca.pem).expect("write");
    Fixture {
        _dir: dir,
        ca,
        cert_file,
        key_file,
        ca_file,
    }
}

/// `GET /whoami` answers "<http version> <user or anonymous/invalid> <groups> <remote ip>".
fn app(client_ca: Option<ClientCa>) -> Router {
    Router::new()
        .route(
            "/whoami",
            get(
                move |Extension(peer): Extension<PeerIdentity>,
                      ConnectInfo(addr): ConnectInfo<SocketAddr>,
                      request: Request<Body>| {
                    let client_ca = client_ca.clone();
                    async move {
                        assert_eq!(addr, peer.remote_addr);
                        let who = match client_ca.as_ref().map(|ca| peer.verified_user(ca)) {
                            None | Some(Ok(None)) => "anonymous -".to_string(),
                            Some(Ok(Some((user, groups)))) => format!("{user} {}", groups.join(",")),
                            Some(Err(_)) => "invalid -".to_string(),
                        };
                        format!("{:?} {who} {}", request.version(), addr.ip())
                    }
                },
            ),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow done"
            }),
        )
        .route("/upgrade", get(upgrade_echo))
}

/// A minimal HTTP/1.1 upgrade: 101, then echo bytes back (what exec/port-forward rely on).
async fn upgrade_echo(request: Request<Body>) -> Response<Body> {
    let on_upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 64];
            if let Ok(n) = io.read(&mut buf).await {
                let _ = io.write_all(&buf[..n]).await;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::CONNECTION, "upgrade")
        .header(http::header::UPGRADE, "echo")
        .body(Body::empty())
        .expect("response")
}

async fn start_tls(
    f: &Fixture,
    with_client_ca: bool,
) -> (SocketAddr, ShutdownTrigger, JoinHandle<anyhow::Result<()>>) {
    let ca_file = with_client_ca.then_some(f.ca_file.as_path());
    let config = tls::load_server_config(&f.cert_file, &f.key_file, ca_file).expect("server config");
    let client_ca = with_client_ca.then(|| ClientCa::from_pem_file(&f.ca_file).expect("client CA"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (trigger, shutdown) = Shutdown::new();
    let server = tokio::spawn(tls::serve(listener, config, app(client_ca), shutdown));
    (addr, trigger, server)
}

async fn connect(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<(String, String)>,
    alpn: &[&[u8]],
) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("add root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let mut config = match client {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("client chain");
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("client key");
            builder.with_client_auth_cert(chain, key).expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake")
}

/// One GET over an established TLS stream, HTTP/2 if ALPN chose h2. Returns (version, body).
async fn get_over(stream: TlsStream<TcpStream>, path: &str) -> (Version, String) {
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    let response = if h2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("h2 handshake");
        tokio::spawn(conn);
        let request = Request::get(format!("https://localhost{path}"))
            .body(Empty::<Bytes>::new())
            .expect("req");
        sender.send_request(request).await.expect("h2 request")
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("h1");
        tokio::spawn(conn);
        let request = Request::get(path)
            .header(http::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .expect("req");
        sender.send_request(request).await.expect("h1 request")
    };
    let version = response.version();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (version, String::from_utf8(body.to_vec()).expect("utf-8"))
}

async fn stop(trigger: ShutdownTrigger, server: JoinHandle<anyhow::Result<()>>) {
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns after shutdown")
        .expect("serve task")
        .expect("serve result");
}

#[tokio::test]
async fn client_certificate_over_http2() {
    let f = fixture();
    let (addr, trigger, server) = start_tls(&f, true).await;
    let alice = leaf(&f.ca, "alice", &["system:masters"], false, None);
    let stream = connect(addr, &f.ca.pem, Some(alice), &[b"h2", b"http/1.1"]).await;
    assert_eq!(
        stream.get_ref().1.alpn_protocol(),
        Some(b"h2".as_slice()),
        "h2 negotiated via ALPN"
    );
    let (version, body) = get_over(stream, "/whoami").await;
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(body, "HTTP/2.0 alice system:masters 127.0.0.1");
    stop(trigger, server).await;
}

#[tokio::test]
async fn no_client_certificate_over_http1() {
    let f = fixture();
    let (addr, trigger, server) = start_tls(&f, true).await;
    let stream = connect(addr, &f.ca.pem, None, &[b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(b"http/1.1".as_slice()));
    let (version, body) = get_over(stream, "/whoami").await;
    assert_eq!(version, Version::HTTP_11);
    assert_eq!(body, "HTTP/1.1 anonymous - 127.0.0.1");
    stop(trigger, server).await;
}

#[tokio::test]
async fn untrusted_client_certificate_connects_but_does_not_verify() {
    // Upstream requests client certificates without verifying them in the handshake; the
    // authenticator rejects them per request (401), so the handshake must succeed here.
    let f = fixture();
    let (addr, trigger, server) = start_tls(&f, true).await;
    let other = new_ca("other-ca");
    let mallory = leaf(&other, "mallory", &["system:masters"], false, None);
    let stream = connect(addr, &f.ca.pem, Some(mallory), &[b"h2"]).await;
    let (_, body) = get_over(stream, "/whoami").await;
    assert_eq!(body, "HTTP/2.0 invalid - 127.0.0.1");
    stop(trigger, server).await;
}

#[tokio::test]
async fn without_client_ca_no_certificate_is_requested() {
    let f = fixture();
    let (addr, trigger, server) = start_tls(&f, false).await;
    let alice = leaf(&f.ca, "alice", &[], false, None);
    let stream = connect(addr, &f.ca.pem, Some(alice), &[b"h2"]).await;
    assert!(
        stream.get_ref().1.peer_certificates().is_some(),
        "server certificate seen"
    );
    let (_, body) = get_over(stream, "/whoami").await;
    assert_eq!(body, "HTTP/2.0 anonymous - 127.0.0.1");
    stop(trigger, server).await;
}

#[tokio::test]
async fn http1_upgrade_hands_over_the_connection() {
    let f = fixture();
    let (addr, trigger, server) = start_tls(&f, true).await;
    // client-go offers only http/1.1 for SPDY/WebSocket upgrades; so do we.
    let stream = connect(addr, &f.ca.pem, None, &[b"http/1.1"]).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("h1");
    tokio::spawn(conn.with_upgrades());
    let request = Request::get("/upgrade")
        .header(http::header::HOST, "localhost")
        .header(http::header::CONNECTION, "upgrade")
        .header(http::header::UPGRADE, "echo")
        .body(Empty::<Bytes>::new())
        .expect("req");
    let response = sender.send_request(request).await.expect("upgrade request");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let upgraded = hyper::upgrade::on(response).await.expect("upgraded");
    let mut io = TokioIo::new(upgraded);
    io.write_all(b"ping").await.expect("write");
    let mut buf = [0u8; 4];
    io.read_exact(&mut buf).await.expect("read echo");
    assert_eq!(&buf, b"ping");
    stop(trigger, server).await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_and_returns() {
    let f = fixture();
    let (addr, trigger, server) = start_tls(&f, true).await;
    // An idle HTTP/2 connection and an in-flight slow request.
    let idle = connect(addr, &f.ca.pem, None, &[b"h2"]).await;
    let (_idle_sender, idle_conn) =
        hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(TokioExecutor::new(), TokioIo::new(idle))
            .await
            .expect("h2");
    let idle_task = tokio::spawn(idle_conn);

    let slow_stream = connect(addr, &f.ca.pem, None, &[b"http/1.1"]).await;
    let slow = tokio::spawn(get_over(slow_stream, "/slow"));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    trigger.trigger();
    let (_, body) = slow.await.expect("slow request task");
    assert_eq!(body, "slow done", "in-flight request completes during shutdown");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns")
        .expect("task")
        .expect("result");
    assert!(
        started.elapsed() < tls::DRAIN_TIMEOUT,
        "idle connections close at once (GOAWAY)"
    );
    // The idle HTTP/2 connection was told to go away and ends.
    tokio::time::timeout(Duration::from_secs(5), idle_task)
        .await
        .expect("idle connection closed")
        .ok();
    // No new connections after shutdown.
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn plain_http_serving() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (trigger, shutdown) = Shutdown::new();
    let server = tokio::spawn(tls::serve_plain(listener, app(None), shutdown));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("h1");
    tokio::spawn(conn);
    let request = Request::get("/whoami")
        .header(http::header::HOST, "localhost")
        .body(Empty::<Bytes>::new())
        .expect("req");
    let response = sender.send_request(request).await.expect("request");
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], b"HTTP/1.1 anonymous - 127.0.0.1");

    // HTTP/2 with prior knowledge works too (the auto builder sniffs the preface).
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
        .await
        .expect("h2c");
    tokio::spawn(conn);
    let request = Request::get("http://localhost/whoami")
        .body(Empty::<Bytes>::new())
        .expect("req");
    let response = sender.send_request(request).await.expect("h2c request");
    let body = response.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], b"HTTP/2.0 anonymous - 127.0.0.1");
    stop(trigger, server).await;
}

fn openssl(args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl command-line tool (Debian package openssl) is needed by this test");
    assert!(status.success(), "openssl {args:?}");
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn loads_pkcs8_pkcs1_and_sec1_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = new_ca("test-ca");

    // EC key: PKCS#8 from rcgen, SEC1 ("EC PRIVATE KEY") converted by openssl.
    let (cert, key) = leaf(&ca, "server", &[], true, None);
    let cert_file = dir.path().join("ec.crt");
    let pkcs8 = dir.path().join("ec-pkcs8.key");
    let sec1 = dir.path().join("ec-sec1.key");
    std::fs::write(&cert_file, cert).expect("write");
    std::fs::write(&pkcs8, key).expect("write");
    openssl(&["ec", "-in", path_str(&pkcs8), "-out", path_str(&sec1)]);
    assert!(
        std::fs::read_to_string(&sec1)
            .expect("read")
            .contains("BEGIN EC PRIVATE KEY")
    );
    tls::load_server_config(&cert_file, &pkcs8, None).expect("PKCS#8 EC key");
    tls::load_server_config(&cert_file, &sec1, None).expect("SEC1 EC key");

    // RSA key: generated by openssl, PKCS#1 ("RSA PRIVATE KEY") for the server.
    let rsa_pkcs8 = dir.path().join("rsa-pkcs8.key");
    let rsa_pkcs1 = dir.path().join("rsa-pkcs1.key");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        path_str(&rsa_pkcs8),
    ]);
    openssl(&[
        "rsa",
        "-in",
        path_str(&rsa_pkcs8),
        "-traditional",
        "-out",
        path_str(&rsa_pkcs1),
    ]);
    assert!(
        std::fs::read_to_string(&rsa_pkcs1)
            .expect("read")
            .contains("BEGIN RSA PRIVATE KEY")
    );
    let rsa_key = KeyPair::from_pem(&std::fs::read_to_string(&rsa_pkcs8).expect("read")).expect("RSA key");
    let (rsa_cert, _) = leaf(&ca, "server", &[], true, Some(rsa_key));
    let rsa_cert_file = dir.path().join("rsa.crt");
    std::fs::write(&rsa_cert_file, rsa_cert).expect("write");
    tls::load_server_config(&rsa_cert_file, &rsa_pkcs1, None).expect("PKCS#1 RSA key");

    // A key that does not match the certificate.
    let err = tls::load_server_config(&rsa_cert_file, &pkcs8, None).expect_err("mismatch");
    assert!(matches!(err, TlsError::KeyPair { .. }), "{err}");
    assert!(err.to_string().contains("rsa.crt"), "{err}");
}

#[test]
fn errors_name_the_file() {
    let f = fixture();
    let missing = f.cert_file.with_file_name("nope.crt");
    let err = tls::load_server_config(&missing, &f.key_file, None).expect_err("missing cert");
    assert!(
        matches!(err, TlsError::Read { .. }) && err.to_string().contains("nope.crt"),
        "{err}"
    );

    // Swapped files: the key file holds no CERTIFICATE, the certificate file no key.
    let err = tls::load_server_config(&f.key_file, &f.key_file, None).expect_err("no cert");
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
    let err = tls::load_server_config(&f.cert_file, &f.cert_file, None).expect_err("no key");
    assert!(
        matches!(err, TlsError::NoPrivateKey { .. }) && err.to_string().contains("server.crt"),
        "{err}"
    );

    let err = tls::load_server_config(&f.cert_file, &f.key_file, Some(&f.key_file)).expect_err("bad CA");
    assert!(
        matches!(err, TlsError::NoCertificate { .. }) && err.to_string().contains("client CA"),
        "{err}"
    );
}
