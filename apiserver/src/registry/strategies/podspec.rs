//! The PodSpec shared by pods and every pod template: upstream's core/v1 defaulting
//! (`SetDefaults_PodSpec`, `_Container`, `_Volume`, `_Probe`, ...) and `ValidatePodSpec` /
//! `ValidatePodTemplateSpec` for the fields users get wrong most, plus the QoS class.

use std::collections::{BTreeMap, HashSet};

use rudder_api::validation::{
    FieldError, FieldPath, inclusive_range_error, is_dns1123_label, name_is_dns_subdomain,
    validate_annotations, validate_labels,
};
use serde_json::{Map, Value, json};

use rudder_api::quantity::nanos;

use super::util::{
    arr, at, child, default_field, default_str, each_mut, empty_str, int, one_of, port_name_errors,
    port_num_errors, s, unset,
};

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
const PROBES: [&str; 3] = ["livenessProbe", "readinessProbe", "startupProbe"];

/// Defaults a PodSpec. `pod` adds what upstream only defaults on a Pod itself
/// (`SetDefaults_Pod`): `enableServiceLinks`, host-network ports and requests from limits.
pub(super) fn default_pod_spec(spec: &mut Map<String, Value>, pod: bool) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_field(spec, "securityContext", json!({}));
    default_field(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    // The v1 conversion mirrors the deprecated `serviceAccount` from `serviceAccountName`.
    let account = [spec.get("serviceAccountName"), spec.get("serviceAccount")]
        .into_iter()
        .flatten()
        .find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string));
    if let Some(account) = account {
        spec.insert("serviceAccountName".into(), json!(account));
        spec.insert("serviceAccount".into(), json!(account));
    }
    each_mut(spec, "volumes", default_volume);
    let host_network = pod && at_bool(spec, "hostNetwork");
    for list in CONTAINER_LISTS {
        each_mut(spec, list, |c| {
            default_container(c);
            if host_network {
                each_mut(c, "ports", |p| {
                    if p.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0
                        && let Some(port) = p.get("containerPort").cloned()
                    {
                        p.insert("hostPort".into(), port);
                    }
                });
            }
            if pod && list != "ephemeralContainers" {
                requests_from_limits(c);
            }
        });
    }
    if pod {
        default_field(spec, "enableServiceLinks", json!(true));
    }
}

/// Defaults a `PodTemplateSpec`: the spec, and `metadata.creationTimestamp: null`, which upstream
/// serializes for the embedded (never stored on its own) ObjectMeta.
pub(super) fn default_template(template: &mut Map<String, Value>) {
    if let Some(meta) = child(template, "metadata")
        && !meta.contains_key("creationTimestamp")
    {
        meta.insert("creationTimestamp".into(), Value::Null);
    }
    if let Some(spec) = child(template, "spec") {
        default_pod_spec(spec, false);
    }
}

fn at_bool(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn default_container(c: &mut Map<String, Value>) {
    if empty_str(c.get("imagePullPolicy")) {
        let policy = image_pull_policy(c.get("image").and_then(Value::as_str).unwrap_or(""));
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    default_field(c, "resources", json!({}));
    each_mut(c, "ports", |p| default_str(p, "protocol", "TCP"));
    each_mut(c, "env", |e| {
        if let Some(from) = e.get_mut("valueFrom").and_then(Value::as_object_mut) {
            default_selectors(from);
        }
    });
    for probe in PROBES {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            default_field(p, "timeoutSeconds", json!(1));
            default_field(p, "periodSeconds", json!(10));
            default_field(p, "successThreshold", json!(1));
            default_field(p, "failureThreshold", json!(3));
            default_handler(p);
        }
    }
    if let Some(lifecycle) = c.get_mut("lifecycle").and_then(Value::as_object_mut) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lifecycle.get_mut(hook).and_then(Value::as_object_mut) {
                default_handler(h);
            }
        }
    }
}

fn default_handler(h: &mut Map<String, Value>) {
    if let Some(get) = h.get_mut("httpGet").and_then(Value::as_object_mut) {
        default_str(get, "path", "/");
        default_str(get, "scheme", "HTTP");
    }
}

/// `fieldRef.apiVersion: v1` and `resourceFieldRef.divisor: "0"`, as in env and downward API.
fn default_selectors(m: &mut Map<String, Value>) {
    if let Some(f) = m.get_mut("fieldRef").and_then(Value::as_object_mut) {
        default_str(f, "apiVersion", "v1");
    }
    if let Some(r) = m.get_mut("resourceFieldRef").and_then(Value::as_object_mut) {
        default_field(r, "divisor", json!("0"));
    }
}

