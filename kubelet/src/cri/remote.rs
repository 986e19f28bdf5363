//! CRI over gRPC on a unix socket (containerd's `unix:///run/containerd/containerd.sock`).

use std::collections::HashMap;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use super::api::{
    self, image_service_client::ImageServiceClient, runtime_service_client::RuntimeServiceClient,
};
use super::{CriError, ImageService, Result, RuntimeService};

/// A CRI client for one runtime endpoint. Cloning shares the HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct RemoteRuntime {
    runtime: RuntimeServiceClient<Channel>,
    image: ImageServiceClient<Channel>,
}

/// `unix:///path` or a bare path → the socket path.
pub fn socket_path(endpoint: &str) -> &str {
    endpoint.strip_prefix("unix://").unwrap_or(endpoint)
}

impl RemoteRuntime {
    /// Connects lazily: the first call dials the socket, and a broken connection is redialled.
    pub fn connect(endpoint: &str) -> Result<Self> {
        let path = socket_path(endpoint).to_string();
        // The URI is a placeholder: the connector ignores it and dials the socket.
        let channel = Endpoint::from_static("http://[::]:50051").connect_with_connector_lazy(
            tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
            }),
        );
        Ok(RemoteRuntime {
            runtime: RuntimeServiceClient::new(channel.clone()).max_decoding_message_size(16 << 20),
            image: ImageServiceClient::new(channel).max_decoding_message_size(16 << 20),
        })
    }
}

#[async_trait::async_trait]
impl RuntimeService for RemoteRuntime {
    async fn version(&self) -> Result<api::VersionResponse> {
        let req = api::VersionRequest { version: "v1".into() };
        Ok(self
            .runtime
            .clone()
            .version(req)
            .await
            .map_err(|s| CriError::rpc("Version", s))?
            .into_inner())
    }

    async fn status(&self) -> Result<Vec<api::RuntimeCondition>> {
        let resp = self
            .runtime
            .clone()
            .status(api::StatusRequest { verbose: false })
            .await
            .map_err(|s| CriError::rpc("Status", s))?
            .into_inner();
        Ok(resp.status.map(|s| s.conditions).unwrap_or_default())
    }

    async fn sandbox_image(&self) -> Result<Option<String>> {
        let resp = self
            .runtime
            .clone()
            .status(api::StatusRequest { verbose: true })
            .await
            .map_err(|s| CriError::rpc("Status", s))?
            .into_inner();
        // containerd's verbose status carries its CRI config as JSON under "config".
        Ok(resp
            .info
            .get("config")
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
            .and_then(|c| c.get("sandboxImage").and_then(|v| v.as_str()).map(str::to_string))
            .filter(|s| !s.is_empty()))
    }

    async fn run_pod_sandbox(&self, config: api::PodSandboxConfig) -> Result<String> {
        let req = api::RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        };
        Ok(self
            .runtime
            .clone()
            .run_pod_sandbox(req)
            .await
            .map_err(|s| CriError::rpc("RunPodSandbox", s))?
            .into_inner()
            .pod_sandbox_id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        let req = api::StopPodSandboxRequest {
            pod_sandbox_id: id.into(),
        };
        self.runtime
            .clone()
            .stop_pod_sandbox(req)
            .await
            .map_err(|s| CriError::rpc("StopPodSandbox", s))?;
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        let req = api::RemovePodSandboxRequest {
            pod_sandbox_id: id.into(),
        };
        self.runtime
            .clone()
            .remove_pod_sandbox(req)
            .await
            .map_err(|s| CriError::rpc("RemovePodSandbox", s))?;
        Ok(())
    }

    async fn pod_sandbox_status(&self, id: &str) -> Result<api::PodSandboxStatus> {
        let req = api::PodSandboxStatusRequest {
            pod_sandbox_id: id.into(),
            verbose: false,
        };
        self.runtime
            .clone()
            .pod_sandbox_status(req)
            .await
            .map_err(|s| CriError::rpc("PodSandboxStatus", s))?
            .into_inner()
            .status
            .ok_or_else(|| CriError::NotFound {
                op: "PodSandboxStatus",
                what: id.into(),
            })
    }

