//! MutatingAdmissionWebhook and ValidatingAdmissionWebhook (upstream
//! `k8s.io/apiserver/pkg/admission/plugin/webhook`): the webhooks of every
//! Mutating/ValidatingWebhookConfiguration, read from the apiserver's watch cache (so a new
//! configuration applies as soon as it is stored, and with none configured the cost is one
//! empty cache lookup), matched against the request, called over HTTPS with an
//! AdmissionReview v1.
//!
//! Mutating webhooks run one after another, each seeing the previous one's JSONPatch, with
//! `reinvocationPolicy: IfNeeded` webhooks called once more when a later webhook changed the
//! object; validating webhooks run in parallel. A failed call (dial, TLS, timeout, bad
//! response) refuses the request under `failurePolicy: Fail` (the default) and is skipped
//! under `Ignore`.

mod client;
pub(crate) mod conditions;
pub(crate) mod matching;
pub(crate) mod review;

use std::time::Duration;

use rudder_api::status::ApiError;
use serde_json::Value;
use tracing::Instrument;

use super::lookup::{Kind, NAMESPACES};
use super::{Attributes, Cluster};
use matching::NamespaceLabels;

const VALIDATING: Kind = Kind(
    "admissionregistration.k8s.io",
    "v1",
    "validatingwebhookconfigurations",
);
const MUTATING: Kind = Kind(
    "admissionregistration.k8s.io",
    "v1",
    "mutatingwebhookconfigurations",
);
const SERVICES: Kind = Kind("", "v1", "services");
const ENDPOINT_SLICES: Kind = Kind("discovery.k8s.io", "v1", "endpointslices");

/// Upstream's default and maximum `timeoutSeconds`.
const DEFAULT_TIMEOUT: u64 = 10;
const MAX_TIMEOUT: u64 = 30;

