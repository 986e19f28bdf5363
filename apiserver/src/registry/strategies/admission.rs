//! admissionregistration.k8s.io/v1: Mutating/ValidatingWebhookConfiguration,
//! ValidatingAdmissionPolicy and its bindings. Upstream's defaults (failurePolicy Fail,
//! matchPolicy Equivalent, empty selectors, timeoutSeconds 10, reinvocationPolicy Never,
//! rule scope `*`) and the main checks of `admissionregistration/validation` (required
//! fields, supported values, timeouts, CEL expressions that compile).

use rudder_api::validation::{FieldError, FieldPath};
use serde_json::{Map, Value, json};

use super::util::{at, default_str, s};
use crate::registry::strategy::{Strategy, WriteKind};

#[derive(Debug)]
pub(crate) struct WebhookConfigurations {
    pub(crate) mutating: bool,
}

#[derive(Debug)]
pub(crate) struct Policies;

#[derive(Debug)]
pub(crate) struct PolicyBindings;

const FAILURE_POLICIES: &[&str] = &["Fail", "Ignore"];
const MATCH_POLICIES: &[&str] = &["Equivalent", "Exact"];
const SIDE_EFFECTS: &[&str] = &["None", "NoneOnDryRun"];
const ACTIONS: &[&str] = &["Audit", "Deny", "Warn"];

fn default_match_resources(m: &mut Map<String, Value>) {
    default_str(m, "matchPolicy", "Equivalent");
    for selector in ["namespaceSelector", "objectSelector"] {
        m.entry(selector).or_insert_with(|| json!({}));
    }
    for rules in ["rules", "resourceRules", "excludeResourceRules"] {
        for rule in m
            .get_mut(rules)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(r) = rule.as_object_mut() {
                default_str(r, "scope", "*");
            }
        }
    }
}

fn one_of(path: &FieldPath, value: &str, valid: &[&str], errs: &mut Vec<FieldError>) {
    if !value.is_empty() && !valid.contains(&value) {
        errs.push(FieldError::not_supported(path, value, valid));
    }
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    at(v, key).as_array().map(Vec::as_slice).unwrap_or_default()
}

impl Strategy for WebhookConfigurations {
    fn default(&self, obj: &mut Value) {
        let mutating = self.mutating;
        for hook in obj
            .get_mut("webhooks")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(h) = hook.as_object_mut() else { continue };
            default_str(h, "failurePolicy", "Fail");
            h.entry("timeoutSeconds").or_insert_with(|| json!(10));
            if mutating {
                default_str(h, "reinvocationPolicy", "Never");
            }
            default_match_resources(h);
        }
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, hook) in list(obj, "webhooks").iter().enumerate() {
            let path = FieldPath::new("webhooks").index(i);
            let name = s(hook, "name");
            if name.split('.').filter(|p| !p.is_empty()).count() < 3 {
                errs.push(FieldError::invalid(
                    &path.child("name"),
                    name,
                    "should be a domain with at least three segments separated by dots",
                ));
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(&path.child("name"), name));
            }
            let config = at(hook, "clientConfig");
            match (config.get("url"), config.get("service")) {
                (Some(_), Some(_)) | (None, None) => errs.push(FieldError::required(
                    &path.child("clientConfig"),
                    "exactly one of url or service is required",
                )),
                (Some(url), None) if !url.as_str().unwrap_or_default().starts_with("https://") => {
                    errs.push(FieldError::invalid(
                        &path.child("clientConfig").child("url"),
                        url.as_str().unwrap_or_default(),
                        "'https' is the only allowed URL scheme",
                    ))
                }
                _ => {}
            }
            match s(hook, "sideEffects") {
                "" => errs.push(FieldError::required(
                    &path.child("sideEffects"),
                    "must specify one of None, NoneOnDryRun",
                )),
                v => one_of(&path.child("sideEffects"), v, SIDE_EFFECTS, &mut errs),
            }
            if list(hook, "admissionReviewVersions").is_empty() {
                errs.push(FieldError::required(
                    &path.child("admissionReviewVersions"),
                    "must specify one of v1, v1beta1",
                ));
            }
            if let Some(t) = hook
                .get("timeoutSeconds")
                .and_then(Value::as_i64)
                .filter(|t| !(1..=30).contains(t))
            {
                errs.push(FieldError::invalid(
                    &path.child("timeoutSeconds"),
                    t,
                    "the timeout value must be between 1 and 30 seconds",
                ));
            }
            one_of(
                &path.child("failurePolicy"),
                s(hook, "failurePolicy"),
                FAILURE_POLICIES,
                &mut errs,
            );
            one_of(
                &path.child("matchPolicy"),
                s(hook, "matchPolicy"),
                MATCH_POLICIES,
                &mut errs,
            );
            if self.mutating {
                one_of(
                    &path.child("reinvocationPolicy"),
                    s(hook, "reinvocationPolicy"),
                    &["Never", "IfNeeded"],
                    &mut errs,
                );
            }
            compile_all(
                list(hook, "matchConditions"),
                &path.child("matchConditions"),
                crate::admission::WEBHOOK_VARIABLES,
                &mut errs,
            );
        }
        errs
    }
}

