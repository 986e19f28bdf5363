//! NodeRestriction (upstream `plugin/pkg/admission/noderestriction`): a kubelet
//! (`system:node:<name>` in `system:nodes`) may only
//!
//! - create, update and delete its own Node, without setting labels outside the kubelet's set
//!   (`kubernetes.io/hostname`, `node.kubernetes.io/*`, ...) or any `node-restriction.kubernetes.io/`
//!   label, and without changing its taints;
//! - create mirror pods bound to itself, owned by its Node and referencing no service account,
//!   secret, configmap or claim; delete, evict and update the status of pods bound to it;
//! - write its own Lease in `kube-node-lease`.
//!
//! The Node authorizer (`authz/node.rs`) refuses the cross-node writes too, before the body is
//! read; this plugin adds the checks that need the object.

use std::collections::BTreeSet;

use rudder_api::status::ApiError;
use serde_json::{Map, Value};

use super::lookup::PODS;
use super::{Attributes, Cluster, Operation, forbidden};
use crate::authz::node_name;

const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

pub(super) fn admit(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    let Some(node) = node_name(attrs.user) else {
        return Ok(());
    };
    let group = attrs.resource.group;
    match (group, attrs.resource.plural) {
        ("", "pods") => {
            // The pod as stored decides deletes, evictions and status updates.
            let stored = attrs.old.cloned().or_else(|| {
                (attrs.operation != Operation::Create)
                    .then(|| cluster.get(PODS, Some(attrs.namespace), attrs.name))
                    .flatten()
            });
            pod(attrs, node, obj, stored.as_ref())
        }
        ("", "nodes") => node_write(attrs, node, obj),
        ("coordination.k8s.io", "leases") => lease(attrs, node, obj),
        _ => Ok(()),
    }
}

fn bound_node(pod: Option<&Value>) -> Option<&str> {
    pod?.pointer("/spec/nodeName")?.as_str()
}

/// Pods: mirror pods only, deletes, evictions and status of pods bound to the node.
pub(super) fn pod(
    attrs: &Attributes<'_>,
    node: &str,
    obj: Option<&Value>,
    stored: Option<&Value>,
) -> Result<(), ApiError> {
    let deny = |msg: String| Err(forbidden(attrs, obj.or(stored), msg));
    match (attrs.subresource, attrs.operation) {
        ("", Operation::Create) => match obj {
            Some(p) => mirror_pod(attrs, node, p),
            None => Ok(()),
        },
        ("", Operation::Delete) => {
            if bound_node(stored) != Some(node) {
                return deny(format!(
                    "node {node:?} can only delete pods with spec.nodeName set to itself"
                ));
            }
            Ok(())
        }
        ("", op) => deny(format!(
            "unexpected operation {:?}, node {node:?} can only create and delete mirror pods",
            op.as_str()
        )),
        ("status", Operation::Update) => {
            if bound_node(stored) != Some(node) {
                return deny(format!(
                    "node {node:?} cannot update pod status for pods on other nodes"
                ));
            }
            Ok(())
        }
        ("status", op) => deny(format!("unexpected operation {:?}", op.as_str())),
        ("eviction", _) => {
            if bound_node(stored) != Some(node) {
                return deny(format!(
                    "node {node} can only evict pods with spec.nodeName set to itself"
                ));
            }
            Ok(())
        }
        (sub, _) => deny(format!(
            "unexpected pod subresource {sub:?}, only 'status' and 'eviction' are allowed"
        )),
    }
}

