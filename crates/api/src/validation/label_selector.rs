//! Upstream `metav1validation.ValidateLabelSelector` over a JSON `metav1.LabelSelector`
//! (workload `spec.selector`, PodDisruptionBudgets, ...).

use serde_json::Value;

use super::field::{FieldError, FieldPath};
use super::names::is_valid_label_value;
use super::object_meta::{validate_label_name, validate_labels};

/// Validates `matchLabels` and each `matchExpressions` entry; `null` is valid. Operators other
/// than `In`/`NotIn`/`Exists`/`DoesNotExist` are reported (upstream's default options).
pub fn validate_label_selector(selector: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        errs.extend(validate_labels(labels, &path.child("matchLabels")));
    }
    let exprs = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, expr) in exprs.iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values: Vec<&str> = expr
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| v.as_str().unwrap_or("")).collect())
            .unwrap_or_default();
        let operator = expr.get("operator").and_then(Value::as_str).unwrap_or("");
        match operator {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                &p.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                &p.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::invalid(
                &p.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_label_name(
            expr.get("key").and_then(Value::as_str).unwrap_or(""),
            &p.child("key"),
        ));
        for (j, v) in values.iter().enumerate() {
            for m in is_valid_label_value(v) {
                errs.push(FieldError::invalid(&p.child("values").index(j), *v, m));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selector_rules() {
        let p = FieldPath::new("spec").child("selector");
        assert!(validate_label_selector(&json!(null), &p).is_empty());
        assert!(validate_label_selector(&json!({"matchLabels": {"app": "web"}}), &p).is_empty());
        let sel = json!({"matchLabels": {"app": "-x"}, "matchExpressions": [
            {"key": "a", "operator": "In"},
            {"key": "b", "operator": "Exists", "values": ["x"]},
            {"key": "c", "operator": "Gt", "values": ["1"]},
            {"key": "", "operator": "NotIn", "values": ["ok", "not ok"]},
        ]});
        let msgs: Vec<String> = validate_label_selector(&sel, &p)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(msgs[0].starts_with("spec.selector.matchLabels: Invalid value: \"-x\": a valid label"));
        assert_eq!(
            msgs[1],
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
        assert_eq!(
            msgs[2],
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
        );
        assert_eq!(
            msgs[3],
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Gt\": not a valid selector operator"
        );
        assert_eq!(
            msgs[4],
            "spec.selector.matchExpressions[3].key: Invalid value: \"\": name part must be non-empty"
        );
        assert!(msgs[5].starts_with(
            "spec.selector.matchExpressions[3].key: Invalid value: \"\": name part must consist"
        ));
        assert!(msgs[6].starts_with(
            "spec.selector.matchExpressions[3].values[1]: Invalid value: \"not ok\": a valid label"
        ));
        assert_eq!(msgs.len(), 7);
    }
}
