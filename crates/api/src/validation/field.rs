//! The field-error vocabulary: upstream's `k8s.io/apimachinery/pkg/util/validation/field`
//! (`Path`, `Error`, `ErrorType`, `ErrorList.ToAggregate`), with byte-identical message texts.

use std::fmt;

use serde_json::Value;

use super::quote::{go_format_float, go_quote};

/// A path from an object's root to one of its fields: `spec.containers[0].image`,
/// `metadata.labels[app]`. Mirrors upstream's `field.Path`, including its rendering of a nil
/// path as `<nil>` (which leaks into some upstream messages, e.g. label-selector parse errors).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    rendered: String,
    nil: bool,
}

impl FieldPath {
    /// A root path: `FieldPath::new("metadata")`.
    pub fn new(name: &str) -> Self {
        Self::nil().child(name)
    }

    /// Upstream's nil `*field.Path`: renders as `<nil>`; children of it start a new root.
    pub fn nil() -> Self {
        FieldPath {
            rendered: String::new(),
            nil: true,
        }
    }

    /// `spec` -> `spec.containers`.
    pub fn child(&self, name: &str) -> Self {
        let mut out = self.clone();
        if name.is_empty() {
            // Upstream renders an empty name as an empty subscript.
            out.rendered.push_str("[]");
        } else {
            if !out.nil {
                out.rendered.push('.');
            }
            out.rendered.push_str(name);
        }
        out.nil = false;
        out
    }

    /// `spec.containers` -> `spec.containers[0]`.
    pub fn index(&self, index: usize) -> Self {
        self.key(&index.to_string())
    }

    /// `metadata.labels` -> `metadata.labels[app]` (the key is not quoted or escaped).
    pub fn key(&self, key: &str) -> Self {
        let mut out = self.clone();
        out.rendered.push('[');
        out.rendered.push_str(key);
        out.rendered.push(']');
        out.nil = false;
        out
    }

    pub fn is_nil(&self) -> bool {
        self.nil
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nil {
            f.write_str("<nil>")
        } else {
            f.write_str(&self.rendered)
        }
    }
}

/// The machine-readable type of a field error; `cause_type()` is what goes into
/// `Status.details.causes[].reason`, `Display` is the human text (`Required value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl FieldErrorType {
    /// `FieldValueRequired`, `FieldValueInvalid`, ... (`metav1.CauseType`).
    pub fn cause_type(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "FieldValueNotFound",
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::TooLong => "FieldValueTooLong",
            FieldErrorType::TooMany => "FieldValueTooMany",
            FieldErrorType::Internal => "InternalError",
            FieldErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    fn text(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "Not found",
            FieldErrorType::Required => "Required value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::Invalid | FieldErrorType::TypeInvalid => "Invalid value",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::TooLong => "Too long",
            FieldErrorType::TooMany => "Too many",
            FieldErrorType::Internal => "Internal error",
        }
    }
}

impl fmt::Display for FieldErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// The offending value of a field error, rendered the way Go's `fmt` renders upstream's
/// `BadValue` (`%q` for strings, `%v` for numbers and bools, `null` for nil).
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    /// Already rendered text, printed verbatim (Go `Stringer` output or `%#v` of a composite).
    Raw(String),
    /// Upstream's `omitValue`: only the error type is printed.
    Omitted,
}

impl BadValue {
    /// Converts a JSON value the way upstream would print the typed Go value it decodes to:
    /// string slices as `[]string{"a", "b"}`, string maps as `map[string]string{"k":"v"}`,
    /// other composites as compact JSON.
    pub fn from_json(value: &Value) -> Self {
        match value {
            Value::Null => BadValue::Null,
            Value::Bool(b) => BadValue::Bool(*b),
            Value::String(s) => BadValue::Str(s.clone()),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => BadValue::Int(i),
                (None, Some(u), _) => BadValue::Raw(u.to_string()),
                (_, _, Some(f)) => BadValue::Float(f),
                _ => BadValue::Raw(n.to_string()),
            },
            Value::Array(items) => match items.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
                Some(strs) => BadValue::string_list(&strs),
                None => BadValue::Raw(value.to_string()),
            },
            Value::Object(map) => {
                let strs: Option<Vec<String>> = map
                    .iter()
                    .map(|(k, v)| v.as_str().map(|v| format!("{}:{}", go_quote(k), go_quote(v))))
                    .collect();
                match strs {
                    Some(pairs) => BadValue::Raw(format!("map[string]string{{{}}}", pairs.join(", "))),
                    None => BadValue::Raw(value.to_string()),
                }
            }
        }
    }

    /// A `[]string` value: `[]string{"a", "b"}`.
    pub fn string_list<S: AsRef<str>>(items: &[S]) -> Self {
        BadValue::Raw(go_string_slice(items))
    }

    fn render(&self) -> Option<String> {
        match self {
            BadValue::Str(s) => Some(go_quote(s)),
            BadValue::Int(i) => Some(i.to_string()),
            BadValue::Float(f) => Some(go_format_float(*f)),
            BadValue::Bool(b) => Some(b.to_string()),
            BadValue::Null => Some("null".to_string()),
            BadValue::Raw(s) => Some(s.clone()),
            BadValue::Omitted => None,
        }
    }
}

