//! The apiserver's connection to kubelets: where a node's kubelet listens (Node
//! `status.addresses` in the preferred order, `status.daemonEndpoints.kubeletEndpoint.port`)
//! and TLS to it with the `--kubelet-client-certificate` identity, verifying the kubelet's
//! certificate against `--kubelet-certificate-authority` when given (upstream does not verify
//! it otherwise).

use std::pin::Pin;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;
use rudder_api::status::ApiError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::options::KubeletClientConfig;

/// The kubelet's default port (upstream's `ports.KubeletPort`).
pub(crate) const DEFAULT_KUBELET_PORT: u16 = 10250;

/// A connection to a kubelet (TLS) or, for `http:` node proxy requests, plain TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}
pub(crate) type BoxedIo = Pin<Box<dyn Io>>;

/// Why the kubelet client could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KubeletClientError {
    #[error("reading {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: String,
        source: rustls::pki_types::pem::Error,
    },
    #[error("kubelet client TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// Where and how to reach kubelets.
pub(crate) struct KubeletClient {
    tls: tokio_rustls::TlsConnector,
    preferred_address_types: Vec<String>,
}

impl std::fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletClient")
            .field("preferred_address_types", &self.preferred_address_types)
            .finish()
    }
}

impl KubeletClient {
    /// `generated_identity` (certificate PEM, key PEM) is used when no client certificate
    /// files are configured.
    pub(crate) fn new(
        config: &KubeletClientConfig,
        generated_identity: Option<(String, String)>,
    ) -> Result<KubeletClient, KubeletClientError> {
        let provider = rudder_component::tls::crypto_provider();
        let builder =
            ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
        let builder = match &config.certificate_authority {
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in
                    CertificateDer::pem_file_iter(path).map_err(|source| read_err("CA", path, source))?
                {
                    roots.add(cert.map_err(|source| read_err("CA", path, source))?)?;
                }
                builder.with_root_certificates(roots)
            }
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(rudder_component::tls::AnyServerCert::new(provider)),
        };
        let identity = match &config.client_cert {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|source| read_err("certificate", cert, source))?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|source| read_err("key", key, source))?;
                Some((chain, key))
            }
            None => match generated_identity {
                Some((cert, key)) => {
                    let here = std::path::Path::new("<generated>");
                    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|source| read_err("certificate", here, source))?;
                    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                        .map_err(|source| read_err("key", here, source))?;
                    Some((chain, key))
                }
                None => None,
            },
        };
        let mut tls = match identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
            None => builder.with_no_client_auth(),
        };
        // Upgrades (SPDY, WebSocket) need HTTP/1.1.
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            preferred_address_types: config.preferred_address_types.clone(),
        })
    }

    /// The kubelet's host and port from its Node.
    pub(crate) fn location(&self, node: &Node) -> Result<(String, u16), ApiError> {
        node_location(node, &self.preferred_address_types)
    }

    /// Dials `host:port`, with TLS unless `plain`.
    pub(crate) async fn connect(&self, host: &str, port: u16, plain: bool) -> Result<BoxedIo, ApiError> {
        let dial_err = |e: std::io::Error| ApiError::internal(format!("error dialing backend: {e}"));
        let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(dial_err)?;
        let _ = tcp.set_nodelay(true);
        if plain {
            return Ok(Box::pin(tcp));
        }
        let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
            .map_err(|e| ApiError::internal(format!("error dialing backend: {e}")))?;
        let tls = self.tls.connect(name, tcp).await.map_err(dial_err)?;
        Ok(Box::pin(tls))
    }
}

fn read_err(
    what: &'static str,
    path: &std::path::Path,
    source: rustls::pki_types::pem::Error,
) -> KubeletClientError {
    KubeletClientError::Read {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// Upstream's `GetPreferredNodeAddress` and the kubelet endpoint port.
pub(crate) fn node_location(node: &Node, preferred: &[String]) -> Result<(String, u16), ApiError> {
    let status = node.status.as_ref();
    let addresses = status.and_then(|s| s.addresses.as_deref()).unwrap_or_default();
    let host = preferred
        .iter()
        .find_map(|t| addresses.iter().find(|a| &a.type_ == t && !a.address.is_empty()))
        .map(|a| a.address.clone())
        .ok_or_else(|| {
            let known: Vec<String> = addresses
                .iter()
                .map(|a| format!("{}: {}", a.type_, a.address))
                .collect();
            ApiError::internal(format!(
                "no preferred addresses found; known addresses: [{}]",
                known.join(" ")
            ))
        })?;
    let port = status
        .and_then(|s| s.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .and_then(|e| u16::try_from(e.port).ok())
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn client_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rudder_component::certs::CertificateAuthority::generate("ca").unwrap();
        let (cert, key) = rudder_component::certs::sign_client_cert(
            &ca,
            "kube-apiserver-kubelet-client",
            &["system:masters"],
        )
        .unwrap();
        let path = |n: &str| dir.path().join(n);
        std::fs::write(path("ca.crt"), ca.cert_pem()).unwrap();
        std::fs::write(path("client.crt"), &cert).unwrap();
        std::fs::write(path("client.key"), &key).unwrap();
        let config = KubeletClientConfig {
            client_cert: Some((path("client.crt"), path("client.key"))),
            certificate_authority: Some(path("ca.crt")),
            ..Default::default()
        };
        assert!(KubeletClient::new(&config, None).is_ok());
        let missing = KubeletClientConfig {
            certificate_authority: Some(path("nope.crt")),
            ..Default::default()
        };
        assert!(KubeletClient::new(&missing, None).is_err());
        // A key that does not match the certificate is refused up front.
        let (_, other_key) = rudder_component::certs::sign_client_cert(&ca, "x", &[] as &[&str]).unwrap();
        std::fs::write(path("other.key"), other_key).unwrap();
        let mismatched = KubeletClientConfig {
            client_cert: Some((path("client.crt"), path("other.key"))),
            ..Default::default()
        };
        assert!(KubeletClient::new(&mismatched, None).is_err());
        assert!(KubeletClient::new(&KubeletClientConfig::default(), Some((cert, key))).is_ok());
    }

    #[test]
    fn preferred_address_and_port() {
        let prefs: Vec<String> = KubeletClientConfig::default().preferred_address_types;
        let n = node(json!({"metadata": {"name": "n"}, "status": {
            "addresses": [{"type": "Hostname", "address": "n"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 11250}}}}));
        assert_eq!(
            node_location(&n, &prefs).unwrap(),
            ("10.0.0.5".to_string(), 11250)
        );
        let hostname_first = vec!["Hostname".to_string(), "InternalIP".to_string()];
        assert_eq!(node_location(&n, &hostname_first).unwrap().0, "n");
        // No daemon endpoint: the default port.
        let n = node(json!({"metadata": {"name": "n"}, "status": {
            "addresses": [{"type": "ExternalIP", "address": "1.2.3.4"}]}}));
        assert_eq!(node_location(&n, &prefs).unwrap(), ("1.2.3.4".to_string(), 10250));
        let n = node(json!({"metadata": {"name": "n"}, "status": {
            "addresses": [{"type": "InternalDNS", "address": "n.local"}]}}));
        let err = node_location(&n, &["InternalIP".to_string()]).unwrap_err();
        assert_eq!(err.code(), 500);
        assert!(
            err.message()
                .contains("no preferred addresses found; known addresses: [InternalDNS: n.local]")
        );
    }
}
