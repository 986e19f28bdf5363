//! Informers against a real in-process apiserver: sharing, sync, change delivery, errors.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::reflector::ObjectRef;
use rudder_client::{Change, InformerFactory};
use rudder_component::Shutdown;
use rudder_testkit::{TestApiServer, eventually};

const WAIT: Duration = Duration::from_secs(10);

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), value.to_string())])),
        ..Default::default()
    }
}

async fn next_change(sub: &mut rudder_client::Subscription<ConfigMap>) -> Change<ConfigMap> {
    tokio::time::timeout(WAIT, sub.recv())
        .await
        .expect("a change in time")
        .expect("subscription open")
}

/// Skip changes to objects other than `name` (the apiserver may have its own config maps).
async fn next_change_for(sub: &mut rudder_client::Subscription<ConfigMap>, name: &str) -> Change<ConfigMap> {
    loop {
        let change = next_change(sub).await;
        if change.object().metadata.name.as_deref() == Some(name) {
            return change;
        }
    }
}

#[tokio::test]
async fn informers_are_shared_sync_and_deliver_changes() {
    let server = TestApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    api.create(&PostParams::default(), &config_map("before", "1"))
        .await
        .expect("create before");

    let factory = InformerFactory::new(server.client.clone());
    let first = factory.informer::<ConfigMap>();
    let second = factory.informer::<ConfigMap>();
    let mut sub = second.subscribe();
    let (trigger, shutdown) = Shutdown::new();
    factory.start(shutdown);

    tokio::time::timeout(WAIT, first.wait_synced())
        .await
        .expect("synced in time");
    // Both handles are one informer: one store.
    let key = ObjectRef::<ConfigMap>::new("before").within("default");
    assert!(first.store().get(&key).is_some(), "listed object in the store");
    assert!(
        second.store().get(&key).is_some(),
        "same store through the other handle"
    );
    // The initial list reaches subscribers as Applied.
    match next_change_for(&mut sub, "before").await {
        Change::Applied(cm) => assert_eq!(
            cm.data.as_ref().and_then(|d| d.get("k")).map(String::as_str),
            Some("1")
        ),
        other => panic!("expected Applied, got {other:?}"),
    }

    // A subscriber added through the first handle sees what the second one sees.
    let mut sub2 = first.subscribe();
    api.create(&PostParams::default(), &config_map("after", "2"))
        .await
        .expect("create after");
    for sub in [&mut sub, &mut sub2] {
        match next_change_for(sub, "after").await {
            Change::Applied(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("after")),
            other => panic!("expected Applied, got {other:?}"),
        }
    }
    let after_key = ObjectRef::<ConfigMap>::new("after").within("default");
    eventually("store has the new object", WAIT, || {
        let found = second.store().get(&after_key).is_some();
        async move { found.then_some(()) }
    })
    .await;

    api.delete("after", &DeleteParams::default())
        .await
        .expect("delete after");
    match next_change_for(&mut sub, "after").await {
        Change::Deleted(cm) => {
            assert_eq!(cm.metadata.name.as_deref(), Some("after"));
            // The last known state, not an empty shell.
            assert_eq!(
                cm.data.as_ref().and_then(|d| d.get("k")).map(String::as_str),
                Some("2")
            );
        }
        other => panic!("expected Deleted, got {other:?}"),
    }
    assert!(first.store().get(&after_key).is_none(), "gone from the store");

    // An informer requested after start runs at once.
    let namespaces = factory.informer::<Namespace>();
    tokio::time::timeout(WAIT, namespaces.wait_synced())
        .await
        .expect("late informer synced");
    let default_ns = ObjectRef::<Namespace>::new("default");
    assert!(namespaces.store().get(&default_ns).is_some());

    // Shutdown ends subscriptions.
    trigger.trigger();
    let ended = tokio::time::timeout(WAIT, async { while sub.recv().await.is_some() {} }).await;
    assert!(ended.is_ok(), "subscription ends after shutdown");
}

