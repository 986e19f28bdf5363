//! Cluster IP and node port allocation (upstream's ipallocator and portallocator in small):
//! what other services hold, random free picks preferring the upper band of each range, and
//! the refusals of requested values that are out of range or taken.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use rand::Rng;
use rudder_api::validation::{FieldError, FieldPath};
use serde_json::{Map, Value, json};

use super::Settings;
use super::service_validation::string_list;
use super::services::{needs_node_ports, service_type};
use super::util::{arr, at, child, each_mut, int, s};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reserved {
    Ip(u32),
    Port(u16),
}

/// What other services hold: cluster IPs and node ports.
#[derive(Debug, Default)]
pub(super) struct InUse {
    pub(super) ips: HashSet<u32>,
    pub(super) ports: HashSet<u16>,
}

impl InUse {
    /// Everything the services in `objects` hold, except the service `skip` (namespace, name).
    pub(super) fn collect<'a>(objects: impl Iterator<Item = &'a Value>, skip: (&str, &str)) -> InUse {
        let mut used = InUse::default();
        for svc in objects {
            let meta = at(svc, "metadata");
            if (s(meta, "namespace"), s(meta, "name")) == skip {
                continue;
            }
            let spec = at(svc, "spec");
            for ip in arr(spec, "clusterIPs")
                .iter()
                .filter_map(Value::as_str)
                .chain([s(spec, "clusterIP")])
            {
                if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                    used.ips.insert(u32::from(ip));
                }
            }
            let ports = arr(spec, "ports").iter().filter_map(|p| int(p, "nodePort"));
            for port in ports.chain(int(spec, "healthCheckNodePort")) {
                if let Ok(port) = u16::try_from(port) {
                    used.ports.insert(port);
                }
            }
        }
        used
    }
}

/// Allocates a cluster IP and node ports the service lacks; returns what it took.
pub(super) fn allocate(obj: &mut Value, settings: &Settings, used: &InUse) -> Vec<Reserved> {
    let meta = at(obj, "metadata");
    let is_kubernetes = s(meta, "namespace") == "default" && s(meta, "name") == "kubernetes";
    match obj.as_object_mut().and_then(|root| child(root, "spec")) {
        Some(spec) => allocate_spec(spec, settings, used, is_kubernetes),
        None => Vec::new(),
    }
}

fn allocate_spec(
    spec: &mut Map<String, Value>,
    settings: &Settings,
    used: &InUse,
    kubernetes: bool,
) -> Vec<Reserved> {
    let mut reserved = Vec::new();
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    if ty == "ExternalName" {
        return reserved;
    }
    let ips: Vec<&str> = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).collect());
    if (ips.is_empty() || ips == [""])
        && let Some(ip) = pick_ip(settings.service_range, used, kubernetes)
    {
        let text = Ipv4Addr::from(ip).to_string();
        spec.insert("clusterIP".into(), json!(text));
        spec.insert("clusterIPs".into(), json!([text]));
        reserved.push(Reserved::Ip(ip));
    }
    let mut taken = used.ports.clone();
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        let allocate_lb = spec.get("allocateLoadBalancerNodePorts").and_then(Value::as_bool) != Some(false);
        let mut by_port: Vec<(i64, i64)> = Vec::new();
        for p in arr(&Value::Object(spec.clone()), "ports") {
            if let (Some(port), Some(np)) = (int(p, "port"), int(p, "nodePort").filter(|n| *n != 0)) {
                by_port.push((port, np));
                taken.extend(u16::try_from(np).ok());
            }
        }
        if ty == "NodePort" || allocate_lb {
            each_mut(spec, "ports", |p| {
                if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                    return;
                }
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                let np = match by_port.iter().find(|(pt, _)| *pt == port) {
                    Some((_, np)) => Some(*np),
                    None => pick_port(settings.node_port_range, &taken).map(|np| {
                        taken.insert(np);
                        reserved.push(Reserved::Port(np));
                        by_port.push((port, i64::from(np)));
                        i64::from(np)
                    }),
                };
                if let Some(np) = np {
                    p.insert("nodePort".into(), json!(np));
                }
            });
        }
    }
    let local = spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
    let health_check = spec
        .get("healthCheckNodePort")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if ty == "LoadBalancer"
        && local
        && health_check == 0
        && let Some(np) = pick_port(settings.node_port_range, &taken)
    {
        spec.insert("healthCheckNodePort".into(), json!(np));
        reserved.push(Reserved::Port(np));
    }
    reserved
}

