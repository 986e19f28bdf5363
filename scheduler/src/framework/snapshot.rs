//! An immutable view of every node for one scheduling cycle (upstream `cache.Snapshot`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::node_info::NodeInfo;

#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub nodes: Vec<Arc<NodeInfo>>,
    pub index: HashMap<String, usize>,
    /// Indexes of nodes that run pods with any affinity term.
    pub have_pods_with_affinity: Vec<usize>,
    /// Indexes of nodes that run pods with required anti-affinity.
    pub have_pods_with_required_anti_affinity: Vec<usize>,
    /// Image name → number of nodes that have it (ImageLocality's spread factor).
    pub image_nodes: Arc<HashMap<String, usize>>,
    /// Namespace → labels, for affinity terms with a namespaceSelector.
    pub namespace_labels: HashMap<String, BTreeMap<String, String>>,
}

impl Snapshot {
    /// Builds a snapshot from node infos (tests and the cache's full rebuild).
    pub fn from_nodes(nodes: Vec<Arc<NodeInfo>>) -> Snapshot {
        let mut s = Snapshot {
            nodes,
            ..Snapshot::default()
        };
        s.reindex();
        s
    }

    /// Recomputes every derived index from `nodes`.
    pub fn reindex(&mut self) {
        self.index = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        self.refresh_affinity_lists();
        self.refresh_images();
    }

    pub fn refresh_images(&mut self) {
        let mut images: HashMap<String, usize> = HashMap::new();
        for n in &self.nodes {
            for image in n.image_sizes.keys() {
                *images.entry(image.clone()).or_default() += 1;
            }
        }
        self.image_nodes = Arc::new(images);
    }

    pub fn refresh_affinity_lists(&mut self) {
        self.have_pods_with_affinity.clear();
        self.have_pods_with_required_anti_affinity.clear();
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.pods_with_affinity.is_empty() {
                self.have_pods_with_affinity.push(i);
            }
            if !n.pods_with_required_anti_affinity.is_empty() {
                self.have_pods_with_required_anti_affinity.push(i);
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn ns_labels(&self, ns: &str) -> Option<&BTreeMap<String, String>> {
        self.namespace_labels.get(ns)
    }
}
