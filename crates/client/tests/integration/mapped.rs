//! Mapped informers against a real in-process apiserver: paged list, watch, delete, each
//! object kept only as its mapped value, delivered through a bounded subscription.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use rudder_client::informer::ObjectKey;
use rudder_client::{Change, InformerFactory};
use rudder_component::Shutdown;
use rudder_testkit::{TestApiServer, eventually};

const WAIT: Duration = Duration::from_secs(10);
const NS: &str = "mapped";

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), value.to_string())])),
        ..Default::default()
    }
}

/// What the informer keeps of a config map: its name and value of `k`.
#[derive(Debug, PartialEq)]
struct Compact {
    name: String,
    value: String,
}

fn compact(cm: ConfigMap) -> Compact {
    Compact {
        name: cm.metadata.name.unwrap_or_default(),
        value: cm.data.and_then(|mut d| d.remove("k")).unwrap_or_default(),
    }
}

fn key(name: &str) -> ObjectKey {
    ObjectKey {
        namespace: NS.into(),
        name: name.into(),
    }
}

/// The next change to an object of our namespace (the apiserver has config maps of its own).
async fn next_ours(sub: &mut rudder_client::Subscription<Compact>, names: &[&str]) -> Change<Compact> {
    loop {
        let change = tokio::time::timeout(WAIT, sub.recv())
            .await
            .expect("a change in time")
            .expect("subscription open");
        if names.contains(&change.object().name.as_str()) {
            return change;
        }
    }
}

#[tokio::test]
async fn mapped_informer_lists_in_pages_watches_and_deletes() {
    let server = TestApiServer::start().await;
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": NS}})).expect("namespace");
    Api::<Namespace>::all(server.client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let api: Api<ConfigMap> = Api::namespaced(server.client.clone(), NS);
    let names = ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "later"];
    for name in &names[..5] {
        api.create(&PostParams::default(), &config_map(name, "1"))
            .await
            .expect("create");
    }
    // Pages of 2: several continue round trips, each object mapped as it arrives.
    let factory = InformerFactory::with_list_pages(server.client.clone(), 2);
    let informer = factory.mapped_informer::<ConfigMap, Compact>(compact);
    let again = factory.mapped_informer::<ConfigMap, Compact>(|_| panic!("the first map is kept"));
    let mut sub = informer.subscribe_bounded(1);
    let (trigger, shutdown) = Shutdown::new();
    factory.start(shutdown);
    tokio::time::timeout(WAIT, again.wait_synced())
        .await
        .expect("synced");
    assert!(informer.has_synced());
    for name in &names[..5] {
        let value = informer.get(&key(name)).expect("listed");
        assert_eq!(
            *value,
            Compact {
                name: name.to_string(),
                value: "1".into()
            }
        );
    }
    // The listed objects reach the subscriber one by one through its channel of one.
    let mut listed = Vec::new();
    while listed.len() < 5 {
        match next_ours(&mut sub, &names).await {
            Change::Applied(v) => listed.push(v.name.clone()),
            Change::Deleted(v) => panic!("unexpected deletion of {}", v.name),
        }
    }
    listed.sort();
    assert_eq!(listed, names[..5]);

    // Watched: an update, a creation and a deletion, in order.
    let mut updated = config_map("cm-0", "2");
    updated.metadata.resource_version = api.get("cm-0").await.expect("get").metadata.resource_version;
    api.replace("cm-0", &PostParams::default(), &updated)
        .await
        .expect("update");
    api.create(&PostParams::default(), &config_map("later", "3"))
        .await
        .expect("create later");
    api.delete("cm-1", &DeleteParams::default())
        .await
        .expect("delete");
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(match next_ours(&mut sub, &names).await {
            Change::Applied(v) => format!("applied {}={}", v.name, v.value),
            Change::Deleted(v) => format!("deleted {}", v.name),
        });
    }
    assert_eq!(seen, ["applied cm-0=2", "applied later=3", "deleted cm-1"]);
    eventually("the store follows the watch", WAIT, || async {
        (informer.get(&key("cm-1")).is_none()
            && informer.get(&key("cm-0")).is_some_and(|v| v.value == "2")
            && informer.get(&key("later")).is_some())
        .then_some(())
    })
    .await;
    trigger.trigger();
    tokio::time::timeout(WAIT, async { while sub.recv().await.is_some() {} })
        .await
        .expect("the subscription ends on shutdown");
}
