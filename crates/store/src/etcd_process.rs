//! A real etcd process for tests and benchmarks: one single-member cluster in its own temporary
//! data directory, listening only on 127.0.0.1 (on free ports), killed by its PID when dropped.
//!
//! It needs the `etcd` binary (`apt-get install etcd-server`); `RUDDER_ETCD_BIN` may name another.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the etcd binary to run instead of `etcd` from `PATH`.
pub const ETCD_BIN_ENV: &str = "RUDDER_ETCD_BIN";

/// How many times to pick new ports when etcd fails to start (another process took a port between
/// our probe and etcd's bind).
const START_ATTEMPTS: usize = 5;

/// How to start etcd.
#[derive(Clone, Debug)]
pub struct EtcdProcessOptions {
    /// Pass `--unsafe-no-fsync`: faster, but a crash loses acknowledged writes. Off by default, as
    /// benchmarks compare real durability; fine for quick tests.
    pub unsafe_no_fsync: bool,
    /// How long etcd may take to become healthy.
    pub start_timeout: Duration,
    /// Extra command-line flags, appended last.
    pub extra_args: Vec<String>,
    /// Serve clients over TLS and require client certificates signed by the CA.
    pub tls: Option<EtcdServerTls>,
}

/// PEM files for etcd's client listener (`--cert-file`, `--key-file`, `--trusted-ca-file`).
#[derive(Clone, Debug)]
pub struct EtcdServerTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub trusted_ca_file: PathBuf,
}

impl Default for EtcdProcessOptions {
    fn default() -> Self {
        EtcdProcessOptions {
            unsafe_no_fsync: false,
            start_timeout: Duration::from_secs(30),
            extra_args: Vec::new(),
            tls: None,
        }
    }
}

/// A running etcd. Dropping it kills the process and removes its data.
#[derive(Debug)]
pub struct EtcdProcess {
    child: Option<Child>,
    pid: u32,
    client_url: String,
    peer_url: String,
    data_dir: PathBuf,
    log_path: PathBuf,
    // Declared last: removed after `Drop::drop` has killed the process.
    _dir: tempfile::TempDir,
}

impl EtcdProcess {
    /// Starts etcd with default options and waits until it is healthy. Blocks; call it from
    /// `tokio::task::spawn_blocking` in async code.
    ///
    /// # Panics
    /// If the `etcd` binary is missing, or etcd does not become healthy in time.
    pub fn start() -> EtcdProcess {
        EtcdProcess::start_with(EtcdProcessOptions::default())
    }

    /// Starts etcd with `options` and waits until it is healthy. Blocks, and panics as
    /// [`EtcdProcess::start`] does.
    pub fn start_with(options: EtcdProcessOptions) -> EtcdProcess {
        let binary = etcd_binary();
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            match try_start(&binary, &options) {
                Ok(etcd) => return etcd,
                Err(StartError::Exited(log)) => {
                    failures.push(format!(
                        "attempt {attempt}: etcd exited early; log tail:\n{}",
                        tail(&log)
                    ));
                }
                Err(StartError::Fatal(msg)) => panic!("{msg}"),
            }
        }
        panic!(
            "etcd did not start after {START_ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        );
    }

    /// The URL clients connect to, such as `http://127.0.0.1:40123` (`https://` with TLS).
    pub fn client_url(&self) -> &str {
        &self.client_url
    }

    /// The URL of the (only) member's peer listener.
    pub fn peer_url(&self) -> &str {
        &self.peer_url
    }

    /// The process id, also after the process was stopped.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// etcd's data directory (removed on drop).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What etcd has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the process (SIGKILL, by its PID) and waits for it to exit. Idempotent. The data
    /// directory stays until the `EtcdProcess` is dropped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&mut child);
        }
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

enum StartError {
    /// etcd exited before becoming healthy (typically a port clash): worth another attempt.
    Exited(String),
    /// Anything else: give up.
    Fatal(String),
}

