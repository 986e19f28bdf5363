//! `make bench-controller-manager`: a 1,000-replica Deployment goes from 0 to 1,000 pods created
//! through an in-process apiserver (embedded store), with the Deployment and ReplicaSet
//! controllers running in-process. Target: < 5 s.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::core::PartialObjectMeta;
use rudder_component::shutdown::Shutdown;
use rudder_controller_manager::options::Config;
use rudder_testkit::TestApiServer;
use serde_json::json;

const REPLICAS: usize = 1000;
const TARGET: Duration = Duration::from_secs(5);
const GIVE_UP: Duration = Duration::from_secs(120);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()?;
    runtime.block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    let server = TestApiServer::start().await;
    let mut config = Config::for_tests(&["deployment", "replicaset"]);
    config.kubeconfig = Some(server.kubeconfig.clone());
    let (trigger, shutdown) = Shutdown::new();
    let cm = tokio::spawn(rudder_controller_manager::run(config, shutdown));

    let client = server.client.clone();
    let pods: Api<PartialObjectMeta<Pod>> = Api::namespaced(client.clone(), "default");
    // Let the controllers' informers list before the clock starts.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "bench"},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "bench"}},
            "template": {
                "metadata": {"labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    }))?;
    let start = Instant::now();
    deployments.create(&PostParams::default(), &d).await?;
    let mut first = None;
    let mut half = None;
    let elapsed = loop {
        let n = pods
            .list(&ListParams::default().labels("app=bench"))
            .await?
            .items
            .len();
        if n > 0 && first.is_none() {
            first = Some(start.elapsed());
        }
        if n >= REPLICAS / 2 && half.is_none() {
            half = Some(start.elapsed());
        }
        if n >= REPLICAS {
            break start.elapsed();
        }
        if start.elapsed() > GIVE_UP {
            anyhow::bail!("only {n} of {REPLICAS} pods after {GIVE_UP:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let secs = elapsed.as_secs_f64();
    println!("controller-manager: Deployment 0 -> {REPLICAS} pods created");
    println!(
        "  first pod {:.3} s, {} pods {:.3} s, all {REPLICAS} pods {secs:.3} s ({:.0} pods/s)",
        first.unwrap_or_default().as_secs_f64(),
        REPLICAS / 2,
        half.unwrap_or_default().as_secs_f64(),
        REPLICAS as f64 / secs
    );
    let met = elapsed < TARGET;
    println!(
        "  target < {} s: {}",
        TARGET.as_secs(),
        if met { "MET" } else { "NOT MET" }
    );
    trigger.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(5), cm).await;
    Ok(())
}
