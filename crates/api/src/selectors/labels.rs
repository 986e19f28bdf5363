//! Label selectors: upstream `k8s.io/apimachinery/pkg/labels` (`Requirement`, `Selector`,
//! `NewRequirement`) and `metav1.LabelSelectorAsSelector`.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::validation::{
    BadValue, FieldError, FieldPath, aggregate_message, go_quote, is_qualified_name, is_valid_label_value,
};

/// A label-selector error. `Display` is upstream's message, which the apiserver returns
/// verbatim as a 400 BadRequest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LabelSelectorError {
    message: String,
}

impl LabelSelectorError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        LabelSelectorError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// `selection.Operator` as label requirements use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    DoesNotExist,
    Equals,
    DoubleEquals,
    In,
    NotEquals,
    NotIn,
    Exists,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// Upstream's operator value: `!`, `=`, `==`, `in`, `!=`, `notin`, `exists`, `gt`, `lt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::DoesNotExist => "!",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::In => "in",
            Operator::NotEquals => "!=",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One `key op values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

fn label_key_error(key: &str, path: &FieldPath) -> Option<FieldError> {
    let errs = is_qualified_name(key);
    (!errs.is_empty()).then(|| FieldError::invalid(path, key, errs.join("; ")))
}

impl Requirement {
    /// Upstream `NewRequirement`: validates the key, the value count for the operator, integer
    /// values for `gt`/`lt`, and each value as a label value.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, LabelSelectorError> {
        Self::build(key, operator, values, false)
    }

    /// `nil_values` renders an empty value list as Go's nil slice (`[]string(nil)`), which is
    /// what `LabelSelectorAsSelector` passes; the string parser passes an empty, non-nil slice.
    pub(crate) fn build(
        key: &str,
        operator: Operator,
        values: Vec<String>,
        nil_values: bool,
    ) -> Result<Self, LabelSelectorError> {
        let path = FieldPath::nil();
        let mut errs = Vec::new();
        errs.extend(label_key_error(key, &path.child("key")));
        let values_path = path.child("values");
        let all_values = || {
            if values.is_empty() && nil_values {
                BadValue::Raw("[]string(nil)".into())
            } else {
                BadValue::string_list(&values)
            }
        };
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(FieldError::invalid(
                &values_path,
                all_values(),
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => errs
                .push(FieldError::invalid(
                    &values_path,
                    all_values(),
                    "exact-match compatibility requires one single value",
                )),
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                errs.push(FieldError::invalid(
                    &values_path,
                    all_values(),
                    "values set must be empty for exists and does not exist",
                ))
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(FieldError::invalid(
                        &values_path,
                        all_values(),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(FieldError::invalid(
                            &values_path.index(i),
                            v.as_str(),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let msgs = is_valid_label_value(v);
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(
                    &values_path.index(i).key(key),
                    v.as_str(),
                    msgs.join("; "),
                ));
            }
        }
        match aggregate_message(&errs) {
            Some(msg) => Err(LabelSelectorError::new(msg)),
            None => Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            }),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Upstream `Requirement.Matches`, given a label lookup.
    pub fn matches_lookup<'a>(&self, lookup: &dyn Fn(&str) -> Option<&'a str>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => lookup(&self.key).is_some_and(has),
            Operator::NotIn | Operator::NotEquals => lookup(&self.key).is_none_or(|v| !has(v)),
            Operator::Exists => lookup(&self.key).is_some(),
            Operator::DoesNotExist => lookup(&self.key).is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(actual) = lookup(&self.key).and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [wanted] = self.values.as_slice() else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream `Requirement.String()`: `!k`, `k`, `k=v`, `k in (a,b)` (values sorted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        f.write_str(&sorted.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector: the AND of its requirements. The default value matches everything;
/// [`LabelSelector::nothing`] (from a null `metav1.LabelSelector`) matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Matches no object (upstream `labels.Nothing()`).
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Upstream `labels.Parse`: the `labelSelector` query-parameter syntax.
    pub fn parse(selector: &str) -> Result<Self, LabelSelectorError> {
        let mut requirements = super::label_parser::parse(selector)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Upstream `SelectorFromSet` (no validation): `k1=v1,k2=v2`; an empty set matches everything.
    pub fn from_set<'a>(set: impl IntoIterator<Item = (&'a String, &'a String)>) -> Self {
        let mut requirements: Vec<Requirement> = set
            .into_iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::Equals,
                values: vec![v.clone()],
            })
            .collect();
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// Upstream `metav1.LabelSelectorAsSelector` over a JSON `metav1.LabelSelector`: `null` or
    /// absent matches nothing, `{}` matches everything, `matchLabels` become `=` requirements and
    /// `matchExpressions` `In`/`NotIn`/`Exists`/`DoesNotExist` requirements.
    pub fn from_label_selector(value: Option<&Value>) -> Result<Self, LabelSelectorError> {
        let obj = match value {
            None | Some(Value::Null) => return Ok(Self::nothing()),
            Some(Value::Object(obj)) => obj,
            Some(_) => return Err(LabelSelectorError::new("label selector must be an object")),
        };
        let empty = serde_json::Map::new();
        let match_labels = match obj.get("matchLabels") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => return Err(LabelSelectorError::new("matchLabels must be an object")),
        };
        let no_exprs = Vec::new();
        let exprs = match obj.get("matchExpressions") {
            None | Some(Value::Null) => &no_exprs,
            Some(Value::Array(a)) => a,
            Some(_) => return Err(LabelSelectorError::new("matchExpressions must be an array")),
        };
        if match_labels.is_empty() && exprs.is_empty() {
            return Ok(Self::everything());
        }
        let mut requirements = Vec::with_capacity(match_labels.len() + exprs.len());
        for (k, v) in match_labels {
            let v = v
                .as_str()
                .ok_or_else(|| LabelSelectorError::new(format!("matchLabels[{k}] must be a string")))?;
            requirements.push(Requirement::build(
                k,
                Operator::Equals,
                vec![v.to_string()],
                false,
            )?);
        }
        for expr in exprs {
            let op_text = expr.get("operator").and_then(Value::as_str).unwrap_or("");
            let op = match op_text {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(LabelSelectorError::new(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )));
                }
            };
            let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
            let values = match expr.get("values") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(vals)) => vals
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| LabelSelectorError::new("matchExpressions values must be strings"))?,
                Some(_) => {
                    return Err(LabelSelectorError::new(
                        "matchExpressions values must be an array",
                    ));
                }
            };
            requirements.push(Requirement::build(key, op, values, true)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// True when the selector does not restrict anything (upstream `Empty()`); false for
    /// [`LabelSelector::nothing`].
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the selector that matches no object.
    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Matches given a label lookup function.
    pub fn matches_lookup<'a>(&self, lookup: &dyn Fn(&str) -> Option<&'a str>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches_lookup(lookup))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_lookup(&|k| labels.get(k).map(String::as_str))
    }

    /// Matches a JSON labels map (`metadata.labels`); `null` or a non-object counts as no
    /// labels, and non-string values as absent.
    pub fn matches_value(&self, labels: &Value) -> bool {
        self.matches_lookup(&|k| labels.get(k).and_then(Value::as_str))
    }

    /// Matches an object by its `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches_value(obj.pointer("/metadata/labels").unwrap_or(&Value::Null))
    }

    /// Upstream `RequiresExactMatch`: the single value the label must have, if the selector's
    /// (first) requirement on it is `=`, `==` or a one-value `in`.
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == label)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    /// Upstream `String()`: requirements joined by `,` (empty for everything and nothing).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}
