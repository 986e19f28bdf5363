//! Where clusters live on disk and what each one created.
//!
//! State root: `$RKIND_STATE_DIR`, else `/var/lib/rkind` (rkind runs as root). A cluster's dir
//! `<root>/<name>/` holds `state.json` (the record below, rewritten after every step so that
//! `delete` can undo a creation that stopped half-way), `kubeconfig`, the PKI, the store, logs
//! and one dir per node (containerd root/state, kubelet root, CNI config and IPAM state).

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::spec::ProxyMode;
use super::sys::{SysError, io_err};

pub fn state_root() -> PathBuf {
    std::env::var_os("RKIND_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/rkind"))
}

/// A process the cluster started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Proc {
    /// `kube-apiserver`, `containerd`, `kubelet`, ...
    pub role: String,
    /// The node it serves, for node processes.
    pub node: Option<String>,
    pub pid: u32,
    pub log: PathBuf,
}

/// Everything a cluster made that has to be undone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub name: String,
    pub index: u8,
    pub nodes: Vec<String>,
    pub proxy_mode: Option<ProxyMode>,
    pub etcd: bool,
    pub processes: Vec<Proc>,
    /// Network namespaces (names under /run/netns).
    pub netns: Vec<String>,
    /// Host links (the bridge, veth host ends).
    pub links: Vec<String>,
    /// Host routes, as `ip route` arguments (`10.131.1.0/24 via 10.250.3.10`).
    pub routes: Vec<String>,
    /// cgroup roots of the nodes' pods.
    pub cgroup_roots: Vec<String>,
    /// CRI endpoints of the nodes' containerds (pods are removed through them on delete).
    pub cri_endpoints: Vec<String>,
    /// Set once every node was Ready.
    pub ready: bool,
}

impl State {
    pub fn dir(&self) -> PathBuf {
        cluster_dir(&self.name)
    }

    /// Writes `state.json` atomically.
    pub fn save(&self) -> Result<(), SysError> {
        let dir = self.dir();
        let path = dir.join("state.json");
        let tmp = dir.join(".state.json.tmp");
        let body = serde_json::to_vec_pretty(self).map_err(|e| SysError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(&tmp, body).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    pub fn load(name: &str) -> Result<Option<State>, SysError> {
        let path = cluster_dir(name).join("state.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| SysError::Io {
                    path,
                    source: std::io::Error::other(e),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SysError::Io { path, source }),
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        kubeconfig_path(&self.name)
    }

    pub fn pids(&self) -> Vec<u32> {
        self.processes.iter().map(|p| p.pid).collect()
    }
}

pub fn cluster_dir(name: &str) -> PathBuf {
    state_root().join(name)
}

pub fn kubeconfig_path(name: &str) -> PathBuf {
    cluster_dir(name).join("kubeconfig")
}

/// Names of the clusters with a state record, sorted.
pub fn list() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(state_root()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("state.json").exists())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    names.sort();
    names
}

/// Indices of existing clusters' networks.
pub fn taken_indices() -> Vec<u8> {
    list()
        .iter()
        .filter_map(|n| State::load(n).ok().flatten())
        .map(|s| s.index)
        .collect()
}

/// An exclusive lock on the state root, held while a cluster's index and network are chosen
/// and set up (creations run in parallel in the e2e tests).
#[derive(Debug)]
pub struct RootLock {
    _file: File,
}

pub fn lock_root() -> Result<RootLock, SysError> {
    let root = state_root();
    std::fs::create_dir_all(&root).map_err(io_err(&root))?;
    let path = root.join(".lock");
    let file = File::create(&path).map_err(io_err(&path))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(|e| SysError::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    Ok(RootLock { _file: file })
}

/// Node dir inside the cluster dir.
pub fn node_dir(cluster: &str, node: &str) -> PathBuf {
    cluster_dir(cluster).join("nodes").join(node)
}

pub fn exists(name: &str) -> bool {
    Path::new(&cluster_dir(name)).join("state.json").exists()
}