    async fn list_pod_sandbox(
        &self,
        label_selector: HashMap<String, String>,
    ) -> Result<Vec<api::PodSandbox>> {
        let req = api::ListPodSandboxRequest {
            filter: Some(api::PodSandboxFilter {
                label_selector,
                ..Default::default()
            }),
        };
        Ok(self
            .runtime
            .clone()
            .list_pod_sandbox(req)
            .await
            .map_err(|s| CriError::rpc("ListPodSandbox", s))?
            .into_inner()
            .items)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: api::ContainerConfig,
        sandbox_config: api::PodSandboxConfig,
    ) -> Result<String> {
        let req = api::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.into(),
            config: Some(config),
            sandbox_config: Some(sandbox_config),
        };
        Ok(self
            .runtime
            .clone()
            .create_container(req)
            .await
            .map_err(|s| CriError::rpc("CreateContainer", s))?
            .into_inner()
            .container_id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let req = api::StartContainerRequest {
            container_id: id.into(),
        };
        self.runtime
            .clone()
            .start_container(req)
            .await
            .map_err(|s| CriError::rpc("StartContainer", s))?;
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout_seconds: i64) -> Result<()> {
        let req = api::StopContainerRequest {
            container_id: id.into(),
            timeout: timeout_seconds,
        };
        self.runtime
            .clone()
            .stop_container(req)
            .await
            .map_err(|s| CriError::rpc("StopContainer", s))?;
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let req = api::RemoveContainerRequest {
            container_id: id.into(),
        };
        self.runtime
            .clone()
            .remove_container(req)
            .await
            .map_err(|s| CriError::rpc("RemoveContainer", s))?;
        Ok(())
    }

    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<api::Container>> {
        let req = api::ListContainersRequest {
            filter: Some(api::ContainerFilter {
                pod_sandbox_id: sandbox_id.unwrap_or_default().into(),
                ..Default::default()
            }),
        };
        Ok(self
            .runtime
            .clone()
            .list_containers(req)
            .await
            .map_err(|s| CriError::rpc("ListContainers", s))?
            .into_inner()
            .containers)
    }

    async fn container_status(&self, id: &str) -> Result<api::ContainerStatus> {
        let req = api::ContainerStatusRequest {
            container_id: id.into(),
            verbose: false,
        };
        self.runtime
            .clone()
            .container_status(req)
            .await
            .map_err(|s| CriError::rpc("ContainerStatus", s))?
            .into_inner()
            .status
            .ok_or_else(|| CriError::NotFound {
                op: "ContainerStatus",
                what: id.into(),
            })
    }

    async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout_seconds: i64,
    ) -> Result<api::ExecSyncResponse> {
        let req = api::ExecSyncRequest {
            container_id: id.into(),
            cmd,
            timeout: timeout_seconds,
        };
        Ok(self
            .runtime
            .clone()
            .exec_sync(req)
            .await
            .map_err(|s| CriError::rpc("ExecSync", s))?
            .into_inner())
    }

    async fn exec(&self, req: api::ExecRequest) -> Result<String> {
        Ok(self
            .runtime
            .clone()
            .exec(req)
            .await
            .map_err(|s| CriError::rpc("Exec", s))?
            .into_inner()
            .url)
    }

    async fn attach(&self, req: api::AttachRequest) -> Result<String> {
        Ok(self
            .runtime
            .clone()
            .attach(req)
            .await
            .map_err(|s| CriError::rpc("Attach", s))?
            .into_inner()
            .url)
    }

    async fn port_forward(&self, req: api::PortForwardRequest) -> Result<String> {
        Ok(self
            .runtime
            .clone()
            .port_forward(req)
            .await
            .map_err(|s| CriError::rpc("PortForward", s))?
            .into_inner()
            .url)
    }
}

#[async_trait::async_trait]
impl ImageService for RemoteRuntime {
    async fn image_status(&self, image: &str) -> Result<Option<api::Image>> {
        let req = api::ImageStatusRequest {
            image: Some(api::ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
            verbose: false,
        };
        Ok(self
            .image
            .clone()
            .image_status(req)
            .await
            .map_err(|s| CriError::rpc("ImageStatus", s))?
            .into_inner()
            .image)
    }

    async fn pull_image(&self, image: &str, auth: Option<api::AuthConfig>) -> Result<String> {
        let req = api::PullImageRequest {
            image: Some(api::ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
            auth,
            sandbox_config: None,
        };
        Ok(self
            .image
            .clone()
            .pull_image(req)
            .await
            .map_err(|s| CriError::rpc("PullImage", s))?
            .into_inner()
            .image_ref)
    }

    async fn list_images(&self) -> Result<Vec<api::Image>> {
        Ok(self
            .image
            .clone()
            .list_images(api::ListImagesRequest { filter: None })
            .await
            .map_err(|s| CriError::rpc("ListImages", s))?
            .into_inner()
            .images)
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let req = api::RemoveImageRequest {
            image: Some(api::ImageSpec {
                image: image.into(),
                ..Default::default()
            }),
        };
        match self.image.clone().remove_image(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(s) => Err(CriError::rpc("RemoveImage", s)),
        }
    }

    async fn image_fs_info(&self) -> Result<Vec<api::FilesystemUsage>> {
        Ok(self
            .image
            .clone()
            .image_fs_info(api::ImageFsInfoRequest {})
            .await
            .map_err(|s| CriError::rpc("ImageFsInfo", s))?
            .into_inner()
            .image_filesystems)
    }
}
