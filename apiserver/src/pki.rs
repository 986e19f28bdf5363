//! Certificates for a cluster started without `--tls-cert-file`.
//!
//! Upstream kube-apiserver then writes a self-signed `apiserver.crt`/`apiserver.key` into
//! `--cert-dir`. A local cluster also needs a client CA and an admin credential, so we do what
//! kubeadm does on a smaller scale: a CA (`ca.crt`/`ca.key`, ECDSA P-256, CN `rudder-ca`, 10
//! years), a serving certificate signed by it (`apiserver.crt`/`apiserver.key`, 1 year, SANs for
//! every name clients use) and an admin client certificate (`admin.crt`/`admin.key`,
//! CN `kubernetes-admin`, O `system:masters`, 1 year). Existing files are reused; the serving and
//! admin certificates are re-issued when they no longer fit (SANs, CA, expiry within 30 days).
//!
//! Keys are written with mode 0600, atomically (temporary file, fsync, rename), key before
//! certificate.

use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use base64::Engine;
use rcgen::{KeyPair, PublicKeyData};
use rudder_component::certs::first_certificate as first_cert;
pub use rudder_component::certs::{CertError, CertificateAuthority, sign_client_cert, sign_serving_cert};
use rudder_component::tls::ClientCa;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{ServerName, UnixTime};
use time::{Duration, OffsetDateTime};

pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const SERVING_CERT: &str = "apiserver.crt";
pub const SERVING_KEY: &str = "apiserver.key";
pub const ADMIN_CERT: &str = "admin.crt";
pub const ADMIN_KEY: &str = "admin.key";

pub const CA_COMMON_NAME: &str = "rudder-ca";
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const ADMIN_GROUP: &str = "system:masters";

/// Re-issue leaf certificates that expire sooner than this.
const RENEW_BEFORE: Duration = Duration::days(30);

/// Names always in the serving certificate, besides the host name and the caller's `hosts`.
const DEFAULT_HOSTS: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "::1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("creating certificate directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{cert} exists but {key} does not: certificates cannot be issued without the CA key")]
    CaKeyMissing { cert: PathBuf, key: PathBuf },
    #[error("CA {cert}: {reason}")]
    InvalidCa { cert: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error(transparent)]
    Cert(#[from] CertError),
}

/// The certificates of a cluster, as found or made by [`ensure_pki`].
#[derive(Clone, Debug)]
pub struct Pki {
    pub cert_dir: PathBuf,
    pub ca_cert_path: PathBuf,
    pub ca_key_path: PathBuf,
    pub ca_cert_pem: String,
    /// `--client-ca-file`: the CA that signs client certificates (the cluster CA).
    pub client_ca_path: PathBuf,
    pub serving_cert_path: PathBuf,
    pub serving_key_path: PathBuf,
    /// The serving certificate's SANs.
    pub serving_hosts: Vec<String>,
    pub admin_cert_path: PathBuf,
    pub admin_key_path: PathBuf,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
}

impl Pki {
    /// The CA, to issue more certificates (kubelets, controllers, tests).
    pub fn ca(&self) -> Result<CertificateAuthority, PkiError> {
        Ok(CertificateAuthority::load(&self.ca_cert_path, &self.ca_key_path)?)
    }
}

/// The serving certificate's SANs: `hosts` plus localhost, 127.0.0.1, ::1, this machine's host
/// name and the `kubernetes.default.svc…` names. Unspecified addresses (0.0.0.0, ::) are dropped;
/// DNS names are lower-cased; duplicates removed, order kept.
pub fn serving_hosts(hosts: &[String]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    let hostname = host_name();
    let candidates = DEFAULT_HOSTS
        .iter()
        .map(|h| h.to_string())
        .chain(hostname)
        .chain(hosts.iter().cloned());
    for host in candidates {
        let host = match host.trim().parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => continue,
            Ok(ip) => ip.to_string(),
            Err(_) => host.trim().trim_end_matches('.').to_ascii_lowercase(),
        };
        if !host.is_empty() && !all.contains(&host) {
            all.push(host);
        }
    }
    all
}

pub(crate) fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_ascii_lowercase())
        .find(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
}

