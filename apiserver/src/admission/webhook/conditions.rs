//! `matchConditions` (upstream `webhook/matchconditions`): CEL expressions over `object`,
//! `oldObject` and `request`, all of which must be true for the webhook to be called. The
//! `authorizer` variable is not offered (an expression using it fails to compile, and the
//! failure counts as an error under the webhook's failurePolicy).

use rudder_cel::{PER_CALL_LIMIT, TypeHint, Value as CelValue, from_json};
use serde_json::Value;

/// The variables a webhook's matchConditions may use.
pub(crate) const VARIABLES: &[&str] = &["object", "oldObject", "request"];

/// Whether every condition holds: `Ok(false)` names nothing, `Err` says which condition
/// could not be evaluated and why.
pub(crate) fn all_match(
    conditions: &[Value],
    object: &Value,
    old_object: &Value,
    request: &Value,
) -> Result<bool, String> {
    if conditions.is_empty() {
        return Ok(true);
    }
    let hint = TypeHint::Dynamic;
    let (object, old_object, request) = (
        from_json(object, &hint),
        from_json(old_object, &hint),
        from_json(request, &hint),
    );
    let vars: [(&str, &CelValue); 3] = [
        ("object", &object),
        ("oldObject", &old_object),
        ("request", &request),
    ];
    for condition in conditions {
        let name = condition.get("name").and_then(Value::as_str).unwrap_or_default();
        let expression = condition
            .get("expression")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let program = crate::admission::programs::compile(expression, VARIABLES)
            .map_err(|e| format!("matchCondition {name:?}: {e}"))?;
        let result = program
            .evaluate(&vars, PER_CALL_LIMIT)
            .map_err(|e| format!("matchCondition {name:?}: {e}"))?;
        match result.value {
            CelValue::Bool(true) => {}
            CelValue::Bool(false) => return Ok(false),
            other => {
                return Err(format!(
                    "matchCondition {name:?} evaluated to {other:?}, not a bool"
                ));
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_gate_the_call() {
        let obj = json!({"metadata": {"name": "p", "labels": {"skip": "yes"}}});
        let req = json!({"operation": "CREATE", "userInfo": {"username": "alice"}});
        let cond = |e: &str| json!({"name": "c", "expression": e});
        let cases = [
            (vec![], Ok(true)),
            (vec![cond("request.operation == 'CREATE'")], Ok(true)),
            (
                vec![cond("true"), cond("request.userInfo.username == 'bob'")],
                Ok(false),
            ),
            (
                vec![cond(
                    "!has(object.metadata.labels) || object.metadata.labels['skip'] != 'yes'",
                )],
                Ok(false),
            ),
            (vec![cond("oldObject == null")], Ok(true)),
        ];
        for (conds, want) in cases {
            assert_eq!(all_match(&conds, &obj, &Value::Null, &req), want, "{conds:?}");
        }
        assert!(all_match(&[cond("1 + ")], &obj, &Value::Null, &req).is_err());
        assert!(all_match(&[cond("'a'")], &obj, &Value::Null, &req).is_err());
    }
}
