//! The HTTP handlers of `pods/{id}/proxy/...` and `services/{id}/proxy/...`: find the target
//! (pod_service.rs plans it), then forward the request as it came.

use std::sync::Arc;

use axum::extract::{Request, State};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use rudder_api::status::ApiError;

use super::pod_service::{self, Target};
use super::{AppState, forward, get_pod, join_host_port};
use crate::http::request::percent_decode;
use crate::http::response::ApiResult;

const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

fn namespace_of(path: &str) -> &str {
    path.strip_prefix("/api/v1/namespaces/")
        .and_then(|p| p.split('/').next())
        .unwrap_or_default()
}

/// `pods/{name}[:port]/proxy/{path}`.
pub(super) async fn pod_proxy(State(state): State<Arc<AppState>>, req: Request) -> ApiResult {
    let raw = req.uri().path().to_string();
    let (id, rest) = pod_service::split_proxy_path(&raw, "pods").ok_or_else(crate::errors::path_not_found)?;
    let namespace = percent_decode(namespace_of(&raw));
    let id = percent_decode(id);
    let (scheme, name, port) = pod_service::split_id(&id)
        .ok_or_else(|| ApiError::bad_request(format!("invalid pod request {id:?}")))?;
    let pod = get_pod(&state, &namespace, name).await?;
    let target = pod_service::pod_target(&pod, scheme, port)?;
    tracing::debug!(%namespace, pod = %name, ?target, "pods/proxy");
    send(&state, &target, rest, req).await
}

/// `services/[scheme:]{name}[:port]/proxy/{path}`: a ready endpoint of the service.
pub(super) async fn service_proxy(State(state): State<Arc<AppState>>, req: Request) -> ApiResult {
    let raw = req.uri().path().to_string();
    let (id, rest) =
        pod_service::split_proxy_path(&raw, "services").ok_or_else(crate::errors::path_not_found)?;
    let namespace = percent_decode(namespace_of(&raw));
    let id = percent_decode(id);
    let (scheme, name, port) = pod_service::split_id(&id)
        .ok_or_else(|| ApiError::bad_request(format!("invalid service request {id:?}")))?;
    let service: Service = get_object(&state, "", "services", &namespace, name).await?;
    let port_name = pod_service::service_port_name(&service, name, port)?;
    let slices = service_slices(&state, &namespace, name)?;
    if slices.iter().all(|s| s.endpoints.is_empty()) {
        return Err(
            ApiError::service_unavailable(format!("no endpoints available for service {name:?}")).into(),
        );
    }
    let mut pods = std::collections::HashMap::new();
    for slice in &slices {
        for ep in &slice.endpoints {
            if let Some(t) = ep
                .target_ref
                .as_ref()
                .filter(|t| t.kind.as_deref() == Some("Pod"))
            {
                let (ns, pod) = (
                    t.namespace.clone().unwrap_or_else(|| namespace.clone()),
                    t.name.clone().unwrap_or_default(),
                );
                if !pods.contains_key(&(ns.clone(), pod.clone())) {
                    let ips = match get_pod(&state, &ns, &pod).await {
                        Ok(p) => pod_service::pod_ips(&p),
                        Err(_) => Vec::new(),
                    };
                    pods.insert((ns, pod), ips);
                }
            }
        }
    }
    let target = pod_service::service_target(&slices, &port_name, scheme, |ns, pod| {
        let ns = if ns.is_empty() { namespace.as_str() } else { ns };
        pods.get(&(ns.to_string(), pod.to_string()))
            .cloned()
            .unwrap_or_default()
    })
    .ok_or_else(|| ApiError::service_unavailable(format!("no endpoints available for service {id:?}")))?;
    tracing::debug!(%namespace, service = %name, ?target, "services/proxy");
    send(&state, &target, rest, req).await
}

async fn get_object<T: serde::de::DeserializeOwned>(
    state: &AppState,
    group: &str,
    plural: &str,
    namespace: &str,
    name: &str,
) -> Result<T, ApiError> {
    let res = state
        .registry
        .get_resource(group, "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    let obj = state.registry.get(&res, Some(namespace), name).await?;
    serde_json::from_slice(&obj.json).map_err(|e| ApiError::internal(format!("decoding {plural}: {e}")))
}

/// The service's EndpointSlices (labelled with its name), from the watch cache.
fn service_slices(state: &AppState, namespace: &str, name: &str) -> Result<Vec<EndpointSlice>, ApiError> {
    let res = state
        .registry
        .get_resource("discovery.k8s.io", "v1", "endpointslices")
        .ok_or_else(|| ApiError::internal("endpointslices are not served"))?;
    let (objects, _) = res
        .cache
        .snapshot_prefix(&res.info.storage_list_prefix(Some(namespace)));
    Ok(objects
        .iter()
        .filter_map(|o| serde_json::from_slice::<EndpointSlice>(&o.json).ok())
        .filter(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .is_some_and(|n| n == name)
        })
        .collect())
}

/// Forwards to the target: plain HTTP, or TLS for `https:` ids (upstream does not verify
/// the pod's certificate either).
async fn send(state: &AppState, target: &Target, rest: &str, req: Request) -> ApiResult {
    let host = target.ip.to_string();
    let io = state
        .kubelet
        .connect(&host, target.port, !target.tls)
        .await
        .map_err(|e| {
            ApiError::service_unavailable(format!("error trying to reach service: {}", e.message()))
        })?;
    let path = match req.uri().query() {
        Some(q) => format!("/{}?{q}", rest.trim_start_matches('/')),
        None => format!("/{}", rest.trim_start_matches('/')),
    };
    Ok(forward::forward(io, &join_host_port(&host, target.port), &path, req).await?)
}
