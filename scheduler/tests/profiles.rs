//! Profiles by `schedulerName`: each configured profile schedules its pods; pods for other
//! schedulers are left alone.

mod common;

use common::*;
use rudder_scheduler::config::file::KubeSchedulerConfiguration;
use rudder_scheduler::config::options::Config;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_by_scheduler_name() {
    let server = rudder_testkit::TestApiServer::start().await;
    let c = &server.client;
    let file = KubeSchedulerConfiguration::parse(
        "profiles:\n- schedulerName: default-scheduler\n- schedulerName: second\n  plugins:\n    score:\n      disabled:\n      - name: '*'\n",
    )
    .expect("config");
    let config = Config {
        profiles: file.effective_profiles(),
        ..Config::for_client(c.clone())
    };
    let _sched = start_scheduler(config);
    create_node(c, "n1", "4", json!({})).await;

    create_pod(
        c,
        "elsewhere",
        "100m",
        json!({"spec": {"schedulerName": "someone-else"}}),
    )
    .await;
    create_pod(c, "second", "100m", json!({"spec": {"schedulerName": "second"}})).await;
    create_pod(
        c,
        "gated",
        "100m",
        json!({"spec": {"schedulingGates": [{"name": "example.com/wait"}]}}),
    )
    .await;
    create_pod(c, "default", "100m", json!({})).await;
    assert_eq!(wait_bound(c, "second").await, "n1");
    assert_eq!(wait_bound(c, "default").await, "n1");
    // Created first, yet untouched: no binding and no PodScheduled condition from us.
    assert_eq!(node_of(c, "elsewhere").await, None);
    assert_eq!(scheduled_condition(c, "elsewhere").await, None);
    // A gated pod waits; removing its gate queues it.
    assert_eq!(node_of(c, "gated").await, None);
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(c.clone(), "default");
    let patch = json!({"spec": {"schedulingGates": null}});
    pods.patch(
        "gated",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(patch),
    )
    .await
    .expect("ungate");
    assert_eq!(wait_bound(c, "gated").await, "n1");
}
