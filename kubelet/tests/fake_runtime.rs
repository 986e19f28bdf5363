//! The pod logic against the in-memory fake runtime (runs anywhere, no root): image pull
//! errors and back-off, config errors, crash loops, restart policies, deletion cleanup.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, ContainerStatus, Pod};
use kube::api::{Api, PostParams};
use rudder_component::shutdown::Shutdown;
use rudder_kubelet::config::Config;
use rudder_kubelet::cri::fake::FakeRuntime;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

struct Fixture {
    server: TestApiServer,
    fake: Arc<FakeRuntime>,
    _dir: tempfile::TempDir,
    _trigger: rudder_component::shutdown::ShutdownTrigger,
}

async fn start() -> Fixture {
    let server = TestApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("fake-node");
    config.root_dir = dir.path().join("root");
    config.pod_logs_dir = dir.path().join("logs");
    config.node_ip = Some([127, 0, 0, 1].into());
    config.fail_swap_on = false;
    config.port = 0;
    config.cni.conf_dir = dir.path().join("net.d");
    config.pod_cidr = Some("10.88.0.0/16".into());
    config.crash_loop_backoff_initial = Duration::from_secs(1);
    config.crash_loop_backoff_max = Duration::from_secs(4);
    config.pod_resync_period = Duration::from_millis(300);
    let fake = Arc::new(FakeRuntime::with_images(&["present:1"]));
    let (trigger, shutdown) = Shutdown::new();
    let client = server.client.clone();
    let (rt, im) = (fake.clone(), fake.clone());
    tokio::spawn(
        async move { rudder_kubelet::run::run_with_runtime(config, client, rt, im, shutdown).await },
    );
    Fixture {
        server,
        fake,
        _dir: dir,
        _trigger: trigger,
    }
}

fn pod(name: &str, policy: &str, containers: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": "fake-node", "restartPolicy": policy, "terminationGracePeriodSeconds": 0, "containers": containers}
    }))
    .unwrap()
}

fn status<'a>(p: &'a Pod, c: &str) -> Option<&'a ContainerStatus> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|s| s.name == c)
}

fn waiting(p: &Pod, c: &str) -> Option<String> {
    status(p, c)?.state.as_ref()?.waiting.as_ref()?.reason.clone()
}

async fn wait(api: &Api<Pod>, name: &str, what: &str, check: impl Fn(&Pod) -> bool) -> Pod {
    eventually(what, Duration::from_secs(30), || async {
        let p = api.get(name).await.ok()?;
        check(&p).then_some(p)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_errors_config_errors_crash_loops_and_cleanup() {
    let f = start().await;
    let api: Api<Pod> = Api::namespaced(f.server.client.clone(), "default");
    let pp = PostParams::default();
    f.fake.set_unpullable("missing:1");
    f.fake.exit_on_start("crasher", 2);
    f.fake.exit_on_start("done", 0);

    api.create(
        &pp,
        &pod("pull", "Always", json!([{"name": "c", "image": "missing:1"}])),
    )
    .await
    .unwrap();
    api.create(
        &pp,
        &pod(
            "never",
            "Always",
            json!([{"name": "c", "image": "absent:1", "imagePullPolicy": "Never"}]),
        ),
    )
    .await
    .unwrap();
    api.create(
        &pp,
        &pod(
            "cfg",
            "Always",
            json!([{"name": "c", "image": "present:1",
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "k"}}}]}]),
        ),
    )
    .await
    .unwrap();
    api.create(
        &pp,
        &pod(
            "crash",
            "OnFailure",
            json!([{"name": "crasher", "image": "present:1"}]),
        ),
    )
    .await
    .unwrap();
    api.create(
        &pp,
        &pod(
            "job",
            "OnFailure",
            json!([{"name": "done", "image": "present:1"}]),
        ),
    )
    .await
    .unwrap();
    api.create(
        &pp,
        &pod(
            "fail",
            "Never",
            json!([{"name": "crasher", "image": "present:1"}]),
        ),
    )
    .await
    .unwrap();

    wait(&api, "pull", "ErrImagePull then ImagePullBackOff", |p| {
        waiting(p, "c").as_deref() == Some("ImagePullBackOff")
    })
    .await;
    let never = wait(&api, "never", "ErrImageNeverPull", |p| {
        waiting(p, "c").as_deref() == Some("ErrImageNeverPull")
    })
    .await;
    assert_eq!(never.status.unwrap().phase.as_deref(), Some("Pending"));
    let cfg = wait(&api, "cfg", "CreateContainerConfigError", |p| {
        waiting(p, "c").as_deref() == Some("CreateContainerConfigError")
    })
    .await;
    let msg = status(&cfg, "c")
        .unwrap()
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap()
        .message
        .unwrap();
    assert_eq!(msg, "configmap \"later\" not found");
    let crash = wait(&api, "crash", "CrashLoopBackOff", |p| {
        waiting(p, "crasher").as_deref() == Some("CrashLoopBackOff")
    })
    .await;
    assert_eq!(crash.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
    let job = wait(&api, "job", "Succeeded", |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")
    })
    .await;
    let term = status(&job, "done")
        .unwrap()
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(term.reason.as_deref(), Some("Completed"));
    assert_eq!(status(&job, "done").unwrap().restart_count, 0);
    let fail = wait(&api, "fail", "Failed", |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
    })
    .await;
    assert_eq!(
        status(&fail, "crasher")
            .unwrap()
            .state
            .clone()
            .unwrap()
            .terminated
            .unwrap()
            .exit_code,
        2
    );

    // The configMap appears: the container starts.
    let cms: Api<ConfigMap> = Api::namespaced(f.server.client.clone(), "default");
    cms.create(
        &pp,
        &serde_json::from_value(json!({"metadata": {"name": "later"}, "data": {"k": "v"}})).unwrap(),
    )
    .await
    .unwrap();
    wait(&api, "cfg", "running after the configMap exists", |p| {
        status(p, "c")
            .and_then(|s| s.state.as_ref()?.running.as_ref())
            .is_some()
    })
    .await;

    for name in ["pull", "never", "cfg", "crash", "job", "fail"] {
        api.delete(name, &Default::default()).await.unwrap();
    }
    eventually("pods removed", Duration::from_secs(30), || async {
        api.list(&Default::default())
            .await
            .ok()
            .filter(|l| l.items.is_empty())
    })
    .await;
    eventually("runtime empty", Duration::from_secs(10), || async {
        (f.fake.counts() == (0, 0)).then_some(())
    })
    .await;
}
