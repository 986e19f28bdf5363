//! Field selectors: upstream `k8s.io/apimachinery/pkg/fields/selector.go` (`ParseSelector`,
//! escaping, `Transform`, `Requirements`).

use std::fmt;

/// A field-selector parse error; `Display` is upstream's message (sent as a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldSelectorError {
    /// A term with no `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    InvalidSelector { selector: String, term: String },
    /// A backslash followed by something other than `\`, `,` or `=`, or a trailing backslash.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscapeSequence(String),
    /// An unescaped `,` or `=` in a value. Upstream prints the code point as a number.
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedRune(char),
}

/// `=`/`==` (both reported as `Equals`, as upstream does) or `!=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field op value` term; `value` is unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

impl FieldRequirement {
    fn matches(&self, actual: &str) -> bool {
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.operator == FieldOperator::Equals {
            "="
        } else {
            "!="
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

/// A parsed field selector: the AND of its terms. The default value matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<FieldRequirement>,
}

/// Upstream `EscapeValue`: prefixes `\`, `,` and `=` with a backslash.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Upstream `UnescapeValue`.
pub fn unescape_value(s: &str) -> Result<String, FieldSelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(FieldSelectorError::InvalidEscapeSequence(format!("\\{c}")));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => return Err(FieldSelectorError::UnescapedRune(c)),
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err(FieldSelectorError::InvalidEscapeSequence("\\".to_string()));
    }
    Ok(out)
}

/// Splits on commas not preceded by a backslash (the backslash stays in the term).
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in selector.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits at the first operator occurrence, trying `!=`, `==`, `=` at each position.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, kind) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some((&term[..i], kind, rhs));
            }
        }
    }
    None
}

/// Upstream `DefaultMetaV1FieldSelectorConversion`: what kinds without their own field-label
/// conversion (most non-core kinds, custom resources) accept. The error is the 400 message.
pub fn default_field_label_conversion(label: &str, value: &str) -> Result<(String, String), String> {
    match label {
        "metadata.name" | "metadata.namespace" => Ok((label.to_string(), value.to_string())),
        _ => Err(format!(
            "\"{label}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        )),
    }
}

impl FieldSelector {
    /// Matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Upstream `fields.ParseSelector`: comma-separated `field=value`, `field==value`,
    /// `field!=value`; empty terms are skipped; values may escape `\`, `,` and `=`.
    pub fn parse(selector: &str) -> Result<Self, FieldSelectorError> {
        let mut parts = split_terms(selector);
        parts.sort_unstable();
        let mut terms = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, operator, rhs)) = split_term(part) else {
                return Err(FieldSelectorError::InvalidSelector {
                    selector: selector.to_string(),
                    term: part.to_string(),
                });
            };
            terms.push(FieldRequirement {
                field: lhs.to_string(),
                operator,
                value: unescape_value(rhs)?,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// A selector with one `field=value` term (upstream `OneTermEqualSelector`).
    pub fn one_term_equal(field: &str, value: &str) -> Self {
        FieldSelector {
            terms: vec![FieldRequirement {
                field: field.to_string(),
                operator: FieldOperator::Equals,
                value: value.to_string(),
            }],
        }
    }

    /// The terms, so the caller can check each field is supported.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.terms
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Upstream `Transform`, used for field-label conversion: maps each `(field, value)`; a term
    /// mapped to `("", "")` is dropped. The first error is returned.
    pub fn transform<E>(
        &self,
        mut f: impl FnMut(&str, &str) -> Result<(String, String), E>,
    ) -> Result<FieldSelector, E> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for t in &self.terms {
            let (field, value) = f(&t.field, &t.value)?;
            if field.is_empty() && value.is_empty() {
                continue;
            }
            terms.push(FieldRequirement {
                field,
                operator: t.operator,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Matches given a field getter; a field the getter does not know reads as `""`, as
    /// upstream's `fields.Set.Get`.
    pub fn matches(&self, get: &dyn Fn(&str) -> Option<String>) -> bool {
        self.terms
            .iter()
            .all(|t| t.matches(&get(&t.field).unwrap_or_default()))
    }

    /// Matches a built-in object using [`super::selectable_field_value`].
    pub fn matches_object(&self, obj: &serde_json::Value) -> bool {
        self.terms
            .iter()
            .all(|t| t.matches(&super::selectable_field_value(obj, &t.field)))
    }

    /// Upstream `RequiresExactMatch`: the value an `=` term demands of `field`.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.operator == FieldOperator::Equals)
            .map(|t| t.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}
