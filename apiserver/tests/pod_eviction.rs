//! `pods/eviction` through kube-rs: PodDisruptionBudgets are honoured and spent as upstream's
//! eviction subresource does.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Api;
use kube::api::{DeleteParams, EvictParams, Patch, PatchParams, PostParams};
use rudder_testkit::TestApiServer;
use serde_json::json;

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

/// A pod labelled `app=web`, in phase `phase` (Ready when Running).
async fn pod(pods: &Api<Pod>, name: &str, phase: &str) {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    let ready = if phase == "Running" { "True" } else { "False" };
    let status = json!({"status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("pod status");
}

/// A budget selecting `app=web` whose status allows `allowed` disruptions.
async fn budget(pdbs: &Api<PodDisruptionBudget>, name: &str, allowed: i32) {
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }))
    .expect("pdb");
    let created = pdbs
        .create(&PostParams::default(), &pdb)
        .await
        .expect("create pdb");
    let status = json!({"status": {
        "observedGeneration": created.metadata.generation.unwrap_or(1),
        "disruptionsAllowed": allowed,
        "currentHealthy": 2,
        "desiredHealthy": 1,
        "expectedPods": 2,
    }});
    pdbs.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("pdb status");
}

/// A client that does not retry 429s: kube-rs's default retries them with backoff for minutes,
/// which would hide the refusal this test looks for.
async fn client_without_retries(server: &TestApiServer) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    config.default_retry = false;
    kube::Client::try_from(config).expect("client")
}

async fn exists(pods: &Api<Pod>, name: &str) -> bool {
    pods.get_opt(name).await.expect("get").is_some()
}

#[tokio::test]
async fn eviction_spends_the_budget_and_is_refused_when_none_is_left() {
    let server = TestApiServer::start().await;
    let pods: Api<Pod> = Api::namespaced(client_without_retries(&server).await, "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(server.client.clone(), "default");
    pod(&pods, "a", "Running").await;
    pod(&pods, "b", "Running").await;
    budget(&pdbs, "web", 1).await;

    // Dry run: answered with success, nothing spent, nothing deleted.
    let dry = EvictParams {
        post_options: PostParams {
            dry_run: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let status = pods.evict("a", &dry).await.expect("dry-run evict");
    assert!(status.is_success());
    assert!(exists(&pods, "a").await);
    let pdb = pdbs.get("web").await.expect("pdb");
    assert_eq!(pdb.status.as_ref().map(|s| s.disruptions_allowed), Some(1));

    let status = pods.evict("a", &EvictParams::default()).await.expect("evict a");
    assert!(status.is_success(), "{status:?}");
    assert_eq!(status.code, 201);
    assert!(!exists(&pods, "a").await, "the evicted pod is deleted");
    let pdb = pdbs.get("web").await.expect("pdb");
    let pdb_status = pdb.status.expect("pdb status");
    assert_eq!(pdb_status.disruptions_allowed, 0);
    assert!(
        pdb_status.disrupted_pods.unwrap_or_default().contains_key("a"),
        "the evicted pod is recorded for the disruption controller"
    );

    // No disruption left: 429 with upstream's message and cause.
    let err = api_error(pods.evict("b", &EvictParams::default()).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (429, "TooManyRequests"));
    assert_eq!(
        err.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    let causes = err.details.map(|d| d.causes).unwrap_or_default();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "DisruptionBudget");
    assert_eq!(
        causes[0].message,
        "The disruption budget web needs 1 healthy pods and has 2 currently"
    );
    assert!(exists(&pods, "b").await);
}

#[tokio::test]
async fn pending_pods_skip_the_budget_and_two_budgets_are_refused() {
    let server = TestApiServer::start().await;
    let pods: Api<Pod> = Api::namespaced(client_without_retries(&server).await, "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(server.client.clone(), "default");
    budget(&pdbs, "none-left", 0).await;
    pod(&pods, "pending", "Pending").await;
    pod(&pods, "running", "Running").await;

    // A pending pod is evicted without a budget check.
    pods.evict("pending", &EvictParams::default())
        .await
        .expect("evict pending pod");
    assert!(!exists(&pods, "pending").await);

    // Two budgets selecting the pod: 500 as upstream.
    budget(&pdbs, "second", 5).await;
    let err = api_error(pods.evict("running", &EvictParams::default()).await.unwrap_err());
    assert_eq!(err.code, 500);
    assert_eq!(
        err.message,
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
    assert!(exists(&pods, "running").await);

    // Without budgets the eviction is a delete, with the Eviction's delete options.
    pdbs.delete("none-left", &DeleteParams::default())
        .await
        .expect("delete pdb");
    pdbs.delete("second", &DeleteParams::default())
        .await
        .expect("delete pdb");
    let err = api_error(pods.evict("absent", &EvictParams::default()).await.unwrap_err());
    assert_eq!(err.code, 404);
    pods.evict("running", &EvictParams::default())
        .await
        .expect("evict running pod");
    assert!(!exists(&pods, "running").await);

    // A pod on a node goes gracefully: still there, marked for deletion and as a disruption
    // target, as upstream's addConditionAndDeletePod leaves it for its kubelet.
    let bound: Pod = serde_json::from_value(json!({
        "metadata": {"name": "bound"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox"}]},
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &bound)
        .await
        .expect("create bound pod");
    let running = json!({"status": {"phase": "Running"}});
    pods.patch_status("bound", &PatchParams::default(), &Patch::Merge(&running))
        .await
        .expect("pod status");
    pods.evict("bound", &EvictParams::default())
        .await
        .expect("evict bound pod");
    let marked = pods.get("bound").await.expect("get bound pod");
    assert!(marked.metadata.deletion_timestamp.is_some());
    let conditions = marked.status.and_then(|s| s.conditions).unwrap_or_default();
    let target = conditions
        .iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget condition");
    assert_eq!(
        (target.status.as_str(), target.reason.as_deref()),
        ("True", Some("EvictionByEvictionAPI"))
    );
}
