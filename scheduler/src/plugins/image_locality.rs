//! ImageLocality: prefers nodes that already have the pod's images, weighted by image size and
//! by how widely the image is spread (to avoid piling pods onto the one node with an image).

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::node_info::normalized_image_name;
use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, Plugin, PodInfo, PreScorePlugin, ScorePlugin, Snapshot, Status,
};

use super::names::IMAGE_LOCALITY;

const MB: i64 = 1024 * 1024;
/// Below this sum the images are too small to matter.
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per-container ceiling; the total ceiling scales with the number of containers.
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

#[derive(Debug, Default)]
pub struct ImageLocality;

/// The cluster-wide image spread, taken from the snapshot in PreScore.
struct Spread {
    image_nodes: Arc<HashMap<String, usize>>,
    total_nodes: usize,
}

const STATE_KEY: &str = "PreScoreImageLocality";

/// Upstream `calculatePriority`.
pub fn calculate_priority(sum_scores: i64, num_containers: usize) -> i64 {
    let max_threshold = MAX_CONTAINER_THRESHOLD * num_containers as i64;
    let sum = sum_scores.clamp(MIN_THRESHOLD, max_threshold.max(MIN_THRESHOLD));
    if max_threshold <= MIN_THRESHOLD {
        return 0;
    }
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        IMAGE_LOCALITY
    }
}

/// Computes the score from the node and cluster-wide image counts.
pub fn image_score(
    pod: &PodInfo,
    node: &NodeInfo,
    image_nodes: &HashMap<String, usize>,
    total_nodes: usize,
) -> i64 {
    let mut n = 0;
    let mut sum = 0i64;
    for image in pod.images.iter() {
        n += 1;
        if node.image_sizes.is_empty() {
            continue;
        }
        let Some(image) = image.as_deref() else { continue };
        let name = normalized_image_name(image);
        if let Some(size) = node.image_sizes.get(&name) {
            let spread = image_nodes.get(&name).copied().unwrap_or(1) as f64 / total_nodes.max(1) as f64;
            sum += (*size as f64 * spread) as i64;
        }
    }
    calculate_priority(sum, n)
}

impl PreScorePlugin for ImageLocality {
    fn pre_score(
        &self,
        state: &mut CycleState,
        _: &PodInfo,
        _: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Status {
        state.write(
            STATE_KEY,
            Spread {
                image_nodes: snapshot.image_nodes.clone(),
                total_nodes: snapshot.len(),
            },
        );
        Status::success()
    }
}

impl ScorePlugin for ImageLocality {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        if node.image_sizes.is_empty() {
            return 0;
        }
        match state.read::<Spread>(STATE_KEY) {
            Some(s) => image_score(pod, node, &s.image_nodes, s.total_nodes),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::node_info::testing::*;
    use serde_json::json;

    #[test]
    fn priority_thresholds() {
        assert_eq!(calculate_priority(0, 1), 0);
        assert_eq!(calculate_priority(MIN_THRESHOLD, 1), 0);
        assert_eq!(calculate_priority(2000 * MB, 1), 100);
        assert_eq!(
            calculate_priority(MIN_THRESHOLD + (MAX_CONTAINER_THRESHOLD - MIN_THRESHOLD) / 2, 1),
            50
        );
    }

    #[test]
    fn score_uses_spread() {
        let n = node_info(
            node(
                "n",
                "1",
                "1Gi",
                json!({"status": {"images": [{"names": ["big:1"], "sizeBytes": 500 * MB}]}}),
            ),
            &[],
        );
        let p = pod(
            "p",
            "0",
            json!({"spec": {"containers": [{"name": "c", "image": "big:1"}]}}),
        );
        let counts: HashMap<String, usize> = [("big:1".to_string(), 2)].into_iter().collect();
        // Half the nodes have it: 250 MB effective → (250-23)*100/(1000-23) = 23.
        assert_eq!(image_score(&p, &n, &counts, 4), 23);
        let other = pod(
            "q",
            "0",
            json!({"spec": {"containers": [{"name": "c", "image": "small"}]}}),
        );
        assert_eq!(image_score(&other, &n, &counts, 4), 0);
    }
}
