//! What the machine has, read from /proc and the filesystem: capacity, node info, pressure.

use std::collections::BTreeMap;
use std::path::Path;

/// Machine facts for the Node object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Machine {
    pub cpus: i64,
    pub memory_bytes: i64,
    pub memory_available_bytes: i64,
    pub fs_capacity_bytes: i64,
    pub fs_available_bytes: i64,
    pub pid_max: i64,
    pub processes: i64,
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `MemTotal:  16314344 kB` → bytes.
fn meminfo(text: &str, key: &str) -> Option<i64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// PRETTY_NAME from /etc/os-release.
fn os_image(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

impl Machine {
    /// Reads the machine; `fs_root` is the kubelet's root dir (its filesystem is nodefs).
    pub fn read(fs_root: &Path) -> Machine {
        let mem = read("/proc/meminfo");
        let cpus = read("/proc/cpuinfo")
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count() as i64;
        let cpus = if cpus > 0 {
            cpus
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get() as i64)
        };
        let (fs_capacity_bytes, fs_available_bytes) = rustix::fs::statvfs(fs_root)
            .map(|s| ((s.f_blocks * s.f_frsize) as i64, (s.f_bavail * s.f_frsize) as i64))
            .unwrap_or((0, 0));
        let processes = std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_str().is_some_and(|n| n.parse::<u32>().is_ok()))
                    .count() as i64
            })
            .unwrap_or(0);
        let mut system_uuid = read("/sys/class/dmi/id/product_uuid");
        if system_uuid.is_empty() {
            system_uuid = read("/etc/machine-id");
        }
        Machine {
            cpus,
            memory_bytes: meminfo(&mem, "MemTotal:").unwrap_or(0),
            memory_available_bytes: meminfo(&mem, "MemAvailable:").unwrap_or(0),
            fs_capacity_bytes,
            fs_available_bytes,
            pid_max: read("/proc/sys/kernel/pid_max").parse().unwrap_or(32768),
            processes,
            machine_id: read("/etc/machine-id"),
            system_uuid,
            boot_id: read("/proc/sys/kernel/random/boot_id"),
            kernel_version: read("/proc/sys/kernel/osrelease"),
            os_image: os_image(&read("/etc/os-release")),
        }
    }

    /// Whether swap is on (for `--fail-swap-on`).
    pub fn swap_on() -> bool {
        read("/proc/swaps").lines().count() > 1
    }
}

/// Resource name → amount in base units (millicores for cpu).
pub type Amounts = BTreeMap<String, i64>;

/// Capacity of the node: cpu (millicores), memory, ephemeral-storage, pods, hugepages.
pub fn capacity(m: &Machine, max_pods: i64) -> Amounts {
    Amounts::from([
        ("cpu".into(), m.cpus * 1000),
        ("memory".into(), m.memory_bytes),
        ("ephemeral-storage".into(), m.fs_capacity_bytes),
        ("pods".into(), max_pods),
        ("hugepages-1Gi".into(), 0),
        ("hugepages-2Mi".into(), 0),
    ])
}

/// Allocatable = capacity − kube-reserved − system-reserved − hard eviction thresholds,
/// never below zero (upstream's NodeAllocatable).
pub fn allocatable(
    capacity: &Amounts,
    kube_reserved: &Amounts,
    system_reserved: &Amounts,
    eviction: &crate::eviction::Thresholds,
) -> Amounts {
    capacity
        .iter()
        .map(|(k, v)| {
            let mut a = *v - kube_reserved.get(k).unwrap_or(&0) - system_reserved.get(k).unwrap_or(&0);
            if k == "memory" {
                a -= eviction.memory_available.amount(*v);
            }
            if k == "ephemeral-storage" {
                a -= eviction.nodefs_available.amount(*v);
            }
            (k.clone(), a.max(0))
        })
        .collect()
}

/// Amounts as the API's quantity strings.
pub fn to_quantities(
    a: &Amounts,
) -> BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity> {
    use crate::quantity::{format_bytes, format_milli};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    a.iter()
        .map(|(k, v)| {
            let s = match k.as_str() {
                "cpu" => format_milli(*v),
                "pods" => v.to_string(),
                _ => format_bytes(*v),
            };
            (k.clone(), Quantity(s))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_and_os_release() {
        let text = "MemTotal:       16314344 kB\nMemFree:  1 kB\nMemAvailable:   8000000 kB\n";
        assert_eq!(meminfo(text, "MemTotal:"), Some(16314344 * 1024));
        assert_eq!(meminfo(text, "MemAvailable:"), Some(8000000 * 1024));
        assert_eq!(
            os_image("ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
    }

    #[test]
    fn allocatable_subtracts_reserved_and_eviction() {
        let m = Machine {
            cpus: 2,
            memory_bytes: 4 << 30,
            fs_capacity_bytes: 1000,
            ..Default::default()
        };
        let cap = capacity(&m, 110);
        let kube = Amounts::from([("cpu".into(), 100), ("memory".into(), 256 << 20)]);
        let sys = Amounts::from([("cpu".into(), 200)]);
        let t = crate::eviction::Thresholds::default();
        let a = allocatable(&cap, &kube, &sys, &t);
        assert_eq!(a["cpu"], 1700);
        assert_eq!(a["memory"], (4 << 30) - (256 << 20) - (100 << 20));
        assert_eq!(a["ephemeral-storage"], 900);
        assert_eq!(a["pods"], 110);
        let huge = Amounts::from([("cpu".into(), 99_000)]);
        assert_eq!(allocatable(&cap, &huge, &sys, &t)["cpu"], 0);
    }
}