/// A free address of the range: the first host address only for the `kubernetes` service,
/// otherwise a random free one, preferring the upper band as upstream's allocator does.
fn pick_ip((base, prefix): (Ipv4Addr, u8), used: &InUse, kubernetes: bool) -> Option<u32> {
    let base = u32::from(base);
    let size = 1u64 << (32 - u32::from(prefix.min(32)));
    if size < 4 {
        return None;
    }
    let first = u64::from(base) + 1;
    let hosts = size - 2;
    if kubernetes && !used.ips.contains(&(base + 1)) {
        return Some(base + 1);
    }
    let offset = if size <= 16 { 0 } else { (size / 16).clamp(16, 256) }.min(hosts);
    let free = |i: u64| {
        u32::try_from(first + i)
            .ok()
            .filter(|ip| *ip != base + 1 && !used.ips.contains(ip))
    };
    pick_in(offset, hosts, &free).or_else(|| pick_in(0, offset, &free))
}

fn pick_port((lo, hi): (u16, u16), taken: &HashSet<u16>) -> Option<u16> {
    if hi < lo {
        return None;
    }
    let size = u64::from(hi - lo) + 1;
    let offset = if size <= 16 { 0 } else { (size / 32).clamp(16, 128) }.min(size);
    let free = |i: u64| {
        u16::try_from(u64::from(lo) + i)
            .ok()
            .filter(|p| !taken.contains(p))
    };
    pick_in(offset, size, &free).or_else(|| pick_in(0, offset, &free))
}

/// A random `i` in `lo..hi` for which `free(i)` holds, scanning from a random start.
fn pick_in<T>(lo: u64, hi: u64, free: &dyn Fn(u64) -> Option<T>) -> Option<T> {
    if lo >= hi {
        return None;
    }
    let n = hi - lo;
    let start = rand::rng().random_range(0..n);
    (0..n).find_map(|i| free(lo + (start + i) % n))
}

/// The allocator's refusals: requested cluster IPs and node ports must be in range and free.
/// Only values that are new (not held by the old object) are checked.
pub(super) fn validate_allocations(
    settings: &Settings,
    used: &InUse,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<FieldError> {
    let spec = at(obj, "spec");
    let mut errs = Vec::new();
    if service_type(spec) == "ExternalName" {
        return errs;
    }
    let old_ips = old.map_or(&[][..], |o| arr(o, "clusterIPs"));
    let ips = arr(spec, "clusterIPs");
    if ips.is_empty() && !old_ips.is_empty() {
        return errs;
    }
    let ips_path = FieldPath::new("spec").child("clusterIPs");
    let shown = string_list(at(spec, "clusterIPs"));
    if ips.is_empty() && old.is_none() {
        errs.push(FieldError::internal(
            &ips_path,
            "failed to allocate a serviceIP: range is full",
        ));
    }
    for ip in ips.iter().filter(|ip| !old_ips.contains(ip)) {
        let text = ip.as_str().unwrap_or("");
        let Ok(addr) = text.parse::<Ipv4Addr>() else {
            continue;
        };
        let (base, prefix) = settings.service_range;
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix.min(32)))
        };
        let (n, b) = (u32::from(addr), u32::from(base) & mask);
        let broadcast = b | !mask;
        let reason = if n & mask != b || n == b || n == broadcast {
            format!(
                "the provided IP ({text}) is not in the valid range. The range of valid IPs is {base}/{prefix}"
            )
        } else if used.ips.contains(&n) {
            "provided IP is already allocated".to_string()
        } else {
            continue;
        };
        errs.push(FieldError::invalid(
            &ips_path,
            shown.clone(),
            format!("failed to allocate IP {text}: {reason}"),
        ));
    }
    if !needs_node_ports(spec) {
        return errs;
    }
    let old_ports: HashSet<i64> = old.map_or_else(HashSet::new, |o| {
        arr(o, "ports")
            .iter()
            .filter_map(|p| int(p, "nodePort"))
            .chain(int(o, "healthCheckNodePort"))
            .collect()
    });
    let (lo, hi) = settings.node_port_range;
    let mut check = |np: i64, path: FieldPath| {
        if np == 0 || old_ports.contains(&np) {
            return;
        }
        let reason = if np < i64::from(lo) || np > i64::from(hi) {
            format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}")
        } else if u16::try_from(np).is_ok_and(|p| used.ports.contains(&p)) {
            "provided port is already allocated".to_string()
        } else {
            return;
        };
        errs.push(FieldError::invalid(&path, np, reason));
    };
    let mut seen = HashSet::new();
    for (i, port) in arr(spec, "ports").iter().enumerate() {
        let np = int(port, "nodePort").unwrap_or(0);
        if seen.insert(np) {
            check(
                np,
                FieldPath::new("spec").child("ports").index(i).child("nodePort"),
            );
        }
    }
    check(
        int(spec, "healthCheckNodePort").unwrap_or(0),
        FieldPath::new("spec").child("healthCheckNodePort"),
    );
    errs
}