impl From<&str> for BadValue {
    fn from(s: &str) -> Self {
        BadValue::Str(s.to_string())
    }
}

impl From<String> for BadValue {
    fn from(s: String) -> Self {
        BadValue::Str(s)
    }
}

impl From<i64> for BadValue {
    fn from(i: i64) -> Self {
        BadValue::Int(i)
    }
}

impl From<i32> for BadValue {
    fn from(i: i32) -> Self {
        BadValue::Int(i64::from(i))
    }
}

impl From<bool> for BadValue {
    fn from(b: bool) -> Self {
        BadValue::Bool(b)
    }
}

impl From<&Value> for BadValue {
    fn from(v: &Value) -> Self {
        BadValue::from_json(v)
    }
}

/// Go's `%#v` of a `[]string`: `[]string{"a", "b"}`.
pub fn go_string_slice<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s.as_ref())).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// One field-level validation error (upstream `field.Error`). `Display` is upstream's
/// `Error()`: `<field>: <ErrorBody()>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {}", self.body())]
pub struct FieldError {
    pub error_type: FieldErrorType,
    /// The rendered path (`spec.containers[0].name`).
    pub field: String,
    pub bad_value: BadValue,
    pub detail: String,
}

impl FieldError {
    fn new(error_type: FieldErrorType, path: &FieldPath, bad_value: BadValue, detail: String) -> Self {
        FieldError {
            error_type,
            field: path.to_string(),
            bad_value,
            detail,
        }
    }