/// Every `expression` of `items` must compile.
fn compile_all(items: &[Value], path: &FieldPath, variables: &[&str], errs: &mut Vec<FieldError>) {
    let Ok(env) = rudder_cel::Environment::kubernetes() else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i).child("expression");
        match s(item, "expression") {
            "" => errs.push(FieldError::required(&p, "")),
            e => {
                if let Err(err) = env.compile(e, variables) {
                    errs.push(FieldError::invalid(&p, e, format!("compilation failed: {err}")));
                }
            }
        }
    }
}

impl Strategy for Policies {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        default_str(spec, "failurePolicy", "Fail");
        if let Some(mc) = spec.get_mut("matchConstraints").and_then(Value::as_object_mut) {
            default_match_resources(mc);
        }
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = at(obj, "spec");
        let path = FieldPath::new("spec");
        if spec.get("matchConstraints").is_none() {
            errs.push(FieldError::required(&path.child("matchConstraints"), ""));
        } else if list(at(spec, "matchConstraints"), "resourceRules").is_empty() {
            errs.push(FieldError::required(
                &path.child("matchConstraints").child("resourceRules"),
                "",
            ));
        }
        if list(spec, "validations").is_empty() && list(spec, "auditAnnotations").is_empty() {
            errs.push(FieldError::required(
                &path.child("validations"),
                "validations or auditAnnotations must contain at least one item",
            ));
        }
        one_of(
            &path.child("failurePolicy"),
            s(spec, "failurePolicy"),
            FAILURE_POLICIES,
            &mut errs,
        );
        let vars = crate::admission::POLICY_VARIABLES;
        compile_all(
            list(spec, "matchConditions"),
            &path.child("matchConditions"),
            vars,
            &mut errs,
        );
        compile_all(list(spec, "variables"), &path.child("variables"), vars, &mut errs);
        compile_all(
            list(spec, "validations"),
            &path.child("validations"),
            vars,
            &mut errs,
        );
        if let Some(kind) = spec.get("paramKind")
            && (s(kind, "apiVersion").is_empty() || s(kind, "kind").is_empty())
        {
            errs.push(FieldError::required(
                &path.child("paramKind"),
                "apiVersion and kind are required",
            ));
        }
        errs
    }
}

