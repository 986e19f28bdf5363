//! TokenRequest, `POST .../serviceaccounts/<name>/token` (upstream
//! `pkg/registry/core/serviceaccount/storage/token.go`): signs a token for an existing service
//! account, for the requested audiences (the API audiences by default) and lifetime (one hour
//! by default, at least ten minutes), optionally bound to a pod or secret that must exist, run
//! as that service account and, when a UID is given, have that UID.

use rudder_api::status::{ApiError, StatusReason};
use rudder_api::validation::{FieldError, FieldPath};
use serde_json::{Value, json};

use crate::authn_sa::{Bound, Ref, ServiceAccountTokens, now};
use crate::registry::Registry;

const DEFAULT_SECONDS: i64 = 3600;
const MIN_SECONDS: i64 = 600;
const MAX_SECONDS: i64 = 1 << 32;

fn invalid(field: &str, value: impl Into<rudder_api::validation::BadValue>, detail: &str) -> ApiError {
    let path = field
        .split('.')
        .skip(1)
        .fold(FieldPath::new("spec"), |p, c| p.child(c));
    ApiError::invalid(
        "authentication.k8s.io",
        "TokenRequest",
        "",
        &[FieldError::invalid(&path, value, detail)],
    )
}

fn uid_of(obj: &Value) -> String {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

async fn get(
    registry: &Registry,
    plural: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<Value, ApiError> {
    let res = registry
        .get_resource("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    Ok(registry.get(&res, namespace, name).await?.value())
}

/// Answers a TokenRequest for `namespace/name`.
pub(crate) async fn create(
    registry: &Registry,
    tokens: &ServiceAccountTokens,
    namespace: &str,
    name: &str,
    mut request: Value,
) -> Result<Value, ApiError> {
    let sa = get(registry, "serviceaccounts", Some(namespace), name).await?;
    let spec = request.get("spec").cloned().unwrap_or_else(|| json!({}));
    let seconds = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_SECONDS,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.expirationSeconds must be an integer"))?,
    };
    if seconds < MIN_SECONDS {
        return Err(invalid(
            "spec.expirationSeconds",
            seconds,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if seconds > MAX_SECONDS {
        return Err(invalid(
            "spec.expirationSeconds",
            seconds,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let mut audiences: Vec<String> = spec["audiences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    if audiences.is_empty() {
        audiences = tokens.api_audiences().to_vec();
    }
    let bound = match spec.get("boundObjectRef").filter(|b| !b.is_null()) {
        None => None,
        Some(reference) => Some(bind(registry, namespace, name, reference).await?),
    };
    let (token, exp) = tokens
        .issue(
            namespace,
            name,
            &uid_of(&sa),
            &audiences,
            seconds,
            bound.as_ref(),
            now(),
        )
        .map_err(ApiError::internal)?;
    let expiration = crate::registry::object::rfc3339(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(exp.max(0) as u64),
    );
    request["apiVersion"] = json!("authentication.k8s.io/v1");
    request["kind"] = json!("TokenRequest");
    request["metadata"] = json!({
        "name": name,
        "namespace": namespace,
        "creationTimestamp": crate::registry::object::now_rfc3339(),
    });
    request["spec"]["audiences"] = json!(audiences);
    request["spec"]["expirationSeconds"] = json!(seconds);
    request["status"] = json!({ "token": token, "expirationTimestamp": expiration });
    Ok(request)
}

/// Resolves `boundObjectRef` and checks the object may carry this service account's token.
async fn bind(registry: &Registry, namespace: &str, sa: &str, reference: &Value) -> Result<Bound, ApiError> {
    let field = |k: &str| reference.get(k).and_then(Value::as_str).unwrap_or_default();
    let (kind, name, uid) = (field("kind"), field("name"), field("uid"));
    let object = match kind {
        "Pod" => get(registry, "pods", Some(namespace), name).await?,
        "Secret" => get(registry, "secrets", Some(namespace), name).await?,
        other => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {other}"
            )));
        }
    };
    let actual = uid_of(&object);
    if !uid.is_empty() && uid != actual {
        return Err(ApiError::new(
            409,
            StatusReason::Conflict,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated",
                if kind == "Pod" { "pods" } else { "secrets" }
            ),
        ));
    }
    let reference = Ref {
        name: name.to_string(),
        uid: actual,
    };
    if kind == "Secret" {
        return Ok(Bound::Secret(reference));
    }
    let runs_as = object
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    if runs_as != sa {
        return Err(ApiError::bad_request(format!(
            "cannot bind token for serviceaccount {sa:?} to pod running with different serviceaccount name."
        )));
    }
    let node = match object.pointer("/spec/nodeName").and_then(Value::as_str) {
        Some(node) if !node.is_empty() => {
            let uid = get(registry, "nodes", None, node)
                .await
                .map(|n| uid_of(&n))
                .unwrap_or_default();
            Some(Ref {
                name: node.to_string(),
                uid,
            })
        }
        _ => None,
    };
    Ok(Bound::Pod { pod: reference, node })
}
