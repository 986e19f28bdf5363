//! LimitRanger (upstream `plugin/pkg/admission/limitranger`): the LimitRanges of a namespace
//! give new pods' containers their default requests and limits (recorded in the
//! `kubernetes.io/limit-ranger` annotation), and refuse pods and claims outside their min/max
//! and limit-to-request ratios. Pod updates and subresources are left alone, as upstream.

use rudder_api::status::ApiError;
use serde_json::{Map, Value, json};

use super::lookup::LIMIT_RANGES;
use super::{Attributes, Cluster, Operation, forbidden};
use rudder_api::quantity::milli;

const ANNOTATION: &str = "kubernetes.io/limit-ranger";

fn applies(attrs: &Attributes<'_>) -> bool {
    if !attrs.subresource.is_empty() {
        return false;
    }
    (attrs.is_core("pods") && attrs.operation == Operation::Create)
        || (attrs.is_core("persistentvolumeclaims")
            && matches!(attrs.operation, Operation::Create | Operation::Update))
}

fn items<'a>(ranges: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    ranges
        .iter()
        .filter_map(|r| r.pointer("/spec/limits").and_then(Value::as_array))
        .flatten()
        .filter(move |i| i.get("type").and_then(Value::as_str) == Some(kind))
}

pub(super) fn admit(
    attrs: &Attributes<'_>,
    obj: Option<&mut Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    let Some(obj) = obj.filter(|_| applies(attrs) && attrs.is_core("pods")) else {
        return Ok(());
    };
    let ranges = cluster.list(LIMIT_RANGES, Some(attrs.namespace));
    set_defaults(obj, &ranges);
    Ok(())
}

pub(super) fn validate(
    attrs: &Attributes<'_>,
    obj: Option<&Value>,
    cluster: &Cluster<'_>,
) -> Result<(), ApiError> {
    let Some(obj) = obj.filter(|_| applies(attrs)) else {
        return Ok(());
    };
    let ranges = cluster.list(LIMIT_RANGES, Some(attrs.namespace));
    check(attrs, obj, &ranges)
}

