//! The Node authorizer (upstream `plugin/pkg/auth/authorizer/node`), for users
//! `system:node:<name>` in `system:nodes`:
//!
//! - secrets, configmaps and persistentvolumeclaims may be read only when a pod bound to the
//!   node references them (and persistentvolumes when such a claim is bound to them), one object
//!   at a time (`get`, or `list`/`watch` with a `metadata.name` field selector);
//! - service-account tokens may be requested only for service accounts of the node's pods;
//! - everything else is checked against the `system:node` role's rules.
//!
//! Upstream leaves "only its own Node, Lease and pods' status" to the NodeRestriction admission
//! plugin (`admission/node_restriction.rs`, which also checks labels, taints and mirror pods).
//! The cross-node writes are denied here as well, before the body is read, so they stay
//! refused with that plugin disabled: a node may not write another node (or its status),
//! another node's Lease, or a pod bound elsewhere.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::Value;

use super::policy::roles::CLUSTER_ROLES;
use super::rbac::rule;
use super::{Attributes, Authorize, Decision, node_name};
use crate::registry::Registry;

#[derive(Debug)]
pub(crate) struct NodeAuthorizer {
    registry: Arc<Registry>,
    rules: Vec<PolicyRule>,
}

/// What a pod references, by kind.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PodRefs {
    pub(crate) secrets: Vec<String>,
    pub(crate) configmaps: Vec<String>,
    pub(crate) claims: Vec<String>,
    pub(crate) service_account: String,
}

const WRITES: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

impl NodeAuthorizer {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        let rules = CLUSTER_ROLES
            .iter()
            .find(|r| r.name == "system:node")
            .map(|r| r.rules.iter().map(|rule| rule.to_policy()).collect())
            .unwrap_or_default();
        Self { registry, rules }
    }

    fn static_rules(&self, attrs: &Attributes) -> Decision {
        if self.rules.iter().any(|r| rule::allows(r, attrs)) {
            Decision::Allow(String::new())
        } else {
            Decision::NoOpinion(String::new())
        }
    }

    /// Pods in `namespace` bound to `node`.
    fn pods_on(&self, node: &str, namespace: &str) -> Vec<Value> {
        let Some(pods) = self.registry.get_resource("", "v1", "pods") else {
            return Vec::new();
        };
        let (objects, _) = pods
            .cache
            .snapshot_prefix(&pods.info.storage_list_prefix(Some(namespace)));
        objects
            .iter()
            .map(|o| o.value())
            .filter(|p| p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(node))
            .collect()
    }

    fn pod_node(&self, namespace: &str, name: &str) -> Option<String> {
        let pods = self.registry.get_resource("", "v1", "pods")?;
        let pod = pods.cache.get(&pods.key(Some(namespace), name))?.value();
        Some(pod.pointer("/spec/nodeName")?.as_str()?.to_string())
    }

    fn referenced(&self, node: &str, attrs: &Attributes) -> bool {
        let refs: Vec<PodRefs> = self
            .pods_on(node, &attrs.namespace)
            .iter()
            .map(references)
            .collect();
        let name = &attrs.name;
        match attrs.resource.as_str() {
            "secrets" => refs.iter().any(|r| r.secrets.contains(name)),
            "configmaps" => refs.iter().any(|r| r.configmaps.contains(name)),
            "persistentvolumeclaims" => refs.iter().any(|r| r.claims.contains(name)),
            "serviceaccounts" => refs.iter().any(|r| &r.service_account == name),
            _ => false,
        }
    }

    /// A persistent volume bound to a claim of one of the node's pods.
    fn volume_referenced(&self, node: &str, volume: &str) -> bool {
        let Some(claims) = self.registry.get_resource("", "v1", "persistentvolumeclaims") else {
            return false;
        };
        let (objects, _) = claims.cache.snapshot();
        objects.iter().map(|o| o.value()).any(|claim| {
            claim.pointer("/spec/volumeName").and_then(Value::as_str) == Some(volume) && {
                let ns = claim
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let name = claim
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.pods_on(node, ns)
                    .iter()
                    .any(|p| references(p).claims.iter().any(|c| c == name))
            }
        })
    }
}