fn mirror_pod(attrs: &Attributes<'_>, node: &str, pod: &Value) -> Result<(), ApiError> {
    let deny = |msg: String| Err(forbidden(attrs, Some(pod), msg));
    let annotated = pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(MIRROR_ANNOTATION))
        .is_some();
    if !annotated {
        return deny(format!(
            "pod does not have {MIRROR_ANNOTATION:?} annotation, node {node:?} can only create mirror pods"
        ));
    }
    if bound_node(Some(pod)) != Some(node) {
        return deny(format!(
            "node {node:?} can only create pods with spec.nodeName set to itself"
        ));
    }
    let owners = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match owners.as_slice() {
        [] => {
            return deny(format!(
                "node {node:?} can only create pods with an owner reference set to itself"
            ));
        }
        [owner] => {
            let field = |f: &str| owner.get(f).and_then(Value::as_str).unwrap_or_default();
            if field("apiVersion") != "v1" || field("kind") != "Node" || field("name") != node {
                return deny(format!(
                    "node {node:?} can only create pods with an owner reference set to itself"
                ));
            }
            if owner.get("controller").and_then(Value::as_bool) != Some(true) {
                return deny(format!(
                    "node {node:?} can only create pods with a controller owner reference set to itself"
                ));
            }
            if owner.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true) {
                return deny(format!(
                    "node {node:?} must not set blockOwnerDeletion on an owner reference"
                ));
            }
        }
        _ => {
            return deny(format!(
                "node {node:?} can only create pods with a single owner reference set to itself"
            ));
        }
    }
    let account = pod
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !account.is_empty() {
        return deny(format!(
            "node {node:?} can not create pods that reference a service account"
        ));
    }
    let refs = crate::authz::node::references(pod);
    if !refs.secrets.is_empty() {
        return deny(format!(
            "node {node:?} can not create pods that reference secrets"
        ));
    }
    if !refs.configmaps.is_empty() {
        return deny(format!(
            "node {node:?} can not create pods that reference configmaps"
        ));
    }
    let claims = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|v| v.get("persistentVolumeClaim").is_some());
    if claims {
        return deny(format!(
            "node {node:?} can not create pods that reference persistentvolumeclaims"
        ));
    }
    Ok(())
}