/// Find or make the cluster's certificates in `cert_dir`; see the module documentation.
pub fn ensure_pki(cert_dir: &Path, hosts: &[String]) -> Result<Pki, PkiError> {
    std::fs::create_dir_all(cert_dir).map_err(|source| PkiError::CreateDir {
        path: cert_dir.to_path_buf(),
        source,
    })?;
    let path = |name: &str| cert_dir.join(name);
    let (ca_cert_path, ca_key_path) = (path(CA_CERT), path(CA_KEY));
    let ca = match (ca_cert_path.exists(), ca_key_path.exists()) {
        (true, true) => CertificateAuthority::load(&ca_cert_path, &ca_key_path)?,
        (true, false) => {
            return Err(PkiError::CaKeyMissing {
                cert: ca_cert_path,
                key: ca_key_path,
            });
        }
        // Nothing, or a key left over from an interrupted generation: start afresh.
        (false, _) => {
            tracing::info!(dir = %cert_dir.display(), "generating a cluster CA");
            let ca = CertificateAuthority::generate(CA_COMMON_NAME)?;
            write_file(&ca_key_path, ca.key_pem().as_bytes(), 0o600)?;
            write_file(&ca_cert_path, ca.cert_pem().as_bytes(), 0o644)?;
            ca
        }
    };
    let client_ca = ClientCa::from_pem(ca.cert_pem().as_bytes()).map_err(|e| PkiError::InvalidCa {
        cert: ca_cert_path.clone(),
        reason: e.to_string(),
    })?;
    let now = OffsetDateTime::now_utc();
    if parse_not_after(ca.cert_pem(), &ca_cert_path)? <= now {
        return Err(PkiError::InvalidCa {
            cert: ca_cert_path,
            reason: "the CA certificate has expired".into(),
        });
    }

    let serving_hosts = serving_hosts(hosts);
    let (serving_cert_path, serving_key_path) = (path(SERVING_CERT), path(SERVING_KEY));
    match existing_pair(&serving_cert_path, &serving_key_path)? {
        Some((cert, key)) if serving_fits(&ca, &cert, &key, &serving_hosts, now) => {}
        existing => {
            if existing.is_some() {
                tracing::info!(path = %serving_cert_path.display(), "re-issuing the serving certificate");
            }
            let (cert, key) = sign_serving_cert(&ca, "kube-apiserver", &serving_hosts)?;
            write_file(&serving_key_path, key.as_bytes(), 0o600)?;
            write_file(&serving_cert_path, cert.as_bytes(), 0o644)?;
        }
    }

    let (admin_cert_path, admin_key_path) = (path(ADMIN_CERT), path(ADMIN_KEY));
    let (admin_cert_pem, admin_key_pem) = match existing_pair(&admin_cert_path, &admin_key_path)? {
        Some((cert, key)) if admin_fits(&client_ca, &cert, &key, now) => (cert, key),
        _ => {
            let (cert, key) = sign_client_cert(&ca, ADMIN_USER, &[ADMIN_GROUP])?;
            write_file(&admin_key_path, key.as_bytes(), 0o600)?;
            write_file(&admin_cert_path, cert.as_bytes(), 0o644)?;
            (cert, key)
        }
    };

    Ok(Pki {
        cert_dir: cert_dir.to_path_buf(),
        client_ca_path: ca_cert_path.clone(),
        ca_cert_path,
        ca_key_path,
        ca_cert_pem: ca.cert_pem().to_string(),
        serving_cert_path,
        serving_key_path,
        serving_hosts,
        admin_cert_path,
        admin_key_path,
        admin_cert_pem,
        admin_key_pem,
    })
}

/// Both files, or `None` if either is missing.
fn existing_pair(cert: &Path, key: &Path) -> Result<Option<(String, String)>, PkiError> {
    if !cert.exists() || !key.exists() {
        return Ok(None);
    }
    Ok(Some((read_string(cert)?, read_string(key)?)))
}