fn no_relationship(node: &str) -> Decision {
    Decision::NoOpinion(format!(
        "no relationship found between node '{node}' and this object"
    ))
}

impl Authorize for NodeAuthorizer {
    fn authorize(&self, attrs: &Attributes) -> Decision {
        let Some(node) = node_name(&attrs.user) else {
            return Decision::NoOpinion(String::new());
        };
        if !attrs.resource_request {
            return self.static_rules(attrs);
        }
        let verb = attrs.verb.as_str();
        match (attrs.api_group.as_str(), attrs.resource.as_str()) {
            ("", "secrets" | "configmaps" | "persistentvolumeclaims" | "persistentvolumes") => {
                let verbs: &[&str] = match (attrs.resource.as_str(), attrs.subresource.as_str()) {
                    ("secrets" | "configmaps", "") => &["get", "list", "watch"],
                    ("persistentvolumeclaims", "status") => &["get", "update", "patch"],
                    ("persistentvolumeclaims" | "persistentvolumes", "") => &["get"],
                    _ => &[],
                };
                if !verbs.contains(&verb) {
                    return Decision::NoOpinion(format!(
                        "can only {} individual resources of this type",
                        verbs.join("/")
                    ));
                }
                if attrs.name.is_empty() {
                    return Decision::NoOpinion("can only read resources of this type by name".into());
                }
                let related = if attrs.resource == "persistentvolumes" {
                    self.volume_referenced(node, &attrs.name)
                } else {
                    self.referenced(node, attrs)
                };
                if related {
                    self.static_rules(attrs)
                } else {
                    no_relationship(node)
                }
            }
            ("", "serviceaccounts") if attrs.subresource == "token" => {
                if verb == "create" && self.referenced(node, attrs) {
                    self.static_rules(attrs)
                } else {
                    no_relationship(node)
                }
            }
            ("", "nodes") if WRITES.contains(&verb) && !creating(attrs) && attrs.name != node => {
                Decision::Deny(format!(
                    "node {node:?} is not allowed to modify node {:?}",
                    attrs.name
                ))
            }
            ("coordination.k8s.io", "leases")
                if WRITES.contains(&verb)
                    && (attrs.namespace != "kube-node-lease" || (!creating(attrs) && attrs.name != node)) =>
            {
                Decision::Deny(format!(
                    "node {node:?} may only write its own lease in kube-node-lease, not {:?}",
                    attrs.name
                ))
            }
            ("", "pods") if !attrs.subresource.is_empty() || verb == "delete" => {
                // Status, deletion and eviction of pods bound to this node only.
                if WRITES.contains(&verb)
                    && self.pod_node(&attrs.namespace, &attrs.name).as_deref() != Some(node)
                {
                    return Decision::Deny(format!(
                        "node {node:?} can only modify pods bound to it, not pod {:?}",
                        attrs.name
                    ));
                }
                self.static_rules(attrs)
            }
            _ => self.static_rules(attrs),
        }
    }
}

/// A create names its object in the body, which [`check_create`] looks at.
fn creating(attrs: &Attributes) -> bool {
    attrs.verb == "create" && attrs.name.is_empty()
}

/// Whether a request creates an object whose name a node identity must own (its Node, its
/// Lease); the body is then checked by [`check_create`].
pub(crate) fn create_needs_check(attrs: &Attributes) -> bool {
    node_name(&attrs.user).is_some()
        && creating(attrs)
        && attrs.subresource.is_empty()
        && matches!(
            (attrs.api_group.as_str(), attrs.resource.as_str()),
            ("", "nodes") | ("coordination.k8s.io", "leases")
        )
}

