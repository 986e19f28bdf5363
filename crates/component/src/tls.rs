//! TLS for every Rudder server: loading PEM certificates and keys into a rustls `ServerConfig`,
//! client CAs, and reading an x509 identity (CN = user, each O = group) from a certificate.
//!
//! Client certificates follow upstream kube-apiserver exactly (`secure_serving.go`): with a client
//! CA the server *requests* a certificate (`tls.RequestClientCert`) but neither requires one nor
//! rejects the handshake when it does not chain to the CA. The handshake only proves that the client
//! holds the leaf's private key. Trust is decided per request by the authenticator
//! ([`ClientCa::verify`], upstream's x509 authenticator), so a bad or expired certificate gets the
//! same `401 Unauthorized` as upstream (and a valid bearer token on the same request still works)
//! instead of a TLS alert.
//!
//! Serving itself lives in `serve.rs` and is re-exported here: [`serve`], [`serve_plain`],
//! [`PeerIdentity`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};

pub use crate::any_server_cert::AnyServerCert;
pub use crate::serve::{DRAIN_TIMEOUT, HANDSHAKE_TIMEOUT, PeerIdentity, serve, serve_plain};

/// Loading TLS material failed. Every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {kind} file {path}: {source}")]
    Read {
        kind: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing PEM in {kind} file {path}: {reason}")]
    Pem {
        kind: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("no CERTIFICATE block in {kind} file {path}")]
    NoCertificate { kind: &'static str, path: PathBuf },
    #[error("no private key (PKCS#8, PKCS#1 RSA or SEC1 EC PEM block) in key file {path}")]
    NoPrivateKey { path: PathBuf },
    #[error("client CA file {path} is not usable: {reason}")]
    InvalidClientCa { path: PathBuf, reason: String },
    #[error("certificate file {cert} and key file {key} are not a usable pair: {source}")]
    KeyPair {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
}

/// A client certificate did not verify against the client CA.
#[derive(Debug, thiserror::Error)]
pub enum ClientCertError {
    #[error("no client certificate presented")]
    Missing,
    #[error("verifying certificate {subject} failed: {source}")]
    Invalid {
        subject: String,
        #[source]
        source: rustls::Error,
    },
}

/// The crypto provider every Rudder TLS endpoint uses (ring), chosen explicitly so that no
/// process-wide default has to be installed.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The CA bundle client certificates must chain to (`--client-ca-file`).
#[derive(Clone, Debug)]
pub struct ClientCa {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ClientCa {
    /// Load a PEM bundle of one or more CA certificates.
    pub fn from_pem_file(path: &Path) -> Result<Self, TlsError> {
        let bytes = read(path, "client CA")?;
        Self::from_pem_named(&bytes, path)
    }

    /// Parse a PEM bundle held in memory.
    pub fn from_pem(pem: &[u8]) -> Result<Self, TlsError> {
        Self::from_pem_named(pem, Path::new("<in memory>"))
    }

    fn from_pem_named(pem: &[u8], path: &Path) -> Result<Self, TlsError> {
        let certs = parse_certs(pem, path, "client CA")?;
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots.add(cert).map_err(|e| TlsError::InvalidClientCa {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crypto_provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::InvalidClientCa {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(Self { verifier })
    }

    /// Verify a client chain (leaf first, then the intermediates the client sent) against this CA
    /// now: signature chain, validity period and the clientAuth extended key usage, as upstream's
    /// x509 authenticator does.
    pub fn verify(&self, chain: &[CertificateDer<'_>]) -> Result<(), ClientCertError> {
        self.verify_at(chain, UnixTime::now())
    }

    /// [`ClientCa::verify`] at a given time.
    pub fn verify_at(&self, chain: &[CertificateDer<'_>], now: UnixTime) -> Result<(), ClientCertError> {
        let (leaf, intermediates) = chain.split_first().ok_or(ClientCertError::Missing)?;
        self.verifier
            .verify_client_cert(leaf, intermediates, now)
            .map(|_| ())
            .map_err(|source| ClientCertError::Invalid {
                subject: describe(leaf),
                source,
            })
    }
}

/// A short description of a certificate for error messages: subject and serial.
fn describe(cert: &CertificateDer<'_>) -> String {
    match x509_parser::parse_x509_certificate(cert) {
        Ok((_, parsed)) => format!(
            "subject={}, serial={}",
            parsed.subject(),
            parsed.raw_serial_as_string()
        ),
        Err(_) => "<unparseable certificate>".to_string(),
    }
}

/// Upstream's `tls.RequestClientCert`: ask for a certificate (hinting the CA subjects), accept
/// none, and accept any well-formed chain whose key the client proves it holds. Trust is checked
/// later, per request, with [`ClientCa::verify`].
#[derive(Debug)]
struct RequestClientCert {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Like Go's crypto/tls, reject certificates that do not even parse.
        for cert in std::iter::once(end_entity).chain(intermediates) {
            if x509_parser::parse_x509_certificate(cert).is_err() {
                return Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::BadEncoding,
                ));
            }
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Load `--tls-cert-file` (PEM chain, leaf first), `--tls-private-key-file` (PKCS#8, PKCS#1 RSA or
/// SEC1 EC) and optionally `--client-ca-file` into a server config offering ALPN `h2` and
/// `http/1.1`, TLS 1.2 and 1.3. With a client CA, client certificates are requested but optional.
pub fn load_server_config(
    cert_file: &Path,
    key_file: &Path,
    client_ca_file: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = parse_certs(&read(cert_file, "certificate")?, cert_file, "certificate")?;
    let key = parse_key(&read(key_file, "key")?, key_file)?;
    let client_ca = client_ca_file.map(ClientCa::from_pem_file).transpose()?;
    build_server_config(certs, key, client_ca.as_ref()).map_err(|source| TlsError::KeyPair {
        cert: cert_file.to_path_buf(),
        key: key_file.to_path_buf(),
        source,
    })
}

/// [`load_server_config`] from PEM held in memory (tests, in-process servers).
pub fn server_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_ca: Option<&ClientCa>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let (cert_path, key_path) = (Path::new("<in memory certificate>"), Path::new("<in memory key>"));
    let certs = parse_certs(cert_pem, cert_path, "certificate")?;
    let key = parse_key(key_pem, key_path)?;
    build_server_config(certs, key, client_ca).map_err(|source| TlsError::KeyPair {
        cert: cert_path.to_path_buf(),
        key: key_path.to_path_buf(),
        source,
    })
}

fn build_server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<&ClientCa>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let builder = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(Arc::new(RequestClientCert {
            inner: ca.verifier.clone(),
        })),
        None => builder.with_no_client_auth(),
    };
    // with_single_cert also checks that the key matches the leaf certificate.
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(path: &Path, kind: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        kind,
        path: path.to_path_buf(),
        source,
    })
}

fn parse_certs(
    pem: &[u8],
    path: &Path,
    kind: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            kind,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            kind,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn parse_key(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_path_buf(),
        },
        other => TlsError::Pem {
            kind: "key",
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    })
}

/// The user an x509 client certificate names, as upstream's `CommonNameUserConversion`: the
/// subject CN is the user name and each subject O a group. `None` if the certificate does not
/// parse or has no (or an empty) CN. With several CN attributes the last wins, as in Go's
/// `pkix.Name`.
pub fn x509_identity(cert: &CertificateDer<'_>) -> Option<(String, Vec<String>)> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    let subject = parsed.subject();
    let cn = subject
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .last()?
        .to_string();
    if cn.is_empty() {
        return None;
    }
    let groups = subject
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .map(str::to_string)
        .collect();
    Some((cn, groups))
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };

    use super::*;

    struct Ca {
        cert: rcgen::Certificate,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca(cn: &str) -> Ca {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("self-sign");
        Ca {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    fn client(ca: &Ca, cn: &str, orgs: &[&str], eku: ExtendedKeyUsagePurpose) -> CertificateDer<'static> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        for org in orgs {
            params.distinguished_name.push(DnType::OrganizationName, *org);
        }
        params.extended_key_usages = vec![eku];
        let key = KeyPair::generate().expect("key");
        params.signed_by(&key, &ca.issuer).expect("sign").der().clone()
    }

    #[test]
    fn identity_from_cn_and_organizations() {
        let ca = ca("test-ca");
        let cert = client(
            &ca,
            "alice",
            &["system:masters"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let (user, groups) = x509_identity(&cert).expect("identity");
        assert_eq!(user, "alice");
        assert_eq!(groups, vec!["system:masters"]);

        let no_cn = client(&ca, "", &["g"], ExtendedKeyUsagePurpose::ClientAuth);
        assert_eq!(x509_identity(&no_cn), None);
        assert_eq!(x509_identity(&CertificateDer::from(vec![1u8, 2, 3])), None);
    }

    /// rcgen keeps one attribute per type, so a subject with several O (and CN) attributes comes
    /// from the openssl command-line tool.
    #[test]
    fn identity_with_several_organizations_and_common_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, cert) = (dir.path().join("k.pem"), dir.path().join("c.pem"));
        let status = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args([
                "-subj",
                "/CN=first/O=system:masters/O=dev team/CN=bob/O=ops",
                "-days",
                "1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl command-line tool (Debian package openssl) is needed by this test");
        assert!(status.success());
        let pem = std::fs::read(&cert).expect("read");
        let der = CertificateDer::from_pem_slice(&pem).expect("PEM");
        let (user, groups) = x509_identity(&der).expect("identity");
        assert_eq!(user, "bob", "last CN wins, as in Go's pkix.Name");
        assert_eq!(groups, vec!["system:masters", "dev team", "ops"]);
    }

    #[test]
    fn client_ca_verifies_chain_expiry_and_usage() {
        let ca1 = ca("ca-one");
        let ca2 = ca("ca-two");
        let bundle = ca1.cert.pem();
        let client_ca = ClientCa::from_pem(bundle.as_bytes()).expect("client CA");

        let good = client(&ca1, "alice", &[], ExtendedKeyUsagePurpose::ClientAuth);
        client_ca
            .verify(std::slice::from_ref(&good))
            .expect("trusted chain verifies");

        let foreign = client(&ca2, "mallory", &[], ExtendedKeyUsagePurpose::ClientAuth);
        let err = client_ca.verify(&[foreign]).expect_err("foreign CA");
        assert!(err.to_string().contains("mallory"), "{err}");

        let server_only = client(&ca1, "bob", &[], ExtendedKeyUsagePurpose::ServerAuth);
        client_ca.verify(&[server_only]).expect_err("no clientAuth usage");

        let far_future = UnixTime::since_unix_epoch(std::time::Duration::from_secs(3000 * 366 * 86_400));
        client_ca.verify_at(&[good], far_future).expect_err("expired");

        assert!(matches!(client_ca.verify(&[]), Err(ClientCertError::Missing)));
    }

    #[test]
    fn client_ca_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.crt");
        let err = ClientCa::from_pem_file(&missing).expect_err("missing file");
        assert!(matches!(err, TlsError::Read { .. }));
        assert!(err.to_string().contains("missing.crt"), "{err}");

        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "no pem here\n").expect("write");
        let err = ClientCa::from_pem_file(&empty).expect_err("no certificate");
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        assert!(err.to_string().contains("empty.crt"));
    }
}
