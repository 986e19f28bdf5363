//! The decision rate: the scheduling algorithm over the benchmark's nodes and pods, with the
//! cache and snapshot maintained exactly as the scheduling loop does, and no API writes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;
use rudder_scheduler::algorithm::{Algorithm, Nominated};
use rudder_scheduler::cache::Cache;
use rudder_scheduler::framework::{CycleState, PodInfo, Snapshot};
use rudder_scheduler::plugins::registry::PluginDeps;
use rudder_scheduler::profile::Profile;

use super::setup::NAMESPACE;

pub(crate) struct Decision {
    pub(crate) pods: usize,
    pub(crate) elapsed: Duration,
    pub(crate) avg_evaluated: usize,
}

pub(crate) async fn measure(client: &kube::Client) -> anyhow::Result<Decision> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .context("list nodes")?;
    let pods = Api::<Pod>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default())
        .await
        .context("list pods")?;
    let infos: Vec<Arc<PodInfo>> = pods
        .items
        .into_iter()
        .map(|p| Arc::new(PodInfo::new(p, 0)))
        .collect();
    let mut cache = Cache::new();
    for n in nodes.items {
        cache.add_or_update_node(Arc::new(n));
    }
    let profile = Profile::default_profile(&PluginDeps::default());
    let mut alg = Algorithm::default();
    let mut snapshot = Snapshot::default();
    let nominated = Nominated::default();
    let mut evaluated = 0usize;
    let mut scheduled = 0usize;
    let start = Instant::now();
    for pod in &infos {
        cache.update_snapshot(&mut snapshot);
        let mut state = CycleState::default();
        if let Ok(r) = alg.schedule(&profile, &mut state, pod, &snapshot, &nominated) {
            evaluated += r.evaluated_nodes;
            scheduled += 1;
            cache.assume(pod.clone(), &r.node);
        }
    }
    let elapsed = start.elapsed();
    anyhow::ensure!(
        scheduled == infos.len(),
        "only {scheduled} of {} pods fit in the decision run",
        infos.len()
    );
    Ok(Decision {
        pods: scheduled,
        elapsed,
        avg_evaluated: evaluated / scheduled.max(1),
    })
}
