//! Resource amounts as the scheduler counts them, and a pod's requests computed as upstream's
//! `resourcehelper.PodRequests` does: max(sum of containers plus restartable (sidecar) init
//! containers, each init container on top of the sidecars started before it), plus overhead.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity::{milli_value, value};

/// Default CPU request (millicores) of a container without one, for scoring only
/// (upstream `schedutil.DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Default memory request of a container without one, for scoring only (200 MB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A set of resource amounts: cpu in millicores, the rest in units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pod_number: i64,
    /// Extended resources (`example.com/gpu`, `hugepages-2Mi`, ...), sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resource {
    /// From a `ResourceList` (node allocatable, container requests).
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Resource {
        let mut r = Resource::default();
        r.add_list(list);
        r
    }

    pub fn add_list(&mut self, list: &BTreeMap<String, Quantity>) {
        for (name, q) in list {
            match name.as_str() {
                "cpu" => self.milli_cpu += milli_value(q),
                "memory" => self.memory += value(q),
                "ephemeral-storage" => self.ephemeral_storage += value(q),
                "pods" => self.allowed_pod_number += value(q),
                other if is_scalar_resource_name(other) => self.add_scalar(other, value(q)),
                _ => {}
            }
        }
    }

    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v)
    }

    pub fn add_scalar(&mut self, name: &str, amount: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 += amount,
            Err(i) => self.scalar.insert(i, (name.to_string(), amount)),
        }
    }

    fn set_max_scalar(&mut self, name: &str, amount: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 = self.scalar[i].1.max(amount),
            Err(i) => self.scalar.insert(i, (name.to_string(), amount)),
        }
    }

    /// Adds another resource set (every field, incl. pods).
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (n, v) in &other.scalar {
            self.add_scalar(n, *v);
        }
    }

    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pod_number -= other.allowed_pod_number;
        for (n, v) in &other.scalar {
            self.add_scalar(n, -*v);
        }
    }

    /// Raises each field to at least `other`'s.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (n, v) in &other.scalar {
            self.set_max_scalar(n, *v);
        }
    }

    /// True when nothing is requested (then only the pod count matters to the Fit filter).
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }
}

/// Upstream `IsScalarResourceName`: extended resources (domain-prefixed, not `kubernetes.io/`),
/// `hugepages-*` and `attachable-volumes-*`.
pub fn is_scalar_resource_name(name: &str) -> bool {
    if name.starts_with("hugepages-") || name.starts_with("attachable-volumes-") {
        return true;
    }
    match name.split_once('/') {
        Some((domain, _)) => {
            !(domain == "kubernetes.io" || domain.ends_with(".kubernetes.io"))
                || name.starts_with("requests.")
        }
        None => false,
    }
}

fn container_requests(c: &Container) -> Resource {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .map(Resource::from_list)
        .unwrap_or_default()
}

/// Like [`container_requests`], with upstream's non-zero defaults for a missing cpu or memory
/// request (used by scoring so that request-less pods still spread).
fn container_non_zero_requests(c: &Container) -> Resource {
    let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let mut r = requests.map(Resource::from_list).unwrap_or_default();
    if !requests.is_some_and(|m| m.contains_key("cpu")) {
        r.milli_cpu += DEFAULT_MILLI_CPU_REQUEST;
    }
    if !requests.is_some_and(|m| m.contains_key("memory")) {
        r.memory += DEFAULT_MEMORY_REQUEST;
    }
    r
}

fn is_restartable(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn aggregate(pod: &Pod, per_container: fn(&Container) -> Resource) -> Resource {
    let Some(spec) = pod.spec.as_ref() else {
        return Resource::default();
    };
    let mut reqs = Resource::default();
    for c in &spec.containers {
        reqs.add(&per_container(c));
    }
    // InitContainerUse(i) = sum(sidecars started before i) + init container i; a sidecar also
    // runs alongside the app containers, so it is added to the sum as well.
    let mut sidecars = Resource::default();
    let mut init_max = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let r = per_container(c);
        if is_restartable(c) {
            reqs.add(&r);
            sidecars.add(&r);
            init_max.set_max(&sidecars);
        } else {
            let mut use_ = r;
            use_.add(&sidecars);
            init_max.set_max(&use_);
        }
    }
    reqs.set_max(&init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        reqs.add_list(overhead);
    }
    reqs.allowed_pod_number = 0;
    reqs
}

/// The pod's requests as the Fit filter compares them.
pub fn pod_requests(pod: &Pod) -> Resource {
    aggregate(pod, container_requests)
}

/// The pod's requests with non-zero cpu/memory defaults per container, as scoring uses them.
pub fn pod_non_zero_requests(pod: &Pod) -> Resource {
    aggregate(pod, container_non_zero_requests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).expect("pod")
    }

    fn c(cpu: &str, mem: &str) -> serde_json::Value {
        json!({"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}})
    }

    fn sidecar(cpu: &str, mem: &str) -> serde_json::Value {
        json!({"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": cpu, "memory": mem}}})
    }

    #[test]
    fn requests_table() {
        let cases = vec![
            (
                "containers sum",
                json!({"containers": [c("100m", "1Ki"), c("200m", "2Ki")]}),
                300,
                3072,
            ),
            (
                "init max wins",
                json!({"containers": [c("100m", "1Ki")], "initContainers": [c("500m", "1Ki")]}),
                500,
                1024,
            ),
            (
                "sum wins over init",
                json!({"containers": [c("300m", "4Ki")], "initContainers": [c("200m", "1Ki"), c("100m", "2Ki")]}),
                300,
                4096,
            ),
            (
                "sidecar adds and raises later inits",
                json!({"containers": [c("100m", "1Ki")], "initContainers": [sidecar("200m", "1Ki"), c("250m", "1Ki")]}),
                450,
                2048,
            ),
            (
                "overhead added",
                json!({"containers": [c("100m", "1Ki")], "overhead": {"cpu": "50m", "memory": "1Ki"}}),
                150,
                2048,
            ),
            ("no requests", json!({"containers": [{"name": "c"}]}), 0, 0),
        ];
        for (name, spec, cpu, mem) in cases {
            let r = pod_requests(&pod(spec));
            assert_eq!((r.milli_cpu, r.memory), (cpu, mem), "{name}");
        }
    }

    #[test]
    fn non_zero_defaults_only_for_missing() {
        let p = pod(
            json!({"containers": [{"name": "c"}, {"name": "d", "resources": {"requests": {"cpu": "0"}}}]}),
        );
        let r = pod_non_zero_requests(&p);
        assert_eq!(r.milli_cpu, 100);
        assert_eq!(r.memory, 2 * DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn scalar_resources() {
        let p = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "2", "hugepages-2Mi": "4Mi", "kubernetes.io/foo": "1"}}}]}),
        );
        let r = pod_requests(&p);
        assert_eq!(r.scalar("example.com/gpu"), 2);
        assert_eq!(r.scalar("hugepages-2Mi"), 4 << 20);
        assert_eq!(r.scalar("kubernetes.io/foo"), 0);
        assert!(!r.is_zero());
    }
}
