//! ValidatingAdmissionPolicy (upstream `k8s.io/apiserver/pkg/admission/plugin/policy/validating`):
//! every ValidatingAdmissionPolicyBinding whose policy and binding select the request is
//! evaluated with its params, and its validationActions (Deny, Warn, Audit) apply to the
//! failures. Policies and bindings are read from the watch cache, so a new one applies as
//! soon as it is stored and with no binding the plugin costs one empty cache lookup.
//!
//! Not done: the policy's `status.typeChecking` (never written), `auditAnnotations` and the
//! Audit action (logged at info level, not added to the audit event), the `authorizer`
//! variable.

pub(crate) mod evaluate;
mod matching;
mod params;

use rudder_api::status::{ApiError, StatusCause, StatusReason};
use serde_json::Value;

use super::lookup::{Kind, NAMESPACES};
use super::webhook::matching::is_exempt;
use super::webhook::review;
use super::{Attributes, Cluster, Operation, forbidden};
use evaluate::{Decision, Failure, Inputs};
use params::Params;

const POLICIES: Kind = Kind(
    "admissionregistration.k8s.io",
    "v1",
    "validatingadmissionpolicies",
);
const BINDINGS: Kind = Kind(
    "admissionregistration.k8s.io",
    "v1",
    "validatingadmissionpolicybindings",
);

fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Runs every binding on the request; returns the Warn action's warnings, or the first Deny.
pub(crate) async fn validate(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<Vec<String>, ApiError> {
    if is_exempt(attrs) {
        return Ok(Vec::new());
    }
    let mut bindings = cluster.list(BINDINGS, None);
    if bindings.is_empty() {
        return Ok(Vec::new());
    }
    bindings.sort_by(|a, b| name(a).cmp(name(b)));
    let is_namespace = attrs.resource.group.is_empty() && attrs.resource.plural == "namespaces";
    let cluster_scoped = attrs.namespace.is_empty() && !is_namespace;
    let namespace_object = match (is_namespace, attrs.namespace.is_empty()) {
        (false, false) => cluster.get_live(NAMESPACES, None, attrs.namespace).await?,
        _ => None,
    };
    let own = || obj.or(attrs.old).and_then(|o| o.pointer("/metadata/labels"));
    let namespace_labels = if is_namespace {
        own()
    } else {
        namespace_object
            .as_ref()
            .and_then(|n| n.pointer("/metadata/labels"))
    };
    let object = match attrs.operation {
        Operation::Delete => Value::Null,
        _ => obj.cloned().unwrap_or(Value::Null),
    };
    let old_object = attrs.old.cloned().unwrap_or(Value::Null);
    let request = review::request(&crate::registry::object::new_uid(), attrs, obj);
    let namespace_object = namespace_object.clone().unwrap_or(Value::Null);
    let mut warnings = Vec::new();
    for binding in &bindings {
        let spec = binding.get("spec").unwrap_or(&Value::Null);
        let policy_name = spec.get("policyName").and_then(Value::as_str).unwrap_or_default();
        let Some(policy) = cluster.get(POLICIES, None, policy_name) else {
            continue;
        };
        let policy_spec = policy.get("spec").unwrap_or(&Value::Null);
        let Some(constraints) = policy_spec.get("matchConstraints") else {
            continue;
        };
        let selects = |mr| matching::matches(mr, attrs, obj, namespace_labels, cluster_scoped);
        if !selects(Some(constraints)) || !selects(spec.get("matchResources")) {
            continue;
        }
        let span = tracing::debug_span!(
            "policy",
            policy = policy_name,
            binding = name(binding),
            namespace = attrs.namespace,
            name = attrs.name
        );
        let _enter = span.enter();
        let decisions = match params::resolve(policy_spec, spec, attrs, cluster) {
            Params::None => vec![decide(
                policy_spec,
                &object,
                &old_object,
                &request,
                &Value::Null,
                &namespace_object,
            )],
            Params::Found(found) => found
                .iter()
                .map(|p| decide(policy_spec, &object, &old_object, &request, p, &namespace_object))
                .collect(),
            Params::Allow => continue,
            Params::Failed(failure) => vec![Decision::Failed(vec![failure])],
        };
        let failures = decisions.into_iter().flat_map(|d| match d {
            Decision::Failed(f) => f,
            Decision::Skipped | Decision::Admitted => Vec::new(),
        });
        let actions: Vec<&str> = spec
            .get("validationActions")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for failure in failures {
            if actions.contains(&"Deny") {
                return Err(denied(attrs, obj, policy_name, name(binding), &failure));
            }
            if actions.contains(&"Warn") {
                warnings.push(format!(
                    "Validation failed for ValidatingAdmissionPolicy '{policy_name}' with binding '{}': {}",
                    name(binding),
                    failure.message
                ));
            }
            if actions.contains(&"Audit") {
                tracing::info!(policy = policy_name, binding = name(binding), message = %failure.message, "validation failed (Audit)");
            }
        }
    }
    Ok(warnings)
}

fn decide(
    spec: &Value,
    object: &Value,
    old: &Value,
    request: &Value,
    params: &Value,
    namespace: &Value,
) -> Decision {
    evaluate::evaluate(
        spec,
        &Inputs {
            object,
            old_object: old,
            request,
            params,
            namespace_object: namespace,
        },
    )
}

/// The refusal as upstream builds it: a Forbidden naming the object whose reason (Invalid
/// unless the validation names one) and code are the validation's.
fn denied(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    policy: &str,
    binding: &str,
    failure: &Failure,
) -> ApiError {
    let message = format!(
        "ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied request: {}",
        failure.message
    );
    let base = forbidden(attrs, obj.or(attrs.old), &message);
    let reason = StatusReason::parse(failure.reason.as_deref().unwrap_or("Invalid"));
    let code = match reason {
        StatusReason::Forbidden => 403,
        StatusReason::Unauthorized => 401,
        StatusReason::RequestEntityTooLarge => 413,
        _ => 422,
    };
    let reason = if reason == StatusReason::Unknown {
        StatusReason::Invalid
    } else {
        reason
    };
    ApiError::new(code, reason, base.message())
        .with_details(base.details().cloned().unwrap_or_default())
        .with_cause(StatusCause::new("", message, ""))
}
