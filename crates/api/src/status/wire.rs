//! The `metav1.Status` wire types, with upstream's JSON field order and `omitempty` rules.

use serde::{Deserialize, Serialize};

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// `metav1.ListMeta` as it appears in a Status (always present, usually `{}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

/// `metav1.StatusCause`: the wire name of `cause_type` is `reason`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCause {
    #[serde(rename = "reason", default, skip_serializing_if = "String::is_empty")]
    pub cause_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

impl StatusCause {
    pub fn new(cause_type: &str, message: impl Into<String>, field: impl Into<String>) -> Self {
        StatusCause {
            cause_type: cause_type.to_string(),
            message: message.into(),
            field: field.into(),
        }
    }
}

/// `metav1.StatusDetails`. `kind` holds the resource (`pods`) for most errors and the Kind
/// (`Pod`) for `Invalid`, as upstream fills it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_after_seconds: i32,
}

impl StatusDetails {
    /// Details naming an object: `{name, group, kind}`.
    pub fn object(group: &str, kind: &str, name: &str) -> Self {
        StatusDetails {
            name: name.to_string(),
            group: group.to_string(),
            kind: kind.to_string(),
            ..Self::default()
        }
    }
}

/// `metav1.Status`, fields in upstream's declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub metadata: ListMeta,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i32,
}