fn default_volume(v: &mut Map<String, Value>) {
    if v.iter().all(|(k, val)| k == "name" || val.is_null()) {
        v.insert("emptyDir".into(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(src) = v.get_mut(source).and_then(Value::as_object_mut) {
            default_field(src, "defaultMode", json!(420));
            each_mut(src, "items", default_selectors);
            each_mut(src, "sources", |p| {
                if let Some(t) = p.get_mut("serviceAccountToken").and_then(Value::as_object_mut) {
                    default_field(t, "expirationSeconds", json!(3600));
                }
                if let Some(d) = p.get_mut("downwardAPI").and_then(Value::as_object_mut) {
                    each_mut(d, "items", default_selectors);
                }
            });
        }
    }
    if let Some(host) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
        default_field(host, "type", json!(""));
    }
}

/// Upstream `SetDefaults_Pod`: limits without requests become requests.
fn requests_from_limits(c: &mut Map<String, Value>) {
    let Some(res) = c.get_mut("resources").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if let Some(requests) = child(res, "requests") {
        for (k, v) in limits {
            requests.entry(k).or_insert(v);
        }
    }
}

/// Upstream `SetDefaults_Container`: `Always` for `:latest` or no tag, else `IfNotPresent`
/// (also for a digest, or an image reference that does not parse).
pub(super) fn image_pull_policy(image: &str) -> &'static str {
    if image_tag(image) == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The tag of an image reference as upstream's `ParseImageName` returns it: `latest` when
/// neither tag nor digest is given; `None` when there is only a digest or it does not parse.
fn image_tag(image: &str) -> Option<&str> {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if digest.is_some_and(|d| !matches!(d.split_once(':'), Some((a, h)) if !a.is_empty() && h.len() >= 32)) {
        return None;
    }
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        parts.remove(0);
    }
    let component_ok = |p: &&str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
            && p.as_bytes()[0].is_ascii_alphanumeric()
            && p.as_bytes()[p.len() - 1].is_ascii_alphanumeric()
    };
    if name.is_empty() || name.len() > 255 || !parts.iter().all(component_ok) {
        return None;
    }
    match tag {
        Some(t) => {
            let ok = !t.is_empty()
                && t.len() <= 128
                && (t.as_bytes()[0].is_ascii_alphanumeric() || t.as_bytes()[0] == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            ok.then_some(t)
        }
        None if digest.is_some() => None,
        None => Some("latest"),
    }
}

