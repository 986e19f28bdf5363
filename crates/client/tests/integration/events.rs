//! Event recorders against a real in-process apiserver: creation, names, and aggregation.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Namespace};
use k8s_openapi::api::events::v1::Event as EventsV1Event;
use kube::Api;
use kube::api::{ListParams, ObjectMeta, PostParams};
use rudder_client::events::{EventApi, EventRecorder, EventType, object_ref};
use rudder_testkit::{TestApiServer, eventually};

const WAIT: Duration = Duration::from_secs(10);

async fn config_map(client: &kube::Client, name: &str) -> ConfigMap {
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &cm)
        .await
        .expect("create config map")
}

async fn core_events(client: &kube::Client, ns: &str, reason: &str) -> Vec<CoreEvent> {
    Api::<CoreEvent>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

fn has_name_of(event_name: &str, object_name: &str) -> bool {
    event_name
        .strip_prefix(object_name)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

#[tokio::test]
async fn core_v1_events_are_created_then_counted() {
    let server = TestApiServer::start().await;
    let cm = config_map(&server.client, "cm-core").await;
    let recorder = EventRecorder::new(server.client.clone(), "test-controller", EventApi::CoreV1);
    let reference = object_ref(&cm);
    assert_eq!(reference.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(reference.api_version.as_deref(), Some("v1"));
    assert!(reference.uid.is_some());

    recorder.record(&reference, EventType::Normal, "Synced", "Sync", "all good");
    let first = eventually("event created", WAIT, || {
        let client = server.client.clone();
        async move { core_events(&client, "default", "Synced").await.into_iter().next() }
    })
    .await;
    let name = first.metadata.name.clone().expect("name");
    assert!(has_name_of(&name, "cm-core"), "{name}");
    assert_eq!(first.count, Some(1));
    assert_eq!(first.type_.as_deref(), Some("Normal"));
    assert_eq!(first.message.as_deref(), Some("all good"));
    assert_eq!(first.involved_object.uid, cm.metadata.uid);
    assert_eq!(
        first.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("test-controller")
    );
    assert!(first.first_timestamp.is_some() && first.last_timestamp.is_some());

    recorder.record(&reference, EventType::Normal, "Synced", "Sync", "all good");
    recorder.record(&reference, EventType::Normal, "Synced", "Sync", "all good");
    // A different message is a different event.
    recorder.record(&reference, EventType::Normal, "Synced", "Sync", "changed");
    let events = eventually("repeats counted", WAIT, || {
        let client = server.client.clone();
        async move {
            let events = core_events(&client, "default", "Synced").await;
            let counted = events.iter().any(|e| e.count == Some(3));
            (events.len() == 2 && counted).then_some(events)
        }
    })
    .await;
    let repeated = events
        .iter()
        .find(|e| e.message.as_deref() == Some("all good"))
        .expect("the repeated event");
    assert_eq!(
        repeated.metadata.name.as_deref(),
        Some(name.as_str()),
        "same object updated"
    );
    assert_eq!(repeated.first_timestamp, first.first_timestamp);
    assert!(repeated.last_timestamp >= first.last_timestamp);
    let other = events
        .iter()
        .find(|e| e.message.as_deref() == Some("changed"))
        .expect("the other event");
    assert_eq!(other.count, Some(1));
}

#[tokio::test]
async fn events_v1_use_series_and_cluster_scoped_objects_go_to_default() {
    let server = TestApiServer::start().await;
    let cm = config_map(&server.client, "cm-v1").await;
    let recorder = EventRecorder::new(server.client.clone(), "default-scheduler", EventApi::EventsV1);
    let reference = object_ref(&cm);
    for _ in 0..3 {
        recorder.record(
            &reference,
            EventType::Warning,
            "FailedScheduling",
            "Scheduling",
            "0/0 nodes are available",
        );
    }
    let api = Api::<EventsV1Event>::namespaced(server.client.clone(), "default");
    let event = eventually("series of 3", WAIT, || {
        let api = api.clone();
        async move {
            let list = api.list(&ListParams::default()).await.ok()?;
            let mut matching: Vec<_> = list
                .items
                .into_iter()
                .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
                .collect();
            let done = matching.len() == 1 && matching[0].series.as_ref().map(|s| s.count) == Some(3);
            done.then(|| matching.remove(0))
        }
    })
    .await;
    let name = event.metadata.name.clone().expect("name");
    assert!(has_name_of(&name, "cm-v1"), "{name}");
    assert_eq!(event.reporting_controller.as_deref(), Some("default-scheduler"));
    assert!(
        event
            .reporting_instance
            .as_deref()
            .is_some_and(|i| i.starts_with("default-scheduler-")),
        "{:?}",
        event.reporting_instance
    );
    assert_eq!(event.action.as_deref(), Some("Scheduling"));
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.note.as_deref(), Some("0/0 nodes are available"));
    assert_eq!(
        event.regarding.as_ref().and_then(|r| r.uid.clone()),
        cm.metadata.uid
    );
    assert!(
        event
            .series
            .as_ref()
            .is_some_and(|s| s.last_observed_time.0 >= event.event_time.as_ref().expect("eventTime").0)
    );

    // A cluster-scoped object's events live in "default".
    let ns = Api::<Namespace>::all(server.client.clone())
        .get("default")
        .await
        .expect("namespace");
    recorder.record(&object_ref(&ns), EventType::Normal, "Touched", "Touch", "hello");
    eventually("namespace event in default", WAIT, || {
        let api = api.clone();
        async move {
            let list = api.list(&ListParams::default()).await.ok()?;
            list.items
                .into_iter()
                .find(|e| e.reason.as_deref() == Some("Touched"))
                .filter(|e| e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("Namespace"))
        }
    })
    .await;
}

#[tokio::test]
async fn core_v1_similar_events_are_combined() {
    let server = TestApiServer::start().await;
    let cm = config_map(&server.client, "cm-similar").await;
    let recorder = EventRecorder::new(server.client.clone(), "test-controller", EventApi::CoreV1);
    let reference = object_ref(&cm);
    for i in 0..12 {
        recorder.record(
            &reference,
            EventType::Warning,
            "Flapping",
            "Sync",
            &format!("attempt {i}"),
        );
    }
    let events = eventually("9 single events and one combined", WAIT, || {
        let client = server.client.clone();
        async move {
            let events = core_events(&client, "default", "Flapping").await;
            let combined = events.iter().find(|e| {
                e.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("(combined from similar events): "))
            })?;
            (events.len() == 10 && combined.count == Some(3)).then_some(events)
        }
    })
    .await;
    let combined = events
        .iter()
        .find(|e| e.count == Some(3))
        .expect("combined event");
    assert_eq!(
        combined.message.as_deref(),
        Some("(combined from similar events): attempt 11"),
        "carries the latest message"
    );
    assert_eq!(events.iter().filter(|e| e.count == Some(1)).count(), 9);
}
