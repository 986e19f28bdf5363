//! A binding's params (upstream `policy/generic` param resolution): `paramKind` names the
//! resource, `paramRef` picks objects by name or selector, in `paramRef.namespace` or, for
//! a namespaced param kind, the request's namespace; `parameterNotFoundAction` says what no
//! params means.

use std::sync::Arc;

use rudder_api::selectors::LabelSelector;
use serde_json::Value;

use super::evaluate::Failure;
use crate::admission::{Attributes, Cluster};
use crate::registry::Resource;

/// The params to evaluate a policy with.
#[derive(Debug)]
pub(crate) enum Params {
    /// The policy takes no params.
    None,
    Found(Vec<Value>),
    /// None found, and the binding allows that.
    Allow,
    /// A configuration error or no params under `Deny`: refuses the request.
    Failed(Failure),
}

fn failed(message: String) -> Params {
    Params::Failed(Failure {
        message,
        reason: None,
    })
}

/// The resource of `apiVersion`/`kind`, built-in or custom.
fn resource_for(cluster: &Cluster<'_>, api_version: &str, kind: &str) -> Option<Arc<Resource>> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let builtin = rudder_api::resources::RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
        .and_then(|r| cluster.registry.get_resource(r.group, r.version, r.plural));
    builtin.or_else(|| {
        cluster
            .registry
            .custom_resources()
            .into_iter()
            .find(|r| r.info.group == group && r.info.version == version && r.info.kind == kind)
    })
}

pub(crate) fn resolve(
    policy: &Value,
    binding: &Value,
    attrs: &Attributes<'_>,
    cluster: &Cluster<'_>,
) -> Params {
    let Some(kind) = policy.get("paramKind") else {
        return Params::None;
    };
    let api_version = kind.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind_name = kind.get("kind").and_then(Value::as_str).unwrap_or_default();
    let Some(reference) = binding.get("paramRef") else {
        return failed(format!(
            "policy binding must specify paramRef because the policy has paramKind {api_version}, Kind={kind_name}"
        ));
    };
    let Some(res) = resource_for(cluster, api_version, kind_name) else {
        return failed(format!(
            "failed to find resource referenced by paramKind: '{api_version}, Kind={kind_name}'"
        ));
    };
    let namespace = match reference
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(ns) => Some(ns),
        None if res.info.namespaced => {
            if attrs.namespace.is_empty() {
                return failed(
                    "cannot use namespaced paramRef in policy binding that matches cluster-scoped resources"
                        .into(),
                );
            }
            Some(attrs.namespace)
        }
        None => None,
    };
    let namespace = namespace.filter(|_| res.info.namespaced);
    let found: Vec<Value> = match reference
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(name) => res
            .cache
            .get(&res.key(namespace, name))
            .map(|o| vec![o.value()])
            .unwrap_or_default(),
        None => {
            let selector = match LabelSelector::from_label_selector(reference.get("selector")) {
                Ok(s) => s,
                Err(e) => return failed(format!("invalid paramRef selector: {}", e.message())),
            };
            let (objects, _) = res
                .cache
                .snapshot_prefix(&res.info.storage_list_prefix(namespace));
            objects
                .iter()
                .map(|o| o.value())
                .filter(|o| selector.matches_object(o))
                .collect()
        }
    };
    if !found.is_empty() {
        return Params::Found(found);
    }
    match reference.get("parameterNotFoundAction").and_then(Value::as_str) {
        Some("Allow") => Params::Allow,
        _ => failed("no params found for policy binding with `Deny` parameterNotFoundAction".into()),
    }
}
