//! A private containerd for tests: own root, state, socket, runc root, CNI config dir and IPAM
//! dir under a temp dir; the test images (images/build.sh) imported; stopped by PID, with the
//! leftovers containerd does not clean (shims, mounts, the CNI bridge, pod cgroups, ip_forward)
//! removed afterwards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rudder_kubelet::cri::RuntimeService;
use rudder_kubelet::cri::remote::RemoteRuntime;

pub const BUSYBOX: &str = "localhost/rudder/busybox:1";
pub const PAUSE: &str = "localhost/rudder/pause:1";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Instances alive in this process and the ip_forward value from before the first of them:
/// the CNI bridge turns forwarding on, and the last instance to stop restores it (tests run
/// in parallel, so each instance restoring its own reading could leave it on).
static IP_FORWARD: std::sync::Mutex<(usize, Option<String>)> = std::sync::Mutex::new((0, None));

fn ip_forward_acquire() {
    let mut g = IP_FORWARD.lock().unwrap_or_else(|e| e.into_inner());
    if g.0 == 0 {
        g.1 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok();
    }
    g.0 += 1;
}

fn ip_forward_release() {
    let mut g = IP_FORWARD.lock().unwrap_or_else(|e| e.into_inner());
    g.0 = g.0.saturating_sub(1);
    if g.0 == 0
        && let Some(before) = g.1.take()
    {
        let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", before.trim());
    }
}

/// A running containerd owned by one test.
#[derive(Debug)]
pub struct TestContainerd {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    /// CNI config dir containerd reads (the kubelet writes its conflist here).
    pub cni_conf_dir: PathBuf,
    pub ipam_dir: PathBuf,
    /// A bridge name and pod CIDR no other test in this machine uses at the same time.
    pub bridge: String,
    pub pod_cidr: String,
    /// Cgroup root for the kubelet's pods (`--cgroup-root`), unique per instance.
    pub cgroup_root: String,
    child: Option<Child>,
}

/// Why the containerd tests cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not running as root".into());
    }
    for bin in ["containerd", "ctr", "runc"] {
        if which(bin).is_none() {
            return Some(format!(
                "{bin} is not installed (scripts/install-deps.sh installs it)"
            ));
        }
    }
    if !Path::new("/usr/lib/cni/bridge").exists() && !Path::new("/opt/cni/bin/bridge").exists() {
        return Some("CNI plugins are not installed (containernetworking-plugins)".into());
    }
    None
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(bin))
        .find(|p| p.exists())
}

fn cni_bin_dir() -> &'static str {
    if Path::new("/usr/lib/cni/bridge").exists() {
        "/usr/lib/cni"
    } else {
        "/opt/cni/bin"
    }
}

