//! Paths inside a cluster's dir (pure). Node dirs are `nodes/n<i>` rather than the node name so
//! that the containerd socket path stays well under the 108-byte limit of unix socket paths.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
}

/// One node's paths.
#[derive(Debug, Clone)]
pub struct NodeLayout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        Layout {
            dir: dir.to_path_buf(),
        }
    }
    pub fn pki(&self) -> PathBuf {
        self.dir.join("pki")
    }
    /// Written by the apiserver with its generated PKI.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.pki().join("admin.kubeconfig")
    }
    /// The copy users and components read.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
    /// Each component's own kubeconfig (see `identity`).
    pub fn conf(&self) -> PathBuf {
        self.dir.join("conf")
    }
    pub fn apiserver_data(&self) -> PathBuf {
        self.dir.join("apiserver-data")
    }
    pub fn etcd_data(&self) -> PathBuf {
        self.dir.join("etcd-data")
    }
    pub fn tokens(&self) -> PathBuf {
        self.dir.join("tokens.csv")
    }
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
    pub fn log(&self, role: &str) -> PathBuf {
        self.logs().join(format!("{role}.log"))
    }
    pub fn node(&self, i: usize) -> NodeLayout {
        NodeLayout {
            dir: self.dir.join("nodes").join(format!("n{i}")),
        }
    }
}

impl NodeLayout {
    pub fn containerd_config(&self) -> PathBuf {
        self.dir.join("containerd.toml")
    }
    pub fn containerd_socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }
    pub fn cri_endpoint(&self) -> String {
        format!("unix://{}", self.containerd_socket().display())
    }
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("net.d")
    }
    pub fn ipam_dir(&self) -> PathBuf {
        self.dir.join("ipam")
    }
    pub fn kubelet_root(&self) -> PathBuf {
        self.dir.join("kubelet")
    }
    pub fn kubelet_config(&self) -> PathBuf {
        self.dir.join("kubelet.yaml")
    }
    pub fn pod_logs(&self) -> PathBuf {
        self.dir.join("pod-logs")
    }
    pub fn log(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{role}.log"))
    }
}
