//! Job controller against a real in-process apiserver. No kubelet runs: the test marks pods
//! Succeeded or Failed by writing their status, as a kubelet would.

mod common;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rudder_client::informer::InformerFactory;
use rudder_component::shutdown::{Shutdown, ShutdownTrigger};
use rudder_controller_manager::controllers::ControllerContext;
use rudder_controller_manager::controllers::job::{self as job_controller, plan::JobSettings};
use rudder_controller_manager::options::Config;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::{Value, json};

/// An apiserver and the Job controller with a 100ms pod failure back-off (upstream's 10s
/// would make a retry take 10s).
struct Cluster {
    _server: TestApiServer,
    client: kube::Client,
    trigger: ShutdownTrigger,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.trigger.trigger();
    }
}

async fn start() -> Cluster {
    let server = TestApiServer::start().await;
    let client = server.client.clone();
    let (trigger, shutdown) = Shutdown::new();
    let informers = InformerFactory::new(client.clone());
    let ctx = ControllerContext {
        client: client.clone(),
        informers: informers.clone(),
        config: Arc::new(Config::for_tests(&["job"]).controllers_config),
        shutdown: shutdown.clone(),
    };
    let settings = JobSettings {
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
    };
    tokio::spawn(job_controller::start_with_settings(ctx, settings));
    informers.start(shutdown);
    Cluster {
        _server: server,
        client,
        trigger,
    }
}

fn job(name: &str, spec: Value) -> Job {
    let mut body = json!({
        "metadata": {"name": name},
        "spec": {
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox"}]
            }}
        }
    });
    if let (Some(target), Some(extra)) = (body["spec"].as_object_mut(), spec.as_object()) {
        for (k, v) in extra {
            target.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(body).expect("job")
}

async fn job_pods(client: &kube::Client, name: &str) -> Vec<Pod> {
    common::pods(client, "default", &format!("batch.kubernetes.io/job-name={name}")).await
}

/// Ends a pod the way a kubelet reports it: phase and the main container's exit code.
async fn finish(client: &kube::Client, pod: &Pod, phase: &str, exit_code: i32) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let patch = json!({"status": {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
        "containerStatuses": [{
            "name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit_code, "startedAt": now, "finishedAt": now}}
        }],
    }});
    api.patch_status(
        pod.metadata.name.as_deref().expect("name"),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .expect("finish pod");
}

/// Reasons and messages of the core/v1 Events about `name` in `default`.
async fn events_about(client: &kube::Client, name: &str) -> Vec<(String, String)> {
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    let list = api
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    list.into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

fn condition(job: &Job, type_: &str) -> Option<(String, Option<String>)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
        .map(|c| (c.type_.clone(), c.reason.clone()))
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == "batch.kubernetes.io/job-tracking")
}

