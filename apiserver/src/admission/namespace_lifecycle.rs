//! NamespaceLifecycle (upstream `apiserver/pkg/admission/plugin/namespace/lifecycle`): nothing
//! is created in a namespace that does not exist or is being deleted, and the immortal
//! namespaces `default`, `kube-system` and `kube-public` cannot be deleted.

use rudder_api::status::ApiError;
use serde_json::Value;

use super::lookup::NAMESPACES;
use super::{Attributes, Cluster, Operation, forbidden};

/// Namespaces that can never be deleted.
pub(crate) const IMMORTAL: &[&str] = &["default", "kube-system", "kube-public"];

/// What the plugin knows about the request's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NamespaceState {
    Missing,
    Active,
    Terminating,
}

pub(super) fn state(ns: Option<&Value>) -> NamespaceState {
    match ns {
        None => NamespaceState::Missing,
        Some(ns)
            if ns
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|t| !t.is_null())
                || ns.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating") =>
        {
            NamespaceState::Terminating
        }
        Some(_) => NamespaceState::Active,
    }
}

/// Whether the request concerns the namespace at all: namespaced writes other than deletes,
/// and deletes of namespaces themselves.
pub(super) fn applies(attrs: &Attributes<'_>) -> bool {
    if attrs.is_core("namespaces") {
        return attrs.operation == Operation::Delete;
    }
    !attrs.namespace.is_empty() && matches!(attrs.operation, Operation::Create | Operation::Update)
}

/// The decision, given the namespace's state (`None` for namespace deletes).
pub(super) fn decide(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    ns: Option<NamespaceState>,
) -> Result<(), ApiError> {
    if attrs.is_core("namespaces") {
        if attrs.operation == Operation::Delete && IMMORTAL.contains(&attrs.name) {
            return Err(forbidden(attrs, obj, "this namespace may not be deleted"));
        }
        return Ok(());
    }
    match ns {
        Some(NamespaceState::Missing) => Err(ApiError::not_found("", "namespaces", attrs.namespace)),
        Some(NamespaceState::Terminating) if attrs.operation == Operation::Create => {
            let name = obj
                .and_then(|o| {
                    o.pointer("/metadata/name")
                        .or_else(|| o.pointer("/metadata/generateName"))
                })
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("Unknown");
            Err(ApiError::namespace_terminating(
                attrs.resource.group,
                attrs.resource.plural,
                name,
                attrs.namespace,
            ))
        }
        _ => Ok(()),
    }
}

pub(super) async fn admit(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    if !applies(attrs) {
        return Ok(());
    }
    let ns = if attrs.is_core("namespaces") {
        None
    } else {
        // A namespace created a moment ago may not be in the cache yet: storage decides.
        let ns = cluster.get_live(NAMESPACES, None, attrs.namespace).await?;
        Some(state(ns.as_ref()))
    };
    decide(attrs, obj, ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;
    use serde_json::json;

    #[test]
    fn refuses_missing_and_terminating_namespaces_and_immortal_deletes() {
        let pod = json!({"metadata": {"name": "p"}});
        let cases: Vec<(Attributes<'static>, Option<NamespaceState>, Option<&str>)> = vec![
            (
                attrs(Operation::Create, "pods", "ns", "p"),
                Some(NamespaceState::Active),
                None,
            ),
            (
                attrs(Operation::Create, "pods", "ns", "p"),
                Some(NamespaceState::Missing),
                Some("namespaces \"ns\" not found"),
            ),
            (
                attrs(Operation::Create, "pods", "ns", "p"),
                Some(NamespaceState::Terminating),
                Some(
                    "pods \"p\" is forbidden: unable to create new content in namespace ns because it is being terminated",
                ),
            ),
            // Updates in a terminating namespace go on (finalizers, status).
            (
                attrs(Operation::Update, "pods", "ns", "p"),
                Some(NamespaceState::Terminating),
                None,
            ),
            (
                attrs(Operation::Delete, "namespaces", "", "kube-system"),
                None,
                Some("namespaces \"kube-system\" is forbidden: this namespace may not be deleted"),
            ),
            (attrs(Operation::Delete, "namespaces", "", "team"), None, None),
        ];
        for (a, ns, want) in cases {
            let got = decide(&a, Some(&pod).filter(|_| a.operation != Operation::Delete), ns)
                .err()
                .map(|e| e.message().to_string());
            assert_eq!(got.as_deref(), want, "{:?} {ns:?}", a.operation);
        }
        assert_eq!(state(None), NamespaceState::Missing);
        assert_eq!(state(Some(&json!({"metadata": {}}))), NamespaceState::Active);
        assert_eq!(
            state(Some(
                &json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
            )),
            NamespaceState::Terminating
        );
    }
}
