//! PersistentVolumeClaimResize (upstream `plugin/pkg/admission/storage/persistentvolume/resize`):
//! a claim may only grow when its storage class (unchanged) allows volume expansion.

use rudder_api::status::ApiError;
use serde_json::Value;

use super::lookup::STORAGE_CLASSES;
use super::{Attributes, Cluster, Operation, forbidden};
use rudder_api::quantity::milli;

fn requested(claim: &Value) -> Option<i128> {
    claim.pointer("/spec/resources/requests/storage").and_then(milli)
}

fn class_name(claim: &Value) -> &str {
    claim
        .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .or_else(|| claim.pointer("/spec/storageClassName"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub(super) fn validate(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    if !attrs.is_core_main("persistentvolumeclaims") || attrs.operation != Operation::Update {
        return Ok(());
    }
    let (Some(claim), Some(old)) = (obj, attrs.old) else {
        return Ok(());
    };
    let class = cluster.get(STORAGE_CLASSES, None, class_name(claim));
    decide(attrs, claim, old, class.as_ref())
}

/// `class` is the claim's storage class, if it exists.
pub(super) fn decide(
    attrs: &Attributes<'_>,
    claim: &Value,
    old: &Value,
    class: Option<&Value>,
) -> Result<(), ApiError> {
    let grows = match (requested(claim), requested(old)) {
        (Some(new), Some(old)) => new > old,
        _ => false,
    };
    if !grows {
        return Ok(());
    }
    let name = class_name(claim);
    let allowed = !name.is_empty()
        && name == class_name(old)
        && class
            .and_then(|c| c.get("allowVolumeExpansion"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
    if allowed {
        return Ok(());
    }
    Err(forbidden(
        attrs,
        Some(claim),
        "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;
    use serde_json::json;

    fn claim(class: &str, size: &str) -> Value {
        json!({"metadata": {"name": "data"}, "spec": {"storageClassName": class, "resources": {"requests": {"storage": size}}}})
    }

    #[test]
    fn grows_only_with_an_expandable_class() {
        let a = attrs(Operation::Update, "persistentvolumeclaims", "ns", "data");
        let expandable = json!({"metadata": {"name": "fast"}, "allowVolumeExpansion": true});
        let fixed = json!({"metadata": {"name": "fast"}});
        let cases = [
            (
                claim("fast", "2Gi"),
                claim("fast", "1Gi"),
                Some(&expandable),
                true,
            ),
            (claim("fast", "2Gi"), claim("fast", "1Gi"), Some(&fixed), false),
            (claim("fast", "2Gi"), claim("fast", "1Gi"), None, false),
            (claim("", "2Gi"), claim("", "1Gi"), None, false),
            // Not growing: nothing to check.
            (claim("fast", "1Gi"), claim("fast", "1Gi"), None, true),
        ];
        for (new, old, class, ok) in cases {
            let got = decide(&a, &new, &old, class);
            assert_eq!(got.is_ok(), ok, "{new} {class:?}");
            if let Err(e) = got {
                assert!(e.message().starts_with(
                    "persistentvolumeclaims \"data\" is forbidden: only dynamically provisioned pvc"
                ));
            }
        }
    }
}
