//! RBAC objects (upstream `pkg/apis/rbac/validation`): names are path segments (so that
//! `system:node` is a valid role name), a binding's `roleRef` must name a Role or ClusterRole
//! (only ClusterRoles for ClusterRoleBindings) and cannot change once set.

use rudder_api::validation::{FieldError, FieldPath, NameValidator, validate_path_segment_name};
use serde_json::Value;

use crate::registry::strategy::{Strategy, WriteKind};

#[derive(Debug)]
pub(crate) struct Rbac {
    /// `RoleBinding` or `ClusterRoleBinding`; `None` for roles.
    pub(crate) binding: Option<&'static str>,
}

impl Strategy for Rbac {
    fn name_validator(&self) -> NameValidator {
        validate_path_segment_name
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        let Some(kind) = self.binding else {
            return Vec::new();
        };
        let mut errors = Vec::new();
        let role_ref = FieldPath::new("roleRef");
        let role_kind = obj
            .pointer("/roleRef/kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let allowed: &[&str] = if kind == "ClusterRoleBinding" {
            &["ClusterRole"]
        } else {
            &["Role", "ClusterRole"]
        };
        if role_kind.is_empty() {
            errors.push(FieldError::required(&role_ref.child("kind"), ""));
        } else if !allowed.contains(&role_kind) {
            errors.push(FieldError::not_supported(
                &role_ref.child("kind"),
                role_kind,
                allowed,
            ));
        }
        if obj
            .pointer("/roleRef/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .is_empty()
        {
            errors.push(FieldError::required(&role_ref.child("name"), ""));
        }
        if let Some(old) = old
            && old.get("roleRef") != obj.get("roleRef")
        {
            errors.push(FieldError::invalid(
                &role_ref,
                obj.get("roleRef").unwrap_or(&Value::Null),
                "cannot change roleRef",
            ));
        }
        errors
    }
}
