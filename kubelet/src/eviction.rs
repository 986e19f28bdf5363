//! Hard eviction thresholds (`--eviction-hard`, KubeletConfiguration evictionHard) and the
//! pure parts of the eviction manager: which signals are under pressure, which pod goes first,
//! and upstream's messages. The node conditions (MemoryPressure, DiskPressure, PIDPressure)
//! and the pod manager's evictions both read these.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::node::build::Health;
use crate::pod::{names, static_pods};
use crate::quantity;

/// A threshold on an available amount: absolute, or a share of capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Bytes(i64),
    Percent(f64),
}

impl Threshold {
    /// The threshold in units of `capacity`.
    pub fn amount(&self, capacity: i64) -> i64 {
        match *self {
            Threshold::Bytes(b) => b,
            Threshold::Percent(p) => (capacity as f64 * p / 100.0) as i64,
        }
    }

    fn text(&self) -> String {
        match *self {
            Threshold::Bytes(b) => binary_si(b),
            Threshold::Percent(p) => format!("{p}%"),
        }
    }
}

/// Bytes in a Quantity's canonical binary form: the largest suffix that keeps an integer
/// (52428800 → "50Mi"), as upstream prints thresholds and observations.
fn binary_si(b: i64) -> String {
    const SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut value = b;
    let mut suffix = "";
    for s in SUFFIXES {
        if value == 0 || value % 1024 != 0 {
            break;
        }
        value /= 1024;
        suffix = s;
    }
    format!("{value}{suffix}")
}

/// Upstream's default hard thresholds: memory.available<100Mi, nodefs.available<10%,
/// pid.available<10% (imagefs shares nodefs here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub memory_available: Threshold,
    pub nodefs_available: Threshold,
    pub pid_available: Threshold,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            memory_available: Threshold::Bytes(100 * 1024 * 1024),
            nodefs_available: Threshold::Percent(10.0),
            pid_available: Threshold::Percent(10.0),
        }
    }
}

fn parse_threshold(v: &str) -> Option<Threshold> {
    let v = v.trim();
    if let Some(p) = v.strip_suffix('%') {
        return p
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..=100.0).contains(p))
            .map(Threshold::Percent);
    }
    quantity::value(v).filter(|b| *b >= 0).map(Threshold::Bytes)
}

/// `memory.available: 100Mi`, `nodefs.available: 10%`, ... → thresholds; signals not given keep
/// their defaults (as upstream when any are set). Err names the bad entry.
pub fn parse(map: &BTreeMap<String, String>) -> Result<Thresholds, String> {
    let mut t = Thresholds::default();
    for (signal, value) in map {
        let th = parse_threshold(value).ok_or_else(|| format!("{signal}: invalid threshold {value:?}"))?;
        match signal.as_str() {
            "memory.available" => t.memory_available = th,
            "nodefs.available" | "imagefs.available" => t.nodefs_available = th,
            "pid.available" => t.pid_available = th,
            // Inode signals are not measured here; accepted so upstream configs load.
            "nodefs.inodesFree" | "imagefs.inodesFree" | "containerfs.available" => {}
            other => return Err(format!("unknown eviction signal {other:?}")),
        }
    }
    Ok(t)
}

/// `memory.available<100Mi,nodefs.available<10%` (the flag's form) → a map for `parse`.
pub fn parse_flag(s: &str) -> Result<BTreeMap<String, String>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.split_once('<')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("{p:?}: want signal<quantity"))
        })
        .collect()
}

/// A signal under pressure: the resource to reclaim and upstream's eviction message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pressure {
    /// "memory", "ephemeral-storage" or "pids".
    pub resource: &'static str,
    pub message: String,
}

/// The node's pressure per signal, evaluated against the thresholds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub memory: Option<Pressure>,
    pub disk: Option<Pressure>,
    pub pid: Option<Pressure>,
}

fn pressure(
    resource: &'static str,
    th: Threshold,
    capacity: i64,
    available: i64,
    fmt: fn(i64) -> String,
) -> Option<Pressure> {
    (capacity > 0 && available < th.amount(capacity)).then(|| Pressure {
        resource,
        message: format!(
            "The node was low on resource: {resource}. Threshold quantity: {}, available: {}. ",
            th.text(),
            fmt(available)
        ),
    })
}

pub fn signals(h: &Health, t: &Thresholds) -> Signals {
    Signals {
        memory: pressure(
            "memory",
            t.memory_available,
            h.memory_capacity_bytes.max(1),
            h.memory_available_bytes,
            binary_si,
        ),
        disk: pressure(
            "ephemeral-storage",
            t.nodefs_available,
            h.fs_capacity_bytes,
            h.fs_available_bytes,
            binary_si,
        ),
        pid: pressure("pids", t.pid_available, h.pid_max, h.pid_max - h.processes, |n| {
            n.to_string()
        }),
    }
}

/// Upstream's system-critical priority: such pods, and static and mirror pods, are never
/// evicted.
const SYSTEM_CRITICAL_PRIORITY: i32 = 2_000_000_000;

/// A static pod (from a file, not the API).
fn is_static(p: &Pod) -> bool {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(static_pods::CONFIG_SOURCE))
        .is_some_and(|s| s != "api")
}

fn evictable(p: &Pod) -> bool {
    let priority = p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
    let finished = matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    priority < SYSTEM_CRITICAL_PRIORITY
        && !is_static(p)
        && !static_pods::is_mirror(p)
        && p.metadata.deletion_timestamp.is_none()
        && !finished
}

/// The pod to evict first, as upstream ranks without usage statistics: pods using more than
/// they requested first (BestEffort, then Burstable, then Guaranteed), then lower priority,
/// then the newest.
pub fn victim<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Option<&'a Pod> {
    let class = |p: &Pod| match names::qos_class(p) {
        "BestEffort" => 0,
        "Burstable" => 1,
        _ => 2,
    };
    pods.into_iter().filter(|p| evictable(p)).min_by(|a, b| {
        let key = |p: &Pod| (class(p), p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0));
        key(a)
            .cmp(&key(b))
            .then_with(|| b.metadata.creation_timestamp.cmp(&a.metadata.creation_timestamp))
            .then_with(|| names::uid(a).cmp(&names::uid(b)))
    })
}

#[cfg(test)]
#[path = "eviction_tests.rs"]
mod tests;
