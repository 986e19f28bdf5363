//! Running a version's validation rules on a write (upstream's `cel.Validator.Validate`): every
//! node that has rules is evaluated with `self` bound to its value; transition rules (those that
//! read `oldSelf`) only where the old object has a value at the same place (map keys, and
//! `x-kubernetes-list-type: map` items by their keys). On updates, a failed rule that does not
//! read `oldSelf` is dropped where the value did not change (CRD validation ratcheting). One
//! cost budget covers the whole object.

use rudder_api::validation::{FieldError, FieldErrorType, FieldPath};
use rudder_cel::{EvalError, PER_CALL_LIMIT, RUNTIME_COST_BUDGET, Value as CelValue, from_json};
use serde_json::Value;

use super::cel::{CelNode, Rule};

/// Upstream's error when rules are skipped because the object already has type errors.
pub(crate) const BLOCKED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

const OUT_OF_BUDGET: &str =
    "validation failed due to running out of cost budget, no further validation rules will be run";

/// The rule errors of `obj` (`old` is the stored object on updates).
pub(crate) fn validate(tree: &CelNode, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut run = Run {
        budget: RUNTIME_COST_BUDGET,
        errors: Vec::new(),
        stopped: false,
    };
    run.node(tree, obj, old, &FieldPath::nil(), false);
    run.errors
}

/// Whether schema errors keep the rules from running (upstream's `hasBlockingErr`): a wrong
/// type, a value outside an enum, a missing required field, or a string, list or map over its
/// limit would give the rules values they were not written for (or cost they were not
/// estimated for).
pub(crate) fn blocked(errors: &[FieldError]) -> Option<FieldError> {
    errors
        .iter()
        .any(|e| {
            matches!(
                e.error_type,
                FieldErrorType::TypeInvalid
                    | FieldErrorType::NotSupported
                    | FieldErrorType::Required
                    | FieldErrorType::TooLong
                    | FieldErrorType::TooMany
            )
        })
        .then(|| FieldError::invalid(&FieldPath::nil(), rudder_api::validation::BadValue::Null, BLOCKED))
}

struct Run {
    budget: u64,
    errors: Vec<FieldError>,
    stopped: bool,
}

impl Run {
    /// `nearest_equal`: whether the nearest ancestor that correlates with the old object is
    /// unchanged (what decides ratcheting of a node that does not correlate itself).
    fn node(
        &mut self,
        n: &CelNode,
        value: &Value,
        old: Option<&Value>,
        path: &FieldPath,
        nearest_equal: bool,
    ) {
        if self.stopped || value.is_null() {
            return;
        }
        let old = old.filter(|o| !o.is_null());
        let unchanged = match old {
            Some(o) => o == value,
            None => nearest_equal,
        };
        if !n.rules.is_empty() {
            let this = from_json(value, &n.hint);
            let before = old.map(|o| from_json(o, &n.hint));
            for rule in &n.rules {
                self.rule(n, rule, &this, before.as_ref(), path, unchanged);
                if self.stopped {
                    return;
                }
            }
        }
        match value {
            Value::Object(map) => {
                let old_map = if n.atomic_map {
                    None
                } else {
                    old.and_then(Value::as_object)
                };
                for (key, v) in map {
                    let old_v = old_map.and_then(|m| m.get(key));
                    if let Some(child) = n.properties.get(key) {
                        self.node(child, v, old_v, &path.child(key), unchanged);
                    } else if let Some(child) = &n.additional {
                        self.node(child, v, old_v, &path.key(key), unchanged);
                    }
                }
            }
            Value::Array(items) => {
                let Some(child) = &n.items else {
                    return;
                };
                let old_items = old.and_then(Value::as_array);
                for (i, item) in items.iter().enumerate() {
                    let old_item = match (&n.list_map_keys, old_items) {
                        (Some(keys), Some(olds)) => olds.iter().find(|o| same_keys(keys, item, o)),
                        _ => None,
                    };
                    self.node(child, item, old_item, &path.index(i), unchanged);
                }
            }
            _ => {}
        }
    }

