//! Evaluating one ValidatingAdmissionPolicy against one request and one param (upstream
//! `policy/validating/validator.go`): matchConditions, variables, validations with message,
//! messageExpression and reason. CEL variables: `object`, `oldObject`, `request`, `params`,
//! `namespaceObject`, `variables`; `authorizer` is not offered (an expression using it does
//! not compile, which counts as an error under the failurePolicy).

use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, Map};
use rudder_cel::{PER_CALL_LIMIT, TypeHint, Value as CelValue, from_json};
use serde_json::Value;

/// The variables a policy's expressions may use, in the order [`Env`] holds their values.
pub(crate) const NAMES: &[&str] = &[
    "object",
    "oldObject",
    "request",
    "params",
    "namespaceObject",
    "variables",
];

/// The JSON a policy's expressions see.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub(crate) object: &'a Value,
    pub(crate) old_object: &'a Value,
    pub(crate) request: &'a Value,
    pub(crate) params: &'a Value,
    pub(crate) namespace_object: &'a Value,
}

/// One failed validation: its message and the Status reason it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) reason: Option<String>,
}

/// What a policy decided for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// A matchCondition was false: the policy does not apply.
    Skipped,
    /// Every validation passed (or failed to evaluate under failurePolicy Ignore).
    Admitted,
    Failed(Vec<Failure>),
}

/// The values of [`NAMES`], in order.
struct Env {
    values: Vec<CelValue>,
}