/// Whether an existing serving certificate can stay: key matches, chains to the CA, valid for
/// more than [`RENEW_BEFORE`], and its SANs cover every host.
fn serving_fits(
    ca: &CertificateAuthority,
    cert_pem: &str,
    key_pem: &str,
    hosts: &[String],
    now: OffsetDateTime,
) -> bool {
    let Some(der) = first_cert(cert_pem) else {
        return false;
    };
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    if !key_matches(key_pem, parsed.public_key().raw) || expires_soon(&parsed, now) {
        return false;
    }
    let Some(ca_der) = first_cert(ca.cert_pem()) else {
        return false;
    };
    let mut roots = rustls::RootCertStore::empty();
    if roots.add(ca_der).is_err() {
        return false;
    }
    let Ok(verifier) = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots.into(),
        rudder_component::tls::crypto_provider(),
    )
    .build() else {
        return false;
    };
    // Every host must be one the certificate is valid for, as a client would check it.
    hosts.iter().all(|host| {
        let Ok(name) = ServerName::try_from(host.as_str()) else {
            return false;
        };
        verifier
            .verify_server_cert(&der, &[], &name, &[], unix_time(now))
            .is_ok()
    })
}

fn admin_fits(client_ca: &ClientCa, cert_pem: &str, key_pem: &str, now: OffsetDateTime) -> bool {
    let Some(der) = first_cert(cert_pem) else {
        return false;
    };
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(&der) else {
        return false;
    };
    key_matches(key_pem, parsed.public_key().raw)
        && !expires_soon(&parsed, now)
        && client_ca
            .verify_at(std::slice::from_ref(&der), unix_time(now))
            .is_ok()
        && rudder_component::tls::x509_identity(&der)
            .is_some_and(|(user, groups)| user == ADMIN_USER && groups.iter().any(|g| g == ADMIN_GROUP))
}

fn key_matches(key_pem: &str, spki: &[u8]) -> bool {
    KeyPair::from_pem(key_pem).is_ok_and(|key| key.subject_public_key_info() == spki)
}

fn expires_soon(cert: &x509_parser::certificate::X509Certificate<'_>, now: OffsetDateTime) -> bool {
    cert.validity().not_after.to_datetime() - now < RENEW_BEFORE
}

fn parse_not_after(cert_pem: &str, path: &Path) -> Result<OffsetDateTime, PkiError> {
    let parse_err = |reason: String| PkiError::Parse {
        path: path.to_path_buf(),
        reason,
    };
    let der = first_cert(cert_pem).ok_or_else(|| parse_err("no CERTIFICATE PEM block".into()))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).map_err(|e| parse_err(e.to_string()))?;
    Ok(parsed.validity().not_after.to_datetime())
}

fn unix_time(t: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(StdDuration::from_secs(
        u64::try_from(t.unix_timestamp()).unwrap_or(0),
    ))
}

// --- kubeconfig ---------------------------------------------------------------------------------

/// How a kubeconfig user authenticates.
#[derive(Clone, Copy)]
pub enum KubeconfigCredentials<'a> {
    /// `client-certificate-data` / `client-key-data` (PEM).
    ClientCertificate { cert_pem: &'a str, key_pem: &'a str },
    /// `token`.
    Token(&'a str),
}

impl fmt::Debug for KubeconfigCredentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClientCertificate { .. } => "ClientCertificate(<redacted>)",
            Self::Token(_) => "Token(<redacted>)",
        })
    }
}

/// Write a kubeconfig using a client certificate (mode 0600). The user is named after the
/// certificate's CN; the context is `<user>@<cluster>`, as kubeadm names it.
pub fn write_kubeconfig(
    path: &Path,
    cluster_name: &str,
    server_url: &str,
    ca_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
) -> Result<(), PkiError> {
    let user = first_cert(client_cert_pem)
        .and_then(|der| rudder_component::tls::x509_identity(&der))
        .map(|(cn, _)| cn)
        .unwrap_or_else(|| "admin".to_string());
    let credentials = KubeconfigCredentials::ClientCertificate {
        cert_pem: client_cert_pem,
        key_pem: client_key_pem,
    };
    let text = render_kubeconfig(cluster_name, server_url, ca_pem, &user, credentials);
    write_file(path, text.as_bytes(), 0o600)
}

/// Write a kubeconfig using a bearer token (mode 0600).
pub fn write_token_kubeconfig(
    path: &Path,
    cluster_name: &str,
    server_url: &str,
    ca_pem: &str,
    user: &str,
    token: &str,
) -> Result<(), PkiError> {
    let text = render_kubeconfig(
        cluster_name,
        server_url,
        ca_pem,
        user,
        KubeconfigCredentials::Token(token),
    );
    write_file(path, text.as_bytes(), 0o600)
}