fn try_start(binary: &Path, options: &EtcdProcessOptions) -> Result<EtcdProcess, StartError> {
    let fatal = |what: &str, err: std::io::Error| StartError::Fatal(format!("starting etcd: {what}: {err}"));
    let dir = tempfile::Builder::new()
        .prefix("rudder-etcd-")
        .tempdir()
        .map_err(|e| fatal("temporary directory", e))?;
    let data_dir = dir.path().join("data");
    let log_path = dir.path().join("etcd.log");
    let log = File::create(&log_path).map_err(|e| fatal("log file", e))?;
    let log_err = log.try_clone().map_err(|e| fatal("log file", e))?;
    let client_port = free_port().map_err(|e| fatal("picking a client port", e))?;
    let peer_port = free_port().map_err(|e| fatal("picking a peer port", e))?;
    let scheme = if options.tls.is_some() { "https" } else { "http" };
    let client_url = format!("{scheme}://127.0.0.1:{client_port}");
    // With TLS on the client port, health is read from a plain-HTTP metrics listener.
    let health_port = match options.tls {
        Some(_) => free_port().map_err(|e| fatal("picking a metrics port", e))?,
        None => client_port,
    };
    let peer_url = format!("http://127.0.0.1:{peer_port}");

    let mut command = Command::new(binary);
    command
        .arg("--name=rudder-test")
        .arg(format!("--data-dir={}", data_dir.display()))
        .arg(format!("--listen-client-urls={client_url}"))
        .arg(format!("--advertise-client-urls={client_url}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster=rudder-test={peer_url}"))
        .arg("--initial-cluster-state=new")
        .arg(format!(
            "--initial-cluster-token=rudder-test-{client_port}-{peer_port}"
        ))
        .arg("--logger=zap")
        .arg("--log-outputs=stderr");
    if options.unsafe_no_fsync {
        command.arg("--unsafe-no-fsync");
    }
    if let Some(tls) = &options.tls {
        command
            .arg(format!("--cert-file={}", tls.cert_file.display()))
            .arg(format!("--key-file={}", tls.key_file.display()))
            .arg(format!("--trusted-ca-file={}", tls.trusted_ca_file.display()))
            .arg("--client-cert-auth")
            .arg(format!("--listen-metrics-urls=http://127.0.0.1:{health_port}"));
    }
    command.args(&options.extra_args);
    // etcd reads its flags from ETCD_* variables too; the test's own settings must win.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ETCD_") {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null()).stdout(log).stderr(log_err);

    let child = command.spawn().map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            StartError::Fatal(missing_binary_message(binary))
        } else {
            fatal(&format!("spawning {}", binary.display()), err)
        }
    })?;
    let mut etcd = EtcdProcess {
        pid: child.id(),
        child: Some(child),
        client_url,
        peer_url,
        data_dir,
        log_path,
        _dir: dir,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], health_port));
    let deadline = Instant::now() + options.start_timeout;
    loop {
        if !etcd.is_running() {
            let log = etcd.log();
            etcd.stop();
            return Err(StartError::Exited(log));
        }
        if healthy(addr) {
            return Ok(etcd);
        }
        if Instant::now() >= deadline {
            let log = etcd.log();
            etcd.stop();
            return Err(StartError::Fatal(format!(
                "etcd at {addr} was not healthy within {:?}; log tail:\n{}",
                options.start_timeout,
                tail(&log)
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether etcd's `/health` endpoint at `addr` reports healthy (it needs a leader to).
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(2));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = Vec::new();
    // A timeout after part of the body still leaves that part to inspect.
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    response.starts_with("HTTP/1.1 200") && response.contains(r#""health":"true""#)
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn kill(child: &mut Child) {
    // `kill` fails only if the process already exited; `wait` then reaps it.
    let _ = child.kill();
    let _ = child.wait();
}

/// The etcd binary: `$RUDDER_ETCD_BIN`, else `etcd` from `PATH`. Panics if there is none.
fn etcd_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(ETCD_BIN_ENV) {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|dir| dir.join("etcd"))
        .find(|candidate| candidate.is_file());
    match found {
        Some(path) => path,
        None => panic!("{}", missing_binary_message(Path::new("etcd"))),
    }
}

fn missing_binary_message(binary: &Path) -> String {
    format!(
        "etcd binary {} not found: install it with `apt-get install etcd-server` (or set {ETCD_BIN_ENV})",
        binary.display()
    )
}

/// The last lines of a log, enough to see why etcd failed.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
