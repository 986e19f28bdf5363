//! CronJob controller against a real in-process apiserver, on a fake clock the test drives.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use rudder_client::informer::InformerFactory;
use rudder_component::shutdown::Shutdown;
use rudder_controller_manager::controllers::ControllerContext;
use rudder_controller_manager::controllers::cronjob::{
    self, clock::FakeClock, plan::SCHEDULED_TIMESTAMP_ANNOTATION,
};
use rudder_controller_manager::options::Config;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

fn cronjob(name: &str, policy: &str) -> CronJob {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "schedule": "* * * * *",
            "concurrencyPolicy": policy,
            "jobTemplate": {
                "metadata": {"labels": {"app": name}},
                "spec": {"template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}]
                }}}
            }
        }
    }))
    .expect("cronjob")
}

async fn jobs_of(client: &kube::Client, app: &str) -> Vec<Job> {
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list jobs")
        .items
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

#[tokio::test]
async fn creates_jobs_on_schedule_forbids_overlap_and_sees_completion() {
    let server = TestApiServer::start().await;
    let client = server.client.clone();
    let (trigger, shutdown) = Shutdown::new();
    let informers = InformerFactory::new(client.clone());
    let config = Config::for_tests(&["cronjob"]);
    let ctx = ControllerContext {
        client: client.clone(),
        informers: informers.clone(),
        config: Arc::new(config.controllers_config.clone()),
        shutdown: shutdown.clone(),
    };
    let clock = FakeClock::new(Timestamp::now());
    let controller = tokio::spawn(cronjob::start_with_clock(ctx, clock.clone()));
    informers.start(shutdown.clone());

    let api: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let cj = api
        .create(&PostParams::default(), &cronjob("tick", "Forbid"))
        .await
        .expect("create cronjob");
    let created = cj
        .metadata
        .creation_timestamp
        .clone()
        .expect("creationTimestamp")
        .0;
    let first = Timestamp::from_second((created.as_second() / 60 + 1) * 60).expect("minute");

    // Before the first activation nothing runs.
    clock.set(first - k8s_openapi::jiff::SignedDuration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        jobs_of(&client, "tick").await.is_empty(),
        "no job before the schedule"
    );

    // Five seconds past the minute: the Job for that minute appears.
    clock.set(first + k8s_openapi::jiff::SignedDuration::from_secs(5));
    let job = eventually("the scheduled job", WAIT, || async {
        jobs_of(&client, "tick").await.into_iter().next()
    })
    .await;
    let name = job.metadata.name.clone().expect("name");
    assert_eq!(name, format!("tick-{}", first.as_second() / 60));
    let owner = &job.metadata.owner_references.clone().expect("owner")[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("CronJob", Some(true)));
    let ann = job.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        ann.get(SCHEDULED_TIMESTAMP_ANNOTATION).map(String::as_str),
        Some(first.to_string().as_str())
    );
    eventually("status.active and lastScheduleTime", WAIT, || async {
        let cj = api.get("tick").await.ok()?;
        let st = cj.status?;
        let active = st.active?;
        (active.len() == 1 && st.last_schedule_time.map(|t| t.0) == Some(first)).then_some(())
    })
    .await;

    // Forbid: the next minute passes while the job still runs; no second job.
    clock.set(first + k8s_openapi::jiff::SignedDuration::from_secs(65));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(jobs_of(&client, "tick").await.len(), 1, "Forbid keeps one job");

    // The job completes (no job controller here: the test writes its status).
    let jobs_api: Api<Job> = Api::namespaced(client.clone(), "default");
    let done_at = (first + k8s_openapi::jiff::SignedDuration::from_secs(30)).to_string();
    let status = json!({"status": {
        "startTime": first.to_string(),
        "completionTime": done_at,
        "succeeded": 1,
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached"},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached"},
        ],
    }});
    jobs_api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("complete job");
    eventually("first job left active, lastSuccessfulTime set", WAIT, || async {
        let st = api.get("tick").await.ok()?.status?;
        let still_active = st
            .active
            .iter()
            .flatten()
            .any(|r| r.name.as_deref() == Some(name.as_str()));
        (!still_active && st.last_successful_time.map(|t| t.0.to_string()) == Some(done_at.clone()))
            .then_some(())
    })
    .await;

    // With the old run done, the missed minute (first + 60s, still within no deadline) runs.
    let second = format!("tick-{}", first.as_second() / 60 + 1);
    eventually("the second job", WAIT, || async {
        jobs_of(&client, "tick")
            .await
            .iter()
            .any(|j| j.metadata.name.as_deref() == Some(second.as_str()))
            .then_some(())
    })
    .await;

    eventually("SuccessfulCreate and SawCompletedJob events", WAIT, || async {
        let events = events_about(&client, "tick").await;
        let created = events
            .iter()
            .any(|(r, m)| r == "SuccessfulCreate" && *m == format!("Created job {name}"));
        let saw = events.iter().any(|(r, m)| {
            r == "SawCompletedJob" && *m == format!("Saw completed job: {name}, condition: Complete")
        });
        let forbid = events.iter().any(|(r, _)| r == "JobAlreadyActive");
        (created && saw && forbid).then_some(())
    })
    .await;

    trigger.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(5), controller).await;
}