#[tokio::test]
async fn an_unreachable_apiserver_backs_off_and_stops_on_shutdown() {
    // Nothing listens on port 1: every list fails.
    let config = kube::Config::new("http://127.0.0.1:1".parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    let factory = InformerFactory::new(client);
    let informer = factory.informer::<k8s_openapi::api::core::v1::Secret>();
    let mut sub = informer.subscribe();
    let (trigger, shutdown) = Shutdown::new();
    factory.start(shutdown);

    eventually("list errors are counted", WAIT, || async {
        let text = metrics_text();
        text.lines()
            .any(|l| l.starts_with("rudder_informer_watch_errors_total{resource=\"secrets\"}"))
            .then_some(())
    })
    .await;
    assert!(!informer.has_synced());

    trigger.trigger();
    // The informer task ends: subscriptions close and waiting for sync gives up.
    tokio::time::timeout(WAIT, async { while sub.recv().await.is_some() {} })
        .await
        .expect("subscription ends");
    tokio::time::timeout(WAIT, informer.wait_synced())
        .await
        .expect("wait_synced returns once stopped");
}

fn metrics_text() -> String {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&prometheus::gather(), &mut buf)
        .expect("encode");
    String::from_utf8(buf).expect("utf8")
}

#[tokio::test]
async fn a_transform_strips_managed_fields_before_the_store_and_subscribers() {
    let server = TestApiServer::start().await;
    let api: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    let mut listed = config_map("listed", "1");
    listed.metadata.annotations = Some(BTreeMap::from([
        (
            rudder_client::informer::LAST_APPLIED_ANNOTATION.to_string(),
            "{\"big\":1}".to_string(),
        ),
        ("keep".to_string(), "me".to_string()),
    ]));
    let created = api
        .create(&PostParams::default(), &listed)
        .await
        .expect("create listed");
    // The test means something only if the server does record managed fields.
    assert!(
        created.metadata.managed_fields.is_some(),
        "apiserver sets managedFields"
    );

    let factory = InformerFactory::new(server.client.clone());
    let informer = factory
        .informer_with::<ConfigMap>(rudder_client::informer::strip_managed_fields)
        .expect("transform before start");
    let mut sub = informer.subscribe();
    let (trigger, shutdown) = Shutdown::new();
    factory.start(shutdown);
    tokio::time::timeout(WAIT, informer.wait_synced())
        .await
        .expect("synced");

    // Listed objects are transformed.
    let change = next_change_for(&mut sub, "listed").await;
    assert!(change.object().metadata.managed_fields.is_none());
    let stored = informer
        .store()
        .get(&ObjectRef::new("listed").within("default"))
        .expect("listed in store");
    assert!(stored.metadata.managed_fields.is_none());
    let annotations = stored.metadata.annotations.clone().expect("annotations");
    assert_eq!(annotations.keys().collect::<Vec<_>>(), ["keep"]);

    // Watched objects too.
    api.create(&PostParams::default(), &config_map("watched", "1"))
        .await
        .expect("create watched");
    let change = next_change_for(&mut sub, "watched").await;
    assert!(change.object().metadata.managed_fields.is_none());
    assert!(
        informer
            .store()
            .state()
            .iter()
            .all(|cm| cm.metadata.managed_fields.is_none())
    );

    // Once started, the transform is fixed.
    assert!(informer.set_transform(|_: &mut ConfigMap| {}).is_err());
    assert!(factory.informer_with::<ConfigMap>(|_| {}).is_err());
    trigger.trigger();
}

#[tokio::test]
async fn paged_lists_load_every_object_then_watch() {
    let server = TestApiServer::start().await;
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "paged"}})).expect("namespace");
    Api::<Namespace>::all(server.client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let api: Api<ConfigMap> = Api::namespaced(server.client.clone(), "paged");
    for i in 0..7 {
        let mut cm = config_map(&format!("cm-{i}"), "1");
        cm.metadata.namespace = Some("paged".into());
        api.create(&PostParams::default(), &cm).await.expect("create");
    }
    // Pages of 2: the list takes several continue round trips.
    let factory = InformerFactory::with_list_pages(server.client.clone(), 2);
    let informer = factory.informer::<ConfigMap>();
    let (trigger, shutdown) = Shutdown::new();
    factory.start(shutdown);
    tokio::time::timeout(WAIT, informer.wait_synced())
        .await
        .expect("synced");
    let in_ns = |informer: &rudder_client::Informer<ConfigMap>| {
        informer
            .store()
            .state()
            .iter()
            .filter(|cm| cm.metadata.namespace.as_deref() == Some("paged"))
            .count()
    };
    assert_eq!(in_ns(&informer), 7);

    // And it watches from the list's revision on.
    let mut cm = config_map("later", "1");
    cm.metadata.namespace = Some("paged".into());
    api.create(&PostParams::default(), &cm)
        .await
        .expect("create later");
    eventually("the watched object is cached", WAIT, || async {
        (in_ns(&informer) == 8).then_some(())
    })
    .await;
    trigger.trigger();
}
