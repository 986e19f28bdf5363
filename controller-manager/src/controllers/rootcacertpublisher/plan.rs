//! What one namespace needs so that its pods can verify the apiserver: the `kube-root-ca.crt`
//! ConfigMap holding exactly the cluster CA under `ca.crt`, with upstream's description
//! annotation. Pure; table-tested.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::ObjectMeta;

/// The ConfigMap's name (upstream `RootCACertConfigMapName`).
pub const CONFIG_MAP: &str = "kube-root-ca.crt";
/// Its one key.
pub const KEY: &str = "ca.crt";
/// Upstream's `DescriptionAnnotation` and its text.
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
pub const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// What to do in one namespace.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Nothing,
    Create(ConfigMap),
    /// Replace the existing object (resourceVersion kept, so a concurrent change conflicts).
    Update(ConfigMap),
}

fn data(ca: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(KEY.to_string(), ca.to_string())])
}

/// Whether the namespace is going away (no new objects can be created in it).
pub fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
}

/// Plans the namespace `ns`, whose `kube-root-ca.crt` is `existing`, for the CA bundle `ca`.
pub fn plan(ns: &Namespace, existing: Option<&ConfigMap>, ca: &str) -> Action {
    let Some(cm) = existing else {
        if terminating(ns) {
            return Action::Nothing;
        }
        return Action::Create(ConfigMap {
            metadata: ObjectMeta {
                name: Some(CONFIG_MAP.into()),
                namespace: ns.metadata.name.clone(),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_ANNOTATION.to_string(),
                    DESCRIPTION.to_string(),
                )])),
                ..Default::default()
            },
            data: Some(data(ca)),
            ..Default::default()
        });
    };
    let wanted = data(ca);
    let described = cm
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
        .is_some_and(|d| !d.is_empty());
    // binaryData is not part of what upstream compares; only data and the annotation are.
    if cm.data.as_ref() == Some(&wanted) && described {
        return Action::Nothing;
    }
    let mut cm = cm.clone();
    cm.data = Some(wanted);
    cm.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
    Action::Update(cm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    fn ns(terminating: bool) -> Namespace {
        let phase = if terminating { "Terminating" } else { "Active" };
        serde_json::from_value(json!({"metadata": {"name": "team"}, "status": {"phase": phase}}))
            .expect("namespace")
    }

    fn cm(data: serde_json::Value, annotated: bool) -> ConfigMap {
        let mut v = json!({"metadata": {"name": CONFIG_MAP, "namespace": "team", "resourceVersion": "7",
                                         "labels": {"keep": "me"}}, "data": data});
        if annotated {
            v["metadata"]["annotations"] = json!({DESCRIPTION_ANNOTATION: DESCRIPTION});
        }
        serde_json::from_value(v).expect("configmap")
    }

    #[test]
    fn plans() {
        let good = cm(json!({KEY: CA}), true);
        let cases: Vec<(&str, Namespace, Option<ConfigMap>, &str)> = vec![
            ("missing: created", ns(false), None, "create"),
            (
                "missing in a terminating namespace: left",
                ns(true),
                None,
                "nothing",
            ),
            ("as wanted: left", ns(false), Some(good.clone()), "nothing"),
            (
                "other CA: updated",
                ns(false),
                Some(cm(json!({KEY: "old"}), true)),
                "update",
            ),
            (
                "extra key: updated",
                ns(false),
                Some(cm(json!({KEY: CA, "x": "y"}), true)),
                "update",
            ),
            (
                "no data: updated",
                ns(false),
                Some(cm(json!(null), true)),
                "update",
            ),
            (
                "annotation gone: updated",
                ns(false),
                Some(cm(json!({KEY: CA}), false)),
                "update",
            ),
        ];
        for (what, ns, existing, want) in cases {
            let got = plan(&ns, existing.as_ref(), CA);
            let kind = match &got {
                Action::Nothing => "nothing",
                Action::Create(_) => "create",
                Action::Update(_) => "update",
            };
            assert_eq!(kind, want, "{what}");
            if let Action::Create(c) | Action::Update(c) = got {
                assert_eq!(c.data, Some(data(CA)), "{what}");
                assert_eq!(c.metadata.name.as_deref(), Some(CONFIG_MAP), "{what}");
                let ann = c.metadata.annotations.unwrap_or_default();
                assert_eq!(
                    ann.get(DESCRIPTION_ANNOTATION).map(String::as_str),
                    Some(DESCRIPTION),
                    "{what}"
                );
            }
        }
    }

    #[test]
    fn an_update_keeps_the_rest_of_the_object() {
        let Action::Update(c) = plan(&ns(false), Some(&cm(json!({KEY: "old"}), false)), CA) else {
            panic!("expected an update");
        };
        assert_eq!(c.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(
            c.metadata
                .labels
                .unwrap_or_default()
                .get("keep")
                .map(String::as_str),
            Some("me")
        );
    }
}
