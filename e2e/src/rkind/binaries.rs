//! The Rudder binaries a cluster runs: from `$RKIND_BIN_DIR`, else the dir rkind itself was
//! started from (`target/release/rkind` uses `target/release`), else the workspace's
//! `target/release` or `target/debug` when complete; when none is complete, `cargo build
//! --release` of the six binaries in the workspace rkind was built from.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::sys::{SysError, run};

pub const NAMES: [&str; 6] = [
    "kube-apiserver",
    "kube-scheduler",
    "kube-controller-manager",
    "kubelet",
    "kube-proxy",
    "rudder-dns",
];

const PACKAGES: [&str; 6] = [
    "rudder-apiserver",
    "rudder-scheduler",
    "rudder-controller-manager",
    "rudder-kubelet",
    "rudder-proxy",
    "rudder-dns",
];

/// Where the binaries are.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"))
}

static OVERRIDE: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

/// Uses `dir` for every later `locate` in this process, as `$RKIND_BIN_DIR` would (tests: the
/// environment cannot be changed safely in a threaded process).
pub fn set_override(dir: &Path) {
    if let Ok(mut o) = OVERRIDE.lock() {
        *o = Some(dir.to_path_buf());
    }
}

fn override_dir() -> Option<PathBuf> {
    OVERRIDE.lock().ok().and_then(|o| o.clone())
}

fn complete(dir: &Path) -> bool {
    NAMES.iter().all(|n| dir.join(n).is_file())
}

/// Candidate dirs in order of preference.
fn candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = override_dir().or_else(|| std::env::var_os("RKIND_BIN_DIR").map(PathBuf::from)) {
        return vec![d];
    }
    if let Ok(exe) = std::env::current_exe()
        && exe.file_name().is_some_and(|n| n == "rkind")
        && let Some(d) = exe.parent()
    {
        dirs.push(d.to_path_buf());
    }
    dirs.push(target_dir().join("release"));
    dirs.push(target_dir().join("debug"));
    dirs
}

/// Finds a complete set, building the release binaries when there is none.
pub fn locate(progress: &dyn Fn(&str)) -> Result<Binaries, SysError> {
    let dirs = candidates();
    if let Some(dir) = dirs.iter().find(|d| complete(d)) {
        return Ok(Binaries { dir: dir.clone() });
    }
    if override_dir().is_some() || std::env::var_os("RKIND_BIN_DIR").is_some() {
        return Err(SysError::Failed {
            cmd: "locate binaries".into(),
            status: "incomplete".into(),
            stderr: format!("{} (RKIND_BIN_DIR) lacks one of {NAMES:?}", dirs[0].display()),
        });
    }
    progress("building the release binaries (cargo build --release)");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_dir()).args(["build", "--release"]);
    for p in PACKAGES {
        cmd.args(["-p", p]);
    }
    run(&mut cmd)?;
    Ok(Binaries {
        dir: target_dir().join("release"),
    })
}