/// Builds the test images (idempotent, fast when built) and returns the cache dir.
pub fn build_images() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run images/build.sh");
    assert!(out.status.success(), "images/build.sh failed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl TestContainerd {
    /// Starts one, or returns None after saying loudly why the test is skipped. In CI
    /// (`CI` set) a missing prerequisite is a failure, not a skip.
    pub async fn start() -> Option<TestContainerd> {
        if let Some(why) = unavailable() {
            if std::env::var_os("CI").is_some() {
                panic!("containerd tests cannot run in CI: {why}");
            }
            eprintln!("\n*** SKIPPED: containerd test not run: {why} ***\n");
            return None;
        }
        let images = tokio::task::spawn_blocking(build_images)
            .await
            .expect("build images");
        let n = (std::process::id() * 7 + NEXT.fetch_add(1, Ordering::Relaxed)) % 200 + 20;
        let dir = tempfile::Builder::new()
            .prefix("rudder-ctd-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        let socket = d.join("containerd.sock");
        let cni_conf_dir = d.join("net.d");
        let ipam_dir = d.join("ipam");
        std::fs::create_dir_all(&cni_conf_dir).expect("net.d");
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
  level = "info"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "{PAUSE}"
    restrict_oom_score_adj = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "{d}/runc"
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "{d}/certs.d"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "{bin}"
      conf_dir = "{conf}"
      max_conf_num = 1
  [plugins."io.containerd.internal.v1.opt"]
    path = "{d}/opt"
"#,
            d = d.display(),
            bin = cni_bin_dir(),
            conf = cni_conf_dir.display(),
        );
        std::fs::write(d.join("config.toml"), config).expect("write config");
        let log = std::fs::File::create(d.join("containerd.log")).expect("log");
        ip_forward_acquire();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn containerd");
        let mut ctd = TestContainerd {
            socket,
            cni_conf_dir,
            ipam_dir,
            bridge: format!("rdk{n}"),
            pod_cidr: format!("10.222.{n}.0/24"),
            cgroup_root: format!("/rudder-test-{}-{n}", std::process::id()),
            child: Some(child),
            dir,
        };
        ctd.wait_ready().await;
        for image in ["pause.tar", "busybox.tar"] {
            let status = Command::new("ctr")
                .arg("--address")
                .arg(&ctd.socket)
                .args(["-n", "k8s.io", "images", "import"])
                .arg(images.join(image))
                .stdout(Stdio::null())
                .status()
                .expect("ctr import");
            assert!(status.success(), "ctr images import {image} failed");
        }
        Some(ctd)
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.socket.exists() {
                let rt = self.runtime();
                if rt.version().await.is_ok() {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("containerd exited with {status}; log: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "containerd not ready; log: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn runtime(&self) -> RemoteRuntime {
        RemoteRuntime::connect(&self.endpoint()).expect("cri client")
    }

    /// "containerd 1.6.20~ds1"
    pub async fn runtime_version(&self) -> String {
        self.runtime()
            .version()
            .await
            .map(|v| format!("{} {}", v.runtime_name, v.runtime_version))
            .unwrap_or_default()
    }

    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// (sandboxes, containers) that containerd still has.
    pub async fn leftovers(&self) -> (usize, usize) {
        let rt = self.runtime();
        let sandboxes = rt
            .list_pod_sandbox(Default::default())
            .await
            .expect("list sandboxes");
        let containers = rt.list_containers(None).await.expect("list containers");
        (sandboxes.len(), containers.len())
    }

    /// Removes every sandbox (and so every container) through CRI.
    async fn remove_all(endpoint: String) {
        let Ok(rt) = RemoteRuntime::connect(&endpoint) else {
            return;
        };
        let Ok(sandboxes) = rt.list_pod_sandbox(Default::default()).await else {
            return;
        };
        for sb in sandboxes {
            let _ = rt.stop_pod_sandbox(&sb.id).await;
            let _ = rt.remove_pod_sandbox(&sb.id).await;
        }
    }

    fn cleanup(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // CRI first, so that containers die and their mounts and cgroups go with them.
        let endpoint = self.endpoint();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(async {
                    let _ = tokio::time::timeout(Duration::from_secs(30), Self::remove_all(endpoint)).await;
                });
            }
        })
        .join();
        // Stop containerd by its PID: SIGTERM, then SIGKILL.
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        let d = self.dir.path().to_path_buf();
        kill_processes_mentioning(&d);
        unmount_under(&d);
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
        remove_cgroups(&self.cgroup_root);
        ip_forward_release();
    }
}

impl Drop for TestContainerd {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// containerd shims outlive containerd; ours name our state dir on their command line.
fn kill_processes_mentioning(dir: &Path) {
    let needle = dir.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(&needle)
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Lazily unmounts whatever is still mounted under `dir` (sandbox shm, rootfs overlays), deepest first.
fn unmount_under(dir: &Path) {
    let prefix = dir.display().to_string();
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount")
            .args(["-l", p])
            .stderr(Stdio::null())
            .status();
    }
}

/// Removes `<controller>/<root>` with everything below it in every cgroup v1 hierarchy.
pub fn remove_cgroups(root: &str) {
    let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for c in controllers.flatten() {
        let top = c.path().join(root.trim_start_matches('/'));
        if top.exists() {
            rmdir_tree(&top);
        }
    }
}

fn rmdir_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                rmdir_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