impl Env {
    fn run(&self, expression: &str) -> Result<CelValue, String> {
        let program = crate::admission::programs::compile(expression, NAMES)?;
        let vars: Vec<(&str, &CelValue)> = NAMES.iter().copied().zip(self.values.iter()).collect();
        program
            .evaluate(&vars, PER_CALL_LIMIT)
            .map(|e| e.value)
            .map_err(|e| e.to_string())
    }
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn list<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Evaluates `spec` (the policy's spec) on `inputs`.
pub(crate) fn evaluate(spec: &Value, inputs: &Inputs<'_>) -> Decision {
    let fail_closed = text(spec, "failurePolicy") != "Ignore";
    let hint = TypeHint::Dynamic;
    let mut env = Env {
        values: [
            inputs.object,
            inputs.old_object,
            inputs.request,
            inputs.params,
            inputs.namespace_object,
        ]
        .iter()
        .map(|v| from_json(v, &hint))
        .chain(std::iter::once(CelValue::Map(Map {
            map: Arc::new(HashMap::new()),
        })))
        .collect(),
    };
    for condition in list(spec, "matchConditions") {
        match env.run(text(condition, "expression")) {
            Ok(CelValue::Bool(true)) => {}
            Ok(CelValue::Bool(false)) => return Decision::Skipped,
            Ok(other) => {
                let why = format!(
                    "matchCondition {:?} evaluated to {other:?}, not a bool",
                    text(condition, "name")
                );
                return error_decision(fail_closed, why);
            }
            Err(e) => {
                let why = format!(
                    "failed evaluating matchCondition {:?}: {e}",
                    text(condition, "name")
                );
                return error_decision(fail_closed, why);
            }
        }
    }
    // Variables in order, each able to use the ones before it. A variable that fails is left
    // out, so that only expressions using it fail (upstream evaluates them lazily).
    let mut variables: HashMap<Key, CelValue> = HashMap::new();
    for variable in list(spec, "variables") {
        if let Ok(value) = env.run(text(variable, "expression")) {
            variables.insert(Key::String(Arc::new(text(variable, "name").to_string())), value);
            if let Some(slot) = env.values.last_mut() {
                *slot = CelValue::Map(Map {
                    map: Arc::new(variables.clone()),
                });
            }
        }
    }
    let mut failures = Vec::new();
    for validation in list(spec, "validations") {
        let expression = text(validation, "expression");
        match env.run(expression) {
            Ok(CelValue::Bool(true)) => {}
            Ok(CelValue::Bool(false)) => failures.push(Failure {
                message: message(&env, validation),
                reason: Some(text(validation, "reason"))
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
            }),
            Ok(other) => {
                if fail_closed {
                    failures.push(Failure {
                        message: format!(
                            "expression '{expression}' resulted in error: {other:?} is not a bool"
                        ),
                        reason: None,
                    });
                }
            }
            Err(e) => {
                if fail_closed {
                    failures.push(Failure {
                        message: format!("expression '{expression}' resulted in error: {e}"),
                        reason: None,
                    });
                }
            }
        }
    }
    if failures.is_empty() {
        Decision::Admitted
    } else {
        Decision::Failed(failures)
    }
}

fn error_decision(fail_closed: bool, message: String) -> Decision {
    if fail_closed {
        Decision::Failed(vec![Failure {
            message,
            reason: None,
        }])
    } else {
        Decision::Admitted
    }
}

/// A failed validation's message: messageExpression when it gives a non-empty one-line
/// string, else `message`, else upstream's `failed expression: <expression>`.
fn message(env: &Env, validation: &Value) -> String {
    let from_expression = validation
        .get("messageExpression")
        .and_then(Value::as_str)
        .and_then(|e| match env.run(e) {
            Ok(CelValue::String(s)) if !s.trim().is_empty() && !s.contains('\n') => Some(s.to_string()),
            _ => None,
        });
    from_expression.unwrap_or_else(|| match text(validation, "message") {
        "" => format!("failed expression: {}", text(validation, "expression")),
        m => m.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(spec: Value, object: Value, params: Value) -> Decision {
        let inputs = Inputs {
            object: &object,
            old_object: &Value::Null,
            request: &json!({"operation": "CREATE"}),
            params: &params,
            namespace_object: &json!({"metadata": {"name": "ns", "labels": {"env": "prod"}}}),
        };
        evaluate(&spec, &inputs)
    }

    fn failed(message: &str, reason: Option<&str>) -> Decision {
        Decision::Failed(vec![Failure {
            message: message.into(),
            reason: reason.map(str::to_string),
        }])
    }

    #[test]
    fn validations_decide() {
        let deploy = json!({"spec": {"replicas": 7}});
        let max5 = json!({"validations": [{"expression": "object.spec.replicas <= 5"}]});
        assert_eq!(
            run(max5, deploy.clone(), Value::Null),
            failed("failed expression: object.spec.replicas <= 5", None)
        );
        let cases = [
            (
                json!({"validations": [{"expression": "object.spec.replicas <= 10"}]}),
                Value::Null,
                Decision::Admitted,
            ),
            (
                json!({"validations": [{"expression": "object.spec.replicas <= params.data.max", "message": "too many", "reason": "Forbidden"}]}),
                json!({"data": {"max": 3}}),
                failed("too many", Some("Forbidden")),
            ),
            (
                json!({"validations": [{"expression": "false", "message": "m", "messageExpression": "'replicas: ' + string(object.spec.replicas)"}]}),
                Value::Null,
                failed("replicas: 7", None),
            ),
            (
                json!({"variables": [{"name": "r", "expression": "object.spec.replicas"}, {"name": "big", "expression": "variables.r > 5"}],
                       "validations": [{"expression": "!variables.big", "message": "big"}]}),
                Value::Null,
                failed("big", None),
            ),
            (
                json!({"matchConditions": [{"name": "prod", "expression": "namespaceObject.metadata.labels.env == 'dev'"}],
                       "validations": [{"expression": "false"}]}),
                Value::Null,
                Decision::Skipped,
            ),
            (
                json!({"validations": [{"expression": "object.nope.x"}], "failurePolicy": "Ignore"}),
                Value::Null,
                Decision::Admitted,
            ),
            (
                json!({"validations": [{"expression": "request.operation == 'CREATE'"}]}),
                Value::Null,
                Decision::Admitted,
            ),
        ];
        for (i, (spec, params, want)) in cases.into_iter().enumerate() {
            assert_eq!(run(spec, deploy.clone(), params), want, "case {i}");
        }
        // An error under Fail refuses, naming the expression.
        let Decision::Failed(f) = run(
            json!({"validations": [{"expression": "object.nope.x"}]}),
            deploy,
            Value::Null,
        ) else {
            panic!("fails closed");
        };
        assert!(
            f[0].message
                .starts_with("expression 'object.nope.x' resulted in error: "),
            "{}",
            f[0].message
        );
    }
}
