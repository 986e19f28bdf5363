//! Validation of the workload controllers (`pkg/apis/apps/validation` and the
//! ReplicationController part of `pkg/apis/core/validation`).

use rudder_api::validation::{BadValue, FieldError, FieldPath, go_quote, regex_error};
use serde_json::{Map, Value};

use super::podspec::validate_template;
use super::util::{
    at, go_label_selector, go_string_map, int, non_negative, selector_is_empty, selector_matches, unset,
    validate_label_selector,
};

/// Selector presence, form and non-emptiness, and the template checks of
/// `ValidatePodTemplateSpecForReplicaSet` (labels match, restartPolicy Always).
pub(super) fn validate_selector_and_template(
    spec: &Value,
    path: &FieldPath,
    kind: &str,
    required: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let selector = at(spec, "selector");
    if selector.is_null() {
        if required {
            errs.push(FieldError::required(&path.child("selector"), ""));
        }
    } else {
        errs.extend(validate_label_selector(selector, &path.child("selector")));
        if selector_is_empty(selector) {
            let msg = format!("empty selector is invalid for {kind}");
            errs.push(FieldError::invalid(
                &path.child("selector"),
                go_label_selector(selector),
                msg,
            ));
        }
    }
    let template = at(spec, "template");
    let labels = at(at(template, "metadata"), "labels");
    let tpath = path.child("template");
    match selector_matches(selector, labels) {
        None => errs.push(FieldError::invalid(
            &path.child("selector"),
            go_label_selector(selector),
            "invalid label selector",
        )),
        Some(false) if !selector_is_empty(selector) || selector.is_null() => errs.push(FieldError::invalid(
            &tpath.child("metadata").child("labels"),
            go_string_map(labels),
            "`selector` does not match template `labels`",
        )),
        Some(_) => {}
    }
    errs.extend(validate_template(template, &tpath));
    errs.extend(template_restart_policy(template, &tpath, kind));
    errs
}

pub(super) fn template_restart_policy(template: &Value, tpath: &FieldPath, kind: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let tspec = at(template, "spec");
    let policy = tspec.get("restartPolicy").and_then(Value::as_str).unwrap_or("");
    if policy != "Always" {
        errs.push(FieldError::not_supported(
            &tpath.child("spec").child("restartPolicy"),
            policy,
            &["Always"],
        ));
    }
    if !unset(tspec.get("activeDeadlineSeconds")) {
        let name = match kind {
            "deployment" => "ReplicaSet",
            "statefulset" => "StatefulSet",
            "daemonset" => "DaemonSet",
            _ => "ReplicationController",
        };
        errs.push(FieldError::forbidden(
            &tpath.child("spec").child("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {name} is not Supported"),
        ));
    }
    errs
}

