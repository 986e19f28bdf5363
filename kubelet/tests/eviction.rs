//! Hard eviction on the in-memory fake runtime: a memory threshold above what the machine has
//! puts the node under MemoryPressure, and the eviction manager evicts pods in upstream's order
//! (never a system-critical one) with upstream's status, condition and event.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, PostParams};
use rudder_component::shutdown::Shutdown;
use rudder_kubelet::config::Config;
use rudder_kubelet::cri::fake::FakeRuntime;
use rudder_kubelet::eviction::Threshold;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

const NODE: &str = "pressured";

fn phase(p: &Pod) -> Option<String> {
    p.status.as_ref()?.phase.clone()
}

fn condition(p: &Pod, t: &str) -> Option<(String, Option<String>)> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_pressure_evicts_best_effort_pods_but_not_critical_ones() {
    let server = TestApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(NODE);
    config.root_dir = dir.path().join("root");
    config.pod_logs_dir = dir.path().join("logs");
    config.node_ip = Some([127, 0, 0, 1].into());
    config.fail_swap_on = false;
    config.port = 0;
    config.cni.conf_dir = dir.path().join("net.d");
    config.pod_cidr = Some("10.88.0.0/16".into());
    config.node_status_update_frequency = Duration::from_secs(1);
    config.pod_resync_period = Duration::from_millis(300);
    // More than any machine has available: the node is under memory pressure throughout.
    config.eviction_hard.memory_available = Threshold::Bytes(1 << 60);
    config.eviction_monitoring_period = Duration::from_millis(500);
    let fake = Arc::new(FakeRuntime::with_images(&["present:1"]));
    let (_trigger, shutdown) = Shutdown::new();
    let client = server.client.clone();
    let (rt, im) = (fake.clone(), fake.clone());
    tokio::spawn(
        async move { rudder_kubelet::run::run_with_runtime(config, client, rt, im, shutdown).await },
    );

    let api: Api<Pod> = Api::namespaced(server.client.clone(), "default");
    // The class and its value together pass upstream's Priority admission (which refuses a
    // bare priority that differs from the class's) and mean the same without it.
    for (name, class, priority) in [
        ("critical", Some("system-node-critical"), 2_000_001_000),
        ("best-effort", None, 0),
    ] {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": NODE, "priority": priority, "priorityClassName": class,
                     "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "present:1"}]}
        }))
        .unwrap();
        api.create(&PostParams::default(), &p).await.unwrap();
    }

    let evicted = eventually("best-effort evicted", Duration::from_secs(30), || async {
        let p = api.get("best-effort").await.ok()?;
        (phase(&p).as_deref() == Some("Failed")).then_some(p)
    })
    .await;
    let st = evicted.status.clone().unwrap();
    assert_eq!(st.reason.as_deref(), Some("Evicted"));
    let message = st.message.unwrap_or_default();
    assert!(
        message.starts_with("The node was low on resource: memory. Threshold quantity: 1Ei, available: "),
        "{message}"
    );
    assert_eq!(
        condition(&evicted, "DisruptionTarget"),
        Some(("True".into(), Some("TerminationByKubelet".into())))
    );
    assert_eq!(
        condition(&evicted, "Ready").map(|c| c.0).as_deref(),
        Some("False")
    );

    // The node reports the pressure with upstream's reason.
    let nodes: Api<Node> = Api::all(server.client.clone());
    eventually("MemoryPressure=True", Duration::from_secs(30), || async {
        let n = nodes.get(NODE).await.ok()?;
        n.status?
            .conditions?
            .iter()
            .any(|c| {
                c.type_ == "MemoryPressure"
                    && c.status == "True"
                    && c.reason.as_deref() == Some("KubeletHasInsufficientMemory")
            })
            .then_some(())
    })
    .await;

    // An Evicted event on the pod.
    let events: Api<Event> = Api::namespaced(server.client.clone(), "default");
    eventually("Evicted event", Duration::from_secs(30), || async {
        let l = events.list(&Default::default()).await.ok()?;
        l.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("Evicted")
                    && e.involved_object.name.as_deref() == Some("best-effort")
            })
            .then_some(())
    })
    .await;

    // Several eviction rounds later the critical pod still runs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let critical = api.get("critical").await.unwrap();
    assert_eq!(phase(&critical).as_deref(), Some("Running"));
    assert_eq!(
        phase(&api.get("best-effort").await.unwrap()).as_deref(),
        Some("Failed"),
        "stays Failed"
    );
    // Only the critical pod's sandbox and container are left in the runtime.
    assert_eq!(fake.counts(), (1, 1));

    // Deleting the evicted pod's object goes through.
    api.delete("best-effort", &Default::default()).await.unwrap();
    eventually("evicted pod deleted", Duration::from_secs(30), || async {
        api.get_opt("best-effort").await.ok()?.is_none().then_some(())
    })
    .await;
}