fn labels(obj: Option<&Value>) -> Map<String, Value> {
    obj.and_then(|o| o.pointer("/metadata/labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Nodes: its own only; kubelet labels only; taints untouched.
pub(super) fn node_write(attrs: &Attributes<'_>, node: &str, obj: Option<&Value>) -> Result<(), ApiError> {
    let requested = match attrs.operation {
        Operation::Create => obj
            .and_then(|o| o.pointer("/metadata/name"))
            .and_then(Value::as_str)
            .unwrap_or_default(),
        _ => attrs.name,
    };
    let deny = |msg: String| Err(forbidden(attrs, obj.or(attrs.old), msg));
    if requested != node {
        return deny(format!(
            "node {node:?} is not allowed to modify node {requested:?}"
        ));
    }
    match attrs.operation {
        Operation::Create => {
            let bad = forbidden_labels(labels(obj).keys().map(String::as_str));
            if !bad.is_empty() {
                return deny(format!(
                    "is not allowed to set the following labels: {}",
                    bad.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Operation::Update if attrs.subresource.is_empty() || attrs.subresource == "status" => {
            let taints = |o: Option<&Value>| o.and_then(|o| o.pointer("/spec/taints")).cloned();
            if taints(obj) != taints(attrs.old) {
                return deny(format!("node {node:?} is not allowed to modify taints"));
            }
            let (new, old) = (labels(obj), labels(attrs.old));
            let modified = new
                .iter()
                .filter(|(k, v)| old.get(*k) != Some(*v))
                .map(|(k, _)| k.as_str())
                .chain(old.keys().filter(|k| !new.contains_key(*k)).map(String::as_str));
            let bad = forbidden_labels(modified);
            if !bad.is_empty() {
                return deny(format!(
                    "is not allowed to modify labels: {}",
                    bad.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Labels a kubelet may set itself (upstream `kubeletapis.IsKubeletLabel`).
fn is_kubelet_label(label: &str) -> bool {
    const LABELS: &[&str] = &[
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "node.kubernetes.io/windows-build",
    ];
    if LABELS.contains(&label) {
        return true;
    }
    let ns = label_namespace(label);
    ["kubelet.kubernetes.io", "node.kubernetes.io"]
        .iter()
        .any(|allowed| ns == *allowed || ns.ends_with(&format!(".{allowed}")))
}

fn label_namespace(label: &str) -> &str {
    label.split_once('/').map_or("", |(ns, _)| ns)
}

fn forbidden_labels<'a>(labels: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    labels
        .filter(|label| {
            let ns = label_namespace(label);
            let restricted =
                ns == "node-restriction.kubernetes.io" || ns.ends_with(".node-restriction.kubernetes.io");
            let kubernetes = ["kubernetes.io", "k8s.io"]
                .iter()
                .any(|d| ns == *d || ns.ends_with(&format!(".{d}")));
            restricted || (kubernetes && !is_kubelet_label(label))
        })
        .map(str::to_string)
        .collect()
}

/// Leases: its own, in `kube-node-lease`.
fn lease(attrs: &Attributes<'_>, node: &str, obj: Option<&Value>) -> Result<(), ApiError> {
    if attrs.namespace != "kube-node-lease" {
        return Err(forbidden(
            attrs,
            obj,
            "can only access leases in the \"kube-node-lease\" system namespace",
        ));
    }
    let requested = match attrs.operation {
        Operation::Create => obj
            .and_then(|o| o.pointer("/metadata/name"))
            .and_then(Value::as_str)
            .unwrap_or_default(),
        _ => attrs.name,
    };
    if requested != node {
        return Err(forbidden(
            attrs,
            obj,
            "can only access node lease with the same name as the requesting node",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;
    use crate::authn::UserInfo;
    use serde_json::json;

    fn kubelet() -> UserInfo {
        UserInfo {
            name: "system:node:n1".into(),
            uid: String::new(),
            groups: vec!["system:nodes".into()],
            extra: Default::default(),
        }
    }

    fn msg(r: Result<(), ApiError>) -> Option<String> {
        r.err().map(|e| e.message().to_string())
    }

    #[test]
    fn nodes_write_only_pods_bound_to_them_and_mirror_pods() {
        let user = kubelet();
        let on = |n: &str| json!({"metadata": {"name": "p"}, "spec": {"nodeName": n}});
        let mirror = |extra: Value| {
            let mut p = json!({"metadata": {"name": "p", "annotations": {MIRROR_ANNOTATION: "h"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "u", "controller": true}]},
                "spec": {"nodeName": "n1", "containers": [{"name": "c"}]}});
            if let (Some(spec), Some(extra)) = (p["spec"].as_object_mut(), extra.as_object()) {
                spec.extend(extra.clone());
            }
            p
        };
        let mut create = attrs(Operation::Create, "pods", "ns", "p");
        create.user = &user;
        let mut delete = attrs(Operation::Delete, "pods", "ns", "p");
        delete.user = &user;
        let mut status = attrs(Operation::Update, "pods", "ns", "p");
        status.user = &user;
        status.subresource = "status";
        let mut update = attrs(Operation::Update, "pods", "ns", "p");
        update.user = &user;
        type Case<'a> = (Attributes<'a>, Option<Value>, Option<Value>, Option<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            (create, Some(mirror(json!({}))), None, None),
            (
                create,
                Some(on("n1")),
                None,
                Some(
                    "pods \"p\" is forbidden: pod does not have \"kubernetes.io/config.mirror\" annotation, node \"n1\" can only create mirror pods",
                ),
            ),
            (
                create,
                Some(mirror(json!({"nodeName": "n2"}))),
                None,
                Some(
                    "pods \"p\" is forbidden: node \"n1\" can only create pods with spec.nodeName set to itself",
                ),
            ),
            (
                create,
                Some(mirror(
                    json!({"volumes": [{"name": "s", "secret": {"secretName": "x"}}]}),
                )),
                None,
                Some("pods \"p\" is forbidden: node \"n1\" can not create pods that reference secrets"),
            ),
            (
                create,
                Some(mirror(
                    json!({"volumes": [{"name": "c", "persistentVolumeClaim": {"claimName": "x"}}]}),
                )),
                None,
                Some(
                    "pods \"p\" is forbidden: node \"n1\" can not create pods that reference persistentvolumeclaims",
                ),
            ),
            (delete, None, Some(on("n1")), None),
            (
                delete,
                None,
                Some(on("n2")),
                Some(
                    "pods \"p\" is forbidden: node \"n1\" can only delete pods with spec.nodeName set to itself",
                ),
            ),
            (status, Some(on("n1")), Some(on("n1")), None),
            (
                status,
                Some(on("n2")),
                Some(on("n2")),
                Some("pods \"p\" is forbidden: node \"n1\" cannot update pod status for pods on other nodes"),
            ),
            (
                update,
                Some(on("n1")),
                Some(on("n1")),
                Some(
                    "pods \"p\" is forbidden: unexpected operation \"UPDATE\", node \"n1\" can only create and delete mirror pods",
                ),
            ),
        ];
        for (a, obj, stored, want) in cases {
            assert_eq!(
                msg(pod(&a, "n1", obj.as_ref(), stored.as_ref())).as_deref(),
                want,
                "{:?} {obj:?}",
                a.operation
            );
        }
    }

    #[test]
    fn nodes_write_only_themselves_with_kubelet_labels_and_same_taints() {
        let user = kubelet();
        let node = |name: &str, labels: Value, taints: Value| json!({"metadata": {"name": name, "labels": labels}, "spec": {"taints": taints}});
        let mut create = attrs(Operation::Create, "nodes", "", "");
        create.user = &user;
        let old = node("n1", json!({"kubernetes.io/hostname": "n1"}), json!([]));
        let mut update = attrs(Operation::Update, "nodes", "", "n1");
        update.user = &user;
        update.old = Some(&old);
        let cases: Vec<(Attributes<'_>, Value, Option<&str>)> = vec![
            (
                create,
                node(
                    "n1",
                    json!({"kubernetes.io/hostname": "n1", "node.kubernetes.io/pool": "a", "team": "x"}),
                    json!([]),
                ),
                None,
            ),
            (
                create,
                node("n2", json!({}), json!([])),
                Some("nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\""),
            ),
            (
                create,
                node(
                    "n1",
                    json!({"node-role.kubernetes.io/control-plane": "", "node-restriction.kubernetes.io/x": "y"}),
                    json!([]),
                ),
                Some(
                    "nodes \"n1\" is forbidden: is not allowed to set the following labels: node-restriction.kubernetes.io/x, node-role.kubernetes.io/control-plane",
                ),
            ),
            (
                update,
                node(
                    "n1",
                    json!({"kubernetes.io/hostname": "n1", "zone": "a"}),
                    json!([]),
                ),
                None,
            ),
            (
                update,
                node(
                    "n1",
                    json!({"kubernetes.io/hostname": "n1"}),
                    json!([{"key": "k", "effect": "NoSchedule"}]),
                ),
                Some("nodes \"n1\" is forbidden: node \"n1\" is not allowed to modify taints"),
            ),
            (
                update,
                node(
                    "n1",
                    json!({"kubernetes.io/hostname": "n1", "example.k8s.io/x": "y"}),
                    json!([]),
                ),
                Some("nodes \"n1\" is forbidden: is not allowed to modify labels: example.k8s.io/x"),
            ),
        ];
        for (a, obj, want) in cases {
            assert_eq!(msg(node_write(&a, "n1", Some(&obj))).as_deref(), want, "{obj}");
        }
    }

    #[test]
    fn leases_only_its_own_in_kube_node_lease() {
        let user = kubelet();
        let mut own = attrs_in_lease(Operation::Create, "kube-node-lease");
        own.user = &user;
        let mut elsewhere = attrs_in_lease(Operation::Create, "default");
        elsewhere.user = &user;
        assert_eq!(
            msg(lease(&own, "n1", Some(&json!({"metadata": {"name": "n1"}})))),
            None
        );
        assert!(
            msg(lease(&own, "n1", Some(&json!({"metadata": {"name": "n2"}}))))
                .is_some_and(|m| m.contains("same name"))
        );
        assert!(
            msg(lease(
                &elsewhere,
                "n1",
                Some(&json!({"metadata": {"name": "n1"}}))
            ))
            .is_some_and(|m| m.contains("kube-node-lease"))
        );
    }

    fn attrs_in_lease(op: Operation, ns: &'static str) -> Attributes<'static> {
        crate::admission::tests::attrs_in("coordination.k8s.io", "leases", op, ns, "")
    }
}
