//! Where a pod's things live: directories, log paths, cgroup parent, QoS class.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::config::CgroupDriver;
use crate::quantity;

pub fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

pub fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

pub fn namespace(pod: &Pod) -> String {
    pod.metadata.namespace.clone().unwrap_or_else(|| "default".into())
}

/// `<root>/pods/<uid>`
pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

/// `<pod logs dir>/<namespace>_<name>_<uid>` (upstream's layout, read by `kubectl logs`).
pub fn log_dir(logs_root: &Path, namespace: &str, name: &str, uid: &str) -> PathBuf {
    logs_root.join(format!("{namespace}_{name}_{uid}"))
}

/// Upstream's QoS classes.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = &pod.spec else {
        return "BestEffort";
    };
    let all: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &all {
        let r = c.resources.as_ref();
        let req = r.and_then(|r| r.requests.as_ref());
        let lim = r.and_then(|r| r.limits.as_ref());
        for res in ["cpu", "memory"] {
            let rq = req
                .and_then(|m| m.get(res))
                .and_then(|q| quantity::parse(&q.0))
                .filter(|v| *v > 0.0);
            let lm = lim
                .and_then(|m| m.get(res))
                .and_then(|q| quantity::parse(&q.0))
                .filter(|v| *v > 0.0);
            if rq.is_some() || lm.is_some() {
                any = true;
            }
            // A missing request defaults to the limit.
            match (rq, lm) {
                (_, None) => guaranteed = false,
                (Some(a), Some(b)) if a != b => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The pod's cgroup parent: `<root>/kubepods[/burstable|/besteffort]/pod<uid>` for cgroupfs,
/// the slice form for systemd.
pub fn cgroup_parent(driver: CgroupDriver, root: &str, qos: &str, uid: &str) -> String {
    match driver {
        CgroupDriver::Cgroupfs => {
            let root = root.trim_end_matches('/');
            match qos {
                "Guaranteed" => format!("{root}/kubepods/pod{uid}"),
                "Burstable" => format!("{root}/kubepods/burstable/pod{uid}"),
                _ => format!("{root}/kubepods/besteffort/pod{uid}"),
            }
        }
        CgroupDriver::Systemd => {
            let u = uid.replace('-', "_");
            match qos {
                "Guaranteed" => format!("kubepods-pod{u}.slice"),
                "Burstable" => format!("kubepods-burstable-pod{u}.slice"),
                _ => format!("kubepods-besteffort-pod{u}.slice"),
            }
        }
    }
}

/// Removes the pod's cgroup directories in every v1 hierarchy (runc leaves the parents).
pub fn remove_pod_cgroups(parent: &str) {
    if !parent.starts_with('/') {
        return;
    }
    let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for c in controllers.flatten() {
        let dir = c.path().join(parent.trim_start_matches('/'));
        remove_cgroup_tree(&dir);
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn pod(req: &[(&str, &str)], lim: &[(&str, &str)]) -> Pod {
        let m = |v: &[(&str, &str)]| {
            Some(
                v.iter()
                    .map(|(k, q)| (k.to_string(), Quantity(q.to_string())))
                    .collect(),
            )
            .filter(|m: &std::collections::BTreeMap<_, _>| !m.is_empty())
        };
        Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    resources: Some(ResourceRequirements {
                        requests: m(req),
                        limits: m(lim),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(&pod(&[], &[])), "BestEffort");
        assert_eq!(qos_class(&pod(&[("cpu", "100m")], &[])), "Burstable");
        assert_eq!(
            qos_class(&pod(&[], &[("cpu", "1"), ("memory", "1Gi")])),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(
                &[("cpu", "1"), ("memory", "1Gi")],
                &[("cpu", "1"), ("memory", "1Gi")]
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(&[("cpu", "500m")], &[("cpu", "1"), ("memory", "1Gi")])),
            "Burstable"
        );
    }

    #[test]
    fn cgroup_parents() {
        assert_eq!(
            cgroup_parent(CgroupDriver::Cgroupfs, "/", "Burstable", "u1"),
            "/kubepods/burstable/podu1"
        );
        assert_eq!(
            cgroup_parent(CgroupDriver::Cgroupfs, "/t", "Guaranteed", "u1"),
            "/t/kubepods/podu1"
        );
        assert_eq!(
            cgroup_parent(CgroupDriver::Systemd, "/", "BestEffort", "a-b"),
            "kubepods-besteffort-poda_b.slice"
        );
    }
}