    fn rule(
        &mut self,
        n: &CelNode,
        rule: &Rule,
        this: &CelValue,
        old: Option<&CelValue>,
        path: &FieldPath,
        unchanged: bool,
    ) {
        let program = match &rule.program {
            Ok(p) => p,
            Err(e) => {
                self.errors.push(FieldError::invalid(
                    path,
                    n.ty.as_str(),
                    format!("rule compile error: {e}"),
                ));
                return;
            }
        };
        let transition = program.uses("oldSelf");
        if transition && old.is_none() && !rule.optional_old_self {
            return;
        }
        if self.budget == 0 {
            self.stop(path, n, OUT_OF_BUDGET.to_string());
            return;
        }
        let old_self = if rule.optional_old_self {
            Some(rudder_cel::optional(old.cloned()))
        } else {
            old.cloned()
        };
        let mut vars: Vec<(&str, &CelValue)> = vec![("self", this)];
        if let Some(o) = &old_self {
            vars.push(("oldSelf", o));
        }
        let limit = PER_CALL_LIMIT.min(self.budget);
        let failed = match program.evaluate(&vars, limit) {
            Ok(out) => {
                self.budget = self.budget.saturating_sub(out.cost);
                out.value != CelValue::Bool(true)
            }
            Err(EvalError::CostLimitExceeded { .. }) if limit < PER_CALL_LIMIT => {
                self.stop(path, n, OUT_OF_BUDGET.to_string());
                return;
            }
            Err(e @ EvalError::CostLimitExceeded { .. }) => {
                let detail = format!(
                    "'{e}': no further validation rules will be run due to call cost exceeds limit for rule: {}",
                    rule.error_string()
                );
                self.stop(path, n, detail);
                return;
            }
            Err(e @ EvalError::NoSuchOverload { .. }) => {
                let detail = format!(
                    "'{e}': call arguments did not match a supported operator, function or macro signature for rule: {}",
                    rule.error_string()
                );
                self.errors.push(FieldError::invalid(path, n.ty.as_str(), detail));
                return;
            }
            Err(e) => {
                let detail = format!("{e} evaluating rule: {}", rule.error_string());
                self.errors.push(FieldError::invalid(path, n.ty.as_str(), detail));
                return;
            }
        };
        if !failed || (!transition && unchanged) {
            return;
        }
        let mut at = path.clone();
        for segment in &rule.field_path {
            at = at.child(segment);
        }
        let detail = self
            .message_expression(rule, &vars)
            .unwrap_or_else(|| default_message(rule));
        self.errors.push(match rule.reason.as_deref() {
            Some("FieldValueForbidden") => FieldError::forbidden(&at, detail),
            Some("FieldValueRequired") => FieldError::required(&at, detail),
            Some("FieldValueDuplicate") => FieldError::duplicate(&at, n.ty.as_str()),
            _ => FieldError::invalid(&at, n.ty.as_str(), detail),
        });
    }

    /// The evaluated `messageExpression`, or `None` to fall back to `message` (upstream logs
    /// and falls back when it fails, is empty or has line breaks).
    fn message_expression(&mut self, rule: &Rule, vars: &[(&str, &CelValue)]) -> Option<String> {
        let program = rule.message_expression.as_ref()?;
        let out = program.evaluate(vars, PER_CALL_LIMIT.min(self.budget)).ok()?;
        self.budget = self.budget.saturating_sub(out.cost);
        match out.value {
            CelValue::String(s) => {
                let trimmed = s.trim();
                (!trimmed.is_empty() && !trimmed.contains('\n')).then(|| trimmed.to_string())
            }
            _ => None,
        }
    }

    fn stop(&mut self, path: &FieldPath, n: &CelNode, detail: String) {
        self.errors.push(FieldError::invalid(path, n.ty.as_str(), detail));
        self.stopped = true;
    }
}

fn default_message(rule: &Rule) -> String {
    if rule.message.is_empty() {
        format!("failed rule: {}", rule.rule.trim())
    } else {
        rule.message.clone()
    }
}

/// Whether two items of a map-type list have the same key values.
fn same_keys(keys: &[String], a: &Value, b: &Value) -> bool {
    keys.iter().all(|k| a.get(k) == b.get(k))
}