/// The kubeconfig YAML. Strings are written as JSON strings, which are valid YAML scalars.
pub fn render_kubeconfig(
    cluster_name: &str,
    server_url: &str,
    ca_pem: &str,
    user: &str,
    credentials: KubeconfigCredentials<'_>,
) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let context = format!("{user}@{cluster_name}");
    let user_fields = match credentials {
        KubeconfigCredentials::ClientCertificate { cert_pem, key_pem } => format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(cert_pem),
            b64(key_pem)
        ),
        KubeconfigCredentials::Token(token) => format!("    token: {}\n", q(token)),
    };
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster}\n\
         contexts:\n\
         - context:\n    cluster: {cluster}\n    user: {user}\n  name: {context}\n\
         current-context: {context}\n\
         preferences: {{}}\n\
         users:\n\
         - name: {user}\n  user:\n{user_fields}",
        ca = b64(ca_pem),
        server = q(server_url),
        cluster = q(cluster_name),
        user = q(user),
        context = q(&context),
    )
}

// --- files --------------------------------------------------------------------------------------

fn read_string(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Write atomically: a temporary file with `mode` in the same directory, fsync, rename.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let err = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let result = (|| {
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode; certificates should stay readable.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::*;

    fn hosts() -> Vec<String> {
        vec![
            "10.0.0.1".into(),
            "192.168.7.5".into(),
            "API.Example.com".into(),
            "0.0.0.0".into(),
        ]
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    fn read(path: &Path) -> Vec<u8> {
        std::fs::read(path).expect("read")
    }

    /// (DNS names, IP addresses) in a certificate's SAN extension.
    fn sans(cert_pem: &str) -> (Vec<String>, Vec<IpAddr>) {
        let der = first_cert(cert_pem).expect("PEM");
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("parse");
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        let ext = cert
            .subject_alternative_name()
            .expect("SAN ext")
            .expect("SAN present");
        for name in &ext.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(d) => dns.push(d.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                    4 => ips.push(IpAddr::from(<[u8; 4]>::try_from(*b).expect("v4"))),
                    16 => ips.push(IpAddr::from(<[u8; 16]>::try_from(*b).expect("v6"))),
                    _ => panic!("bad IP SAN"),
                },
                _ => {}
            }
        }
        (dns, ips)
    }

    #[test]
    fn generates_ca_serving_and_admin_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = ensure_pki(dir.path(), &hosts()).expect("ensure_pki");

        for key in [&pki.ca_key_path, &pki.serving_key_path, &pki.admin_key_path] {
            assert_eq!(mode(key), 0o600, "{}", key.display());
        }
        assert_eq!(pki.client_ca_path, pki.ca_cert_path);
        assert_eq!(read(&pki.ca_cert_path), pki.ca_cert_pem.as_bytes());

        // CA: CN rudder-ca, ECDSA P-256, about ten years.
        let ca_der = first_cert(&pki.ca_cert_pem).expect("CA PEM");
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).expect("parse CA");
        assert_eq!(
            rudder_component::tls::x509_identity(&ca_der).expect("CN").0,
            CA_COMMON_NAME
        );
        assert!(ca.is_ca());
        let years = (ca.validity().not_after.to_datetime() - OffsetDateTime::now_utc()).whole_days() / 365;
        assert_eq!(years, 9, "ten years minus the backdating hour");

        // Serving certificate: every required SAN, and valid for each of them per webpki.
        let serving = std::fs::read_to_string(&pki.serving_cert_path).expect("read");
        let (dns, ips) = sans(&serving);
        for name in [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
        ] {
            assert!(dns.contains(&name.to_string()), "{name} in {dns:?}");
        }
        assert!(dns.contains(&"kubernetes.default.svc.cluster.local".to_string()));
        assert!(dns.contains(&"api.example.com".to_string()), "lower-cased");
        if let Some(host) = host_name() {
            assert!(dns.contains(&host), "host name {host} in {dns:?}");
        }
        for ip in ["127.0.0.1", "::1", "10.0.0.1", "192.168.7.5"] {
            assert!(ips.contains(&ip.parse().expect("ip")), "{ip} in {ips:?}");
        }
        assert!(
            !ips.contains(&"0.0.0.0".parse().expect("ip")),
            "unspecified address dropped"
        );
        assert_eq!(
            CertificateDer::pem_slice_iter(serving.as_bytes()).count(),
            2,
            "leaf then CA"
        );
        let ca_auth = pki.ca().expect("CA");
        let key = std::fs::read_to_string(&pki.serving_key_path).expect("read");
        let now = OffsetDateTime::now_utc();
        assert!(serving_fits(&ca_auth, &serving, &key, &pki.serving_hosts, now));
        assert!(!serving_fits(
            &ca_auth,
            &serving,
            &key,
            &pki.serving_hosts,
            now + Duration::days(340)
        ));
        assert!(!serving_fits(
            &ca_auth,
            &serving,
            &key,
            &["elsewhere.example".to_string()],
            now
        ));

        // The serving pair loads into rustls, with the CA as client CA.
        rudder_component::tls::load_server_config(
            &pki.serving_cert_path,
            &pki.serving_key_path,
            Some(&pki.client_ca_path),
        )
        .expect("serving config");

        // Admin: CN kubernetes-admin, O system:masters, trusted by the client CA.
        let admin = first_cert(&pki.admin_cert_pem).expect("admin PEM");
        let (user, groups) = rudder_component::tls::x509_identity(&admin).expect("identity");
        assert_eq!(
            (user.as_str(), groups),
            (ADMIN_USER, vec![ADMIN_GROUP.to_string()])
        );
        let client_ca = ClientCa::from_pem_file(&pki.client_ca_path).expect("client CA");
        client_ca.verify(&[admin]).expect("admin cert verifies");
        assert_eq!(read(&pki.admin_key_path), pki.admin_key_pem.as_bytes());
    }

    #[test]
    fn reuses_files_and_reissues_only_what_no_longer_fits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ensure_pki(dir.path(), &hosts()).expect("first");
        let snapshot = |pki: &Pki| {
            [
                &pki.ca_cert_path,
                &pki.ca_key_path,
                &pki.serving_cert_path,
                &pki.serving_key_path,
            ]
            .iter()
            .chain([&pki.admin_cert_path, &pki.admin_key_path].iter())
            .map(|p| read(p))
            .collect::<Vec<_>>()
        };
        let before = snapshot(&first);

        let second = ensure_pki(dir.path(), &hosts()).expect("second");
        assert_eq!(snapshot(&second), before, "nothing regenerated");
        assert_eq!(second.admin_cert_pem, first.admin_cert_pem);

        // A new host: only the serving certificate is re-issued.
        let mut more = hosts();
        more.push("10.96.0.1".into());
        let third = ensure_pki(dir.path(), &more).expect("third");
        let after = snapshot(&third);
        assert_eq!(after[0..2], before[0..2], "CA kept");
        assert_ne!(after[2], before[2], "serving certificate re-issued");
        assert_eq!(after[4..6], before[4..6], "admin kept");
        let serving = std::fs::read_to_string(&third.serving_cert_path).expect("read");
        assert!(sans(&serving).1.contains(&"10.96.0.1".parse().expect("ip")));

        // A broken admin key is replaced.
        std::fs::write(&third.admin_key_path, "garbage").expect("write");
        let fourth = ensure_pki(dir.path(), &more).expect("fourth");
        assert_ne!(fourth.admin_key_pem, third.admin_key_pem);
        assert_eq!(read(&fourth.admin_key_path), fourth.admin_key_pem.as_bytes());
    }

    #[test]
    fn ca_certificate_without_its_key_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = ensure_pki(dir.path(), &[]).expect("first");
        std::fs::remove_file(&pki.ca_key_path).expect("remove");
        let err = ensure_pki(dir.path(), &[]).expect_err("no CA key");
        assert!(matches!(err, PkiError::CaKeyMissing { .. }), "{err}");

        // A key without its certificate (interrupted generation) starts afresh.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(CA_KEY), "left over").expect("write");
        ensure_pki(dir.path(), &[]).expect("fresh CA");

        // A CA key that does not match the certificate is refused, not overwritten.
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = ensure_pki(dir.path(), &[]).expect("first");
        let other = CertificateAuthority::generate("other").expect("other CA");
        std::fs::write(&pki.ca_key_path, other.key_pem()).expect("write");
        let err = ensure_pki(dir.path(), &[]).expect_err("mismatched CA key");
        assert!(
            matches!(err, PkiError::Cert(CertError::InvalidCa { .. })),
            "{err}"
        );
    }

    #[test]
    fn serving_hosts_adds_defaults_and_dedups() {
        let all = serving_hosts(&[
            "127.0.0.1".into(),
            "::".into(),
            "Node-1.".into(),
            "10.0.0.1".into(),
        ]);
        assert_eq!(&all[..DEFAULT_HOSTS.len()], DEFAULT_HOSTS);
        assert_eq!(all.iter().filter(|h| *h == "127.0.0.1").count(), 1);
        assert!(!all.contains(&"::".to_string()));
        assert!(all.contains(&"node-1".to_string()));
        assert!(all.contains(&"10.0.0.1".to_string()));
    }

    #[test]
    fn kubeconfig_with_client_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = ensure_pki(dir.path(), &[]).expect("pki");
        let path = dir.path().join("admin.kubeconfig");
        write_kubeconfig(
            &path,
            "rudder",
            "https://127.0.0.1:6443",
            &pki.ca_cert_pem,
            &pki.admin_cert_pem,
            &pki.admin_key_pem,
        )
        .expect("write");
        assert_eq!(mode(&path), 0o600);
        let text = std::fs::read_to_string(&path).expect("read");

        // Every line is `key: value`, `- key: value`, `key:` or a YAML list item, two-space indented.
        let mut values = std::collections::BTreeMap::new();
        for line in text.lines() {
            let trimmed = line.trim_start().trim_start_matches("- ");
            let (key, value) = trimmed
                .split_once(':')
                .unwrap_or_else(|| panic!("not key: value: {line:?}"));
            assert_eq!(
                (line.len() - line.trim_start().len()) % 2,
                0,
                "indent of {line:?}"
            );
            values
                .entry(key.to_string())
                .or_insert_with(Vec::new)
                .push(value.trim().to_string());
        }
        let one = |k: &str| values.get(k).map(|v| v[0].clone()).unwrap_or_default();
        let decode = |k: &str| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(one(k))
                    .expect("base64"),
            )
            .expect("utf-8")
        };
        assert_eq!(one("apiVersion"), "v1");
        assert_eq!(one("kind"), "Config");
        assert_eq!(one("server"), "\"https://127.0.0.1:6443\"");
        assert_eq!(one("current-context"), "\"kubernetes-admin@rudder\"");
        assert_eq!(
            values["name"],
            vec![
                "\"rudder\"",
                "\"kubernetes-admin@rudder\"",
                "\"kubernetes-admin\""
            ]
        );
        assert_eq!(decode("certificate-authority-data"), pki.ca_cert_pem);
        assert_eq!(decode("client-certificate-data"), pki.admin_cert_pem);
        assert_eq!(decode("client-key-data"), pki.admin_key_pem);

        // Tokens and odd names are quoted.
        let token_path = dir.path().join("token.kubeconfig");
        write_token_kubeconfig(
            &token_path,
            "a \"b\": c",
            "https://[::1]:6443",
            &pki.ca_cert_pem,
            "bob",
            "t0k:en",
        )
        .expect("write");
        let text = std::fs::read_to_string(&token_path).expect("read");
        assert!(text.contains("    token: \"t0k:en\"\n"), "{text}");
        assert!(text.contains("  name: \"a \\\"b\\\": c\"\n"), "{text}");

        // When kubectl is installed, it must read the file the same way.
        if let Ok(output) = std::process::Command::new("kubectl")
            .args(["config", "view", "--raw", "--kubeconfig"])
            .arg(&path)
            .args([
                "-o",
                "jsonpath={.clusters[0].cluster.server} {.users[0].name} {.current-context}",
            ])
            .output()
        {
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                "https://127.0.0.1:6443 kubernetes-admin kubernetes-admin@rudder"
            );
        }
    }
}
