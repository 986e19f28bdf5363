//! The Pod Security Standards checks (upstream `pod-security-admission/policy/check_*.go`), with
//! upstream's reasons and details, in upstream's order (the checks register in file-name
//! order; baseline checks run before restricted ones).

use std::collections::BTreeSet;

use serde_json::Value;

/// A failed check: a short reason and an optional detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) reason: String,
    pub(crate) detail: String,
}

type CheckFn = fn(&Value, &Value) -> Option<Violation>;

/// One check: its id, the first policy minor version it applies to, and the function
/// (pod metadata, pod spec).
pub(crate) struct Check {
    pub(crate) id: &'static str,
    pub(crate) since: u32,
    pub(crate) run: CheckFn,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("id", &self.id).finish()
    }
}

const fn check(id: &'static str, since: u32, run: CheckFn) -> Check {
    Check { id, since, run }
}

/// Baseline checks that restricted keeps.
pub(crate) const BASELINE: &[Check] = &[
    check("appArmorProfile", 0, app_armor),
    check("hostNamespaces", 0, host_namespaces),
    check("hostPathVolumes", 0, host_path_volumes),
    check("hostPorts", 0, host_ports),
    check("privileged", 0, privileged),
    check("procMount", 0, proc_mount),
    check("seLinuxOptions", 0, se_linux),
    check("sysctls", 0, sysctls),
    check("windowsHostProcess", 0, windows_host_process),
];

/// Baseline checks a restricted check replaces.
pub(crate) const BASELINE_ONLY: &[Check] = &[
    check("capabilities_baseline", 0, capabilities_baseline),
    check("seccompProfile_baseline", 0, seccomp_baseline),
];

pub(crate) const RESTRICTED: &[Check] = &[
    check("allowPrivilegeEscalation", 8, allow_privilege_escalation),
    check("capabilities_restricted", 22, capabilities_restricted),
    check("restrictedVolumes", 0, restricted_volumes),
    check("runAsNonRoot", 0, run_as_non_root),
    check("runAsUser", 23, run_as_user),
    check("seccompProfile_restricted", 19, seccomp_restricted),
];

fn violation(reason: &str, detail: String) -> Option<Violation> {
    Some(Violation {
        reason: reason.to_string(),
        detail,
    })
}

fn pluralize<'a>(singular: &'a str, plural: &'a str, n: usize) -> &'a str {
    if n == 1 { singular } else { plural }
}

fn join_quote<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

/// Every container: init, regular, ephemeral (upstream `visitContainers`).
fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |list| spec.get(list).and_then(Value::as_array).into_iter().flatten())
}

fn name(c: &Value) -> String {
    c.get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn sc<'a>(c: &'a Value, path: &str) -> Option<&'a Value> {
    c.pointer(&format!("/securityContext{path}"))
        .filter(|v| !v.is_null())
}

fn annotations(meta: &Value) -> impl Iterator<Item = (&String, &Value)> {
    meta.get("annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn app_armor(meta: &Value, spec: &Value) -> Option<Violation> {
    let allowed = |p: &str| p.is_empty() || p == "runtime/default" || p.starts_with("localhost/");
    let mut bad: Vec<String> = annotations(meta)
        .filter(|(k, _)| k.starts_with("container.apparmor.security.beta.kubernetes.io/"))
        .filter_map(|(k, v)| {
            let v = v.as_str().unwrap_or_default();
            (!allowed(v)).then(|| format!("{k}={v:?}"))
        })
        .collect();
    // The securityContext fields (1.30+): Unconfined is forbidden.
    let unconfined =
        |v: Option<&Value>| v.and_then(|p| p.get("type")).and_then(Value::as_str) == Some("Unconfined");
    if unconfined(spec.pointer("/securityContext/appArmorProfile")) {
        bad.push("pod".to_string());
    }
    for c in containers(spec) {
        if unconfined(sc(c, "/appArmorProfile")) {
            bad.push(format!("container {:?}", name(c)));
        }
    }
    if bad.is_empty() {
        return None;
    }
    bad.sort();
    violation(
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            bad.len(),
        ),
        bad.join(", "),
    )
}

fn host_namespaces(_: &Value, spec: &Value) -> Option<Violation> {
    let on = |f: &str| spec.get(f).and_then(Value::as_bool) == Some(true);
    let mut used: Vec<&str> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|f| on(f))
        .collect();
    used.sort();
    (!used.is_empty()).then(|| Violation {
        reason: "host namespaces".into(),
        detail: used.join(", "),
    })
}

fn host_path_volumes(_: &Value, spec: &Value) -> Option<Violation> {
    let names: Vec<String> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("hostPath").is_some_and(|h| !h.is_null()))
        .map(name)
        .collect();
    (!names.is_empty()).then(|| Violation {
        reason: "hostPath volumes".into(),
        detail: format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names)
        ),
    })
}

fn host_ports(_: &Value, spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut ports = BTreeSet::new();
    for c in containers(spec) {
        let used: Vec<i64> = c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("hostPort").and_then(Value::as_i64))
            .filter(|p| *p != 0)
            .collect();
        if !used.is_empty() {
            bad.push(name(c));
            ports.extend(used.into_iter().map(|p| p.to_string()));
        }
    }
    if bad.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    violation(
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
    )
}

