//! Kubelet TLS bootstrap (upstream `pkg/kubelet/certificate/bootstrap`, `LoadClientCert`): when
//! `--bootstrap-kubeconfig` is given and `--kubeconfig` holds no usable client certificate, the
//! kubelet makes a key in `--cert-dir`, posts a CertificateSigningRequest for
//! `system:node:<name>` in `system:nodes` (signer `kubernetes.io/kube-apiserver-client-kubelet`)
//! with the bootstrap credentials, waits until it is approved and signed, stores the pair as
//! `kubelet-client-<time>.pem` with the `kubelet-client-current.pem` link, and writes
//! `--kubeconfig` pointing at it. Then the kubelet starts as usual with that kubeconfig.

mod kubeconfig;
mod request;

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestSpec};
use kube::api::{Api, ObjectMeta, PostParams};
use tracing::info;

use crate::config::Config;

pub use kubeconfig::client_certificate_valid;
pub use request::{csr_name, request_pem};

/// The file the current client certificate and key live in (upstream's store).
pub const CURRENT_PEM: &str = "kubelet-client-current.pem";
/// The key kept while a request is pending (upstream's `kubelet-client.key.tmp`).
const PENDING_KEY: &str = "kubelet-client.key.tmp";
/// How long the kubelet waits for its certificate (upstream: an hour).
const WAIT: Duration = Duration::from_secs(3600);
/// How often it looks.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("--bootstrap-kubeconfig needs --kubeconfig: where to write the bootstrapped kubeconfig")]
    NoKubeconfig,
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the bootstrap kubeconfig {path}: {reason}")]
    BootstrapKubeconfig { path: PathBuf, reason: String },
    #[error("connecting with the bootstrap kubeconfig: {0}")]
    Client(String),
    #[error("generating the client key or request: {0}")]
    Key(String),
    #[error("posting the certificate signing request: {0}")]
    Api(#[from] kube::Error),
    #[error("certificate signing request {name} was {outcome}: {message}")]
    Refused {
        name: String,
        outcome: &'static str,
        message: String,
    },
    #[error("timed out waiting for certificate signing request {0} to be signed")]
    Timeout(String),
}

pub(crate) fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BootstrapError {
    let path = path.to_path_buf();
    move |source| BootstrapError::Io { what, path, source }
}

/// Upstream `LoadClientCert`: does nothing without `--bootstrap-kubeconfig` or while the
/// kubeconfig's client certificate is valid; otherwise obtains one and writes the kubeconfig.
pub async fn ensure_client_certificate(config: &Config) -> Result<(), BootstrapError> {
    let Some(bootstrap) = &config.bootstrap_kubeconfig else {
        return Ok(());
    };
    let kubeconfig_path = config.kubeconfig.as_ref().ok_or(BootstrapError::NoKubeconfig)?;
    let now = std::time::SystemTime::now();
    if client_certificate_valid(kubeconfig_path, now) {
        info!(kubeconfig = %kubeconfig_path.display(), "client certificate is valid; skipping TLS bootstrap");
        return Ok(());
    }
    let cert_dir = config.cert_dir();
    std::fs::create_dir_all(&cert_dir).map_err(io("create", &cert_dir))?;
    let key_pem = request::load_or_generate_key(&cert_dir.join(PENDING_KEY))?;
    let request = request_pem(&key_pem, &config.node_name)?;
    let name = csr_name(&key_pem, &config.node_name)?;
    info!(csr = %name, node = %config.node_name, "requesting a client certificate with the bootstrap credentials");
    let client = rudder_client::connect(Some(bootstrap))
        .await
        .map_err(|e| BootstrapError::Client(e.to_string()))?;
    let certificate = request_certificate(client, &name, &request).await?;
    let current = store_pair(&cert_dir, &certificate, &key_pem)?;
    let _ = std::fs::remove_file(cert_dir.join(PENDING_KEY));
    kubeconfig::write(bootstrap, kubeconfig_path, &current)?;
    info!(kubeconfig = %kubeconfig_path.display(), "TLS bootstrap done");
    Ok(())
}

/// Posts the request (or finds the one posted before with the same key) and waits for it.
async fn request_certificate(
    client: kube::Client,
    name: &str,
    request: &str,
) -> Result<String, BootstrapError> {
    let api: Api<CertificateSigningRequest> = Api::all(client);
    let csr = CertificateSigningRequest {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: CertificateSigningRequestSpec {
            request: ByteString(request.as_bytes().to_vec()),
            signer_name: "kubernetes.io/kube-apiserver-client-kubelet".into(),
            usages: Some(vec!["digital signature".into(), "client auth".into()]),
            ..CertificateSigningRequestSpec::default()
        },
        status: None,
    };
    match api.create(&PostParams::default(), &csr).await {
        Ok(_) => {}
        // A restart while the same request was pending: wait for that one.
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let current = api.get(name).await?;
        let status = current.status.unwrap_or_default();
        for c in status.conditions.unwrap_or_default() {
            let outcome = match c.type_.as_str() {
                "Denied" => "denied",
                "Failed" => "failed",
                _ => continue,
            };
            return Err(BootstrapError::Refused {
                name: name.into(),
                outcome,
                message: c.message.unwrap_or_default(),
            });
        }
        if let Some(cert) = status.certificate.filter(|c| !c.0.is_empty()) {
            return String::from_utf8(cert.0).map_err(|e| BootstrapError::Key(e.to_string()));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BootstrapError::Timeout(name.into()));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Writes a file only its owner can read (mode 0600).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BootstrapError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(io("write", path))
}

/// Upstream's file store: `kubelet-client-<time>.pem` (certificate then key, mode 0600) and
/// `kubelet-client-current.pem` linking to it, replaced atomically. Returns the link's path.
fn store_pair(cert_dir: &Path, certificate: &str, key_pem: &str) -> Result<PathBuf, BootstrapError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let file = cert_dir.join(format!("kubelet-client-{stamp}.pem"));
    write_private(
        &file,
        format!("{}\n{}", certificate.trim_end(), key_pem).as_bytes(),
    )?;
    let current = cert_dir.join(CURRENT_PEM);
    let updating = cert_dir.join(format!("{CURRENT_PEM}.updating"));
    let _ = std::fs::remove_file(&updating);
    std::os::unix::fs::symlink(&file, &updating).map_err(io("link", &updating))?;
    std::fs::rename(&updating, &current).map_err(io("link", &current))?;
    Ok(current)
}
