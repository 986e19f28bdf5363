//! Objects that exist from the start, as on upstream: the default, kube-system, kube-public and
//! kube-node-lease namespaces, and the `kubernetes` Service (first address of the service range)
//! in `default`.

use rudder_api::status::ApiError;
use serde_json::json;

use crate::registry::Registry;
use crate::registry::write::WriteOptions;

pub(crate) const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub(crate) async fn ensure(registry: &Registry, secure_port: u16) -> Result<(), ApiError> {
    let by_server = WriteOptions::by(crate::registry::write::SERVER_MANAGER);
    let namespaces = registry
        .get_resource("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces are not served"))?;
    for name in SYSTEM_NAMESPACES {
        let ns = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } });
        match registry.create(&namespaces, None, ns, &by_server).await {
            Ok(_) => tracing::info!(namespace = name, "created system namespace"),
            Err(e) if e.code() == 409 => {}
            Err(e) => return Err(e),
        }
    }
    let services = registry
        .get_resource("", "v1", "services")
        .ok_or_else(|| ApiError::internal("services are not served"))?;
    let kubernetes = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": "kubernetes", "namespace": "default",
                      "labels": { "component": "apiserver", "provider": "kubernetes" } },
        "spec": { "type": "ClusterIP", "sessionAffinity": "None",
                  "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": secure_port }] },
    });
    match registry
        .create(&services, Some("default"), kubernetes, &by_server)
        .await
    {
        Ok(_) => tracing::info!("created the kubernetes service"),
        Err(e) if e.code() == 409 => {}
        Err(e) => return Err(e),
    }
    Ok(())
}
