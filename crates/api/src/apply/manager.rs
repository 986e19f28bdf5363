//! Field manager names: defaulting from the User-Agent and validating the `fieldManager` and
//! `force` query parameters (`apiserver/pkg/endpoints/handlers/create.go`
//! `prefixFromUserAgent`, `apimachinery/pkg/apis/meta/v1/validation` `ValidatePatchOptions`).

use crate::validation::{FieldError, FieldPath};

/// Upstream's `FieldManagerMaxLength`, in bytes.
pub const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// Go's `unicode.IsPrint`, closely enough: graphic characters and the ASCII space.
fn is_print(c: char) -> bool {
    c == ' '
        || !(c.is_control()
            || c.is_whitespace()
            || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

/// The manager of a write without `fieldManager`: the User-Agent up to the first `/`, without
/// non-printable characters, cut to 128 bytes (`kubectl/v1.33.0 (linux/amd64) ...` →
/// `kubectl`; kube-controller-manager's `kube-controller-manager/v1.33.0 ...` →
/// `kube-controller-manager`).
pub fn manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|&c| is_print(c)) {
        if out.len() + c.len_utf8() > FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        out.push(c);
    }
    out
}

/// `managerOrUserAgent`: the `fieldManager` query parameter when set, else the User-Agent
/// prefix. kubectl always names itself (`kubectl-client-side-apply`, `kubectl-edit`,
/// `kubectl-label`, ...); `kubectl scale`, `cordon` and controllers often do not.
pub fn manager_or_user_agent(field_manager: Option<&str>, user_agent: &str) -> String {
    match field_manager {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => manager_from_user_agent(user_agent),
    }
}

/// Validates a `fieldManager` value (`ValidateFieldManager`): at most 128 bytes, printable.
pub fn validate_field_manager(field_manager: &str) -> Vec<FieldError> {
    let path = FieldPath::new("fieldManager");
    let mut errs = Vec::new();
    if field_manager.len() > FIELD_MANAGER_MAX_LENGTH {
        errs.push(FieldError::too_long(&path, Some(FIELD_MANAGER_MAX_LENGTH)));
    }
    for (i, c) in field_manager.char_indices() {
        if !is_print(c) {
            errs.push(FieldError::invalid(
                &path,
                field_manager,
                format!("invalid character U+{:04X} (at position {i})", c as u32),
            ));
        }
    }
    errs
}

/// The field-manager part of `ValidatePatchOptions`: apply patches need a `fieldManager`, other
/// patches may not carry `force`. Upstream answers a non-empty list with 422
/// `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply
/// patch` (`ApiError::invalid("meta.k8s.io", "PatchOptions", "", &errors)`).
pub fn validate_patch_options(field_manager: &str, is_apply: bool, force_given: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !is_apply {
        if force_given {
            errs.push(FieldError::forbidden(
                &FieldPath::new("force"),
                "may not be specified for non-apply patch",
            ));
        }
    } else if field_manager.is_empty() {
        errs.push(FieldError::required(
            &FieldPath::new("fieldManager"),
            "is required for apply patch",
        ));
    }
    errs.extend(validate_field_manager(field_manager));
    errs
}
