//! The component HTTPS endpoint: health checks and metrics over a self-signed certificate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rudder_client::WorkQueue;
use rudder_client::serving::{ServingFlags, serve};
use rudder_component::Shutdown;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET `path` over HTTPS/1.1; (status line, body, the server's certificate).
async fn get(addr: SocketAddr, path: &str) -> (String, String, CertificateDer<'static>) {
    let provider = rudder_component::tls::crypto_provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(rudder_component::tls::AnyServerCert::new(provider))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first().cloned())
        .expect("server certificate")
        .into_owned();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string(), cert)
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    serving: ServingFlags,
}

fn flags(args: &[&str]) -> ServingFlags {
    Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
        .expect("parse")
        .serving
}

#[tokio::test]
async fn serves_health_and_metrics_over_https() {
    // A free port for --secure-port (0 would disable serving).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let port_flag = format!("--secure-port={port}");
    let (trigger, shutdown) = Shutdown::new();
    let addr = serve(&flags(&["--bind-address=127.0.0.1", &port_flag]), 10259, shutdown)
        .await
        .expect("serve")
        .expect("enabled");
    assert_eq!(addr.port(), port);

    for path in ["/healthz", "/livez", "/readyz"] {
        let (status, body, _) = get(addr, path).await;
        assert!(status.contains("200"), "{path}: {status}");
        assert_eq!(body.trim_end(), "ok", "{path}");
    }

    let queue = WorkQueue::new("serving_test_queue");
    queue.add(1u32);
    let (status, body, cert) = get(addr, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    assert!(
        body.contains("workqueue_adds_total{name=\"serving_test_queue\"} 1"),
        "metrics:\n{body}"
    );
    assert!(body.contains("workqueue_depth{name=\"serving_test_queue\"} 1"));

    // A self-signed localhost certificate made in memory.
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert).expect("x509");
    let subject = parsed.subject().to_string();
    assert!(subject.contains("CN=localhost@"), "{subject}");

    let (status, _, _) = get(addr, "/nope").await;
    assert!(status.contains("404"), "{status}");

    trigger.trigger();
    rudder_testkit::eventually("server stops", Duration::from_secs(10), || async move {
        tokio::net::TcpStream::connect(addr).await.is_err().then_some(())
    })
    .await;
}

#[tokio::test]
async fn secure_port_zero_disables_serving() {
    let (_trigger, shutdown) = Shutdown::new();
    let serving = flags(&["--secure-port=0"]);
    assert_eq!(serving.bind_address.to_string(), "0.0.0.0");
    assert_eq!(serve(&serving, 10259, shutdown).await.expect("serve"), None);
}
