//! The `kube-apiserver` child process, the clients that talk to it, and the `/proc` figures the
//! benchmark reads (RSS, CPU time).

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kube::client::ConfigExt;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long a start may take before the benchmark gives up.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two `/readyz` probes.
const READYZ_POLL: Duration = Duration::from_millis(2);
/// Bound of one probe (connect, handshake, answer).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// One HTTP/2 connection to the apiserver (requests are multiplexed on clones).
pub(crate) type H2 = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

/// A running `kube-apiserver`, killed by its PID when dropped (its temp dir goes with it).
#[derive(Debug)]
pub(crate) struct ApiProcess {
    child: Child,
    pub(crate) pid: u32,
    pub(crate) port: u16,
    /// From just before `spawn` to the first `200` from `/readyz`.
    pub(crate) ready_after: Duration,
    /// The kube-rs configuration read from the generated `admin.kubeconfig`.
    pub(crate) config: kube::Config,
    // Dropped after `Drop::drop` killed the process.
    _dir: tempfile::TempDir,
}

impl ApiProcess {
    /// Starts `bin` on 127.0.0.1 and a free port, with a fresh `--cert-dir` and `--data-dir`, on
    /// etcd `(url, prefix)` if given; returns once `/readyz` answers 200.
    pub(crate) async fn start(bin: &Path, etcd: Option<(&str, &str)>) -> anyhow::Result<ApiProcess> {
        let dir = tempfile::Builder::new()
            .prefix("rudder-bench-apiserver-")
            .tempdir()?;
        let port = free_port()?;
        let log = std::fs::File::create(dir.path().join("apiserver.log"))?;
        let mut cmd = Command::new(bin);
        cmd.arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg(format!("--cert-dir={}", dir.path().join("pki").display()))
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some((url, prefix)) = etcd {
            cmd.arg(format!("--etcd-servers={url}"))
                .arg(format!("--etcd-prefix={prefix}"));
        }
        let probe_tls = Arc::new(any_server_tls()?);
        let spawned = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        // From here on a failure kills the process (Drop of the guard below).
        let mut guard = Guard(Some(child));
        let ready_after = loop {
            if let Some(status) = guard.child().try_wait()? {
                bail!(
                    "kube-apiserver exited ({status}) before ready:\n{}",
                    log_tail(dir.path())
                );
            }
            let probe = tokio::time::timeout(PROBE_TIMEOUT, readyz(port, &probe_tls)).await;
            if let Ok(Ok(200)) = probe {
                break spawned.elapsed();
            }
            if spawned.elapsed() > START_TIMEOUT {
                bail!(
                    "kube-apiserver not ready after {START_TIMEOUT:?}:\n{}",
                    log_tail(dir.path())
                );
            }
            tokio::time::sleep(READYZ_POLL).await;
        };
        let kubeconfig = dir.path().join("pki/admin.kubeconfig");
        let config = kube_config(&kubeconfig).await?;
        let child = guard.0.take().context("child process")?;
        Ok(ApiProcess {
            child,
            pid,
            port,
            ready_after,
            config,
            _dir: dir,
        })
    }

    /// A new `kube::Client` (its own connection pool) authenticated as the generated admin.
    pub(crate) fn client(&self) -> anyhow::Result<kube::Client> {
        Ok(kube::Client::try_from(self.config.clone())?)
    }

    /// A rustls configuration with the kubeconfig's CA and admin certificate, offering HTTP/2.
    pub(crate) fn h2_tls(&self) -> anyhow::Result<Arc<ClientConfig>> {
        let mut tls = self.config.rustls_client_config()?;
        tls.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(tls))
    }

    /// `https://127.0.0.1:<port>`.
    pub(crate) fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills a child that never became an [`ApiProcess`].
struct Guard(Option<Child>);

impl Guard {
    fn child(&mut self) -> &mut Child {
        self.0
            .as_mut()
            .expect("the guard holds the child until start succeeds")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("apiserver.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

async fn kube_config(path: &Path) -> anyhow::Result<kube::Config> {
    let kubeconfig =
        kube::config::Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?)
}

fn loopback() -> ServerName<'static> {
    ServerName::from(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// One `GET /readyz` over a fresh TLS connection (HTTP/1.1, `Connection: close`): the status code.
async fn readyz(port: u16, tls: &Arc<ClientConfig>) -> anyhow::Result<u16> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let mut stream = TlsConnector::from(tls.clone()).connect(loopback(), tcp).await?;
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await?;
    let mut head = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let code = line.split_whitespace().nth(1).and_then(|c| c.parse().ok());
    code.context("no HTTP status line")
}

/// Opens one HTTP/2 connection with the admin's client certificate.
pub(crate) async fn h2_connect(port: u16, tls: &Arc<ClientConfig>) -> anyhow::Result<H2> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let stream = TlsConnector::from(tls.clone()).connect(loopback(), tcp).await?;
    ensure!(
        stream.get_ref().1.alpn_protocol() == Some(b"h2"),
        "the apiserver did not negotiate HTTP/2"
    );
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_connection_window_size(16 << 20)
        .initial_stream_window_size(1 << 20)
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// TLS that accepts any server certificate: only for probing `/readyz` (which needs no
/// credentials) while the server is still generating the CA the kubeconfig will name.
fn any_server_tls() -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

#[derive(Debug)]
struct AnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB.
pub(crate) fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used so far. `/proc` counts in clock ticks, which are
/// 1/100 s on Linux (`USER_HZ`).
pub(crate) fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The processes whose CPU time a measurement reports: the apiserver, this benchmark, etcd.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pids {
    pub(crate) apiserver: u32,
    pub(crate) etcd: Option<u32>,
}

/// CPU time used by (apiserver, benchmark, etcd).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cpu(pub(crate) [Duration; 3]);

impl Pids {
    pub(crate) fn sample(&self) -> Cpu {
        let of = |pid: Option<u32>| pid.and_then(cpu_time).unwrap_or_default();
        Cpu([
            of(Some(self.apiserver)),
            of(Some(std::process::id())),
            of(self.etcd),
        ])
    }
}

impl Cpu {
    /// CPU used since `earlier`.
    pub(crate) fn since(self, earlier: Cpu) -> Cpu {
        Cpu(std::array::from_fn(|i| self.0[i].saturating_sub(earlier.0[i])))
    }

    pub(crate) fn add(&mut self, other: Cpu) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}