/// The webhooks of every configuration of `kind`, configurations by name (upstream sorts
/// them), webhooks in their listed order.
fn webhooks(cluster: &Cluster<'_>, kind: Kind) -> Vec<Value> {
    let mut configs = cluster.list(kind, None);
    if configs.is_empty() {
        return configs;
    }
    let name = |c: &Value| {
        c.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    configs.sort_by_key(name);
    configs
        .into_iter()
        .flat_map(|mut c| match c.get_mut("webhooks").map(Value::take) {
            Some(Value::Array(hooks)) => hooks,
            _ => Vec::new(),
        })
        .collect()
}

fn hook_name(hook: &Value) -> &str {
    hook.get("name").and_then(Value::as_str).unwrap_or_default()
}

fn fails_open(hook: &Value) -> bool {
    hook.get("failurePolicy").and_then(Value::as_str) == Some("Ignore")
}

/// Whether the request goes to `hook` (rules, namespace and object selectors, match
/// conditions); `Err` when the namespace cannot be read or a condition fails under Fail.
async fn matches(
    hook: &Value,
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<bool, ApiError> {
    if !matching::any_rule_matches(hook.get("rules"), attrs) {
        return Ok(false);
    }
    let ns_selector = hook.get("namespaceSelector");
    if !matching::selects_everything(ns_selector) {
        let ns_ok = match matching::namespace_labels(attrs, obj) {
            NamespaceLabels::NotApplicable => true,
            NamespaceLabels::Own(labels) => matching::selector_matches(ns_selector, labels),
            NamespaceLabels::Lookup(ns) => {
                let namespace = cluster.get_live(NAMESPACES, None, ns).await?;
                let labels = namespace.as_ref().and_then(|n| n.pointer("/metadata/labels"));
                matching::selector_matches(ns_selector, labels)
            }
        };
        if !ns_ok {
            return Ok(false);
        }
    }
    let new = (attrs.operation != super::Operation::Delete)
        .then_some(obj)
        .flatten();
    if !matching::object_matches(hook.get("objectSelector"), new, attrs.old) {
        return Ok(false);
    }
    let conds = hook.get("matchConditions").and_then(Value::as_array);
    match conds.filter(|c| !c.is_empty()) {
        None => Ok(true),
        Some(conds) => {
            let request = review::request("", attrs, obj);
            let object = new.cloned().unwrap_or(Value::Null);
            let old = attrs.old.cloned().unwrap_or(Value::Null);
            match conditions::all_match(conds, &object, &old, &request) {
                Ok(m) => Ok(m),
                Err(_) if fails_open(hook) => Ok(false),
                Err(why) => Err(review::call_failed(hook_name(hook), &why)),
            }
        }
    }
}

/// Calls one webhook; `Err` is a failed call (failurePolicy decides what it means).
async fn call(
    hook: &Value,
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
    mutating: bool,
) -> Result<review::Verdict, String> {
    let config = hook.get("clientConfig").unwrap_or(&Value::Null);
    let target = match (config.get("url").and_then(Value::as_str), config.get("service")) {
        (Some(url), _) => client::parse_url(url)?,
        (None, Some(svc)) => {
            let ns = svc.get("namespace").and_then(Value::as_str).unwrap_or_default();
            let name = svc.get("name").and_then(Value::as_str).unwrap_or_default();
            let service = cluster.get(SERVICES, Some(ns), name);
            let slices: Vec<Value> = cluster
                .list(ENDPOINT_SLICES, Some(ns))
                .into_iter()
                .filter(|s| {
                    s.pointer("/metadata/labels/kubernetes.io~1service-name")
                        .and_then(Value::as_str)
                        == Some(name)
                })
                .collect();
            client::resolve_service(svc, service.as_ref(), &slices)?
        }
        (None, None) => return Err("webhook has no clientConfig url or service".into()),
    };
    let ca = match config.get("caBundle").and_then(Value::as_str) {
        Some(b64) => {
            use base64::Engine;
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| format!("invalid caBundle: {e}"))?,
            )
        }
        None => None,
    };
    let timeout = hook
        .get("timeoutSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_TIMEOUT)
        .clamp(1, MAX_TIMEOUT);
    let uid = crate::registry::object::new_uid();
    let body =
        serde_json::to_vec(&review::review(review::request(&uid, attrs, obj))).map_err(|e| e.to_string())?;
    let resp = client::post(&target, ca.as_deref(), body, Duration::from_secs(timeout)).await?;
    review::parse_response(&uid, &resp, mutating)
}

/// What one webhook's outcome means for the request: `Ok(Some(verdict))` to act on,
/// `Ok(None)` to skip (an ignored failure), `Err` to refuse.
async fn consult(
    hook: &Value,
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
    mutating: bool,
) -> Result<Option<review::Verdict>, ApiError> {
    let name = hook_name(hook);
    if !matches(hook, attrs, obj, cluster).await? {
        return Ok(None);
    }
    let side_effects = hook
        .get("sideEffects")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    if attrs.dry_run && !matches!(side_effects, "None" | "NoneOnDryRun") {
        return Err(ApiError::bad_request(format!(
            "admission webhook {name:?} does not support dry run"
        )));
    }
    let span = tracing::debug_span!(
        "webhook",
        webhook = name,
        namespace = attrs.namespace,
        name = attrs.name
    );
    match call(hook, attrs, obj, cluster, mutating).instrument(span).await {
        Ok(verdict) if verdict.allowed => Ok(Some(verdict)),
        Ok(verdict) => Err(review::denied(name, verdict.status.as_ref())),
        Err(why) if fails_open(hook) => {
            tracing::warn!(webhook = name, error = %why, "failed calling webhook, failing open");
            Ok(None)
        }
        Err(why) => Err(review::call_failed(name, &why)),
    }
}

/// ValidatingAdmissionWebhook: every matching webhook, in parallel; the first refusal (in
/// configuration order) wins. Returns the webhooks' warnings.
pub(crate) async fn validate(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<Vec<String>, ApiError> {
    if matching::is_exempt(attrs) {
        return Ok(Vec::new());
    }
    let hooks = webhooks(cluster, VALIDATING);
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let outcomes =
        futures::future::join_all(hooks.iter().map(|h| consult(h, attrs, obj, cluster, false))).await;
    let mut warnings = Vec::new();
    for outcome in outcomes {
        if let Some(verdict) = outcome? {
            warnings.extend(verdict.warnings);
        }
    }
    Ok(warnings)
}

/// MutatingAdmissionWebhook: matching webhooks in order, each patch applied before the next
/// call; IfNeeded webhooks that ran before a later change are called once more. Returns the
/// webhooks' warnings.
pub(crate) async fn admit(
    attrs: &Attributes<'_>,
    mut obj: Option<&mut Value>,
    cluster: &Cluster<'_>,
) -> Result<Vec<String>, ApiError> {
    if matching::is_exempt(attrs) {
        return Ok(Vec::new());
    }
    let hooks = webhooks(cluster, MUTATING);
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let mut warnings = Vec::new();
    // Index of the webhook whose patch last changed the object.
    let mut last_change: Option<usize> = None;
    for (i, hook) in hooks.iter().enumerate() {
        if mutate_once(hook, attrs, obj.as_deref_mut(), cluster, &mut warnings).await? {
            last_change = Some(i);
        }
    }
    if let Some(changed_at) = last_change {
        for hook in hooks[..changed_at]
            .iter()
            .filter(|h| h.get("reinvocationPolicy").and_then(Value::as_str) == Some("IfNeeded"))
        {
            mutate_once(hook, attrs, obj.as_deref_mut(), cluster, &mut warnings).await?;
        }
    }
    Ok(warnings)
}

/// One mutating call; whether it changed the object.
async fn mutate_once(
    hook: &Value,
    attrs: &Attributes<'_>,
    obj: Option<&mut Value>,
    cluster: &Cluster<'_>,
    warnings: &mut Vec<String>,
) -> Result<bool, ApiError> {
    let Some(verdict) = consult(hook, attrs, obj.as_deref(), cluster, true).await? else {
        return Ok(false);
    };
    warnings.extend(verdict.warnings);
    let (Some(patch), Some(obj)) = (verdict.patch, obj) else {
        return Ok(false);
    };
    let patched = rudder_api::patch::apply_json_patch(obj, &patch).map_err(|e| {
        review::call_failed(
            hook_name(hook),
            &format!("applying the patch: {}", e.status_message()),
        )
    })?;
    let changed = patched != *obj;
    *obj = patched;
    Ok(changed)
}
