//! The raw-CRI floor: what containerd alone takes to start the benchmark's pods at the same rate,
//! with no kubelet and no apiserver. Each pod is RunPodSandbox → CreateContainer →
//! StartContainer on the configs the kubelet builds (same sandbox, cgroup, CNI and log layout),
//! issued at the burst's rate, each pod on its own task, timed from its tick to StartContainer
//! returning: once with no bound on concurrency, once with the kubelet's own bound on starts in
//! flight (`maxParallelStarts`). The kubelet's burst latency is read against these.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use rudder_kubelet::config::Config;
use rudder_kubelet::cri::RuntimeService;
use rudder_kubelet::cri::remote::RemoteRuntime;
use rudder_kubelet::pod::spec::{ContainerInputs, container_config, sandbox_config};
use serde_json::json;

/// One pod like the benchmark's, under a name and uid of its own.
fn pod(i: usize, image: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("raw{i}"), "namespace": "default", "uid": format!("raw-cri-floor-{i}")},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": image,
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}]}
    }))
    .expect("pod")
}

/// Starts one pod; its sandbox id, and the time from `tick` to its container running.
async fn start(
    runtime: &RemoteRuntime,
    config: &Config,
    pod: &Pod,
    tick: Instant,
) -> Result<(String, Duration), String> {
    let sandbox = sandbox_config(pod, config, 0, None);
    std::fs::create_dir_all(&sandbox.log_directory).map_err(|e| format!("log directory: {e}"))?;
    let id = runtime
        .run_pod_sandbox(sandbox.clone())
        .await
        .map_err(|e| e.to_string())?;
    let container = pod
        .spec
        .as_ref()
        .map(|s| s.containers[0].clone())
        .unwrap_or_default();
    let inputs = ContainerInputs {
        restart_count: 0,
        env: Vec::new(),
        mounts: Vec::new(),
        node_memory: 0,
    };
    let cfg = container_config(pod, &container, inputs);
    let created = runtime
        .create_container(&id, cfg, sandbox)
        .await
        .map_err(|e| e.to_string())?;
    runtime
        .start_container(&created)
        .await
        .map_err(|e| e.to_string())?;
    Ok((id, tick.elapsed()))
}

/// Starts `pods` pods at `rate` per second, at most `bound` at once (None: no bound), and
/// removes them again; the sorted latencies (fewer than `pods` when some failed, the first
/// failure printed).
pub(crate) async fn floor(
    endpoint: &str,
    config: Config,
    image: &str,
    pods: usize,
    rate: u64,
    bound: Option<usize>,
) -> Vec<Duration> {
    let runtime = match RemoteRuntime::connect(endpoint) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("raw CRI floor: {e}");
            return Vec::new();
        }
    };
    let config = Arc::new(config);
    let slots = Arc::new(tokio::sync::Semaphore::new(
        bound.unwrap_or(tokio::sync::Semaphore::MAX_PERMITS),
    ));
    let begin = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..pods {
        let tick = begin + Duration::from_millis(i as u64 * 1000 / rate);
        tokio::time::sleep_until(tick.into()).await;
        let (runtime, config, slots) = (runtime.clone(), config.clone(), slots.clone());
        let pod = pod(i, image);
        tasks.push(tokio::spawn(async move {
            // The wait for a slot counts: the latency runs from the pod's tick.
            let _slot = slots.acquire().await.map_err(|e| e.to_string())?;
            start(&runtime, &config, &pod, tick).await
        }));
    }
    let mut latencies = Vec::new();
    let mut sandboxes = Vec::new();
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok((id, latency))) => {
                sandboxes.push(id);
                latencies.push(latency);
            }
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(e.to_string())),
        }
    }
    if let Some(e) = failure {
        eprintln!("raw CRI floor: a pod failed to start: {e}");
    }
    for id in sandboxes {
        let _ = runtime.stop_pod_sandbox(&id).await;
        let _ = runtime.remove_pod_sandbox(&id).await;
    }
    latencies.sort();
    latencies
}
