//! Just enough CRI to empty a node's containerd on delete: list, stop and remove every pod
//! sandbox (containerd then tears down the pods' network namespaces and IPAM leases).

use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{ListPodSandboxRequest, RemovePodSandboxRequest, StopPodSandboxRequest};
use tokio::net::UnixStream;
use tonic::transport::{Endpoint, Uri};

/// Stops and removes every sandbox of the containerd at `endpoint` (`unix:///path`); errors
/// are ignored (the runtime may already be gone), and the whole is bounded by `timeout`.
pub async fn remove_all_pods(endpoint: String, timeout: Duration) {
    let path = endpoint.strip_prefix("unix://").unwrap_or(&endpoint).to_string();
    let channel = Endpoint::from_static("http://[::]:50051").connect_with_connector_lazy(tower::service_fn(
        move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        },
    ));
    let mut rt = RuntimeServiceClient::new(channel).max_decoding_message_size(16 << 20);
    let work = async move {
        let Ok(list) = rt.list_pod_sandbox(ListPodSandboxRequest { filter: None }).await else {
            return;
        };
        for sb in list.into_inner().items {
            let id = sb.id;
            let _ = rt
                .stop_pod_sandbox(StopPodSandboxRequest {
                    pod_sandbox_id: id.clone(),
                })
                .await;
            let _ = rt
                .remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id })
                .await;
        }
    };
    let _ = tokio::time::timeout(timeout, work).await;
}
