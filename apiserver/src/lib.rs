//! kube-apiserver: Rudder's Kubernetes API server.
//!
//! `run(config, shutdown)` opens the store (embedded or etcd), builds the registry of resources
//! with their watch caches, makes sure the bootstrap namespaces exist, and serves HTTPS until
//! shutdown. [`start`] does the same but returns once serving, for tests and embedding.

pub mod admission;
mod audit;
mod auth_http;
pub mod authn;
mod authn_bootstrap;
mod authn_reviews;
mod authn_sa;
mod authn_sa_keys;
mod authn_token_request;
pub mod authz;
mod bootstrap;
mod controlplane;
mod crd;
mod encryption;
mod errors;
mod http;
mod metrics;
mod openapi;
pub mod options;
pub mod pki;
mod registry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use rudder_component::shutdown::Shutdown;
use rudder_store::Store;
use rudder_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rudder_store::etcd::{EtcdOptions, EtcdStore};

use crate::options::{Config, KubeletClientConfig, StoreConfig, TlsSource};

pub use crate::audit::Rotation as AuditLogRotation;

/// The user the generated kubelet client certificate names (kubeadm's).
const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// The address it listens on (useful with port 0).
    pub local_addr: SocketAddr,
    /// The admin kubeconfig written next to generated certificates, if any.
    pub admin_kubeconfig: Option<std::path::PathBuf>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The control-plane loop (leases, `kubernetes` endpoints): it withdraws this server's
    /// lease on shutdown, so it is awaited (briefly) after the server stops.
    controlplane: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Waits until the server has shut down.
    pub async fn wait(self) -> anyhow::Result<()> {
        let served = self.task.await.context("server task panicked")?;
        if tokio::time::timeout(std::time::Duration::from_secs(5), self.controlplane)
            .await
            .is_err()
        {
            tracing::warn!("the master lease was not withdrawn within 5s");
        }
        served
    }
}

/// Serves until `shutdown` fires.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    start(config, shutdown).await?.wait().await
}

/// [`run`] with the kubelet client flags (`--kubelet-client-certificate` and friends).
pub async fn run_with(
    config: Config,
    kubelet: KubeletClientConfig,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    start_with(config, kubelet, shutdown).await?.wait().await
}

/// Opens storage, prepares TLS and starts serving; returns once the listener is bound.
pub async fn start(config: Config, shutdown: Shutdown) -> anyhow::Result<Server> {
    start_with(config, KubeletClientConfig::default(), shutdown).await
}