fn privileged(_: &Value, spec: &Value) -> Option<Violation> {
    let bad: Vec<String> = containers(spec)
        .filter(|c| sc(c, "/privileged").and_then(Value::as_bool) == Some(true))
        .map(name)
        .collect();
    (!bad.is_empty()).then(|| Violation {
        reason: "privileged".into(),
        detail: format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&bad)
        ),
    })
}

fn proc_mount(_: &Value, spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for c in containers(spec) {
        if let Some(t) = sc(c, "/procMount").and_then(Value::as_str)
            && t != "Default"
        {
            bad.push(name(c));
            types.insert(t.to_string());
        }
    }
    if bad.is_empty() {
        return None;
    }
    let types: Vec<String> = types.into_iter().collect();
    violation(
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad),
            join_quote(&types)
        ),
    )
}

fn se_linux(_: &Value, spec: &Value) -> Option<Violation> {
    const TYPES: [&str; 4] = ["", "container_t", "container_init_t", "container_kvm_t"];
    let mut bad_types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut valid = |opts: &Value| {
        let field = |f: &str| opts.get(f).and_then(Value::as_str).unwrap_or_default();
        let mut ok = true;
        if !TYPES.contains(&field("type")) {
            ok = false;
            bad_types.insert(field("type").to_string());
        }
        if !field("user").is_empty() {
            ok = false;
            set_user = true;
        }
        if !field("role").is_empty() {
            ok = false;
            set_role = true;
        }
        ok
    };
    let mut setters = Vec::new();
    if let Some(opts) = spec
        .pointer("/securityContext/seLinuxOptions")
        .filter(|o| !o.is_null())
        && !valid(opts)
    {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> = containers(spec)
        .filter(|c| sc(c, "/seLinuxOptions").is_some_and(|o| !valid(o)))
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        let types: Vec<String> = bad_types.into_iter().collect();
        data.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
    }
    if set_user {
        data.push("user may not be set".to_string());
    }
    if set_role {
        data.push("role may not be set".to_string());
    }
    violation(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
    )
}

fn sysctls(_: &Value, spec: &Value) -> Option<Violation> {
    const SAFE: [&str; 5] = [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    ];
    let bad: Vec<&str> = spec
        .pointer("/securityContext/sysctls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("name").and_then(Value::as_str))
        .filter(|n| !SAFE.contains(n))
        .collect();
    (!bad.is_empty()).then(|| Violation {
        reason: "forbidden sysctls".into(),
        detail: bad.join(", "),
    })
}

fn windows_host_process(_: &Value, spec: &Value) -> Option<Violation> {
    let host =
        |v: Option<&Value>| v.and_then(|w| w.get("hostProcess")).and_then(Value::as_bool) == Some(true);
    let mut setters = Vec::new();
    if host(spec.pointer("/securityContext/windowsOptions")) {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> = containers(spec)
        .filter(|c| host(sc(c, "/windowsOptions")))
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    (!setters.is_empty()).then(|| Violation {
        reason: "hostProcess".into(),
        detail: format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
    })
}

const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn added(c: &Value) -> Vec<&str> {
    sc(c, "/capabilities/add")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn capabilities_baseline(_: &Value, spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut caps = BTreeSet::new();
    for c in containers(spec) {
        let extra: Vec<&str> = added(c)
            .into_iter()
            .filter(|a| !BASELINE_CAPABILITIES.contains(a))
            .collect();
        if !extra.is_empty() {
            bad.push(name(c));
            caps.extend(extra.into_iter().map(str::to_string));
        }
    }
    if bad.is_empty() {
        return None;
    }
    let caps: Vec<String> = caps.into_iter().collect();
    violation(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad),
            join_quote(&caps)
        ),
    )
}

fn valid_seccomp(t: &str) -> bool {
    t == "RuntimeDefault" || t == "Localhost"
}

fn seccomp_type(v: Option<&Value>) -> Option<&str> {
    v.filter(|p| !p.is_null())
        .map(|p| p.get("type").and_then(Value::as_str).unwrap_or_default())
}

/// Explicitly bad seccomp types: setters ("pod", containers) and values.
fn seccomp_bad_setters(spec: &Value) -> (Vec<String>, BTreeSet<String>, bool) {
    let mut setters = Vec::new();
    let mut values = BTreeSet::new();
    let mut pod_set = false;
    if let Some(t) = seccomp_type(spec.pointer("/securityContext/seccompProfile")) {
        if valid_seccomp(t) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            values.insert(t.to_string());
        }
    }
    let bad: Vec<String> = containers(spec)
        .filter(|c| match seccomp_type(sc(c, "/seccompProfile")) {
            Some(t) if !valid_seccomp(t) => {
                values.insert(t.to_string());
                true
            }
            _ => false,
        })
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    (setters, values, pod_set)
}

