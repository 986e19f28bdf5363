//! Services: upstream `SetDefaults_Service`, the service REST storage's IP-family defaulting and
//! allocation of cluster IPs and node ports (`pkg/registry/core/service/storage/alloc.go`), and
//! the strategy's update normalization (`patchAllocatedValues`, `NormalizeClusterIPs`,
//! `dropTypeDependentFields`). Validation is in `service_validation.rs`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rudder_api::validation::{FieldError, NameValidator, name_is_dns1035_label};
use serde_json::{Map, Value, json};

use super::Settings;
pub(super) use super::service_alloc::InUse;
use super::service_alloc::{Reserved, allocate};
use super::service_validation::validate_service;
use super::util::{arr, at, child, default_field, default_str, each_mut, empty_str, int, s, unset};
use crate::registry::strategy::{Strategy, WriteKind};
use crate::registry::watch_cache::WatchCache;

/// How long a freshly allocated address or port stays reserved while the watch cache catches up.
const RESERVATION: Duration = Duration::from_secs(60);

pub(crate) struct Services {
    settings: Settings,
    cache: Arc<WatchCache>,
    recent: Mutex<Vec<(Reserved, Instant)>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Services {
    pub(crate) fn new(settings: Settings, cache: Arc<WatchCache>) -> Services {
        Services {
            settings,
            cache,
            recent: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn in_use(&self, obj: &Value) -> InUse {
        let meta = at(obj, "metadata");
        let (objects, _) = self.cache.snapshot();
        let values: Vec<Value> = objects.iter().map(|o| o.value()).collect();
        InUse::collect(values.iter(), (s(meta, "namespace"), s(meta, "name")))
    }

    /// Runs `prepare` (which allocates) with what other services hold and what was handed out
    /// recently (the watch cache may not show it yet), and remembers what it took.
    fn allocating(&self, obj: &Value, prepare: impl FnOnce(&InUse) -> Vec<Reserved>) {
        let mut used = self.in_use(obj);
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.retain(|(_, at)| at.elapsed() < RESERVATION);
        for (r, _) in recent.iter() {
            match *r {
                Reserved::Ip(ip) => used.ips.insert(ip),
                Reserved::Port(p) => used.ports.insert(p),
            };
        }
        for r in prepare(&used) {
            recent.push((r, Instant::now()));
        }
    }
}

/// What a create does after defaulting: status, cluster IP normalization, IP families, and
/// allocation.
pub(super) fn prepare_create(obj: &mut Value, settings: &Settings, used: &InUse) -> Vec<Reserved> {
    let Some(root) = obj.as_object_mut() else {
        return Vec::new();
    };
    root.insert("status".into(), json!({"loadBalancer": {}}));
    if let Some(spec) = child(root, "spec") {
        if !empty_str(spec.get("clusterIP")) && unset_or_empty_list(spec.get("clusterIPs")) {
            let ip = spec.get("clusterIP").cloned().unwrap_or(Value::Null);
            spec.insert("clusterIPs".into(), json!([ip]));
        }
        init_ip_families(spec, None);
    }
    allocate(obj, settings, used)
}

/// What an update does after defaulting, given the stored object.
pub(super) fn prepare_update(
    new: &mut Value,
    old: &Value,
    settings: &Settings,
    used: &InUse,
) -> Vec<Reserved> {
    let old_spec = at(old, "spec");
    if let Some(spec) = new.as_object_mut().and_then(|root| child(root, "spec")) {
        patch_allocated_values(spec, old_spec);
        normalize_cluster_ips(spec, old_spec);
        drop_type_dependent_fields(spec, old_spec);
        init_ip_families(spec, Some(old_spec));
    }
    allocate(new, settings, used)
}

impl Strategy for Services {
    fn name_validator(&self) -> NameValidator {
        name_is_dns1035_label
    }

    fn default(&self, obj: &mut Value) {
        if let Some(spec) = obj.as_object_mut().and_then(|root| child(root, "spec")) {
            default_service_spec(spec);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let view = obj.clone();
        self.allocating(&view, |used| prepare_create(obj, &self.settings, used));
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let view = new.clone();
        self.allocating(&view, |used| prepare_update(new, old, &self.settings, used));
    }

    fn validate(&self, obj: &Value, old: Option<&Value>, write: WriteKind) -> Vec<FieldError> {
        if write == WriteKind::StatusUpdate {
            return Vec::new();
        }
        validate_service(&self.settings, &self.in_use(obj), obj, old)
    }
}

fn unset_or_empty_list(v: Option<&Value>) -> bool {
    unset(v) || v.and_then(Value::as_array).is_some_and(Vec::is_empty)
}

pub(super) fn service_type(spec: &Value) -> &str {
    s(spec, "type")
}

pub(super) fn needs_node_ports(spec: &Value) -> bool {
    matches!(service_type(spec), "NodePort" | "LoadBalancer")
}

/// Upstream `ExternallyAccessible`.
pub(super) fn externally_accessible(spec: &Value) -> bool {
    needs_node_ports(spec) || (service_type(spec) == "ClusterIP" && !arr(spec, "externalIPs").is_empty())
}

/// Upstream `isHeadlessService`.
pub(super) fn is_headless(spec: &Value) -> bool {
    matches!(arr(spec, "clusterIPs"), [ip] if ip == "None")
}

/// Upstream `SetDefaults_Service`.
pub(super) fn default_service_spec(spec: &mut Map<String, Value>) {
    default_str(spec, "sessionAffinity", "None");
    default_str(spec, "type", "ClusterIP");
    each_mut(spec, "ports", |p| {
        default_str(p, "protocol", "TCP");
        let target = p.get("targetPort");
        if unset(target) || target == Some(&json!(0)) || target == Some(&json!("")) {
            let port = p.get("port").cloned().unwrap_or(json!(0));
            p.insert("targetPort".into(), port);
        }
    });
    let view = Value::Object(spec.clone());
    if externally_accessible(&view) {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(service_type(&view), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_field(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if service_type(&view) == "LoadBalancer" {
        default_field(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if s(&view, "sessionAffinity") == "ClientIP"
        && at(
            at(at(&view, "sessionAffinityConfig"), "clientIP"),
            "timeoutSeconds",
        )
        .is_null()
    {
        spec.insert(
            "sessionAffinityConfig".into(),
            json!({"clientIP": {"timeoutSeconds": 10800}}),
        );
    }
}

/// Upstream `initIPFamilyFields` on a single-stack IPv4 cluster.
fn init_ip_families(spec: &mut Map<String, Value>, old: Option<&Value>) {
    let view = Value::Object(spec.clone());
    if service_type(&view) == "ExternalName" {
        return;
    }
    let headless_selectorless =
        s(&view, "clusterIP") == "None" && at(&view, "selector").as_object().is_none_or(Map::is_empty);
    if unset(spec.get("ipFamilyPolicy")) {
        let policy = match old.map(|o| at(o, "ipFamilyPolicy")).filter(|p| !p.is_null()) {
            Some(p) => p.clone(),
            None if headless_selectorless => json!("RequireDualStack"),
            None => json!("SingleStack"),
        };
        spec.insert("ipFamilyPolicy".into(), policy);
    }
    let mut families: Vec<Value> = arr(&view, "ipFamilies").to_vec();
    for (i, ip) in arr(&view, "clusterIPs")
        .iter()
        .filter_map(Value::as_str)
        .enumerate()
    {
        if ip == "None" || ip.is_empty() {
            break;
        }
        if i >= families.len() {
            families.push(json!(if ip.contains(':') { "IPv6" } else { "IPv4" }));
        }
    }
    if families.is_empty() {
        families.push(json!("IPv4"));
    }
    let single = spec.get("ipFamilyPolicy").and_then(Value::as_str) == Some("SingleStack");
    if headless_selectorless && !single && families.len() < 2 {
        let alt = if families[0] == "IPv4" { "IPv6" } else { "IPv4" };
        families.push(json!(alt));
    }
    spec.insert("ipFamilies".into(), Value::Array(families));
}

/// Upstream `patchAllocatedValues`: a resubmitted manifest keeps what was allocated.
fn patch_allocated_values(spec: &mut Map<String, Value>, old: &Value) {
    let view = Value::Object(spec.clone());
    if service_type(old) != "ExternalName" && service_type(&view) != "ExternalName" {
        if empty_str(spec.get("clusterIP"))
            && let Some(ip) = old.get("clusterIP")
        {
            spec.insert("clusterIP".into(), ip.clone());
        }
        if unset_or_empty_list(spec.get("clusterIPs")) && !arr(old, "clusterIPs").is_empty() {
            spec.insert("clusterIPs".into(), at(old, "clusterIPs").clone());
        }
    }
    if needs_node_ports(old) && needs_node_ports(&view) {
        let node_ports = |v: &Value| -> HashSet<i64> {
            arr(v, "ports")
                .iter()
                .filter_map(|p| int(p, "nodePort"))
                .collect()
        };
        let used: HashSet<i64> = node_ports(old)
            .intersection(&node_ports(&view))
            .copied()
            .collect();
        let by_name: Vec<(String, i64)> = arr(old, "ports")
            .iter()
            .map(|p| (s(p, "name").to_string(), int(p, "nodePort").unwrap_or(0)))
            .collect();
        each_mut(spec, "ports", |p| {
            if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                if let Some((_, np)) = by_name
                    .iter()
                    .find(|(n, _)| n == name)
                    .filter(|(_, np)| *np != 0 && !used.contains(np))
                {
                    p.insert("nodePort".into(), json!(np));
                }
            }
        });
    }
    let needs_hc = |v: &Value| service_type(v) == "LoadBalancer" && s(v, "externalTrafficPolicy") == "Local";
    if needs_hc(old)
        && needs_hc(&view)
        && int(&view, "healthCheckNodePort").unwrap_or(0) == 0
        && let Some(hc) = old.get("healthCheckNodePort")
    {
        spec.insert("healthCheckNodePort".into(), hc.clone());
    }
}

/// Upstream `NormalizeClusterIPs` for an update.
fn normalize_cluster_ips(spec: &mut Map<String, Value>, old: &Value) {
    let same_plural = spec.get("clusterIPs").unwrap_or(&Value::Null) == at(old, "clusterIPs");
    let singular = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if singular.is_empty() {
        if same_plural {
            spec.remove("clusterIPs");
        }
    } else if (same_plural && singular != s(old, "clusterIP")) || unset_or_empty_list(spec.get("clusterIPs"))
    {
        // An old client changed the singular field, or set only it.
        spec.insert("clusterIPs".into(), json!([singular]));
    }
}

/// Upstream `dropTypeDependentFields`: fields the old type needed and the user did not touch.
fn drop_type_dependent_fields(spec: &mut Map<String, Value>, old: &Value) {
    let view = Value::Object(spec.clone());
    let same = |key: &str| view.get(key) == old.get(key);
    if service_type(old) != "ExternalName" && service_type(&view) == "ExternalName" {
        if same("clusterIP") && same("clusterIPs") {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        for key in ["ipFamilies", "ipFamilyPolicy"] {
            if same(key) {
                spec.remove(key);
            }
        }
    }
    let node_ports =
        |v: &Value| -> Vec<Option<i64>> { arr(v, "ports").iter().map(|p| int(p, "nodePort")).collect() };
    if needs_node_ports(old) && !needs_node_ports(&view) && node_ports(old) == node_ports(&view) {
        each_mut(spec, "ports", |p| {
            p.remove("nodePort");
        });
    }
    let needs_hc = |v: &Value| service_type(v) == "LoadBalancer" && s(v, "externalTrafficPolicy") == "Local";
    if needs_hc(old) && !needs_hc(&view) && same("healthCheckNodePort") {
        spec.remove("healthCheckNodePort");
    }
    if service_type(old) == "LoadBalancer" && service_type(&view) != "LoadBalancer" {
        for key in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if same(key) {
                spec.remove(key);
            }
        }
    }
    if externally_accessible(old) && !externally_accessible(&view) && same("externalTrafficPolicy") {
        spec.remove("externalTrafficPolicy");
    }
}