/// The default requests and limits of the Container items (a `default` without a
/// `defaultRequest` is both, as LimitRange defaulting makes it).
fn container_defaults(ranges: &[Value]) -> (Map<String, Value>, Map<String, Value>) {
    let (mut requests, mut limits) = (Map::new(), Map::new());
    for item in items(ranges, "Container") {
        let default = item.get("default").and_then(Value::as_object);
        let default_request = item.get("defaultRequest").and_then(Value::as_object);
        for (k, v) in default.into_iter().flatten() {
            limits.insert(k.clone(), v.clone());
            if default_request.is_none_or(|d| !d.contains_key(k)) {
                requests.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in default_request.into_iter().flatten() {
            requests.insert(k.clone(), v.clone());
        }
    }
    (requests, limits)
}

/// Admit: fills missing requests and limits of every container and records what was set.
pub(super) fn set_defaults(pod: &mut Value, ranges: &[Value]) {
    let (requests, limits) = container_defaults(ranges);
    if requests.is_empty() && limits.is_empty() {
        return;
    }
    let mut notes = Vec::new();
    for (list, label) in [("initContainers", "init container"), ("containers", "container")] {
        let Some(containers) = pod
            .pointer_mut(&format!("/spec/{list}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for c in containers.iter_mut() {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let Some(c) = c.as_object_mut() else { continue };
            let resources = c.entry("resources").or_insert_with(|| json!({}));
            let Some(resources) = resources.as_object_mut() else {
                continue;
            };
            let mut fill = |field: &str, defaults: &Map<String, Value>| {
                let target = resources.entry(field).or_insert_with(|| json!({}));
                let Some(target) = target.as_object_mut() else {
                    return Vec::new();
                };
                let mut set = Vec::new();
                for (k, v) in defaults {
                    if !target.contains_key(k) {
                        target.insert(k.clone(), v.clone());
                        set.push(k.clone());
                    }
                }
                set.sort();
                set
            };
            let set_limits = fill("limits", &limits);
            let set_requests = fill("requests", &requests);
            for field in ["limits", "requests"] {
                if resources
                    .get(field)
                    .and_then(Value::as_object)
                    .is_some_and(Map::is_empty)
                {
                    resources.remove(field);
                }
            }
            if !set_requests.is_empty() {
                notes.push(format!("{} request for {label} {name}", set_requests.join(", ")));
            }
            if !set_limits.is_empty() {
                notes.push(format!("{} limit for {label} {name}", set_limits.join(", ")));
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let meta = crate::registry::object::meta_mut(pod);
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(
            ANNOTATION.into(),
            json!(format!("LimitRanger plugin set: {}", notes.join("; "))),
        );
    }
}

fn min_error(
    kind: &str,
    res: &str,
    enforced: &Value,
    req: Option<&Value>,
    lim: Option<&Value>,
) -> Option<String> {
    let e = milli(enforced)?;
    let show = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let Some(req) = req else {
        return Some(format!(
            "minimum {res} usage per {kind} is {}.  No request is specified",
            show(enforced)
        ));
    };
    if milli(req).is_some_and(|r| r < e) {
        return Some(format!(
            "minimum {res} usage per {kind} is {}, but request is {}",
            show(enforced),
            show(req)
        ));
    }
    if let Some(lim) = lim.filter(|l| milli(l).is_some_and(|l| l < e)) {
        return Some(format!(
            "minimum {res} usage per {kind} is {}, but limit is {}",
            show(enforced),
            show(lim)
        ));
    }
    None
}

fn max_error(
    kind: &str,
    res: &str,
    enforced: &Value,
    req: Option<&Value>,
    lim: Option<&Value>,
) -> Option<String> {
    let e = milli(enforced)?;
    let show = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let Some(lim) = lim else {
        return Some(format!(
            "maximum {res} usage per {kind} is {}.  No limit is specified",
            show(enforced)
        ));
    };
    if milli(lim).is_some_and(|l| l > e) {
        return Some(format!(
            "maximum {res} usage per {kind} is {}, but limit is {}",
            show(enforced),
            show(lim)
        ));
    }
    if let Some(req) = req.filter(|r| milli(r).is_some_and(|r| r > e)) {
        return Some(format!(
            "maximum {res} usage per {kind} is {}, but request is {}",
            show(enforced),
            show(req)
        ));
    }
    None
}

fn ratio_error(
    kind: &str,
    res: &str,
    enforced: &Value,
    req: Option<&Value>,
    lim: Option<&Value>,
) -> Option<String> {
    let e = milli(enforced)?;
    let show = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    let r = req.and_then(milli).filter(|r| *r != 0);
    let l = lim.and_then(milli).filter(|l| *l != 0);
    let Some(r) = r else {
        return Some(format!(
            "{res} max limit to request ratio per {kind} is {}, but no request is specified or request is 0",
            show(enforced)
        ));
    };
    let Some(l) = l else {
        return Some(format!(
            "{res} max limit to request ratio per {kind} is {}, but no limit is specified or limit is 0",
            show(enforced)
        ));
    };
    let observed = l as f64 / r as f64;
    (observed * 1000.0 > e as f64).then(|| {
        format!(
            "{res} max limit to request ratio per {kind} is {}, but provided ratio is {observed:.6}",
            show(enforced)
        )
    })
}

/// Checks one item's min/max/ratio against requests and limits.
fn check_item(
    kind: &str,
    item: &Value,
    requests: &Map<String, Value>,
    limits: &Map<String, Value>,
    errors: &mut Vec<String>,
) {
    let field = |f: &str| {
        item.get(f)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    for (res, v) in field("min") {
        errors.extend(min_error(kind, &res, &v, requests.get(&res), limits.get(&res)));
    }
    for (res, v) in field("max") {
        errors.extend(max_error(kind, &res, &v, requests.get(&res), limits.get(&res)));
    }
    for (res, v) in field("maxLimitRequestRatio") {
        errors.extend(ratio_error(kind, &res, &v, requests.get(&res), limits.get(&res)));
    }
}

fn resources_of(c: &Value, field: &str) -> Map<String, Value> {
    c.pointer(&format!("/resources/{field}"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Sums of the containers' requests or limits (the pod's usage for `Pod` items).
fn pod_totals(pod: &Value, field: &str) -> Map<String, Value> {
    let mut sums: std::collections::BTreeMap<String, i128> = Default::default();
    for c in pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for (k, v) in resources_of(c, field) {
            *sums.entry(k).or_default() += milli(&v).unwrap_or(0);
        }
    }
    // An init container runs alone: the pod needs the larger of it and the sum.
    for c in pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for (k, v) in resources_of(c, field) {
            let m = milli(&v).unwrap_or(0);
            let e = sums.entry(k).or_default();
            *e = (*e).max(m);
        }
    }
    sums.into_iter()
        .map(|(k, m)| (k, json!(format!("{m}m"))))
        .collect()
}

/// Validate: every item of every LimitRange, errors aggregated as upstream.
pub(super) fn check(attrs: &Attributes<'_>, obj: &Value, ranges: &[Value]) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if attrs.is_core("pods") {
        for item in items(ranges, "Container") {
            for list in ["initContainers", "containers"] {
                for c in obj
                    .pointer(&format!("/spec/{list}"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    check_item(
                        "Container",
                        item,
                        &resources_of(c, "requests"),
                        &resources_of(c, "limits"),
                        &mut errors,
                    );
                }
            }
        }
        for item in items(ranges, "Pod") {
            check_item(
                "Pod",
                item,
                &pod_totals(obj, "requests"),
                &pod_totals(obj, "limits"),
                &mut errors,
            );
        }
    } else {
        let requests = obj
            .pointer("/spec/resources/requests")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for item in items(ranges, "PersistentVolumeClaim") {
            let field = |f: &str| {
                item.get(f)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            };
            for (res, v) in field("min") {
                errors.extend(min_error(
                    "PersistentVolumeClaim",
                    &res,
                    &v,
                    requests.get(&res),
                    None,
                ));
            }
            for (res, v) in field("max") {
                // The claim's request is what is checked against the max (limits are not user input).
                errors.extend(
                    max_error(
                        "PersistentVolumeClaim",
                        &res,
                        &v,
                        requests.get(&res),
                        requests.get(&res),
                    )
                    .map(|m| {
                        m.replace("No limit is specified", "No request is specified")
                            .replace(", but limit is", ", but request is")
                    }),
                );
            }
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(forbidden(attrs, Some(obj), &errors[0])),
        _ => Err(forbidden(attrs, Some(obj), format!("[{}]", errors.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::tests::attrs;

    fn range(limits: Value) -> Value {
        json!({"metadata": {"name": "limits"}, "spec": {"limits": limits}})
    }

    #[test]
    fn defaults_fill_missing_requests_and_limits() {
        let ranges = [range(json!([{"type": "Container",
            "default": {"cpu": "500m", "memory": "128Mi"}, "defaultRequest": {"cpu": "100m"}}]))];
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a"},
            {"name": "b", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1", "memory": "64Mi"}}}]}});
        set_defaults(&mut pod, &ranges);
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}})
        );
        assert_eq!(
            pod["spec"]["containers"][1]["resources"],
            json!({"limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"cpu": "1", "memory": "64Mi"}})
        );
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu, memory request for container a; cpu, memory limit for container a; memory limit for container b"
        );
    }

    #[test]
    fn min_max_and_ratio_are_enforced() {
        let a = attrs(Operation::Create, "pods", "ns", "p");
        let ranges = [range(
            json!([{"type": "Container", "min": {"memory": "10Mi"}, "max": {"cpu": "1"},
            "maxLimitRequestRatio": {"cpu": "2"}}]),
        )];
        let pod = |res: Value| json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "resources": res}]}});
        let cases = [
            (
                pod(json!({"requests": {"cpu": "500m", "memory": "20Mi"}, "limits": {"cpu": "1"}})),
                None,
            ),
            (
                pod(json!({"requests": {"cpu": "1", "memory": "20Mi"}, "limits": {"cpu": "2"}})),
                Some("pods \"p\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"),
            ),
            (
                pod(json!({"requests": {"cpu": "100m", "memory": "5Mi"}, "limits": {"cpu": "1"}})),
                Some(
                    "pods \"p\" is forbidden: [minimum memory usage per Container is 10Mi, but request is 5Mi, cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000]",
                ),
            ),
            (
                pod(json!({"requests": {"memory": "20Mi"}})),
                Some(
                    "pods \"p\" is forbidden: [maximum cpu usage per Container is 1.  No limit is specified, cpu max limit to request ratio per Container is 2, but no request is specified or request is 0]",
                ),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(
                check(&a, &p, &ranges)
                    .err()
                    .map(|e| e.message().to_string())
                    .as_deref(),
                want,
                "{p}"
            );
        }
    }

    #[test]
    fn claims_stay_within_storage_bounds() {
        let a = attrs(Operation::Create, "persistentvolumeclaims", "ns", "data");
        let ranges = [range(
            json!([{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}]),
        )];
        let claim = |size: &str| json!({"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": size}}}});
        assert!(check(&a, &claim("5Gi"), &ranges).is_ok());
        assert_eq!(
            check(&a, &claim("20Gi"), &ranges)
                .err()
                .map(|e| e.message().to_string())
                .as_deref(),
            Some(
                "persistentvolumeclaims \"data\" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"
            )
        );
        assert_eq!(
            check(&a, &claim("500Mi"), &ranges)
                .err()
                .map(|e| e.message().to_string())
                .as_deref(),
            Some(
                "persistentvolumeclaims \"data\" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"
            )
        );
    }
}