/// A node may create only the Node and Lease named after itself (upstream's NodeRestriction).
pub(crate) fn check_create(attrs: &Attributes, object: &Value) -> Result<(), rudder_api::status::ApiError> {
    let Some(node) = node_name(&attrs.user) else {
        return Ok(());
    };
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name == node {
        return Ok(());
    }
    Err(rudder_api::status::ApiError::forbidden(
        &attrs.api_group,
        &attrs.resource,
        name,
        format!(
            "node {node:?} is not allowed to modify {} {name:?}",
            attrs.resource.trim_end_matches('s')
        ),
    ))
}

/// Everything a pod references that a node may need to read (upstream's graph edges).
pub(crate) fn references(pod: &Value) -> PodRefs {
    let mut refs = PodRefs::default();
    let spec = &pod["spec"];
    let push = |list: &mut Vec<String>, v: &Value| {
        if let Some(name) = v.as_str().filter(|n| !n.is_empty())
            && !list.iter().any(|n| n == name)
        {
            list.push(name.to_string());
        }
    };
    for s in spec["imagePullSecrets"].as_array().into_iter().flatten() {
        push(&mut refs.secrets, &s["name"]);
    }
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for v in spec["volumes"].as_array().into_iter().flatten() {
        push(&mut refs.secrets, &v["secret"]["secretName"]);
        push(&mut refs.configmaps, &v["configMap"]["name"]);
        push(&mut refs.claims, &v["persistentVolumeClaim"]["claimName"]);
        if v.get("ephemeral").is_some()
            && let Some(vol) = v["name"].as_str()
        {
            push(&mut refs.claims, &Value::from(format!("{pod_name}-{vol}")));
        }
        for source in v["projected"]["sources"].as_array().into_iter().flatten() {
            push(&mut refs.secrets, &source["secret"]["name"]);
            push(&mut refs.configmaps, &source["configMap"]["name"]);
        }
        for key in [
            "csi",
            "cephfs",
            "rbd",
            "flexVolume",
            "iscsi",
            "scaleIO",
            "storageos",
            "azureFile",
        ] {
            push(&mut refs.secrets, &v[key]["nodePublishSecretRef"]["name"]);
            push(&mut refs.secrets, &v[key]["secretRef"]["name"]);
        }
        push(&mut refs.secrets, &v["azureFile"]["secretName"]);
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            for e in c["env"].as_array().into_iter().flatten() {
                push(&mut refs.secrets, &e["valueFrom"]["secretKeyRef"]["name"]);
                push(&mut refs.configmaps, &e["valueFrom"]["configMapKeyRef"]["name"]);
            }
            for e in c["envFrom"].as_array().into_iter().flatten() {
                push(&mut refs.secrets, &e["secretRef"]["name"]);
                push(&mut refs.configmaps, &e["configMapRef"]["name"]);
            }
        }
    }
    refs.service_account = spec["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_every_kind_of_reference() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {
            "serviceAccountName": "builder",
            "imagePullSecrets": [{"name": "pull"}],
            "volumes": [
                {"name": "a", "secret": {"secretName": "vol-secret"}},
                {"name": "b", "configMap": {"name": "vol-cm"}},
                {"name": "c", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "d", "projected": {"sources": [{"secret": {"name": "proj-secret"}}, {"configMap": {"name": "proj-cm"}}]}},
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}}
            ],
            "containers": [{"name": "c", "env": [
                {"name": "X", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}},
                {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "k"}}}],
                "envFrom": [{"secretRef": {"name": "from-secret"}}]}],
            "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "init-cm"}}]}]
        }});
        let refs = references(&pod);
        assert_eq!(
            refs.secrets,
            ["pull", "vol-secret", "proj-secret", "env-secret", "from-secret"]
        );
        assert_eq!(refs.configmaps, ["vol-cm", "proj-cm", "env-cm", "init-cm"]);
        assert_eq!(refs.claims, ["data", "p-scratch"]);
        assert_eq!(refs.service_account, "builder");
        assert_eq!(references(&json!({"spec": {}})).service_account, "default");
    }
}