    /// `Required value` (+ `: detail` when non-empty).
    pub fn required(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::Required,
            path,
            BadValue::Str(String::new()),
            detail.into(),
        )
    }

    pub fn not_found(path: &FieldPath, value: impl Into<BadValue>) -> Self {
        Self::new(FieldErrorType::NotFound, path, value.into(), String::new())
    }

    pub fn duplicate(path: &FieldPath, value: impl Into<BadValue>) -> Self {
        Self::new(FieldErrorType::Duplicate, path, value.into(), String::new())
    }

    pub fn invalid(path: &FieldPath, value: impl Into<BadValue>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Invalid, path, value.into(), detail.into())
    }

    pub fn type_invalid(path: &FieldPath, value: impl Into<BadValue>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::TypeInvalid, path, value.into(), detail.into())
    }

    /// `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported<S: AsRef<str>>(path: &FieldPath, value: impl Into<BadValue>, valid: &[S]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v.as_ref())).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(FieldErrorType::NotSupported, path, value.into(), detail)
    }

    pub fn forbidden(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorType::Forbidden,
            path,
            BadValue::Str(String::new()),
            detail.into(),
        )
    }

    /// `Too long: may not be more than <max> bytes`; `None` gives `value is too long`.
    pub fn too_long(path: &FieldPath, max_length: Option<usize>) -> Self {
        let detail = match max_length {
            Some(max) => format!("may not be more than {max} bytes"),
            None => "value is too long".to_string(),
        };
        Self::new(
            FieldErrorType::TooLong,
            path,
            BadValue::Str("<value omitted>".into()),
            detail,
        )
    }

    /// `Too many: <actual>: must have at most <max> items`.
    pub fn too_many(path: &FieldPath, actual: Option<usize>, max: Option<usize>) -> Self {
        let detail = match max {
            Some(max) => format!("must have at most {max} items"),
            None => "has too many items".to_string(),
        };
        let bad = match actual {
            Some(n) => BadValue::Int(i64::try_from(n).unwrap_or(i64::MAX)),
            None => BadValue::Omitted,
        };
        Self::new(FieldErrorType::TooMany, path, bad, detail)
    }

    pub fn internal(path: &FieldPath, err: impl fmt::Display) -> Self {
        Self::new(FieldErrorType::Internal, path, BadValue::Null, err.to_string())
    }

    /// Upstream `ErrorBody()`: the message without the field name. This is what goes into
    /// `details.causes[].message`.
    pub fn body(&self) -> String {
        let t = self.error_type;
        let mut s = match t {
            FieldErrorType::Required
            | FieldErrorType::Forbidden
            | FieldErrorType::TooLong
            | FieldErrorType::Internal => t.to_string(),
            _ => match self.bad_value.render() {
                Some(v) => format!("{t}: {v}"),
                None => t.to_string(),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

/// Upstream `ErrorList.ToAggregate().Error()`: duplicates (by message) dropped, one message
/// printed bare, several as `[a, b]`. `None` for an empty list.
pub fn aggregate_message(errors: &[FieldError]) -> Option<String> {
    let msgs = dedup_messages(errors.iter().map(ToString::to_string));
    match msgs.len() {
        0 => None,
        1 => msgs.into_iter().next(),
        _ => Some(format!("[{}]", msgs.join(", "))),
    }
}

pub(crate) fn dedup_messages(msgs: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in msgs {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_render_like_upstream() {
        let p = FieldPath::new("spec").child("containers").index(0).child("image");
        assert_eq!(p.to_string(), "spec.containers[0].image");
        assert_eq!(
            FieldPath::new("metadata").child("labels").key("a b").to_string(),
            "metadata.labels[a b]"
        );
        assert_eq!(FieldPath::nil().to_string(), "<nil>");
        assert_eq!(FieldPath::nil().child("key").to_string(), "key");
        assert_eq!(
            FieldPath::nil().child("values").index(0).key("k").to_string(),
            "values[0][k]"
        );
        assert_eq!(FieldPath::nil().index(2).to_string(), "[2]");
    }

    #[test]
    fn error_strings() {
        let p = FieldPath::new("metadata").child("name");
        assert_eq!(
            FieldError::required(&p, "").to_string(),
            "metadata.name: Required value"
        );
        assert_eq!(
            FieldError::required(&p, "name or generateName is required").to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(
            FieldError::invalid(&p, "Foo", "bad").to_string(),
            "metadata.name: Invalid value: \"Foo\": bad"
        );
        assert_eq!(FieldError::invalid(&p, -1i64, "x").body(), "Invalid value: -1: x");
        assert_eq!(
            FieldError::invalid(&p, BadValue::Null, "x").body(),
            "Invalid value: null: x"
        );
        assert_eq!(FieldError::duplicate(&p, "a").body(), "Duplicate value: \"a\"");
        assert_eq!(
            FieldError::not_supported(&p, "Sometimes", &["Always", "Never"]).body(),
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\""
        );
        assert_eq!(FieldError::forbidden(&p, "nope").body(), "Forbidden: nope");
        assert_eq!(
            FieldError::too_long(&p, Some(262144)).body(),
            "Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::too_long(&p, None).body(),
            "Too long: value is too long"
        );
        assert_eq!(
            FieldError::too_many(&p, Some(5), Some(3)).body(),
            "Too many: 5: must have at most 3 items"
        );
        assert_eq!(
            FieldError::too_many(&p, None, None).body(),
            "Too many: has too many items"
        );
        assert_eq!(FieldError::internal(&p, "boom").body(), "Internal error: boom");
        assert_eq!(FieldError::not_found(&p, "x").body(), "Not found: \"x\"");
    }

    #[test]
    fn bad_values_from_json() {
        let p = FieldPath::new("x");
        let body = |v: Value| FieldError::invalid(&p, &v, "").body();
        assert_eq!(body(json!(["a", "b"])), "Invalid value: []string{\"a\", \"b\"}");
        assert_eq!(
            body(json!({"k": "v"})),
            "Invalid value: map[string]string{\"k\":\"v\"}"
        );
        assert_eq!(body(json!(1.5)), "Invalid value: 1.5");
        assert_eq!(body(json!(true)), "Invalid value: true");
        assert_eq!(body(json!([1, {"a": 2}])), "Invalid value: [1,{\"a\":2}]");
        assert_eq!(body(json!("tab\there")), "Invalid value: \"tab\\there\"");
    }

    #[test]
    fn aggregation() {
        let p = FieldPath::new("a");
        assert_eq!(aggregate_message(&[]), None);
        let e1 = FieldError::required(&p, "");
        let e2 = FieldError::forbidden(&p, "no");
        assert_eq!(
            aggregate_message(std::slice::from_ref(&e1)).unwrap(),
            "a: Required value"
        );
        assert_eq!(
            aggregate_message(&[e1.clone(), e1.clone()]).unwrap(),
            "a: Required value"
        );
        assert_eq!(
            aggregate_message(&[e1, e2]).unwrap(),
            "[a: Required value, a: Forbidden: no]"
        );
    }
}
