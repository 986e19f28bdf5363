//! Pure decisions of the replica manager (upstream `manageReplicas`, `calculateStatus`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::owner::ReplicaStatus;
use crate::controllers::util::pod;

/// Upstream `BurstReplicas`: at most this many creates or deletes per sync.
pub const BURST_REPLICAS: usize = 500;

/// Upstream `SlowStartInitialBatchSize`.
const SLOW_START_INITIAL_BATCH: usize = 1;

/// How to move the pod count toward `replicas`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scale {
    Steady,
    Create(usize),
    /// Names of the pods to delete, in upstream's order.
    Delete(Vec<String>),
}

/// Upstream `manageReplicas` decision over the owner's active pods.
pub fn scale(replicas: i32, active: &[&Pod]) -> Scale {
    let want = usize::try_from(replicas.max(0)).unwrap_or(0);
    let have = active.len();
    if have < want {
        Scale::Create((want - have).min(BURST_REPLICAS))
    } else if have > want {
        let n = (have - want).min(BURST_REPLICAS);
        Scale::Delete(
            pod::pods_to_delete(active, n)
                .into_iter()
                .map(|p| p.metadata.name.clone().unwrap_or_default())
                .collect(),
        )
    } else {
        Scale::Steady
    }
}

/// Upstream `slowStartBatch` sizes: 1, 2, 4, ... until `count` is covered. Creation stops at the
/// first batch with an error, so a broken template costs one failed create, not hundreds.
pub fn slow_start_batches(count: usize) -> Vec<usize> {
    let mut batches = Vec::new();
    let mut remaining = count;
    let mut size = SLOW_START_INITIAL_BATCH;
    while remaining > 0 {
        let b = size.min(remaining);
        batches.push(b);
        remaining -= b;
        size *= 2;
    }
    batches
}

/// Upstream `calculateStatus` over the owner's active pods.
pub fn status(
    active: &[&Pod],
    template_labels: Option<&BTreeMap<String, String>>,
    min_ready_seconds: i32,
    generation: i64,
    now: Timestamp,
) -> ReplicaStatus {
    let fully_labeled = |p: &Pod| {
        let labels = p.metadata.labels.as_ref();
        template_labels
            .into_iter()
            .flatten()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    };
    let count =
        |f: &dyn Fn(&Pod) -> bool| i32::try_from(active.iter().filter(|p| f(p)).count()).unwrap_or(i32::MAX);
    ReplicaStatus {
        replicas: count(&|_| true),
        fully_labeled_replicas: count(&fully_labeled),
        ready_replicas: count(&pod::is_ready),
        available_replicas: count(&|p| pod::is_available(p, min_ready_seconds, now)),
        observed_generation: generation,
    }
}

/// Seconds until the next ready pod becomes available (requeue then to count it).
pub fn next_availability_check(active: &[&Pod], min_ready_seconds: i32, now: Timestamp) -> Option<i64> {
    if min_ready_seconds <= 0 {
        return None;
    }
    active
        .iter()
        .filter_map(|p| pod::seconds_until_available(p, min_ready_seconds, now))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::util::pod::tests::pod;

    #[test]
    fn scale_table() {
        let a = pod("a", "n1", "Running", Some(10));
        let b = pod("b", "", "Pending", None);
        let c = pod("c", "n2", "Running", None);
        let pods = [&a, &b, &c];
        assert_eq!(scale(3, &pods), Scale::Steady);
        assert_eq!(scale(5, &pods), Scale::Create(2));
        assert_eq!(scale(1, &pods), Scale::Delete(vec!["b".into(), "c".into()]));
        assert_eq!(scale(0, &[]), Scale::Steady);
        assert_eq!(scale(-1, &pods[..1]), Scale::Delete(vec!["a".into()]));
        assert_eq!(scale(10_000, &[]), Scale::Create(BURST_REPLICAS));
    }

    #[test]
    fn slow_start_doubles() {
        assert_eq!(slow_start_batches(0), Vec::<usize>::new());
        assert_eq!(slow_start_batches(1), vec![1]);
        assert_eq!(slow_start_batches(10), vec![1, 2, 4, 3]);
        assert_eq!(slow_start_batches(500).iter().sum::<usize>(), 500);
    }

    #[test]
    fn status_counts() {
        let now = Timestamp::from_second(1000).expect("ts");
        let mut a = pod("a", "n1", "Running", Some(990));
        a.metadata.labels = Some(BTreeMap::from([("app".into(), "web".into())]));
        let b = pod("b", "n1", "Running", Some(100));
        let c = pod("c", "", "Pending", None);
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let s = status(&[&a, &b, &c], Some(&labels), 30, 4, now);
        assert_eq!(
            s,
            ReplicaStatus {
                replicas: 3,
                fully_labeled_replicas: 1,
                ready_replicas: 2,
                available_replicas: 1,
                observed_generation: 4,
            }
        );
        assert_eq!(next_availability_check(&[&a, &b, &c], 30, now), Some(20));
        assert_eq!(next_availability_check(&[&a], 0, now), None);
    }
}
