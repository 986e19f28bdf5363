//! Harness for black-box tests: starts the real `kube-apiserver` binary (on the embedded store or
//! on a real etcd) on a loopback port, and runs stock kubectl binaries against it with a fresh
//! cache directory each.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rudder_store::etcd_process::EtcdProcess;

pub mod rkind;

/// The storage behind a test apiserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Etcd,
}

/// Where the workspace's built binaries are.
pub fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// A built binary of the workspace (debug profile, as `cargo test` builds it).
pub fn binary(name: &str) -> PathBuf {
    let path = target_dir().join("debug").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` first (make test does)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running `kube-apiserver` process, killed by PID when dropped.
#[derive(Debug)]
pub struct ApiServer {
    child: Child,
    pub port: u16,
    pub kubeconfig: PathBuf,
    dir: tempfile::TempDir,
    _etcd: Option<EtcdProcess>,
}

impl ApiServer {
    pub fn start(backend: Backend) -> ApiServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let etcd = (backend == Backend::Etcd).then(EtcdProcess::start);
        let port = free_port();
        let mut cmd = Command::new(binary("kube-apiserver"));
        cmd.arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg(format!("--cert-dir={}", dir.path().join("pki").display()))
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            // No controller-manager runs beside this apiserver (no default ServiceAccounts, no
            // lifted not-ready taints): as upstream's integration framework, without those two.
            .arg("--disable-admission-plugins=ServiceAccount,TaintNodesByCondition")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("apiserver.log")).expect("log file"));
        if let Some(etcd) = &etcd {
            cmd.arg(format!("--etcd-servers={}", etcd.client_url()));
        }
        let child = cmd.spawn().expect("start kube-apiserver");
        let kubeconfig = dir.path().join("pki/admin.kubeconfig");
        let mut server = ApiServer {
            child,
            port,
            kubeconfig,
            dir,
            _etcd: etcd,
        };
        assert!(
            server.wait_ready(Duration::from_secs(30)),
            "kube-apiserver did not become ready:\n{}",
            server.log()
        );
        server
    }

    /// Waits for the admin kubeconfig and the listening port (written and bound once the server
    /// is ready to serve).
    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.kubeconfig.exists() && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("apiserver.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stock kubectl binaries of the versions asked for that exist on this machine.
pub fn kubectl_versions(wanted: &[&str]) -> Vec<(String, PathBuf)> {
    let Some(kubectl) = which("kubectl") else {
        return Vec::new();
    };
    let dir = std::fs::canonicalize(&kubectl)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    wanted
        .iter()
        .filter_map(|v| {
            let path = dir.as_ref()?.join(format!("kubectl.{v}"));
            path.exists().then(|| (v.to_string(), path))
        })
        .collect()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.exists())
    })
}

/// Runs one kubectl binary against one server, each invocation with the same fresh cache dir.
#[derive(Debug)]
pub struct Kubectl {
    pub version: String,
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    /// The server's log, quoted when a command fails.
    server_log: PathBuf,
}

impl Kubectl {
    pub fn new(version: &str, bin: &Path, server: &ApiServer) -> Kubectl {
        Kubectl {
            version: version.to_string(),
            bin: bin.to_path_buf(),
            kubeconfig: server.kubeconfig.clone(),
            cache: tempfile::tempdir().expect("cache dir"),
            server_log: server.dir().join("apiserver.log"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache.path())
            .env("HOME", self.cache.path())
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        cmd
    }

    /// Runs kubectl and returns its output, whatever the exit status.
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl, asserts success, returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "kubectl {} {:?} failed ({}):\nstdout: {}\nstderr: {}\nserver log tail:\n{}",
            self.version,
            args,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.server_log_tail()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn server_log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.server_log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Runs kubectl, asserts failure, returns stderr.
    #[track_caller]
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            !out.status.success(),
            "kubectl {} {:?} unexpectedly succeeded",
            self.version,
            args
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Writes a file into the cache dir and returns its path (for `-f`).
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.cache.path().join(name);
        std::fs::write(&path, content).expect("write manifest");
        path
    }
}