/// Upstream `ValidatePodTemplateSpec` (labels and annotations are checked under the template
/// path itself, not `metadata`, as upstream reports them).
pub(super) fn validate_template(template: &Value, path: &FieldPath) -> Vec<FieldError> {
    let meta = at(template, "metadata");
    let mut errs = Vec::new();
    if let Some(labels) = at(meta, "labels").as_object() {
        errs.extend(validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = at(meta, "annotations").as_object() {
        errs.extend(validate_annotations(annotations, &path.child("annotations")));
    }
    let spec = at(template, "spec");
    errs.extend(validate_pod_spec(spec, &path.child("spec"), false));
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// Upstream `ValidatePodSpec`, for its commonly hit checks.
pub(super) fn validate_pod_spec(spec: &Value, path: &FieldPath, pod: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut volumes = HashSet::new();
    for (i, v) in arr(spec, "volumes").iter().enumerate() {
        let p = path.child("volumes").index(i).child("name");
        let name = s(v, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else {
            errs.extend(
                is_dns1123_label(name)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p, name, m)),
            );
        }
        if !volumes.insert(name) {
            errs.push(FieldError::duplicate(&p, name));
        }
    }
    let containers = arr(spec, "containers");
    let mut names = HashSet::new();
    if containers.is_empty() {
        errs.push(FieldError::required(&path.child("containers"), ""));
    }
    for (i, c) in containers.iter().enumerate() {
        let p = path.child("containers").index(i);
        errs.extend(validate_container(c, &p, &volumes));
        if !names.insert(s(c, "name")) {
            errs.push(FieldError::duplicate(&p.child("name"), s(c, "name")));
        }
        if !unset(c.get("restartPolicy")) {
            errs.push(FieldError::forbidden(
                &p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    for (i, c) in arr(spec, "initContainers").iter().enumerate() {
        let p = path.child("initContainers").index(i);
        errs.extend(validate_container(c, &p, &volumes));
        let name = s(c, "name");
        if names.contains(name) {
            errs.push(FieldError::duplicate(&p.child("name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
    }
    errs.extend(one_of(
        spec,
        "restartPolicy",
        &["Always", "OnFailure", "Never"],
        path,
    ));
    errs.extend(one_of(
        spec,
        "dnsPolicy",
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        path,
    ));
    if s(spec, "dnsPolicy") == "None" && unset(spec.get("dnsConfig")) {
        errs.push(FieldError::required(
            &path.child("dnsConfig"),
            "must provide `dnsConfig` when `dnsPolicy` is None",
        ));
    }
    if let Some(selector) = at(spec, "nodeSelector").as_object() {
        errs.extend(validate_labels(selector, &path.child("nodeSelector")));
    }
    for key in ["serviceAccountName", "nodeName"] {
        let name = s(spec, key);
        if !name.is_empty() {
            let p = path.child(key);
            errs.extend(
                name_is_dns_subdomain(name, false)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p, name, m)),
            );
        }
    }
    if let Some(deadline) = int(spec, "activeDeadlineSeconds")
        && !(1..=i64::from(u32::MAX)).contains(&deadline)
    {
        let msg = inclusive_range_error(1, i64::from(u32::MAX));
        errs.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            deadline,
            msg,
        ));
    }
    if pod && spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for (i, c) in containers.iter().enumerate() {
            for (j, port) in arr(c, "ports").iter().enumerate() {
                let (host, cport) = (
                    int(port, "hostPort").unwrap_or(0),
                    int(port, "containerPort").unwrap_or(0),
                );
                if host != cport {
                    let p = path
                        .child("containers")
                        .index(i)
                        .child("ports")
                        .index(j)
                        .child("hostPort");
                    errs.push(FieldError::invalid(
                        &p,
                        host,
                        "must match `containerPort` when `hostNetwork` is true",
                    ));
                }
            }
        }
    }
    errs
}

fn validate_container(c: &Value, path: &FieldPath, volumes: &HashSet<&str>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = s(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else {
        let p = path.child("name");
        errs.extend(
            is_dns1123_label(name)
                .into_iter()
                .map(|m| FieldError::invalid(&p, name, m)),
        );
    }
    if s(c, "image").is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    errs.extend(one_of(
        c,
        "terminationMessagePolicy",
        &["File", "FallbackToLogsOnError"],
        path,
    ));
    let mut port_names = HashSet::new();
    for (i, port) in arr(c, "ports").iter().enumerate() {
        let p = path.child("ports").index(i);
        let pname = s(port, "name");
        if !pname.is_empty() {
            let msgs = port_name_errors(pname);
            if !msgs.is_empty() {
                errs.extend(
                    msgs.into_iter()
                        .map(|m| FieldError::invalid(&p.child("name"), pname, m)),
                );
            } else if !port_names.insert(pname) {
                errs.push(FieldError::duplicate(&p.child("name"), pname));
            }
        }
        match int(port, "containerPort").unwrap_or(0) {
            0 => errs.push(FieldError::required(&p.child("containerPort"), "")),
            n => errs.extend(
                port_num_errors(n)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("containerPort"), n, m)),
            ),
        }
        if let Some(host) = int(port, "hostPort").filter(|h| *h != 0) {
            errs.extend(
                port_num_errors(host)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("hostPort"), host, m)),
            );
        }
        errs.extend(one_of(port, "protocol", &["SCTP", "TCP", "UDP"], &p));
    }
    for (i, e) in arr(c, "env").iter().enumerate() {
        let p = path.child("env").index(i).child("name");
        let ename = s(e, "name");
        if ename.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else if !ename.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'=') {
            let msg = "a valid environment variable name must consist only of printable ASCII characters other than '='";
            errs.push(FieldError::invalid(&p, ename, msg));
        }
    }
    let mut mount_paths = HashSet::new();
    for (i, m) in arr(c, "volumeMounts").iter().enumerate() {
        let p = path.child("volumeMounts").index(i);
        let mname = s(m, "name");
        if mname.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if !volumes.contains(mname) {
            errs.push(FieldError::not_found(&p.child("name"), mname));
        }
        let mount_path = s(m, "mountPath");
        if mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !mount_paths.insert(mount_path) {
            errs.push(FieldError::invalid(
                &p.child("mountPath"),
                mount_path,
                "must be unique",
            ));
        }
    }
    errs.extend(one_of(
        c,
        "imagePullPolicy",
        &["Always", "IfNotPresent", "Never"],
        path,
    ));
    let res = at(c, "resources");
    for name in ["cpu", "memory"] {
        let (req, lim) = (at(at(res, "requests"), name), at(at(res, "limits"), name));
        if let (Some(r), Some(l)) = (nanos(req), nanos(lim))
            && r > l
        {
            let p = path.child("resources").child("requests").key(name);
            let shown = req.as_str().map_or_else(|| req.to_string(), str::to_string);
            let limit = lim.as_str().map_or_else(|| lim.to_string(), str::to_string);
            errs.push(FieldError::invalid(
                &p,
                shown,
                format!("must be less than or equal to {name} limit of {limit}"),
            ));
        }
    }
    errs
}

/// Upstream `ComputePodQOS` over containers and init containers (cpu and memory only).
pub(super) fn qos_class(spec: &Value) -> &'static str {
    let mut requests: BTreeMap<&str, i128> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i128> = BTreeMap::new();
    let mut guaranteed = true;
    for c in arr(spec, "containers").iter().chain(arr(spec, "initContainers")) {
        let res = at(c, "resources");
        for (bag, sums) in [("requests", &mut requests), ("limits", &mut limits)] {
            let mut found = 0;
            for name in ["cpu", "memory"] {
                if let Some(q) = nanos(at(at(res, bag), name)).filter(|q| *q > 0) {
                    let sum = sums.entry(name).or_insert(0);
                    *sum = sum.saturating_add(q);
                    found += 1;
                }
            }
            if bag == "limits" && found < 2 {
                guaranteed = false;
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed && requests.iter().all(|(k, v)| limits.get(k) == Some(v)) && requests.len() == limits.len()
    {
        "Guaranteed"
    } else {
        "Burstable"
    }
}
