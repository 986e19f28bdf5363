//! The scheduler's cache of node state (upstream `internal/cache`): node infos built from Nodes
//! and assigned pods, plus pods *assumed* onto a node between the decision and the informer
//! seeing the binding. Snapshots copy only what changed since the last one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use crate::framework::{NodeInfo, PodInfo, Snapshot};

#[derive(Debug)]
struct PodState {
    pod: Arc<PodInfo>,
    node: String,
    assumed: bool,
}

#[derive(Debug)]
struct NodeEntry {
    info: Arc<NodeInfo>,
    /// False while only pods reference the node (its Node object is unknown or deleted).
    has_node: bool,
}

#[derive(Debug, Default)]
pub struct Cache {
    nodes: HashMap<String, NodeEntry>,
    pods: HashMap<String, PodState>,
    dirty: HashSet<String>,
    structure_changed: bool,
    namespace_labels: HashMap<String, BTreeMap<String, String>>,
    namespaces_changed: bool,
}

/// Whether a node update can make pods schedulable (upstream's node-update queueing hints):
/// allocatable, labels, taints or cordon changed.
fn node_scheduling_changed(old: &Node, new: &Node) -> bool {
    let alloc = |n: &Node| n.status.as_ref().and_then(|s| s.allocatable.clone());
    let taints = |n: &Node| n.spec.as_ref().and_then(|s| s.taints.clone());
    let cordon = |n: &Node| n.spec.as_ref().and_then(|s| s.unschedulable);
    let images = |n: &Node| n.status.as_ref().and_then(|s| s.images.as_ref().map(Vec::len));
    alloc(old) != alloc(new)
        || old.metadata.labels != new.metadata.labels
        || taints(old) != taints(new)
        || cordon(old) != cordon(new)
        || images(old) != images(new)
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    fn entry(&mut self, name: &str) -> &mut NodeEntry {
        if !self.nodes.contains_key(name) {
            let placeholder = Node {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(name.to_string()),
                    ..Default::default()
                },
                ..Node::default()
            };
            self.nodes.insert(
                name.to_string(),
                NodeEntry {
                    info: Arc::new(NodeInfo::new(Arc::new(placeholder))),
                    has_node: false,
                },
            );
        }
        self.dirty.insert(name.to_string());
        // The key was inserted just above when missing.
        self.nodes.get_mut(name).expect("node entry present")
    }

    /// Adds or updates a Node; returns true when pods waiting for a better node should retry.
    pub fn add_or_update_node(&mut self, node: Arc<Node>) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        let e = self.entry(&name);
        let changed = !e.has_node || node_scheduling_changed(&e.info.node, &node);
        Arc::make_mut(&mut e.info).set_node(node);
        e.has_node = true;
        // Membership, labels or images changed: rebuild the snapshot's indexes.
        if changed {
            self.structure_changed = true;
        }
        changed
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(e) = self.nodes.get_mut(name) else { return };
        e.has_node = false;
        if e.info.pods.is_empty() {
            self.nodes.remove(name);
        }
        self.structure_changed = true;
    }

    fn place(&mut self, pod: Arc<PodInfo>, node: &str, assumed: bool) {
        let e = self.entry(node);
        Arc::make_mut(&mut e.info).add_pod(pod.clone());
        self.pods.insert(
            pod.key.clone(),
            PodState {
                pod,
                node: node.to_string(),
                assumed,
            },
        );
    }

    fn unplace(&mut self, key: &str) -> Option<PodState> {
        let st = self.pods.remove(key)?;
        if let Some(e) = self.nodes.get_mut(&st.node) {
            Arc::make_mut(&mut e.info).remove_pod(key);
            self.dirty.insert(st.node.clone());
            if !e.has_node && e.info.pods.is_empty() {
                self.nodes.remove(&st.node);
            }
        }
        Some(st)
    }

    /// Counts the pod on `node` before the binding is confirmed (upstream `AssumePod`).
    pub fn assume(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.unplace(&pod.key);
        self.place(pod, node, true);
    }

    /// Undoes an assumption after a failed binding (upstream `ForgetPod`).
    pub fn forget(&mut self, key: &str) {
        if self.pods.get(key).is_some_and(|s| s.assumed) {
            self.unplace(key);
        }
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|s| s.assumed)
    }

    /// The informer saw an assigned pod: confirms an assumed pod or adds/updates it.
    pub fn add_or_update_pod(&mut self, pod: Arc<PodInfo>) {
        let Some(node) = pod.node_name().map(str::to_string) else {
            return;
        };
        self.unplace(&pod.key);
        self.place(pod, &node, false);
    }

    pub fn remove_pod(&mut self, key: &str) {
        self.unplace(key);
    }

    /// A pod the cache holds, and the node it is on (or assumed on).
    pub fn pod(&self, key: &str) -> Option<(&Arc<PodInfo>, &str)> {
        self.pods.get(key).map(|s| (&s.pod, s.node.as_str()))
    }

    /// The pods currently assigned or assumed (for tests and metrics).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn set_namespace_labels(&mut self, ns: &str, labels: Option<BTreeMap<String, String>>) {
        let changed = match labels {
            Some(l) => self.namespace_labels.insert(ns.to_string(), l.clone()) != Some(l),
            None => self.namespace_labels.remove(ns).is_some(),
        };
        self.namespaces_changed |= changed;
    }

    /// Brings `snap` up to date, copying only changed node infos (an `Arc` each).
    pub fn update_snapshot(&mut self, snap: &mut Snapshot) {
        if self.structure_changed || snap.nodes.is_empty() {
            let mut names: Vec<&String> = self
                .nodes
                .iter()
                .filter(|(_, e)| e.has_node)
                .map(|(n, _)| n)
                .collect();
            names.sort();
            snap.nodes = names.into_iter().map(|n| self.nodes[n].info.clone()).collect();
            snap.namespace_labels = self.namespace_labels.clone();
            self.namespaces_changed = false;
            snap.reindex();
            self.structure_changed = false;
            self.dirty.clear();
            return;
        }
        let mut affinity_changed = false;
        for name in self.dirty.drain() {
            let (Some(&i), Some(e)) = (snap.index.get(&name), self.nodes.get(&name)) else {
                continue;
            };
            let old = &snap.nodes[i];
            affinity_changed |= old.pods_with_affinity.len() != e.info.pods_with_affinity.len()
                || old.pods_with_required_anti_affinity.len()
                    != e.info.pods_with_required_anti_affinity.len();
            snap.nodes[i] = e.info.clone();
        }
        if affinity_changed {
            snap.refresh_affinity_lists();
        }
        if self.namespaces_changed {
            snap.namespace_labels = self.namespace_labels.clone();
            self.namespaces_changed = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::node_info::testing::{node, pod};
    use serde_json::json;

    fn bound(name: &str, node_name: &str, cpu: &str) -> Arc<PodInfo> {
        pod(name, cpu, json!({"spec": {"nodeName": node_name}}))
    }

    #[test]
    fn assume_confirm_forget() {
        let mut c = Cache::new();
        let mut snap = Snapshot::default();
        c.add_or_update_node(node("n1", "2", "1Gi", json!({})));
        c.add_or_update_node(node("n2", "2", "1Gi", json!({})));
        c.update_snapshot(&mut snap);
        assert_eq!(snap.len(), 2);

        let p = pod("p", "500m", json!({}));
        c.assume(p.clone(), "n1");
        assert!(c.is_assumed(&p.key));
        c.update_snapshot(&mut snap);
        assert_eq!(snap.get("n1").map(|n| n.requested.milli_cpu), Some(500));

        // The informer reports it bound: confirmed, counted once.
        c.add_or_update_pod(bound("p", "n1", "500m"));
        assert!(!c.is_assumed(&p.key));
        c.update_snapshot(&mut snap);
        assert_eq!(snap.get("n1").map(|n| n.requested.milli_cpu), Some(500));
        assert_eq!(c.pod_count(), 1);

        // A failed binding is forgotten; confirmed pods are not.
        let q = pod("q", "1", json!({}));
        c.assume(q.clone(), "n2");
        c.forget(&q.key);
        c.forget(&p.key);
        c.update_snapshot(&mut snap);
        assert_eq!(snap.get("n2").map(|n| n.requested.milli_cpu), Some(0));
        assert_eq!(snap.get("n1").map(|n| n.requested.milli_cpu), Some(500));
    }

    #[test]
    fn snapshot_shares_unchanged_nodes() {
        let mut c = Cache::new();
        let mut snap = Snapshot::default();
        c.add_or_update_node(node("a", "1", "1Gi", json!({})));
        c.add_or_update_node(node("b", "1", "1Gi", json!({})));
        c.update_snapshot(&mut snap);
        let b_before = snap.get("b").cloned().expect("b");
        c.assume(pod("p", "100m", json!({})), "a");
        c.update_snapshot(&mut snap);
        assert!(Arc::ptr_eq(&b_before, snap.get("b").expect("b")));
        assert_eq!(snap.get("a").map(|n| n.pods.len()), Some(1));
    }

    #[test]
    fn pods_before_their_node_and_node_changes() {
        let mut c = Cache::new();
        let mut snap = Snapshot::default();
        c.add_or_update_pod(bound("early", "late-node", "100m"));
        c.update_snapshot(&mut snap);
        assert!(snap.is_empty());
        assert!(c.add_or_update_node(node("late-node", "1", "1Gi", json!({}))));
        c.update_snapshot(&mut snap);
        assert_eq!(snap.get("late-node").map(|n| n.requested.milli_cpu), Some(100));
        // A heartbeat-like update does not wake pods; a new label does.
        assert!(!c.add_or_update_node(node("late-node", "1", "1Gi", json!({}))));
        assert!(c.add_or_update_node(node(
            "late-node",
            "1",
            "1Gi",
            json!({"metadata": {"labels": {"x": "y"}}})
        )));
        c.remove_node("late-node");
        c.update_snapshot(&mut snap);
        assert!(snap.is_empty());
    }
}
