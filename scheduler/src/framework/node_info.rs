//! Aggregated state of one node: allocatable, what its pods (incl. assumed ones) request, used
//! host ports, images, and which pods carry affinity (upstream `framework.NodeInfo`).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use super::pod_info::{HostPort, PodInfo};
use super::resource::Resource;

#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub name: String,
    pub allocatable: Resource,
    pub requested: Resource,
    pub non_zero_requested: Resource,
    pub pods: Vec<Arc<PodInfo>>,
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    pub used_ports: Vec<HostPort>,
    /// Normalised image name → size in bytes, from `status.images`.
    pub image_sizes: BTreeMap<String, i64>,
    /// Bumped on every change; the snapshot copies only nodes whose generation moved.
    pub generation: u64,
}

/// Upstream `normalizedImageName`: a name without a tag or digest means `:latest`.
pub fn normalized_image_name(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut info = NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            node: node.clone(),
            allocatable: Resource::default(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            pods: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            used_ports: Vec::new(),
            image_sizes: BTreeMap::new(),
            generation: 0,
        };
        info.set_node(node);
        info
    }

    /// Replaces the Node object (allocatable, images) keeping the pods.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let status = node.status.as_ref();
        self.allocatable = status
            .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
            .map(Resource::from_list)
            .unwrap_or_default();
        self.image_sizes.clear();
        for image in status.iter().flat_map(|s| s.images.iter().flatten()) {
            for name in image.names.iter().flatten() {
                self.image_sizes
                    .insert(normalized_image_name(name), image.size_bytes.unwrap_or(0));
            }
        }
        self.node = node;
    }

    pub fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.node.metadata.labels.as_ref()
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels().and_then(|l| l.get(key)).map(String::as_str)
    }

    pub fn taints(&self) -> &[k8s_openapi::api::core::v1::Taint] {
        self.node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or(&[])
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero_requests);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity.push(pod.clone());
        }
        if pod.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        self.pods.push(pod);
        self.generation += 1;
    }

    /// Removes the pod with `key`; returns whether it was there.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.key == key) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.sub(&pod.non_zero_requests);
        for hp in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        self.pods_with_affinity.retain(|p| p.key != key);
        self.pods_with_required_anti_affinity.retain(|p| p.key != key);
        self.generation += 1;
        true
    }

    /// Upstream `HostPortInfo.CheckConflict`: same protocol and port, and either IP is 0.0.0.0
    /// (or empty) or both are equal.
    pub fn port_conflicts(&self, want: &HostPort) -> bool {
        let wild = |ip: &str| ip.is_empty() || ip == "0.0.0.0";
        self.used_ports.iter().any(|u| {
            u.port == want.port
                && u.protocol == want.protocol
                && (wild(&u.ip) || wild(&want.ip) || u.ip == want.ip)
        })
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders shared by the plugin tests.
    use super::*;
    use serde_json::json;

    pub(crate) fn node(name: &str, cpu: &str, mem: &str, extra: serde_json::Value) -> Arc<Node> {
        let mut v = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"}}
        });
        merge(&mut v, extra);
        Arc::new(serde_json::from_value(v).expect("node"))
    }

    pub(crate) fn pod(name: &str, cpu: &str, extra: serde_json::Value) -> Arc<PodInfo> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}
        });
        merge(&mut v, extra);
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(v).expect("pod");
        let prio = pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
        Arc::new(PodInfo::new(pod, prio))
    }

    pub(crate) fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
        match (base, extra) {
            (serde_json::Value::Object(b), serde_json::Value::Object(e)) => {
                for (k, v) in e {
                    merge(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, e) => *b = e,
        }
    }

    pub(crate) fn node_info(node: Arc<Node>, pods: &[Arc<PodInfo>]) -> NodeInfo {
        let mut n = NodeInfo::new(node);
        for p in pods {
            n.add_pod(p.clone());
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn add_and_remove_pods_keep_totals() {
        let p1 = pod(
            "a",
            "100m",
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}], "resources": {"requests": {"cpu": "100m"}}}]}}),
        );
        let p2 = pod("b", "200m", json!({}));
        let mut n = node_info(node("n", "1", "1Gi", json!({})), &[p1.clone(), p2]);
        assert_eq!(n.requested.milli_cpu, 300);
        assert_eq!(n.used_ports.len(), 1);
        assert!(n.remove_pod(&p1.key));
        assert_eq!(n.requested.milli_cpu, 200);
        assert!(n.used_ports.is_empty());
        assert!(!n.remove_pod("missing"));
    }

    #[test]
    fn image_names_normalised() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("reg:5000/nginx"), "reg:5000/nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.2"), "nginx:1.2");
        assert_eq!(normalized_image_name("nginx@sha256:ab"), "nginx@sha256:ab");
    }
}
