//! The authorization review resources (upstream `pkg/registry/authorization/*`): create-only,
//! never stored; the reply is the request with `status` filled in.
//!
//! - SubjectAccessReview: may `spec.user`/`spec.groups` do this?
//! - SelfSubjectAccessReview: may I (`kubectl auth can-i`)?
//! - LocalSubjectAccessReview: SubjectAccessReview confined to the path's namespace.
//! - SelfSubjectRulesReview: what may I do in a namespace (`kubectl auth can-i --list`)?

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::PolicyRule;
use rudder_api::status::ApiError;
use serde_json::{Value, json};

use super::{Attributes, Authorizer, Decision, node_name};
use crate::authn::UserInfo;

/// Which review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessReview {
    Subject,
    SelfSubject,
    /// In the namespace of the request path.
    Local,
}

impl AccessReview {
    fn kind(self) -> &'static str {
        match self {
            AccessReview::Subject => "SubjectAccessReview",
            AccessReview::SelfSubject => "SelfSubjectAccessReview",
            AccessReview::Local => "LocalSubjectAccessReview",
        }
    }
}

fn string(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// Answers an access review; `review` is the decoded request body.
pub(crate) fn access_review(
    authorizer: &Authorizer,
    requester: &UserInfo,
    kind: AccessReview,
    path_namespace: Option<&str>,
    mut review: Value,
) -> Result<Value, ApiError> {
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    let invalid = |field: &str, msg: &str| {
        let path = field
            .split('.')
            .skip(1)
            .fold(rudder_api::validation::FieldPath::new("spec"), |p, c| p.child(c));
        let err = rudder_api::validation::FieldError::invalid(&path, "null", msg);
        ApiError::invalid("authorization.k8s.io", kind.kind(), "", &[err])
    };
    match (resource, non_resource) {
        (None, None) => {
            return Err(invalid(
                "spec.resourceAttributes",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                "spec.nonResourceAttributes",
                "cannot be specified in combination with resourceAttributes",
            ));
        }
        _ => {}
    }
    let user = match kind {
        AccessReview::SelfSubject => requester.clone(),
        AccessReview::Subject | AccessReview::Local => {
            let user = UserInfo {
                name: string(&spec, "user"),
                uid: string(&spec, "uid"),
                groups: strings(&spec["groups"]),
                extra: spec["extra"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), strings(v)))
                    .collect::<BTreeMap<_, _>>(),
            };
            if user.name.is_empty() && user.groups.is_empty() {
                return Err(invalid(
                    "spec.user",
                    "at least one of user or group must be specified",
                ));
            }
            user
        }
    };
    let attrs = match resource {
        Some(r) => {
            let mut attrs = Attributes::resource(
                &user,
                &string(r, "verb"),
                &string(r, "group"),
                &string(r, "resource"),
                &string(r, "namespace"),
                &string(r, "name"),
            );
            attrs.subresource = string(r, "subresource");
            attrs.api_version = string(r, "version");
            if let Some(ns) = path_namespace
                && attrs.namespace != ns
            {
                return Err(ApiError::bad_request(format!(
                    "spec.resourceAttributes.namespace must match namespace: {ns}"
                )));
            }
            attrs
        }
        None => {
            if path_namespace.is_some() {
                return Err(invalid(
                    "spec.nonResourceAttributes",
                    "disallowed on this kind of request",
                ));
            }
            let n = non_resource.unwrap_or(&Value::Null);
            Attributes {
                user,
                verb: string(n, "verb"),
                path: string(n, "path"),
                ..Default::default()
            }
        }
    };
    let decision = authorizer.authorize(&attrs);
    let mut status = json!({ "allowed": decision.allowed() });
    if matches!(decision, Decision::Deny(_)) {
        status["denied"] = json!(true);
    }
    if !decision.reason().is_empty() {
        status["reason"] = json!(decision.reason());
    }
    review["status"] = status;
    Ok(review)
}

/// Answers a SelfSubjectRulesReview: the rules the requester holds in `spec.namespace`.
pub(crate) fn rules_review(authorizer: &Authorizer, requester: &UserInfo, mut review: Value) -> Value {
    let namespace = review
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut rules: Vec<PolicyRule> = Vec::new();
    let mut errors = Vec::new();
    // Authorizers that cannot list what they allow make the answer incomplete, as upstream.
    let mut incomplete = false;
    if let Some(rbac) = &authorizer.rbac {
        let held = rbac.rules_for(requester, &namespace);
        rules.extend(held.rules);
        errors.extend(held.errors);
    }
    if node_name(requester).is_some() {
        incomplete = true;
    }
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in rules {
        if rule.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()) {
            non_resource_rules.push(json!({"verbs": rule.verbs, "nonResourceURLs": rule.non_resource_urls}));
        } else {
            let mut r = json!({"verbs": rule.verbs, "apiGroups": rule.api_groups.unwrap_or_default(),
                               "resources": rule.resources.unwrap_or_default()});
            if let Some(names) = rule.resource_names.filter(|n| !n.is_empty()) {
                r["resourceNames"] = json!(names);
            }
            resource_rules.push(r);
        }
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": incomplete || !errors.is_empty(),
    });
    if !errors.is_empty() {
        status["evaluationError"] = json!(errors.join(", "));
    }
    review["status"] = status;
    review
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Mode;

    fn always(mode: Mode) -> Authorizer {
        Authorizer {
            chain: match mode {
                Mode::AlwaysAllow => vec![std::sync::Arc::new(super::super::AlwaysAllow)],
                _ => vec![std::sync::Arc::new(super::super::AlwaysDeny)],
            },
            rbac: None,
        }
    }

    #[test]
    fn access_reviews_answer_and_validate() {
        let me = UserInfo {
            name: "me".into(),
            ..UserInfo::default()
        };
        let body =
            json!({"spec": {"resourceAttributes": {"namespace": "x", "verb": "get", "resource": "pods"}}});
        let allowed = access_review(
            &always(Mode::AlwaysAllow),
            &me,
            AccessReview::SelfSubject,
            None,
            body.clone(),
        )
        .expect("review");
        assert_eq!(allowed["status"]["allowed"], true);
        let denied = access_review(
            &always(Mode::AlwaysDeny),
            &me,
            AccessReview::SelfSubject,
            None,
            body.clone(),
        )
        .expect("review");
        assert_eq!(denied["status"]["allowed"], false);
        assert_eq!(denied["status"]["denied"], true);
        // A subject access review needs a user or group.
        let err = access_review(
            &always(Mode::AlwaysAllow),
            &me,
            AccessReview::Subject,
            None,
            body.clone(),
        )
        .expect_err("no user");
        assert_eq!(err.code(), 422);
        // A local review stays in its namespace.
        let mut local = body.clone();
        local["spec"]["user"] = json!("bob");
        let err = access_review(
            &always(Mode::AlwaysAllow),
            &me,
            AccessReview::Local,
            Some("y"),
            local,
        )
        .expect_err("other namespace");
        assert_eq!(err.code(), 400);
        let neither = json!({"spec": {}});
        assert!(
            access_review(
                &always(Mode::AlwaysAllow),
                &me,
                AccessReview::SelfSubject,
                None,
                neither
            )
            .is_err()
        );
    }
}
