//! The container runtime interface (CRI v1) as the kubelet sees it: two traits shaped like
//! CRI's `RuntimeService` and `ImageService`, the gRPC implementation over containerd's unix
//! socket (`remote`), and an in-memory fake (`fake`) for unit tests and the simulated runtime.

pub mod fake;
pub mod remote;

use std::collections::HashMap;

pub use k8s_cri::v1 as api;

/// Labels the kubelet puts on sandboxes and containers (upstream's names), so that the
/// runtime's state can be mapped back to pods after a restart.
pub mod labels {
    pub const POD_NAME: &str = "io.kubernetes.pod.name";
    pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
    pub const POD_UID: &str = "io.kubernetes.pod.uid";
    pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
    /// Annotations (not labels) upstream uses for per-container bookkeeping.
    pub const RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
    pub const CONTAINER_HASH: &str = "io.kubernetes.container.hash";
    pub const TERMINATION_GRACE: &str = "io.kubernetes.pod.terminationGracePeriod";
}

/// A failed CRI call.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("connect to the container runtime at {endpoint}: {source}")]
    Connect {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("CRI {op}: {status}")]
    Rpc {
        op: &'static str,
        status: Box<tonic::Status>,
    },
    #[error("CRI {op}: {message}")]
    Runtime { op: &'static str, message: String },
    #[error("CRI {op}: {what} not found")]
    NotFound { op: &'static str, what: String },
}

impl CriError {
    pub(crate) fn rpc(op: &'static str, status: tonic::Status) -> Self {
        if status.code() == tonic::Code::NotFound {
            return CriError::NotFound {
                op,
                what: status.message().to_string(),
            };
        }
        CriError::Rpc {
            op,
            status: Box::new(status),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, CriError::NotFound { .. })
    }
}

pub type Result<T> = std::result::Result<T, CriError>;

/// CRI `RuntimeService`: sandboxes, containers, exec.
#[async_trait::async_trait]
pub trait RuntimeService: Send + Sync + std::fmt::Debug {
    async fn version(&self) -> Result<api::VersionResponse>;
    /// Runtime conditions (RuntimeReady, NetworkReady).
    async fn status(&self) -> Result<Vec<api::RuntimeCondition>>;
    async fn run_pod_sandbox(&self, config: api::PodSandboxConfig) -> Result<String>;
    async fn stop_pod_sandbox(&self, id: &str) -> Result<()>;
    async fn remove_pod_sandbox(&self, id: &str) -> Result<()>;
    async fn pod_sandbox_status(&self, id: &str) -> Result<api::PodSandboxStatus>;
    async fn list_pod_sandbox(&self, label_selector: HashMap<String, String>)
    -> Result<Vec<api::PodSandbox>>;
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: api::ContainerConfig,
        sandbox_config: api::PodSandboxConfig,
    ) -> Result<String>;
    async fn start_container(&self, id: &str) -> Result<()>;
    /// Stops with SIGTERM, then SIGKILL after `timeout_seconds`.
    async fn stop_container(&self, id: &str, timeout_seconds: i64) -> Result<()>;
    async fn remove_container(&self, id: &str) -> Result<()>;
    /// Containers, optionally only those of one sandbox.
    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<api::Container>>;
    async fn container_status(&self, id: &str) -> Result<api::ContainerStatus>;
    async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout_seconds: i64,
    ) -> Result<api::ExecSyncResponse>;
    /// CRI `Exec`, `Attach` and `PortForward` answer with the URL of the runtime's streaming
    /// server, where the client's upgraded connection is served. Runtimes without one (the
    /// fake) refuse.
    async fn exec(&self, req: api::ExecRequest) -> Result<String> {
        let _ = req;
        Err(no_streaming("Exec"))
    }
    async fn attach(&self, req: api::AttachRequest) -> Result<String> {
        let _ = req;
        Err(no_streaming("Attach"))
    }
    async fn port_forward(&self, req: api::PortForwardRequest) -> Result<String> {
        let _ = req;
        Err(no_streaming("PortForward"))
    }
    /// The image the runtime starts sandboxes from (containerd's `sandbox_image`), from its
    /// verbose status; None when the runtime does not say.
    async fn sandbox_image(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

fn no_streaming(op: &'static str) -> CriError {
    CriError::Runtime {
        op,
        message: "this runtime has no streaming server".into(),
    }
}

/// CRI `ImageService`.
#[async_trait::async_trait]
pub trait ImageService: Send + Sync + std::fmt::Debug {
    /// The image if present locally.
    async fn image_status(&self, image: &str) -> Result<Option<api::Image>>;
    /// Pulls and returns the image reference.
    async fn pull_image(&self, image: &str, auth: Option<api::AuthConfig>) -> Result<String>;
    async fn list_images(&self) -> Result<Vec<api::Image>>;
    /// Removes the image (by id or reference); an image already gone is no error.
    async fn remove_image(&self, image: &str) -> Result<()>;
    /// The filesystems holding images (CRI `ImageFsInfo`): mountpoint and bytes used by
    /// images. Runtimes without a disk (the fake) report none.
    async fn image_fs_info(&self) -> Result<Vec<api::FilesystemUsage>> {
        Ok(vec![])
    }
}
