//! The query parameters every write shares (`metav1.CreateOptions`, `UpdateOptions`,
//! `PatchOptions`, `DeleteOptions`): `dryRun`, `fieldManager` and `fieldValidation`, validated
//! as upstream's `ValidateCreateOptions` & co. and refused with 422 on the options kind.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use rudder_api::apply::{manager_or_user_agent, validate_field_manager};
use rudder_api::status::ApiError;
use rudder_api::validation::{BadValue, FieldError, FieldPath};

use crate::registry::fields::FieldValidation;

/// Which options a verb takes, for the kind named in validation errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptionsKind {
    Create,
    Update,
    Patch,
    Delete,
}

impl OptionsKind {
    fn kind(self) -> &'static str {
        match self {
            OptionsKind::Create => "CreateOptions",
            OptionsKind::Update => "UpdateOptions",
            OptionsKind::Patch => "PatchOptions",
            OptionsKind::Delete => "DeleteOptions",
        }
    }
}

/// The validated write parameters of one request.
#[derive(Debug, Clone)]
pub(crate) struct WriteParams {
    pub(crate) dry_run: bool,
    /// `fieldManager`, or the User-Agent's prefix (upstream's `managerOrUserAgent`).
    pub(crate) manager: String,
    pub(crate) validation: FieldValidation,
}

impl WriteParams {
    pub(crate) fn parse(
        query: &HashMap<String, String>,
        headers: &HeaderMap,
        kind: OptionsKind,
    ) -> Result<WriteParams, ApiError> {
        let mut errors = Vec::new();
        let field_manager = query.get("fieldManager").map(String::as_str);
        if kind != OptionsKind::Delete {
            errors.extend(validate_field_manager(field_manager.unwrap_or_default()));
        }
        let dry_run = match query.get("dryRun").map(String::as_str) {
            None => false,
            Some("All") => true,
            Some(other) => {
                errors.push(FieldError::not_supported(
                    &FieldPath::new("dryRun"),
                    BadValue::string_list(&[other]),
                    &["All"],
                ));
                false
            }
        };
        let validation = match query.get("fieldValidation").map(String::as_str) {
            // Upstream's default since 1.27: warn about unknown and duplicate fields.
            None | Some("") => FieldValidation::Warn,
            Some("Ignore") => FieldValidation::Ignore,
            Some("Warn") => FieldValidation::Warn,
            Some("Strict") => FieldValidation::Strict,
            Some(other) if kind != OptionsKind::Delete => {
                errors.push(FieldError::not_supported(
                    &FieldPath::new("fieldValidation"),
                    other,
                    &["Ignore", "Strict", "Warn"],
                ));
                FieldValidation::Warn
            }
            Some(_) => FieldValidation::Warn,
        };
        if !errors.is_empty() {
            return Err(ApiError::invalid("meta.k8s.io", kind.kind(), "", &errors));
        }
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        Ok(WriteParams {
            dry_run,
            manager: manager_or_user_agent(field_manager, user_agent),
            validation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)], ua: &str, kind: OptionsKind) -> Result<WriteParams, ApiError> {
        let query = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut headers = HeaderMap::new();
        headers.insert(header::USER_AGENT, ua.parse().unwrap());
        WriteParams::parse(&query, &headers, kind)
    }

    #[test]
    fn manager_from_query_or_user_agent() {
        let p = parse(
            &[],
            "kubectl/v1.33.0 (linux/amd64) kubernetes/abc",
            OptionsKind::Update,
        )
        .unwrap();
        assert_eq!(p.manager, "kubectl");
        assert_eq!(p.validation, FieldValidation::Warn);
        let p = parse(
            &[
                ("fieldManager", "kubectl-edit"),
                ("fieldValidation", "Strict"),
                ("dryRun", "All"),
            ],
            "kubectl/v1.33.0",
            OptionsKind::Patch,
        )
        .unwrap();
        assert_eq!(
            (p.manager.as_str(), p.validation, p.dry_run),
            ("kubectl-edit", FieldValidation::Strict, true)
        );
    }

    #[test]
    fn invalid_values_are_refused_as_upstream() {
        let err = parse(&[("dryRun", "Yes")], "", OptionsKind::Create).unwrap_err();
        assert_eq!(err.code(), 422);
        assert_eq!(
            err.message(),
            r#"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Yes"}: supported values: "All""#
        );
        let err = parse(&[("fieldValidation", "Loud")], "", OptionsKind::Update).unwrap_err();
        assert_eq!(
            err.message(),
            r#"UpdateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": supported values: "Ignore", "Strict", "Warn""#
        );
        let err = parse(&[("dryRun", "x")], "", OptionsKind::Delete).unwrap_err();
        assert!(err.message().starts_with("DeleteOptions.meta.k8s.io"));
    }
}
