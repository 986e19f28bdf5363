//! Pure builders for the Node object: labels, addresses, conditions, node info.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{NodeAddress, NodeCondition, NodeSystemInfo};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::machine::Machine;
use crate::eviction::{self, Thresholds};

/// The version this kubelet reports (the API version the workspace is built for).
pub const KUBELET_VERSION: &str = "v1.33.0";

pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Upstream's well-known node labels, plus `--node-labels`.
pub fn labels(node_name: &str, extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), node_name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), arch().to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), arch().to_string()),
    ]);
    l.extend(extra.clone());
    l
}

pub fn addresses(node_ip: IpAddr, hostname: &str) -> Vec<NodeAddress> {
    vec![
        NodeAddress {
            type_: "InternalIP".into(),
            address: node_ip.to_string(),
        },
        NodeAddress {
            type_: "Hostname".into(),
            address: hostname.into(),
        },
    ]
}

/// The address the node would use to reach the network: a UDP "connect" picks the source
/// address of the default route without sending a packet. Loopback if there is no route.
pub fn detect_node_ip() -> IpAddr {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.255.255.255:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

pub fn node_info(m: &Machine, runtime_version: &str) -> NodeSystemInfo {
    NodeSystemInfo {
        architecture: arch().into(),
        boot_id: m.boot_id.clone(),
        container_runtime_version: runtime_version.into(),
        kernel_version: m.kernel_version.clone(),
        kube_proxy_version: String::new(),
        kubelet_version: KUBELET_VERSION.into(),
        machine_id: m.machine_id.clone(),
        operating_system: "linux".into(),
        os_image: m.os_image.clone(),
        system_uuid: m.system_uuid.clone(),
        swap: None,
    }
}

/// What the conditions are computed from.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Why the node is not ready (runtime or network), if it is not.
    pub not_ready: Option<String>,
    pub memory_available_bytes: i64,
    pub memory_capacity_bytes: i64,
    pub fs_available_bytes: i64,
    pub fs_capacity_bytes: i64,
    pub pid_max: i64,
    pub processes: i64,
}

impl Health {
    /// The machine's figures, with the runtime's readiness.
    pub fn of(m: &Machine, not_ready: Option<String>) -> Health {
        Health {
            not_ready,
            memory_available_bytes: m.memory_available_bytes,
            memory_capacity_bytes: m.memory_bytes,
            fs_available_bytes: m.fs_available_bytes,
            fs_capacity_bytes: m.fs_capacity_bytes,
            pid_max: m.pid_max,
            processes: m.processes,
        }
    }
}

fn cond(
    t: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: &Time,
    prev: &[NodeCondition],
) -> NodeCondition {
    let status = if status { "True" } else { "False" };
    // lastTransitionTime only moves when the status flips.
    let transition = prev
        .iter()
        .find(|c| c.type_ == t && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    NodeCondition {
        type_: t.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(transition),
    }
}

/// MemoryPressure, DiskPressure, PIDPressure and Ready, with upstream's reasons and messages
/// and the hard eviction thresholds (by default memory.available<100Mi, nodefs.available<10%,
/// pid.available<10%).
pub fn conditions(h: &Health, t: &Thresholds, prev: &[NodeCondition], now: Timestamp) -> Vec<NodeCondition> {
    let now = Time(now);
    let s = eviction::signals(h, t);
    let (mem, disk, pid) = (s.memory.is_some(), s.disk.is_some(), s.pid.is_some());
    let mut out = vec![
        if mem {
            cond(
                "MemoryPressure",
                true,
                "KubeletHasInsufficientMemory",
                "kubelet has insufficient memory available",
                &now,
                prev,
            )
        } else {
            cond(
                "MemoryPressure",
                false,
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
                &now,
                prev,
            )
        },
        if disk {
            cond(
                "DiskPressure",
                true,
                "KubeletHasDiskPressure",
                "kubelet has disk pressure",
                &now,
                prev,
            )
        } else {
            cond(
                "DiskPressure",
                false,
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
                &now,
                prev,
            )
        },
        if pid {
            cond(
                "PIDPressure",
                true,
                "KubeletHasInsufficientPID",
                "kubelet has insufficient PID available",
                &now,
                prev,
            )
        } else {
            cond(
                "PIDPressure",
                false,
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
                &now,
                prev,
            )
        },
    ];
    out.push(match &h.not_ready {
        None => cond(
            "Ready",
            true,
            "KubeletReady",
            "kubelet is posting ready status",
            &now,
            prev,
        ),
        Some(why) => cond("Ready", false, "KubeletNotReady", why, &now, prev),
    });
    out
}

/// Conditions equal but for heartbeat times (whether a status write is due).
pub fn same_conditions(a: &[NodeCondition], b: &[NodeCondition]) -> bool {
    let strip = |c: &[NodeCondition]| -> Vec<NodeCondition> {
        c.iter()
            .map(|c| NodeCondition {
                last_heartbeat_time: None,
                ..c.clone()
            })
            .collect()
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Health {
        Health {
            not_ready: None,
            memory_available_bytes: 1 << 30,
            memory_capacity_bytes: 2 << 30,
            fs_available_bytes: 50,
            fs_capacity_bytes: 100,
            pid_max: 1000,
            processes: 100,
        }
    }

    #[test]
    fn conditions_table() {
        let t0 = Timestamp::from_second(1000).unwrap();
        let c = conditions(&healthy(), &Thresholds::default(), &[], t0);
        let by = |c: &[NodeCondition], t: &str| c.iter().find(|x| x.type_ == t).unwrap().clone();
        assert_eq!(by(&c, "Ready").status, "True");
        assert_eq!(by(&c, "Ready").reason.as_deref(), Some("KubeletReady"));
        assert_eq!(by(&c, "MemoryPressure").status, "False");
        assert_eq!(by(&c, "DiskPressure").status, "False");
        assert_eq!(by(&c, "PIDPressure").status, "False");

        let mut bad = healthy();
        bad.memory_available_bytes = 1;
        bad.fs_available_bytes = 5;
        bad.processes = 950;
        bad.not_ready = Some("container runtime network not ready".into());
        let t1 = Timestamp::from_second(2000).unwrap();
        let c2 = conditions(&bad, &Thresholds::default(), &c, t1);
        assert_eq!(
            by(&c2, "MemoryPressure").reason.as_deref(),
            Some("KubeletHasInsufficientMemory")
        );
        assert_eq!(by(&c2, "DiskPressure").status, "True");
        assert_eq!(by(&c2, "PIDPressure").status, "True");
        assert_eq!(by(&c2, "Ready").status, "False");
        assert_eq!(by(&c2, "Ready").last_transition_time, Some(Time(t1)));
        assert!(!same_conditions(&c, &c2));

        // Unchanged status keeps its transition time; only heartbeats move.
        let c3 = conditions(&healthy(), &Thresholds::default(), &c, t1);
        assert_eq!(by(&c3, "Ready").last_transition_time, Some(Time(t0)));
        assert_eq!(by(&c3, "Ready").last_heartbeat_time, Some(Time(t1)));
        assert!(same_conditions(&c, &c3));
    }

    #[test]
    fn labels_carry_hostname_os_arch() {
        let l = labels("n1", &BTreeMap::from([("zone".into(), "a".into())]));
        assert_eq!(l["kubernetes.io/hostname"], "n1");
        assert_eq!(l["kubernetes.io/os"], "linux");
        assert_eq!(l["beta.kubernetes.io/arch"], arch());
        assert_eq!(l["zone"], "a");
    }
}
