//! Objects that exist from the start, as on upstream: the default, kube-system, kube-public and
//! kube-node-lease namespaces.

use rudder_api::status::ApiError;
use serde_json::json;

use crate::registry::Registry;

pub(crate) const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub(crate) async fn ensure(registry: &Registry) -> Result<(), ApiError> {
    let namespaces = registry
        .get_resource("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces are not served"))?;
    for name in SYSTEM_NAMESPACES {
        let ns = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } });
        match registry.create(&namespaces, None, ns, false).await {
            Ok(_) => tracing::info!(namespace = name, "created system namespace"),
            Err(e) if e.code() == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
