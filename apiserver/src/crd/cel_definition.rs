//! Checks of a definition's `x-kubernetes-validations` (upstream's `apiextensions/validation`
//! for validation rules): every rule compiles, must give a bool, and its `message`,
//! `messageExpression`, `reason`, `fieldPath` and `optionalOldSelf` are well formed; with
//! upstream's field paths (`spec.validation.openAPIV3Schema...` when every version has the same
//! schema, as upstream's internal version hoists it; per version otherwise).

use rudder_api::validation::{BadValue, FieldError, FieldPath, go_quote};
use rudder_cel::Environment;
use serde_json::Value;

use super::cel::{has_rules, hint, parse_field_path};

const REASONS: &[&str] = &[
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

/// The rule errors of a definition's spec.
pub(crate) fn validate(spec: &Value) -> Vec<FieldError> {
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let schemas: Vec<Option<&Value>> = versions
        .iter()
        .map(|v| v.pointer("/schema/openAPIV3Schema"))
        .collect();
    if !schemas.iter().flatten().any(|s| has_rules(s)) {
        return Vec::new();
    }
    let env = match Environment::kubernetes() {
        Ok(env) => env,
        Err(e) => return vec![FieldError::internal(&FieldPath::new("spec"), e)],
    };
    let mut errors = Vec::new();
    let identical = schemas.windows(2).all(|w| w[0] == w[1]);
    if identical {
        if let Some(Some(schema)) = schemas.first() {
            let path = FieldPath::new("spec")
                .child("validation")
                .child("openAPIV3Schema");
            node(env, schema, &path, None, true, &mut errors);
        }
        return errors;
    }
    for (i, schema) in schemas.iter().enumerate() {
        if let Some(schema) = schema {
            let path = FieldPath::new("spec")
                .child("versions")
                .index(i)
                .child("schema")
                .child("openAPIV3Schema");
            node(env, schema, &path, None, true, &mut errors);
        }
    }
    errors
}

/// `uncorrelatable`: the path of the nearest list above whose items do not correlate with the
/// old object (where `oldSelf` cannot be used).
fn node(
    env: &Environment,
    schema: &Value,
    path: &FieldPath,
    uncorrelatable: Option<&FieldPath>,
    resource: bool,
    errors: &mut Vec<FieldError>,
) {
    let embedded = |s: &Value| s.get("x-kubernetes-embedded-resource").and_then(Value::as_bool) == Some(true);
    let Some(map) = schema.as_object() else {
        return;
    };
    let this = hint(schema, resource);
    for (i, rule) in map
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let rpath = path.child("x-kubernetes-validations").index(i);
        validate_rule(env, schema, &this, rule, &rpath, uncorrelatable, errors);
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (key, prop) in props {
            let ppath = path.child("properties").key(key);
            node(env, prop, &ppath, uncorrelatable, embedded(prop), errors);
        }
    }
    if let Some(additional) = map.get("additionalProperties").filter(|a| a.is_object()) {
        let apath = path.child("additionalProperties");
        node(
            env,
            additional,
            &apath,
            uncorrelatable,
            embedded(additional),
            errors,
        );
    }
    if let Some(items) = map.get("items").filter(|i| i.is_object()) {
        let ipath = path.child("items");
        let is_map_list = map.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map");
        let below = if is_map_list {
            uncorrelatable
        } else {
            uncorrelatable.or(Some(&ipath))
        };
        node(env, items, &ipath, below, embedded(items), errors);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for (i, sub) in map
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            node(
                env,
                sub,
                &path.child(key).index(i),
                uncorrelatable,
                resource,
                errors,
            );
        }
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn validate_rule(
    env: &Environment,
    schema: &Value,
    this: &rudder_cel::TypeHint,
    rule: &Value,
    path: &FieldPath,
    uncorrelatable: Option<&FieldPath>,
    errors: &mut Vec<FieldError>,
) {
    let source = text(rule, "rule");
    let message = text(rule, "message");
    let message_expression = text(rule, "messageExpression");
    let shown = BadValue::Raw(go_rule(rule));
    if source.trim().is_empty() {
        errors.push(FieldError::required(&path.child("rule"), "rule is not specified"));
    } else if !message.is_empty() && message.trim().is_empty() {
        errors.push(FieldError::invalid(
            &path.child("message"),
            message,
            "message must be non-empty if specified",
        ));
    } else if message.trim().contains('\n') {
        errors.push(FieldError::invalid(
            &path.child("message"),
            message,
            "message must not contain line breaks",
        ));
    } else if source.trim().contains('\n') && message.trim().is_empty() {
        errors.push(FieldError::required(
            &path.child("message"),
            "message must be specified if rule contains line breaks",
        ));
    }
    if !message_expression.is_empty() && message_expression.trim().is_empty() {
        errors.push(FieldError::required(
            &path.child("messageExpression"),
            "messageExpression must be non-empty if specified",
        ));
    }
    if let Some(reason) = rule.get("reason").and_then(Value::as_str)
        && !REASONS.contains(&reason)
    {
        errors.push(FieldError::not_supported(&path.child("reason"), reason, REASONS));
    }
    let field_path = text(rule, "fieldPath");
    if !field_path.is_empty() {
        if field_path.trim().is_empty() {
            errors.push(FieldError::invalid(
                &path.child("fieldPath"),
                field_path,
                "fieldPath must be non-empty if specified",
            ));
        } else if field_path.contains('\n') {
            errors.push(FieldError::invalid(
                &path.child("fieldPath"),
                field_path,
                "fieldPath must not contain line breaks",
            ));
        } else if let Err(e) = resolve_field_path(schema, field_path) {
            errors.push(FieldError::invalid(
                &path.child("fieldPath"),
                field_path,
                format!("fieldPath must be a valid path: {e}"),
            ));
        }
    }
    if source.trim().is_empty() {
        return;
    }
    let uses_old_self = match env.compile_typed(source, &[("self", this), ("oldSelf", this)]) {
        Err(e) => {
            errors.push(FieldError::invalid(
                &path.child("rule"),
                shown.clone(),
                format!("compilation failed: {e}"),
            ));
            false
        }
        Ok(program) if program.plainly_not_bool() => {
            errors.push(FieldError::invalid(
                &path.child("rule"),
                shown.clone(),
                "cel expression must evaluate to a bool",
            ));
            false
        }
        Ok(program) => program.uses("oldSelf"),
    };
    if !message_expression.trim().is_empty() {
        match env.compile_typed(message_expression, &[("self", this), ("oldSelf", this)]) {
            Err(e) => errors.push(FieldError::invalid(
                &path.child("messageExpression"),
                shown.clone(),
                format!("messageExpression compilation failed: {e}"),
            )),
            Ok(program) if program.plainly_not_string() => errors.push(FieldError::invalid(
                &path.child("messageExpression"),
                shown.clone(),
                "messageExpression must evaluate to a string",
            )),
            Ok(_) => {}
        }
    }
    if uses_old_self {
        if let Some(list) = uncorrelatable {
            errors.push(FieldError::invalid(
                &path.child("rule"),
                source,
                format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {list}"),
            ));
        }
    } else if let Some(optional) = rule.get("optionalOldSelf").and_then(Value::as_bool) {
        errors.push(FieldError::invalid(
            &path.child("optionalOldSelf"),
            optional,
            "may not be set if oldSelf is not used in rule",
        ));
    }
}

/// Resolves a rule's `fieldPath` against the schema of the node the rule is on.
fn resolve_field_path(schema: &Value, field_path: &str) -> Result<(), &'static str> {
    let names = parse_field_path(field_path).ok_or("expected [ or . but got a name")?;
    let mut at = schema;
    for name in names {
        at = if let Some(prop) = at.get("properties").and_then(|p| p.get(&name)) {
            prop
        } else if let Some(additional) = at.get("additionalProperties").filter(|a| a.is_object()) {
            additional
        } else {
            return Err("does not refer to a valid field");
        };
    }
    Ok(())
}

/// Go's `%#v` of the internal `apiextensions.ValidationRule`, as upstream prints the bad value
/// of a rule that does not compile.
fn go_rule(rule: &Value) -> String {
    let reason = match rule.get("reason").and_then(Value::as_str) {
        Some(_) => "(*apiextensions.FieldValueErrorReason)(0xc000000000)",
        None => "(*apiextensions.FieldValueErrorReason)(nil)",
    };
    let optional = match rule.get("optionalOldSelf").and_then(Value::as_bool) {
        Some(_) => "(*bool)(0xc000000000)",
        None => "(*bool)(nil)",
    };
    format!(
        "apiextensions.ValidationRule{{Rule:{}, Message:{}, MessageExpression:{}, Reason:{reason}, FieldPath:{}, OptionalOldSelf:{optional}}}",
        go_quote(text(rule, "rule")),
        go_quote(text(rule, "message")),
        go_quote(text(rule, "messageExpression")),
        go_quote(text(rule, "fieldPath")),
    )
}
