//! DefaultStorageClass (upstream `plugin/pkg/admission/storage/storageclass/setdefault`): a new
//! PersistentVolumeClaim that names no storage class (not even `""`) gets the default class, the
//! one annotated `storageclass.kubernetes.io/is-default-class: "true"` (the newest when several
//! are, as upstream since 1.26).

use rudder_api::status::ApiError;
use serde_json::{Value, json};

use super::lookup::STORAGE_CLASSES;
use super::{Attributes, Cluster, Operation};

const DEFAULT_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];
const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

pub(super) fn admit(
    attrs: &Attributes<'_>,
    obj: Option<&mut Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    if !attrs.is_core_main("persistentvolumeclaims") || attrs.operation != Operation::Create {
        return Ok(());
    }
    let Some(claim) = obj else { return Ok(()) };
    if names_a_class(claim) {
        return Ok(());
    }
    let classes = cluster.list(STORAGE_CLASSES, None);
    if let Some(name) = default_class(&classes)
        && let Some(spec) = claim.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.insert("storageClassName".into(), json!(name));
    }
    Ok(())
}

/// Whether the claim chose a class itself (an empty name means "no class").
pub(super) fn names_a_class(claim: &Value) -> bool {
    claim
        .pointer("/spec/storageClassName")
        .is_some_and(|v| !v.is_null())
        || claim
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(BETA_CLASS_ANNOTATION))
            .is_some()
}

fn is_default(class: &Value) -> bool {
    let annotations = class.pointer("/metadata/annotations");
    DEFAULT_ANNOTATIONS
        .iter()
        .any(|a| annotations.and_then(|m| m.get(*a)).and_then(Value::as_str) == Some("true"))
}

/// The default class: the newest of those marked, by creation time then name.
pub(super) fn default_class(classes: &[Value]) -> Option<String> {
    let mut marked: Vec<(&str, &str)> = classes
        .iter()
        .filter(|c| is_default(c))
        .map(|c| {
            let s = |p: &str| c.pointer(p).and_then(Value::as_str).unwrap_or_default();
            (s("/metadata/creationTimestamp"), s("/metadata/name"))
        })
        .collect();
    // Newest first; RFC 3339 UTC timestamps sort as strings.
    marked.sort_by(|a, b| b.0.cmp(a.0).then(a.1.cmp(b.1)));
    marked.first().map(|(_, name)| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, created: &str, default: bool) -> Value {
        let mut c = json!({"metadata": {"name": name, "creationTimestamp": created}});
        if default {
            c["metadata"]["annotations"] = json!({DEFAULT_ANNOTATIONS[0]: "true"});
        }
        c
    }

    #[test]
    fn picks_the_newest_default_class() {
        let cases = [
            (vec![class("a", "2026-01-01T00:00:00Z", false)], None),
            (
                vec![
                    class("a", "2026-01-01T00:00:00Z", true),
                    class("b", "2026-01-02T00:00:00Z", false),
                ],
                Some("a"),
            ),
            (
                vec![
                    class("old", "2026-01-01T00:00:00Z", true),
                    class("new", "2026-02-01T00:00:00Z", true),
                ],
                Some("new"),
            ),
        ];
        for (classes, want) in cases {
            assert_eq!(default_class(&classes).as_deref(), want);
        }
    }

    #[test]
    fn a_claim_naming_a_class_or_none_keeps_it() {
        assert!(names_a_class(&json!({"spec": {"storageClassName": ""}})));
        assert!(names_a_class(&json!({"spec": {"storageClassName": "fast"}})));
        assert!(names_a_class(
            &json!({"metadata": {"annotations": {BETA_CLASS_ANNOTATION: "x"}}, "spec": {}})
        ));
        assert!(!names_a_class(&json!({"spec": {}})));
    }
}