impl Strategy for PolicyBindings {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        if let Some(mr) = obj
            .pointer_mut("/spec/matchResources")
            .and_then(Value::as_object_mut)
        {
            default_match_resources(mr);
        }
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>, _write: WriteKind) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = at(obj, "spec");
        let path = FieldPath::new("spec");
        if s(spec, "policyName").is_empty() {
            errs.push(FieldError::required(&path.child("policyName"), ""));
        }
        let actions = list(spec, "validationActions");
        if actions.is_empty() {
            errs.push(FieldError::required(
                &path.child("validationActions"),
                "at least one validation action is required",
            ));
        }
        let mut seen = Vec::new();
        for (i, action) in actions.iter().enumerate() {
            let a = action.as_str().unwrap_or_default();
            let p = path.child("validationActions").index(i);
            if seen.contains(&a) {
                errs.push(FieldError::duplicate(&p, a));
            }
            seen.push(a);
            one_of(&p, a, ACTIONS, &mut errs);
        }
        if seen.contains(&"Deny") && seen.contains(&"Warn") {
            errs.push(FieldError::invalid(
                &path.child("validationActions"),
                "[Deny Warn]",
                "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
            ));
        }
        if let Some(reference) = spec.get("paramRef") {
            let p = path.child("paramRef");
            if !s(reference, "name").is_empty() && reference.get("selector").is_some() {
                errs.push(FieldError::forbidden(
                    &p.child("name"),
                    "name and selector are mutually exclusive",
                ));
            }
            match s(reference, "parameterNotFoundAction") {
                "" => errs.push(FieldError::required(&p.child("parameterNotFoundAction"), "")),
                v => one_of(
                    &p.child("parameterNotFoundAction"),
                    v,
                    &["Allow", "Deny"],
                    &mut errs,
                ),
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn webhook_configurations_are_defaulted_and_checked() {
        let mut cfg = json!({"webhooks": [{
            "name": "a.example.com",
            "clientConfig": {"url": "https://127.0.0.1:1/x"},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }]});
        let mutating = WebhookConfigurations { mutating: true };
        mutating.default(&mut cfg);
        let hook = &cfg["webhooks"][0];
        assert_eq!(
            (
                &hook["failurePolicy"],
                &hook["timeoutSeconds"],
                &hook["reinvocationPolicy"],
                &hook["matchPolicy"]
            ),
            (&json!("Fail"), &json!(10), &json!("Never"), &json!("Equivalent"))
        );
        assert_eq!(
            (&hook["namespaceSelector"], &hook["rules"][0]["scope"]),
            (&json!({}), &json!("*"))
        );
        assert!(mutating.validate(&cfg, None, WriteKind::Create).is_empty());

        let bad = json!({"webhooks": [{
            "name": "short.name",
            "clientConfig": {"url": "http://x"},
            "timeoutSeconds": 31,
            "matchConditions": [{"name": "c", "expression": "object.x +"}],
        }]});
        let got =
            messages(&WebhookConfigurations { mutating: false }.validate(&bad, None, WriteKind::Create));
        let want = [
            "webhooks[0].name: Invalid value: \"short.name\": should be a domain with at least three segments separated by dots",
            "webhooks[0].clientConfig.url: Invalid value: \"http://x\": 'https' is the only allowed URL scheme",
            "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
            "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
            "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
        ];
        assert_eq!(&got[..5], &want[..]);
        assert!(
            got[5].starts_with(
                "webhooks[0].matchConditions[0].expression: Invalid value: \"object.x +\": compilation failed"
            ),
            "{got:?}"
        );
    }

    #[test]
    fn policies_and_bindings_are_checked() {
        let mut policy = json!({"spec": {
            "matchConstraints": {"resourceRules": [{"operations": ["*"], "apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"]}]},
            "validations": [{"expression": "object.spec.replicas <= params.max"}],
        }});
        Policies.default(&mut policy);
        assert_eq!(policy["spec"]["failurePolicy"], "Fail");
        assert_eq!(policy["spec"]["matchConstraints"]["matchPolicy"], "Equivalent");
        assert!(Policies.validate(&policy, None, WriteKind::Create).is_empty());
        let got = messages(&Policies.validate(
            &json!({"spec": {"validations": [{"expression": "1 +"}]}}),
            None,
            WriteKind::Create,
        ));
        assert_eq!(got[0], "spec.matchConstraints: Required value");
        assert!(
            got[1].starts_with("spec.validations[0].expression: Invalid value: \"1 +\": compilation failed"),
            "{got:?}"
        );
        let got = messages(&Policies.validate(
            &json!({"spec": {"matchConstraints": {}}}),
            None,
            WriteKind::Create,
        ));
        assert_eq!(
            got,
            [
                "spec.matchConstraints.resourceRules: Required value",
                "spec.validations: Required value: validations or auditAnnotations must contain at least one item",
            ]
        );

        let ok = json!({"spec": {"policyName": "p", "validationActions": ["Deny", "Audit"], "paramRef": {"name": "x", "parameterNotFoundAction": "Allow"}}});
        assert!(PolicyBindings.validate(&ok, None, WriteKind::Create).is_empty());
        let got = messages(&PolicyBindings.validate(
            &json!({"spec": {"validationActions": ["Deny", "Warn", "Nope"], "paramRef": {"name": "x"}}}),
            None,
            WriteKind::Create,
        ));
        assert_eq!(
            got,
            [
                "spec.policyName: Required value",
                "spec.validationActions[2]: Unsupported value: \"Nope\": supported values: \"Audit\", \"Deny\", \"Warn\"",
                "spec.validationActions: Invalid value: \"[Deny Warn]\": must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
                "spec.paramRef.parameterNotFoundAction: Required value",
            ]
        );
    }
}
