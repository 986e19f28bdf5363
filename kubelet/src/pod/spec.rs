//! Pod and container specs → CRI sandbox and container configs.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::config::Config;
use crate::cri::{api, labels};
use crate::quantity;

use super::names;

const CPU_PERIOD: i64 = 100_000;

pub fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    let mut l: HashMap<String, String> = pod
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    l.insert(labels::POD_NAME.into(), names::name(pod));
    l.insert(labels::POD_NAMESPACE.into(), names::namespace(pod));
    l.insert(labels::POD_UID.into(), names::uid(pod));
    l
}

/// The sandbox config; `dns` is the pod's resolver config (`dns::pod_dns`), None where only
/// the other fields matter (a container's create call, the log directory).
pub fn sandbox_config(
    pod: &Pod,
    config: &Config,
    attempt: u32,
    dns: Option<api::DnsConfig>,
) -> api::PodSandboxConfig {
    let spec = pod.spec.clone().unwrap_or_default();
    let host_network = spec.host_network.unwrap_or(false);
    let uid = names::uid(pod);
    let ns_mode = |host: Option<bool>, default: api::NamespaceMode| {
        if host.unwrap_or(false) {
            api::NamespaceMode::Node as i32
        } else {
            default as i32
        }
    };
    let pid_default = if spec.share_process_namespace.unwrap_or(false) {
        api::NamespaceMode::Pod
    } else {
        api::NamespaceMode::Container
    };
    let hostname = if host_network {
        String::new()
    } else {
        spec.hostname.clone().unwrap_or_else(|| names::name(pod))
    };
    let port_mappings = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.unwrap_or(0) > 0)
        .map(|p| api::PortMapping {
            protocol: match p.protocol.as_deref() {
                Some("UDP") => api::Protocol::Udp as i32,
                Some("SCTP") => api::Protocol::Sctp as i32,
                _ => api::Protocol::Tcp as i32,
            },
            container_port: p.container_port,
            host_port: p.host_port.unwrap_or(0),
            host_ip: p.host_ip.clone().unwrap_or_default(),
        })
        .collect();
    let sysctls = spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: names::name(pod),
            uid: uid.clone(),
            namespace: names::namespace(pod),
            attempt,
        }),
        hostname,
        log_directory: names::log_dir(
            &config.pod_logs_dir,
            &names::namespace(pod),
            &names::name(pod),
            &uid,
        )
        .display()
        .to_string(),
        dns_config: dns,
        port_mappings,
        labels: pod_labels(pod),
        annotations: pod
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: names::cgroup_parent(
                config.cgroup_driver,
                &config.cgroup_root,
                names::qos_class(pod),
                &uid,
            ),
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(api::NamespaceOption {
                    network: ns_mode(spec.host_network, api::NamespaceMode::Pod),
                    pid: ns_mode(spec.host_pid, pid_default),
                    ipc: ns_mode(spec.host_ipc, api::NamespaceMode::Pod),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            sysctls,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Requests and limits → cgroup settings, as upstream's kuberuntime does.
pub fn linux_resources(pod: &Pod, c: &Container, node_memory: i64) -> api::LinuxContainerResources {
    let r = c.resources.clone().unwrap_or_default();
    let get = |m: &Option<
        std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >,
               k: &str,
               milli: bool| {
        m.as_ref().and_then(|m| m.get(k)).and_then(|q| {
            if milli {
                quantity::milli(&q.0)
            } else {
                quantity::value(&q.0)
            }
        })
    };
    let cpu_limit = get(&r.limits, "cpu", true);
    let cpu_request = get(&r.requests, "cpu", true).or(cpu_limit);
    let mem_limit = get(&r.limits, "memory", false);
    let mem_request = get(&r.requests, "memory", false).or(mem_limit);
    let shares = cpu_request.map_or(2, |m| (m * 1024 / 1000).max(2));
    let (period, quota) = match cpu_limit {
        Some(m) => (CPU_PERIOD, (m * CPU_PERIOD / 1000).max(1000)),
        None => (0, 0),
    };
    // oom_score_adj by QoS class, clamped to >= 0: without CAP_SYS_RESOURCE it cannot be
    // lowered below 0 (and containerd runs with restrict_oom_score_adj).
    let oom = match names::qos_class(pod) {
        "Guaranteed" => 0,
        "BestEffort" => 1000,
        _ => {
            let req = mem_request.unwrap_or(0);
            let adj = if node_memory > 0 {
                1000 - (1000 * req) / node_memory
            } else {
                1000
            };
            adj.clamp(2, 999)
        }
    };
    api::LinuxContainerResources {
        cpu_period: period,
        cpu_quota: quota,
        cpu_shares: shares,
        memory_limit_in_bytes: mem_limit.unwrap_or(0),
        oom_score_adj: oom,
        ..Default::default()
    }
}

/// A stable hash of the container's spec (recorded on the container, as upstream).
pub fn container_hash(c: &Container) -> String {
    let json = serde_json::to_vec(c).unwrap_or_default();
    // FNV-1a: stable across runs and builds, unlike std's hasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in json {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:x}")
}

#[derive(Debug)]
pub struct ContainerInputs {
    pub restart_count: i32,
    pub env: Vec<(String, String)>,
    pub mounts: Vec<api::Mount>,
    pub node_memory: i64,
}

pub fn container_config(pod: &Pod, c: &Container, inp: ContainerInputs) -> api::ContainerConfig {
    let vars: HashMap<String, String> = inp.env.iter().cloned().collect();
    let expand = |v: &Option<Vec<String>>| v.iter().flatten().map(|s| super::env::expand(s, &vars)).collect();
    let sc = c.security_context.clone().unwrap_or_default();
    let pod_sc = pod
        .spec
        .as_ref()
        .and_then(|s| s.security_context.clone())
        .unwrap_or_default();
    let run_as_user = sc.run_as_user.or(pod_sc.run_as_user);
    let run_as_group = sc.run_as_group.or(pod_sc.run_as_group);
    let caps = sc.capabilities.clone().unwrap_or_default();
    let grace = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    let mut container_labels = HashMap::from([
        (labels::POD_NAME.to_string(), names::name(pod)),
        (labels::POD_NAMESPACE.to_string(), names::namespace(pod)),
        (labels::POD_UID.to_string(), names::uid(pod)),
        (labels::CONTAINER_NAME.to_string(), c.name.clone()),
    ]);
    container_labels.shrink_to_fit();
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: c.name.clone(),
            attempt: inp.restart_count.max(0) as u32,
        }),
        image: Some(api::ImageSpec {
            image: c.image.clone().unwrap_or_default(),
            ..Default::default()
        }),
        command: expand(&c.command),
        args: expand(&c.args),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: inp
            .env
            .iter()
            .map(|(k, v)| api::KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        mounts: inp.mounts,
        labels: container_labels,
        annotations: HashMap::from([
            (labels::RESTART_COUNT.to_string(), inp.restart_count.to_string()),
            (labels::CONTAINER_HASH.to_string(), container_hash(c)),
            (labels::TERMINATION_GRACE.to_string(), grace.to_string()),
        ]),
        log_path: format!("{}/{}.log", c.name, inp.restart_count),
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        tty: c.tty.unwrap_or(false),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(linux_resources(pod, c, inp.node_memory)),
            security_context: Some(api::LinuxContainerSecurityContext {
                privileged: sc.privileged.unwrap_or(false),
                readonly_rootfs: sc.read_only_root_filesystem.unwrap_or(false),
                run_as_user: run_as_user.map(|value| api::Int64Value { value }),
                run_as_group: run_as_group.map(|value| api::Int64Value { value }),
                capabilities: Some(api::Capability {
                    add_capabilities: caps.add.unwrap_or_default(),
                    drop_capabilities: caps.drop.unwrap_or_default(),
                    ..Default::default()
                }),
                no_new_privs: !sc.allow_privilege_escalation.unwrap_or(true),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    #[test]
    fn resources_to_cgroups() {
        let c = Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(
                    [
                        ("cpu".to_string(), Quantity("250m".into())),
                        ("memory".to_string(), Quantity("64Mi".into())),
                    ]
                    .into(),
                ),
                limits: Some(
                    [
                        ("cpu".to_string(), Quantity("500m".into())),
                        ("memory".to_string(), Quantity("128Mi".into())),
                    ]
                    .into(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![c.clone()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = linux_resources(&pod, &c, 1 << 30);
        assert_eq!(r.cpu_shares, 256);
        assert_eq!(r.cpu_quota, 50_000);
        assert_eq!(r.cpu_period, 100_000);
        assert_eq!(r.memory_limit_in_bytes, 128 << 20);
        assert_eq!(r.oom_score_adj, 1000 - 1000 * (64 << 20) / (1 << 30));
        let be = Container {
            name: "c".into(),
            ..Default::default()
        };
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![be.clone()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = linux_resources(&pod, &be, 1 << 30);
        assert_eq!(
            (
                r.cpu_shares,
                r.cpu_quota,
                r.memory_limit_in_bytes,
                r.oom_score_adj
            ),
            (2, 0, 0, 1000)
        );
    }
}