#[tokio::test]
async fn runs_to_completion_when_pods_succeed() {
    let cluster = start().await;
    let client = cluster.client.clone();
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams::default(),
        &job("pi", json!({"completions": 3, "parallelism": 2})),
    )
    .await
    .expect("create job");

    // Parallelism bounds the running pods; each carries the tracking finalizer.
    let first = eventually("2 pods", common::WAIT, || async {
        let pods = job_pods(&client, "pi").await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    assert!(first.iter().all(has_finalizer));
    for p in &first {
        finish(&client, p, "Succeeded", 0).await;
    }
    // One completion remains: one more pod.
    let third = eventually("the third pod", common::WAIT, || async {
        let pods = job_pods(&client, "pi").await;
        let fresh: Vec<Pod> = pods
            .into_iter()
            .filter(|p| !first.iter().any(|f| f.metadata.uid == p.metadata.uid))
            .collect();
        (fresh.len() == 1).then(|| fresh[0].clone())
    })
    .await;
    finish(&client, &third, "Succeeded", 0).await;

    let done = eventually("Complete", common::WAIT, || async {
        let j = api.get("pi").await.ok()?;
        condition(&j, "Complete").map(|_| j)
    })
    .await;
    let st = done.status.clone().expect("status");
    assert_eq!(st.succeeded, Some(3));
    assert_eq!(st.failed.unwrap_or(0), 0);
    assert!(st.start_time.is_some() && st.completion_time.is_some());
    assert_eq!(
        condition(&done, "SuccessCriteriaMet").map(|c| c.1),
        Some(Some("CompletionsReached".into()))
    );
    let uncounted = st.uncounted_terminated_pods.unwrap_or_default();
    assert!(uncounted.succeeded.unwrap_or_default().is_empty());
    eventually("Completed and SuccessfulCreate events", common::WAIT, || async {
        let events = events_about(&client, "pi").await;
        let created = events
            .iter()
            .filter(|(r, m)| r == "SuccessfulCreate" && m.starts_with("Created pod: pi-"))
            .count();
        (created >= 1
            && events
                .iter()
                .any(|(r, m)| r == "Completed" && m == "Job completed"))
        .then_some(())
    })
    .await;
    let finished = prometheus::gather()
        .into_iter()
        .find(|f| f.name() == "job_controller_jobs_finished_total")
        .map(|f| {
            f.get_metric()
                .iter()
                .filter(|m| {
                    m.get_label()
                        .iter()
                        .any(|l| l.name() == "result" && l.value() == "succeeded")
                })
                .map(|m| m.get_counter().get_value())
                .sum::<f64>()
        });
    assert!(
        finished.is_some_and(|v| v >= 1.0),
        "jobs_finished_total counts the completion: {finished:?}"
    );
    // Counted pods lose the finalizer.
    eventually("finalizers removed", common::WAIT, || async {
        job_pods(&client, "pi")
            .await
            .iter()
            .all(|p| !has_finalizer(p))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn fails_with_backoff_limit_exceeded() {
    let cluster = start().await;
    let client = cluster.client.clone();
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams::default(),
        &job(
            "flaky",
            json!({"backoffLimit": 0, "parallelism": 2, "completions": 4}),
        ),
    )
    .await
    .expect("create job");
    let pods = eventually("2 pods", common::WAIT, || async {
        let pods = job_pods(&client, "flaky").await;
        (pods.len() == 2).then_some(pods)
    })
    .await;
    finish(&client, &pods[0], "Failed", 3).await;

    let failed = eventually("Failed", common::WAIT, || async {
        let j = api.get("flaky").await.ok()?;
        condition(&j, "Failed").map(|_| j)
    })
    .await;
    assert_eq!(
        condition(&failed, "Failed").map(|c| c.1),
        Some(Some("BackoffLimitExceeded".into()))
    );
    assert_eq!(
        condition(&failed, "FailureTarget").map(|c| c.1),
        Some(Some("BackoffLimitExceeded".into()))
    );
    let st = failed.status.expect("status");
    // The failed pod and the running one the controller terminated both count.
    assert_eq!(st.failed, Some(2));
    assert_eq!(st.active.unwrap_or(0), 0);
    eventually("BackoffLimitExceeded warning event", common::WAIT, || async {
        events_about(&client, "flaky")
            .await
            .iter()
            .any(|(r, m)| r == "BackoffLimitExceeded" && m == "Job has reached the specified backoff limit")
            .then_some(())
    })
    .await;
    eventually("the running pod is gone", common::WAIT, || async {
        let left = job_pods(&client, "flaky").await;
        left.iter()
            .all(|p| !has_finalizer(p) && p.metadata.uid != pods[1].metadata.uid)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn indexed_job_runs_each_index_once() {
    let cluster = start().await;
    let client = cluster.client.clone();
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams::default(),
        &job(
            "idx",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
        ),
    )
    .await
    .expect("create job");
    let pods = eventually("3 indexed pods", common::WAIT, || async {
        let pods = job_pods(&client, "idx").await;
        (pods.len() == 3).then_some(pods)
    })
    .await;
    let mut indexes: Vec<String> = pods
        .iter()
        .map(|p| {
            let ann = p.metadata.annotations.clone().unwrap_or_default();
            let ix = ann
                .get("batch.kubernetes.io/job-completion-index")
                .cloned()
                .expect("index annotation");
            let label = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("batch.kubernetes.io/job-completion-index"))
                .cloned();
            assert_eq!(label.as_ref(), Some(&ix));
            let spec = p.spec.clone().expect("spec");
            assert_eq!(spec.hostname, Some(format!("idx-{ix}")));
            assert!(
                p.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(&format!("idx-{ix}-")))
            );
            let env = spec.containers[0].env.clone().unwrap_or_default();
            assert!(env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX"));
            ix
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);

    // Index 1 fails once: it is recreated with the same index.
    let one = pods
        .iter()
        .find(|p| {
            p.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("idx-1-"))
        })
        .expect("index 1");
    finish(&client, one, "Failed", 1).await;
    let retry = eventually("index 1 again", common::WAIT, || async {
        job_pods(&client, "idx").await.into_iter().find(|p| {
            p.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("idx-1-"))
                && p.metadata.uid != one.metadata.uid
        })
    })
    .await;
    for p in pods
        .iter()
        .filter(|p| p.metadata.uid != one.metadata.uid)
        .chain([&retry])
    {
        finish(&client, p, "Succeeded", 0).await;
    }
    let done = eventually("Complete", common::WAIT, || async {
        let j = api.get("idx").await.ok()?;
        condition(&j, "Complete").map(|_| j)
    })
    .await;
    let st = done.status.expect("status");
    assert_eq!(st.completed_indexes.as_deref(), Some("0-2"));
    assert_eq!((st.succeeded, st.failed), (Some(3), Some(1)));
}

#[tokio::test]
async fn suspended_job_runs_nothing_until_resumed() {
    let cluster = start().await;
    let client = cluster.client.clone();
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams::default(),
        &job(
            "later",
            json!({"suspend": true, "completions": 2, "parallelism": 2}),
        ),
    )
    .await
    .expect("create job");
    let suspended = eventually("Suspended condition", common::WAIT, || async {
        let j = api.get("later").await.ok()?;
        condition(&j, "Suspended").map(|_| j)
    })
    .await;
    assert!(
        suspended.status.and_then(|s| s.start_time).is_none(),
        "no startTime while suspended"
    );
    assert!(job_pods(&client, "later").await.is_empty());

    api.patch(
        "later",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"suspend": false}})),
    )
    .await
    .expect("resume");
    eventually("2 pods after resume", common::WAIT, || async {
        (job_pods(&client, "later").await.len() == 2).then_some(())
    })
    .await;
    let resumed = eventually("Suspended=False with JobResumed", common::WAIT, || async {
        let j = api.get("later").await.ok()?;
        let c = j
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "Suspended")?
            .clone();
        (c.status == "False" && c.reason.as_deref() == Some("JobResumed")).then_some(j)
    })
    .await;
    assert!(resumed.status.and_then(|s| s.start_time).is_some());
}

#[tokio::test]
async fn pod_failure_policy_fails_the_job_on_a_matching_exit_code() {
    let cluster = start().await;
    let client = cluster.client.clone();
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    let policy = json!({
        "backoffLimit": 6,
        "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}}
        ]}
    });
    api.create(&PostParams::default(), &job("strict", policy))
        .await
        .expect("create job");
    let pod = eventually("a pod", common::WAIT, || async {
        job_pods(&client, "strict").await.into_iter().next()
    })
    .await;
    finish(&client, &pod, "Failed", 42).await;
    let failed = eventually("Failed by the policy", common::WAIT, || async {
        let j = api.get("strict").await.ok()?;
        condition(&j, "Failed").map(|_| j)
    })
    .await;
    let c = failed
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Failed"))
        .cloned()
        .expect("Failed condition");
    assert_eq!(c.reason.as_deref(), Some("PodFailurePolicy"));
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    assert_eq!(
        c.message.as_deref(),
        Some(format!("Container main for pod default/{pod_name} failed with exit code 42 matching FailJob rule at index 0").as_str())
    );
}