/// The 1.19+ form of the check (the alpha seccomp annotations it looked at before 1.19 are
/// ignored by every supported kubelet, so older policy versions get this form too).
fn seccomp_baseline(_: &Value, spec: &Value) -> Option<Violation> {
    let (setters, values, _) = seccomp_bad_setters(spec);
    if setters.is_empty() {
        return None;
    }
    let values: Vec<String> = values.into_iter().collect();
    violation(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&values)
        ),
    )
}

fn seccomp_restricted(_: &Value, spec: &Value) -> Option<Violation> {
    let (setters, values, pod_set) = seccomp_bad_setters(spec);
    if !setters.is_empty() {
        let values: Vec<String> = values.into_iter().collect();
        return violation(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&values)
            ),
        );
    }
    let implicit: Vec<String> = containers(spec)
        .filter(|c| seccomp_type(sc(c, "/seccompProfile")).is_none() && !pod_set)
        .map(name)
        .collect();
    (!implicit.is_empty()).then(|| Violation {
        reason: "seccompProfile".into(),
        detail: format!(
            "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
            containers_phrase(&implicit)
        ),
    })
}

fn allow_privilege_escalation(_: &Value, spec: &Value) -> Option<Violation> {
    let bad: Vec<String> = containers(spec)
        .filter(|c| sc(c, "/allowPrivilegeEscalation").and_then(Value::as_bool) != Some(false))
        .map(name)
        .collect();
    (!bad.is_empty()).then(|| Violation {
        reason: "allowPrivilegeEscalation != false".into(),
        detail: format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&bad)
        ),
    })
}

fn capabilities_restricted(_: &Value, spec: &Value) -> Option<Violation> {
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut caps = BTreeSet::new();
    for c in containers(spec) {
        if sc(c, "/capabilities").is_none() {
            missing_drop.push(name(c));
            continue;
        }
        let drops_all = sc(c, "/capabilities/drop")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("ALL")));
        if !drops_all {
            missing_drop.push(name(c));
        }
        let extra: Vec<&str> = added(c)
            .into_iter()
            .filter(|a| *a != "NET_BIND_SERVICE")
            .collect();
        if !extra.is_empty() {
            adding.push(name(c));
            caps.extend(extra.into_iter().map(str::to_string));
        }
    }
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop)
        ));
    }
    if !adding.is_empty() {
        let caps: Vec<String> = caps.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&caps)
        ));
    }
    (!details.is_empty()).then(|| Violation {
        reason: "unrestricted capabilities".into(),
        detail: details.join("; "),
    })
}

/// The volume source types restricted allows; anything else is named by its field.
const ALLOWED_VOLUMES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
    "image",
];
const KNOWN_RESTRICTED_VOLUMES: [&str; 19] = [
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
];

fn restricted_volumes(_: &Value, spec: &Value) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for v in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(map) = v.as_object() else { continue };
        let sources: Vec<&str> = map
            .iter()
            .filter(|(k, val)| k.as_str() != "name" && !val.is_null())
            .map(|(k, _)| k.as_str())
            .collect();
        if sources.iter().any(|s| ALLOWED_VOLUMES.contains(s)) {
            continue;
        }
        bad.push(name(v));
        let kind = sources
            .iter()
            .find(|s| KNOWN_RESTRICTED_VOLUMES.contains(s) || matches!(**s, "scaleIO" | "storageos"))
            .copied()
            .unwrap_or("unknown");
        types.insert(kind.to_string());
    }
    if bad.is_empty() {
        return None;
    }
    let types: Vec<String> = types.into_iter().collect();
    violation(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad.len()),
            join_quote(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize("restricted volume type", "restricted volume types", types.len()),
            join_quote(&types)
        ),
    )
}

fn run_as_non_root(_: &Value, spec: &Value) -> Option<Violation> {
    let mut setters = Vec::new();
    let mut pod_ok = false;
    match spec
        .pointer("/securityContext/runAsNonRoot")
        .and_then(Value::as_bool)
    {
        Some(false) => setters.push("pod".to_string()),
        Some(true) => pod_ok = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in containers(spec) {
        match sc(c, "/runAsNonRoot").and_then(Value::as_bool) {
            Some(false) => explicit.push(name(c)),
            Some(true) => {}
            None if !pod_ok => implicit.push(name(c)),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return violation(
            "runAsNonRoot != true",
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
        );
    }
    (!implicit.is_empty()).then(|| Violation {
        reason: "runAsNonRoot != true".into(),
        detail: format!(
            "pod or {} must set securityContext.runAsNonRoot=true",
            containers_phrase(&implicit)
        ),
    })
}

fn run_as_user(_: &Value, spec: &Value) -> Option<Violation> {
    let mut setters = Vec::new();
    if spec.pointer("/securityContext/runAsUser").and_then(Value::as_i64) == Some(0) {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> = containers(spec)
        .filter(|c| sc(c, "/runAsUser").and_then(Value::as_i64) == Some(0))
        .map(name)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    (!setters.is_empty()).then(|| Violation {
        reason: "runAsUser=0".into(),
        detail: format!("{} must not set runAsUser=0", setters.join(" and ")),
    })
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
