//! What kube-controller-manager does around its controllers: its HTTPS health and metrics
//! endpoint, and leader election between two instances.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::https::{free_port, get};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rudder_client::leader::LeaderElectionConfig;
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_controller_manager::options::Config;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

use common::WAIT;

/// One controller-manager running in-process; stop it with [`Running::stop`].
struct Running {
    trigger: ShutdownTrigger,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(server: &TestApiServer, mut config: Config) -> Running {
        config.kubeconfig = Some(server.kubeconfig.clone());
        let (trigger, shutdown) = Shutdown::new();
        let task = tokio::spawn(async move {
            if let Err(e) = rudder_controller_manager::run(config, shutdown).await {
                panic!("controller-manager: {e}");
            }
        });
        Running { trigger, task }
    }

    /// Triggers shutdown and waits until `run` returned (leases released, controllers stopped).
    async fn stop(self) {
        self.trigger.trigger();
        self.task.await.expect("controller-manager task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_healthz_and_metrics_over_https() {
    let server = TestApiServer::start().await;
    let port = free_port();
    let mut config = Config::for_tests(&["deployment", "replicaset"]);
    config.bind_address = [127, 0, 0, 1].into();
    config.secure_port = port;
    let cm = Running::start(&server, config);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let (code, body) = eventually("GET /healthz answers", WAIT, || get(addr, "/healthz")).await;
    assert_eq!((code, body.as_str()), (200, "ok"));

    // A Deployment makes the deployment controller's queue count an add.
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        }
    }))
    .expect("deployment");
    Api::<Deployment>::namespaced(server.client.clone(), "default")
        .create(&PostParams::default(), &deployment)
        .await
        .expect("create deployment");
    let metrics = eventually("deployment queue adds in /metrics", WAIT, || async {
        let (code, body) = get(addr, "/metrics").await?;
        (code == 200 && body.contains("workqueue_adds_total{name=\"deployment\"}")).then_some(body)
    })
    .await;
    for family in [
        "workqueue_depth",
        "workqueue_work_duration_seconds",
        "workqueue_retries_total",
    ] {
        assert!(metrics.contains(family), "{family} missing from /metrics");
    }
    cm.stop().await;
}

fn elected(identity: &str) -> Config {
    let mut le = LeaderElectionConfig::new("kube-system", "kube-controller-manager");
    le.identity = identity.to_string();
    le.lease_duration = Duration::from_secs(3);
    le.renew_deadline = Duration::from_secs(2);
    le.retry_period = Duration::from_millis(500);
    let mut config = Config::for_tests(&["replicaset"]);
    config.leader_election = Some(le);
    config
}

async fn holder(client: &kube::Client) -> Option<String> {
    let lease = Api::<Lease>::namespaced(client.clone(), "kube-system")
        .get_opt("kube-controller-manager")
        .await
        .ok()??;
    lease.spec?.holder_identity
}

async fn pod_count(client: &kube::Client, selector: &str) -> usize {
    common::pods(client, "default", selector)
        .await
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .count()
}

async fn scale(api: &Api<ReplicaSet>, name: &str, replicas: i32) {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": replicas}})),
    )
    .await
    .expect("scale replicaset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_runs_controllers_and_the_standby_takes_over() {
    let server = TestApiServer::start().await;
    let c = &server.client;
    let a = Running::start(&server, elected("cm-a"));
    eventually("cm-a leads", WAIT, || async {
        (holder(c).await.as_deref() == Some("cm-a")).then_some(())
    })
    .await;
    let b = Running::start(&server, elected("cm-b"));

    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "app"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "ha"}},
            "template": {"metadata": {"labels": {"app": "ha"}},
                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
        }
    }))
    .expect("replicaset");
    let rss = Api::<ReplicaSet>::namespaced(c.clone(), "default");
    rss.create(&PostParams::default(), &rs)
        .await
        .expect("create replicaset");
    eventually("the leader creates 2 pods", WAIT, || async {
        (pod_count(c, "app=ha").await == 2).then_some(())
    })
    .await;
    // Two acting replicaset controllers would each create the missing pods; the standby
    // must not (it has not even started its informers).
    scale(&rss, "app", 3).await;
    eventually("the leader creates a third pod", WAIT, || async {
        (pod_count(c, "app=ha").await == 3).then_some(())
    })
    .await;
    assert_eq!(holder(c).await.as_deref(), Some("cm-a"));

    // A clean stop releases the lease (upstream ReleaseOnCancel): right after A returned the
    // lease no longer names A, well before its 3s duration would have run out.
    a.stop().await;
    assert_ne!(holder(c).await.as_deref(), Some("cm-a"));
    eventually("cm-b leads", WAIT, || async {
        (holder(c).await.as_deref() == Some("cm-b")).then_some(())
    })
    .await;
    scale(&rss, "app", 5).await;
    eventually("the new leader creates pods", WAIT, || async {
        (pod_count(c, "app=ha").await == 5).then_some(())
    })
    .await;
    // Settled at exactly the desired count: one controller acts.
    assert_eq!(pod_count(c, "app=ha").await, 5);
    b.stop().await;
}