/// [`start`] with the kubelet client settings.
pub async fn start_with(
    config: Config,
    kubelet: KubeletClientConfig,
    shutdown: Shutdown,
) -> anyhow::Result<Server> {
    let mut store = open_store(&config.store).await?;
    if let Some(path) = &config.encryption_provider_config {
        store = encryption::wrap(store, path).context("loading --encryption-provider-config")?;
    }
    let settings = registry::strategies::Settings {
        service_range: config.service_range,
        node_port_range: config.node_port_range,
    };
    let mut registry = registry::Registry::new(store.clone(), settings)
        .await
        .context("starting watch caches")?;
    registry.admission = admission::Chain::new(&config.auth.admission);
    tracing::info!(plugins = ?config.auth.admission.enabled_names(), "admission chain");

    let listener = tokio::net::TcpListener::bind((config.bind_address, config.secure_port))
        .await
        .with_context(|| format!("binding {}:{}", config.bind_address, config.secure_port))?;
    let local_addr = listener.local_addr()?;
    let advertise_ip = config
        .advertise_address
        .unwrap_or(if config.bind_address.is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            config.bind_address
        });

    let (tls, client_ca, admin_kubeconfig, kubelet_identity) = match &config.tls {
        TlsSource::Files { cert, key } => {
            let tls = rudder_component::tls::load_server_config(cert, key, config.client_ca_file.as_deref())?;
            (tls, config.client_ca_file.clone(), None, None)
        }
        TlsSource::Generated => {
            let hosts = serving_hosts(&config, advertise_ip);
            let pki = pki::ensure_pki(&config.cert_dir, &hosts).context("preparing certificates")?;
            let client_ca = config
                .client_ca_file
                .clone()
                .unwrap_or_else(|| pki.ca_cert_path.clone());
            let tls = rudder_component::tls::load_server_config(
                &pki.serving_cert_path,
                &pki.serving_key_path,
                Some(&client_ca),
            )?;
            let kubeconfig = config.cert_dir.join("admin.kubeconfig");
            let server_url = format!("https://{}", SocketAddr::new(advertise_ip, local_addr.port()));
            pki::write_kubeconfig(
                &kubeconfig,
                "rudder",
                &server_url,
                &pki.ca_cert_pem,
                &pki.admin_cert_pem,
                &pki.admin_key_pem,
            )
            .context("writing admin.kubeconfig")?;
            // As kubeadm's apiserver-kubelet-client: kubelets trusting the cluster CA accept it.
            let kubelet_identity = match &kubelet.client_cert {
                Some(_) => None,
                None => Some(
                    pki::sign_client_cert(&pki.ca()?, KUBELET_CLIENT_USER, &[pki::ADMIN_GROUP])
                        .context("issuing the kubelet client certificate")?,
                ),
            };
            (tls, Some(client_ca), Some(kubeconfig), kubelet_identity)
        }
    };
    let kubelet_client =
        http::KubeletClient::new(&kubelet, kubelet_identity).context("setting up the kubelet client")?;
    let registry = Arc::new(registry);
    let sa_tokens = service_account_tokens(&config, &registry).context("loading service-account keys")?;
    let authenticator = authn::Authenticator::new(client_ca.as_deref(), config.token_auth_file.as_deref())
        .context("loading authentication")?
        .with_token_authenticator(sa_tokens.clone())
        .with_bootstrap_tokens(config.auth.enable_bootstrap_token_auth, &registry);
    let authorizer = authz::Authorizer::new(&config.auth.authorization_modes, &registry);
    let metrics = metrics::Metrics::new(prometheus::Registry::new())?;
    let auditor = audit::Auditor::from_flags(
        config.auth.audit_log_path.as_deref(),
        config.auth.audit_policy_file.as_deref(),
        config.auth.audit_log_rotation,
    )
    .map_err(anyhow::Error::msg)
    .context("setting up the audit log")?;
    let state = Arc::new(http::AppState {
        registry,
        authenticator,
        authorizer,
        sa_tokens: Some(sa_tokens),
        anonymous_auth: config.auth.anonymous_auth,
        metrics,
        shutdown: shutdown.clone(),
        advertise: SocketAddr::new(advertise_ip, local_addr.port()).to_string(),
        ready: AtomicBool::new(false),
        kubelet: kubelet_client,
        auditor,
    });
    bootstrap::ensure(&state.registry, local_addr.port())
        .await
        .context("creating bootstrap objects")?;
    admission::ensure_defaults(&state.registry)
        .await
        .context("creating the system priority classes")?;
    authz::policy::ensure(&state.registry)
        .await
        .context("reconciling the default RBAC policy")?;
    authz::aggregation::reconcile(&state.registry).await;
    authz::aggregation::spawn(state.registry.clone(), shutdown.clone());
    registry::crd::spawn(state.registry.clone(), shutdown.clone());
    let me = controlplane::Identity {
        ip: advertise_ip,
        port: local_addr.port(),
        hostname: pki::host_name().unwrap_or_else(|| advertise_ip.to_string()),
    };
    let controlplane = controlplane::spawn(state.registry.clone(), me, shutdown.clone());
    state.ready.store(true, Ordering::Release);

    let app = http::router(state);
    let task = tokio::spawn(rudder_component::serve::serve(listener, tls, app, shutdown));
    tracing::info!(%local_addr, "kube-apiserver ready");
    // As upstream's generic apiserver: after the listener is bound and the post-start work done.
    rudder_component::systemd::notify_ready_or_log();
    Ok(Server {
        local_addr,
        admin_kubeconfig,
        task,
        controlplane,
    })
}

/// The service-account token signer and verifier: the configured signing key, or `sa.key` in
/// the certificate directory (generated when missing).
fn service_account_tokens(
    config: &Config,
    registry: &Arc<registry::Registry>,
) -> anyhow::Result<Arc<authn_sa::ServiceAccountTokens>> {
    let auth = &config.auth;
    let signing_path = match &auth.service_account_signing_key_file {
        Some(path) => path.clone(),
        None => authn_sa_keys::ensure_generated(&config.cert_dir)?,
    };
    let signer = authn_sa_keys::load_signing_key(&signing_path)?;
    let mut verifiers = Vec::new();
    for path in &auth.service_account_key_files {
        verifiers.extend(authn_sa_keys::load_public_keys(path)?);
    }
    Ok(Arc::new(authn_sa::ServiceAccountTokens::new(
        signer,
        verifiers,
        auth.service_account_issuers.clone(),
        auth.api_audiences.clone(),
        Some(registry.clone()),
    )))
}

async fn open_store(config: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match config {
        StoreConfig::Embedded { dir } => {
            let dir = dir.clone();
            let store =
                tokio::task::spawn_blocking(move || EmbeddedStore::open(&dir, EmbeddedOptions::default()))
                    .await
                    .context("opening the embedded store")??;
            Arc::new(store)
        }
        StoreConfig::Etcd { servers, prefix, tls } => {
            let options = EtcdOptions {
                endpoints: servers.clone(),
                prefix: prefix.clone(),
                tls: tls.clone(),
                ..Default::default()
            };
            Arc::new(EtcdStore::connect(options).await.context("connecting to etcd")?)
        }
    })
}

/// Names and addresses the generated serving certificate must cover.
fn serving_hosts(config: &Config, advertise: std::net::IpAddr) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        "kubernetes.default.svc.cluster.local".to_string(),
        advertise.to_string(),
    ];
    if !config.bind_address.is_unspecified() {
        hosts.push(config.bind_address.to_string());
    }
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        hosts.push(name.trim().to_string());
    }
    let (net, _) = config.service_range;
    let first = u32::from(net) + 1;
    hosts.push(std::net::Ipv4Addr::from(first).to_string());
    hosts.sort();
    hosts.dedup();
    hosts
}
