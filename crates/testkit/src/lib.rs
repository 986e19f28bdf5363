//! rudder-testkit: an in-process `kube-apiserver` for integration tests, listening on
//! 127.0.0.1 with a random port, on the embedded store (or a real etcd the test starts), with a
//! `kube::Client` that authenticates as the generated admin.

mod bootstrap;
mod kubectl;

use std::path::PathBuf;
use std::time::Duration;

use rudder_apiserver::options::{Config, StoreConfig, TlsSource};
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_store::etcd_process::EtcdProcess;

pub use bootstrap::KUBEADM_BOOTSTRAP_BINDINGS;
pub use kubectl::{find_kubectl, kubectl_binary};

/// Where the test server keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Etcd,
}

/// A running in-process API server. Dropping it shuts the server down.
pub struct TestApiServer {
    pub client: kube::Client,
    pub addr: std::net::SocketAddr,
    pub kubeconfig: PathBuf,
    trigger: ShutdownTrigger,
    _dir: tempfile::TempDir,
    _etcd: Option<EtcdProcess>,
}

impl TestApiServer {
    /// Starts a server on the embedded store.
    pub async fn start() -> TestApiServer {
        Self::start_on(Backend::Embedded).await
    }

    pub async fn start_on(backend: Backend) -> TestApiServer {
        Self::start_configured(backend, |_| {}).await
    }

    /// Starts a server on the embedded store after `configure` adjusted its configuration
    /// (authorization modes, anonymous requests, service-account keys).
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestApiServer {
        Self::start_configured(Backend::Embedded, configure).await
    }

    async fn start_configured(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApiServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let etcd = match backend {
            Backend::Embedded => None,
            Backend::Etcd => Some(
                tokio::task::spawn_blocking(EtcdProcess::start)
                    .await
                    .expect("start etcd"),
            ),
        };
        let store = match &etcd {
            None => StoreConfig::Embedded {
                dir: dir.path().join("data"),
            },
            Some(etcd) => StoreConfig::Etcd {
                servers: vec![etcd.client_url().to_string()],
                prefix: "/registry".into(),
                tls: None,
            },
        };
        let mut config = Config {
            bind_address: [127, 0, 0, 1].into(),
            secure_port: 0,
            advertise_address: None,
            cert_dir: dir.path().join("pki"),
            tls: TlsSource::Generated,
            client_ca_file: None,
            token_auth_file: None,
            auth: rudder_apiserver::options::AuthConfig::default(),
            store,
            service_range: ([10, 96, 0, 0].into(), 24),
            node_port_range: (30000, 32767),
            encryption_provider_config: None,
        };
        configure(&mut config);
        let (trigger, shutdown) = Shutdown::new();
        let server = rudder_apiserver::start(config, shutdown)
            .await
            .expect("start kube-apiserver");
        let addr = server.local_addr;
        let kubeconfig = server
            .admin_kubeconfig
            .clone()
            .expect("generated admin kubeconfig");
        tokio::spawn(server.wait());
        let client = client_from(&kubeconfig).await;
        TestApiServer {
            client,
            addr,
            kubeconfig,
            trigger,
            _dir: dir,
            _etcd: etcd,
        }
    }

    /// The admin client for another kubeconfig-reading tool.
    pub fn kubeconfig_path(&self) -> &std::path::Path {
        &self.kubeconfig
    }

    /// The generated PKI directory (`ca.crt`, `ca.key`, `sa.key`, ...).
    pub fn cert_dir(&self) -> PathBuf {
        self._dir.path().join("pki")
    }

    /// A kubeconfig for `user` in `groups` (besides `system:authenticated`), with a client
    /// certificate signed by the server's CA, written next to the server's state.
    pub fn user_kubeconfig(&self, user: &str, groups: &[&str]) -> PathBuf {
        let pki = self.cert_dir();
        let ca = rudder_apiserver::pki::CertificateAuthority::load(
            &pki.join(rudder_apiserver::pki::CA_CERT),
            &pki.join(rudder_apiserver::pki::CA_KEY),
        )
        .expect("load the test CA");
        let (cert, key) =
            rudder_apiserver::pki::sign_client_cert(&ca, user, groups).expect("sign client cert");
        let file = user.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let path = self._dir.path().join(format!("{file}.kubeconfig"));
        rudder_apiserver::pki::write_kubeconfig(
            &path,
            "rudder",
            &format!("https://{}", self.addr),
            ca.cert_pem(),
            &cert,
            &key,
        )
        .expect("write user kubeconfig");
        path
    }

    /// A client authenticating as `user` in `groups`.
    pub async fn client_for(&self, user: &str, groups: &[&str]) -> kube::Client {
        client_from(&self.user_kubeconfig(user, groups)).await
    }

    /// A client with a bearer token instead of a certificate (service-account tokens).
    pub async fn token_client(&self, token: &str) -> kube::Client {
        let pki = self.cert_dir();
        let ca = std::fs::read_to_string(pki.join(rudder_apiserver::pki::CA_CERT)).expect("read CA");
        let path = self._dir.path().join(format!("token-{}.kubeconfig", token.len()));
        rudder_apiserver::pki::write_token_kubeconfig(
            &path,
            "rudder",
            &format!("https://{}", self.addr),
            &ca,
            "token-user",
            token,
        )
        .expect("write token kubeconfig");
        client_from(&path).await
    }
}

impl std::fmt::Debug for TestApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApiServer").field("addr", &self.addr).finish()
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

async fn client_from(path: &std::path::Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("read admin kubeconfig");
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("kubeconfig to client config");
    kube::Client::try_from(config).expect("kube client")
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
