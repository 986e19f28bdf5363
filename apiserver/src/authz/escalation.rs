//! RBAC escalation prevention (upstream `pkg/registry/rbac/{role,clusterrole,rolebinding,
//! clusterrolebinding}/policybased` and `rbac/validation`): a user may write a role only with
//! rules it already holds (in the role's namespace), or with the `escalate` verb on it; and may
//! bind a role only if it holds all of that role's rules, or has the `bind` verb on it.
//! `system:masters` is exempt.
//!
//! The check runs on the object as it would be stored: the body of a create or update, or the
//! current object with a patch applied (a concurrent change between this check and the write is
//! not covered; upstream checks inside the storage transaction).

use k8s_openapi::api::rbac::v1::PolicyRule;
use rudder_api::status::ApiError;
use serde_json::Value;

use super::rbac::rule::{compact, uncovered};
use super::rbac::snapshot::GROUP;
use super::{Attributes, Authorizer, SYSTEM_MASTERS};

/// Whether a request writes an RBAC object whose content must be checked.
pub(crate) fn applies(attrs: &Attributes) -> bool {
    attrs.resource_request
        && attrs.api_group == GROUP
        && attrs.subresource.is_empty()
        && matches!(attrs.verb.as_str(), "create" | "update" | "patch")
        && matches!(
            attrs.resource.as_str(),
            "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings"
        )
        && !attrs.user.groups.iter().any(|g| g == SYSTEM_MASTERS)
}

/// Checks the object a request would store; `object` is what it would look like.
pub(crate) fn check(authorizer: &Authorizer, attrs: &Attributes, object: &Value) -> Result<(), ApiError> {
    let Some(rbac) = &authorizer.rbac else {
        // Without RBAC there are no permissions to escalate.
        return Ok(());
    };
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or(&attrs.name)
        .to_string();
    let namespace = attrs.namespace.clone();
    let (requested, holder_namespace) = match attrs.resource.as_str() {
        "roles" | "clusterroles" => {
            let mut verb_attrs =
                Attributes::resource(&attrs.user, "escalate", GROUP, &attrs.resource, &namespace, &name);
            verb_attrs.api_version = attrs.api_version.clone();
            if authorizer.allows(&verb_attrs) {
                return Ok(());
            }
            let rules = if object.get("aggregationRule").is_some_and(|a| !a.is_null()) {
                // Aggregation can gather any rule: only full authority may set it.
                full_authority()
            } else {
                serde_json::from_value::<Vec<PolicyRule>>(object["rules"].clone()).unwrap_or_default()
            };
            (rules, namespace.clone())
        }
        _ => {
            let role_kind = object
                .pointer("/roleRef/kind")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let role_name = object
                .pointer("/roleRef/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (resource, role_namespace) = match role_kind {
                "Role" => ("roles", namespace.as_str()),
                _ => ("clusterroles", ""),
            };
            // Checked in the binding's namespace (cluster-wide for ClusterRoleBindings), which
            // lets `bind` on a ClusterRole be delegated per namespace, as upstream.
            let bind = Attributes::resource(&attrs.user, "bind", GROUP, resource, &namespace, role_name);
            if authorizer.allows(&bind) {
                return Ok(());
            }
            let rules = rbac
                .snapshot()
                .rules_of(role_kind, role_namespace, role_name)
                .map_err(|e| forbidden(attrs, &name, &e))?;
            (rules.to_vec(), namespace.clone())
        }
    };
    let held = rbac.rules_for(&attrs.user, &holder_namespace);
    let missing = uncovered(&held.rules, &requested);
    if missing.is_empty() {
        return Ok(());
    }
    let groups = attrs
        .user
        .groups
        .iter()
        .map(|g| format!("{g:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut message = format!(
        "user {:?} (groups=[{groups}]) is attempting to grant RBAC permissions not currently held:\n{}",
        attrs.user.name,
        missing.iter().map(compact).collect::<Vec<_>>().join("\n")
    );
    if !held.errors.is_empty() {
        message.push_str(&format!("; resolution errors: [{}]", held.errors.join(" ")));
    }
    Err(forbidden(attrs, &name, &message))
}

fn forbidden(attrs: &Attributes, name: &str, message: &str) -> ApiError {
    ApiError::forbidden(GROUP, &attrs.resource, name, message)
}

fn full_authority() -> Vec<PolicyRule> {
    let all = || Some(vec!["*".to_string()]);
    vec![
        PolicyRule {
            api_groups: all(),
            resources: all(),
            verbs: vec!["*".into()],
            ..Default::default()
        },
        PolicyRule {
            non_resource_urls: all(),
            verbs: vec!["*".into()],
            ..Default::default()
        },
    ]
}

/// The object a PATCH would produce from `current`.
pub(crate) fn patched(
    current: &Value,
    content_type: &str,
    body: &[u8],
    kind: &str,
) -> Result<Value, ApiError> {
    use rudder_api::patch as p;
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let result = match content_type.split(';').next().unwrap_or_default().trim() {
        "application/json-patch+json" => p::apply_json_patch(current, &patch),
        "application/strategic-merge-patch+json" => {
            p::apply_strategic_merge_patch(current, &patch, &p::schema_for(GROUP, kind))
        }
        // Merge patches and server-side apply: RBAC rules, subjects and roleRef are atomic, so
        // the applied configuration's fields replace the current ones.
        _ => p::apply_merge_patch(current, &patch),
    };
    result.map_err(|e| ApiError::bad_request(e.status_message()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::UserInfo;

    #[test]
    fn masters_and_reads_are_not_checked() {
        let user = UserInfo {
            name: "bob".into(),
            ..UserInfo::default()
        };
        let write = Attributes::resource(&user, "create", GROUP, "rolebindings", "ns", "");
        assert!(applies(&write));
        let read = Attributes::resource(&user, "get", GROUP, "rolebindings", "ns", "x");
        assert!(!applies(&read));
        let mut admin = write.clone();
        admin.user.groups.push(SYSTEM_MASTERS.into());
        assert!(!applies(&admin));
        let pods = Attributes::resource(&user, "create", "", "pods", "ns", "");
        assert!(!applies(&pods));
    }

    #[test]
    fn patches_produce_the_stored_object() {
        let current = serde_json::json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["get"]}]});
        let merged = patched(
            &current,
            "application/merge-patch+json",
            br#"{"rules":[{"verbs":["*"]}]}"#,
            "Role",
        )
        .expect("merge");
        assert_eq!(merged["rules"][0]["verbs"][0], "*");
        let json = patched(
            &current,
            "application/json-patch+json",
            br#"[{"op":"replace","path":"/rules/0/verbs/0","value":"delete"}]"#,
            "Role",
        )
        .expect("json patch");
        assert_eq!(json["rules"][0]["verbs"][0], "delete");
    }
}