pub(super) fn validate_deployment(spec: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = non_negative(spec, "replicas", path);
    errs.extend(validate_selector_and_template(spec, path, "deployment", true));
    let strategy = at(spec, "strategy");
    let sp = path.child("strategy");
    match strategy.get("type").and_then(Value::as_str).unwrap_or("") {
        "Recreate" if !unset(strategy.get("rollingUpdate")) => errs.push(FieldError::forbidden(
            &sp.child("rollingUpdate"),
            "may not be specified when strategy `type` is 'Recreate'",
        )),
        "Recreate" => {}
        "RollingUpdate" => {
            let rp = sp.child("rollingUpdate");
            let rolling = at(strategy, "rollingUpdate");
            let (unavailable, surge) = (at(rolling, "maxUnavailable"), at(rolling, "maxSurge"));
            errs.extend(positive_int_or_percent(unavailable, &rp.child("maxUnavailable")));
            errs.extend(positive_int_or_percent(surge, &rp.child("maxSurge")));
            if int_or_percent(unavailable) == 0 && int_or_percent(surge) == 0 {
                errs.push(FieldError::invalid(
                    &rp.child("maxUnavailable"),
                    go_int_or_string(unavailable),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
            errs.extend(not_more_than_100(unavailable, &rp.child("maxUnavailable")));
        }
        t => {
            let shown = format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}",
                go_quote(t)
            );
            errs.push(FieldError::not_supported(
                &sp,
                BadValue::Raw(shown),
                &["Recreate", "RollingUpdate"],
            ));
        }
    }
    errs.extend(non_negative(spec, "minReadySeconds", path));
    errs.extend(non_negative(spec, "revisionHistoryLimit", path));
    if let Some(deadline) = int(spec, "progressDeadlineSeconds") {
        errs.extend(non_negative(spec, "progressDeadlineSeconds", path));
        if deadline <= int(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                &path.child("progressDeadlineSeconds"),
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

pub(super) fn validate_replicaset(spec: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = non_negative(spec, "replicas", path);
    errs.extend(non_negative(spec, "minReadySeconds", path));
    errs.extend(validate_selector_and_template(spec, path, "deployment", true));
    errs
}

pub(super) fn validate_statefulset(spec: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match spec
        .get("podManagementPolicy")
        .and_then(Value::as_str)
        .unwrap_or("")
    {
        "" => errs.push(FieldError::required(&path.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            &path.child("podManagementPolicy"),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = at(spec, "updateStrategy");
    let up = path.child("updateStrategy");
    match strategy.get("type").and_then(Value::as_str).unwrap_or("") {
        "" => errs.push(FieldError::required(&up, "")),
        "OnDelete" if !unset(strategy.get("rollingUpdate")) => errs.push(FieldError::invalid(
            &up.child("rollingUpdate"),
            BadValue::from_json(at(strategy, "rollingUpdate")),
            "only allowed for updateStrategy 'RollingUpdate'",
        )),
        "OnDelete" => {}
        "RollingUpdate" => errs.extend(non_negative(at(strategy, "rollingUpdate"), "partition", &up.child("rollingUpdate"))),
        t => errs.push(FieldError::invalid(
            &up,
            BadValue::Raw(format!("apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}}", go_quote(t))),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    let policy = at(spec, "persistentVolumeClaimRetentionPolicy");
    for key in ["whenDeleted", "whenScaled"] {
        if let Some(v) = policy.get(key).and_then(Value::as_str)
            && !matches!(v, "Retain" | "Delete")
        {
            let p = path.child("persistentVolumeClaimRetentionPolicy").child(key);
            errs.push(FieldError::not_supported(&p, v, &["Retain", "Delete"]));
        }
    }
    errs.extend(non_negative(spec, "replicas", path));
    errs.extend(non_negative(spec, "minReadySeconds", path));
    errs.extend(validate_selector_and_template(spec, path, "statefulset", true));
    errs
}

/// Upstream `ValidateStatefulSetUpdate`: only some fields of the spec may change.
pub(super) fn validate_statefulset_update(spec: &Value, old: &Value) -> Vec<FieldError> {
    let keep = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    let strip = |v: &Value| -> Map<String, Value> {
        v.as_object().map_or_else(Map::new, |m| {
            m.iter()
                .filter(|(k, _)| !keep.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    };
    if strip(spec) == strip(old) {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        &FieldPath::new("spec"),
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    )]
}

pub(super) fn validate_daemonset(spec: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = validate_selector_and_template(spec, path, "daemonset", false);
    errs.extend(non_negative(spec, "minReadySeconds", path));
    errs.extend(non_negative(spec, "templateGeneration", path));
    let strategy = at(spec, "updateStrategy");
    let up = path.child("updateStrategy");
    match strategy.get("type").and_then(Value::as_str).unwrap_or("") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let rolling = at(strategy, "rollingUpdate");
            let rp = up.child("rollingUpdate");
            if rolling.is_null() {
                errs.push(FieldError::required(&rp, ""));
            } else {
                let (unavailable, surge) = (at(rolling, "maxUnavailable"), at(rolling, "maxSurge"));
                errs.extend(positive_int_or_percent(unavailable, &rp.child("maxUnavailable")));
                errs.extend(positive_int_or_percent(surge, &rp.child("maxSurge")));
                errs.extend(not_more_than_100(unavailable, &rp.child("maxUnavailable")));
                errs.extend(not_more_than_100(surge, &rp.child("maxSurge")));
                match (int_or_percent(unavailable) != 0, int_or_percent(surge) != 0) {
                    (true, true) => errs.push(FieldError::invalid(
                        &rp.child("maxSurge"),
                        go_int_or_string(surge),
                        "may not be set when maxUnavailable is non-zero",
                    )),
                    (false, false) => errs.push(FieldError::required(
                        &rp.child("maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    )),
                    _ => {}
                }
            }
        }
        t => {
            let shown = format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}",
                go_quote(t)
            );
            errs.push(FieldError::not_supported(
                &up,
                BadValue::Raw(shown),
                &["RollingUpdate", "OnDelete"],
            ));
        }
    }
    errs.extend(non_negative(spec, "revisionHistoryLimit", path));
    errs
}

pub(super) fn validate_rc(spec: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = non_negative(spec, "minReadySeconds", path);
    let selector = at(spec, "selector");
    if selector.as_object().is_none_or(Map::is_empty) {
        errs.push(FieldError::required(&path.child("selector"), ""));
    }
    errs.extend(non_negative(spec, "replicas", path));
    let template = at(spec, "template");
    let tpath = path.child("template");
    if template.is_null() {
        errs.push(FieldError::required(&tpath, ""));
        return errs;
    }
    let labels = at(at(template, "metadata"), "labels");
    if let Some(sel) = selector.as_object().filter(|m| !m.is_empty())
        && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        errs.push(FieldError::invalid(
            &tpath.child("metadata").child("labels"),
            go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_template(template, &tpath));
    errs.extend(template_restart_policy(template, &tpath, "replicationcontroller"));
    errs
}

/// `%#v` of an `intstr.IntOrString`.
fn go_int_or_string(v: &Value) -> BadValue {
    match v {
        Value::String(s) => BadValue::Raw(format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        )),
        other => BadValue::Raw(format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.as_i64().unwrap_or(0)
        )),
    }
}

/// Upstream `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(v: &Value, path: &FieldPath) -> Vec<FieldError> {
    match v {
        Value::String(s) if !is_percent(s) => {
            let msg = regex_error(
                "a valid percent string must be a numeric string followed by an ending '%'",
                "[0-9]+%",
                &["1%", "93%"],
            );
            vec![FieldError::invalid(path, go_int_or_string(v), msg)]
        }
        Value::Number(n) if n.as_i64().unwrap_or(-1) < 0 => {
            vec![FieldError::invalid(
                path,
                n.as_i64().unwrap_or(-1),
                "must be greater than or equal to 0",
            )]
        }
        _ => Vec::new(),
    }
}

fn is_percent(s: &str) -> bool {
    s.strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn int_or_percent(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.strip_suffix('%').and_then(|n| n.parse().ok()).unwrap_or(0),
        other => other.as_i64().unwrap_or(0),
    }
}

fn not_more_than_100(v: &Value, path: &FieldPath) -> Vec<FieldError> {
    match v.as_str().filter(|s| is_percent(s)) {
        Some(s) if int_or_percent(v) > 100 || s.len() > 5 => {
            vec![FieldError::invalid(
                path,
                go_int_or_string(v),
                "must not be greater than 100%",
            )]
        }
        _ => Vec::new(),
    }
}
