use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use super::*;

fn cm(name: &str, version: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            resource_version: Some(version.into()),
            ..ObjectMeta::default()
        },
        data: Some([("big".to_string(), "x".repeat(4096))].into_iter().collect()),
        ..ConfigMap::default()
    }
}

/// The compact value the tests keep: name@resourceVersion.
fn compact(cm: ConfigMap) -> String {
    format!(
        "{}@{}",
        cm.metadata.name.unwrap_or_default(),
        cm.metadata.resource_version.unwrap_or_default()
    )
}

fn informer() -> MappedInformer<ConfigMap, String> {
    MappedInformer::new(compact)
}

fn describe(changes: Vec<Change<String>>) -> Vec<String> {
    let mut seen: Vec<String> = changes
        .into_iter()
        .map(|c| match c {
            Change::Applied(v) => format!("applied {v}"),
            Change::Deleted(v) => format!("deleted {v}"),
        })
        .collect();
    seen.sort();
    seen
}

fn list(
    i: &MappedInformer<ConfigMap, String>,
    relist: &mut Relist<String>,
    objs: &[ConfigMap],
) -> Vec<String> {
    let metrics = InformerMetrics::new("configmaps_mapped_unit_test");
    let mut changes = apply(i.shared(), relist, Event::Init, &metrics);
    for obj in objs {
        changes.extend(apply(i.shared(), relist, Event::InitApply(obj.clone()), &metrics));
    }
    changes.extend(apply(i.shared(), relist, Event::InitDone, &metrics));
    describe(changes)
}

fn stored(i: &MappedInformer<ConfigMap, String>) -> Vec<String> {
    let mut values: Vec<String> = i.state().iter().map(|v| v.to_string()).collect();
    values.sort();
    values
}

#[test]
fn keeps_mapped_values_and_relists_like_the_full_informer() {
    let i = informer();
    let metrics = InformerMetrics::new("configmaps_mapped_unit_test");
    let mut relist = Relist::default();
    assert!(!i.has_synced());
    assert_eq!(
        list(&i, &mut relist, &[cm("a", "1"), cm("b", "2")]),
        ["applied a@1", "applied b@2"]
    );
    assert!(i.has_synced());
    assert_eq!(stored(&i), ["a@1", "b@2"]);

    let changes = apply(i.shared(), &mut relist, Event::Apply(cm("c", "3")), &metrics);
    assert_eq!(describe(changes), ["applied c@3"]);
    let changes = apply(i.shared(), &mut relist, Event::Delete(cm("a", "4")), &metrics);
    assert_eq!(describe(changes), ["deleted a@4"], "the final state, mapped");
    assert_eq!(stored(&i), ["b@2", "c@3"]);
    let key = ObjectKey {
        namespace: "ns".into(),
        name: "c".into(),
    };
    assert_eq!(i.get(&key).as_deref().map(String::as_str), Some("c@3"));

    // The watch broke; meanwhile b changed and c was deleted. Until the relist completes the
    // old state stays; then b and d come as applied and c as deleted with its last value.
    let mut changes = apply(i.shared(), &mut relist, Event::Init, &metrics);
    changes.extend(apply(
        i.shared(),
        &mut relist,
        Event::InitApply(cm("b", "7")),
        &metrics,
    ));
    changes.extend(apply(
        i.shared(),
        &mut relist,
        Event::InitApply(cm("d", "8")),
        &metrics,
    ));
    assert!(changes.is_empty());
    assert_eq!(stored(&i), ["b@2", "c@3"]);
    let changes = apply(i.shared(), &mut relist, Event::InitDone, &metrics);
    assert_eq!(describe(changes), ["applied b@7", "applied d@8", "deleted c@3"]);
    assert_eq!(stored(&i), ["b@7", "d@8"]);
    assert_eq!(i.len(), 2);
}

#[test]
fn store_and_subscribers_share_one_value() {
    let i = informer();
    let metrics = InformerMetrics::new("configmaps_mapped_unit_test");
    let mut relist = Relist::default();
    let changes = apply(i.shared(), &mut relist, Event::Apply(cm("a", "1")), &metrics);
    let key = ObjectKey {
        namespace: "ns".into(),
        name: "a".into(),
    };
    let stored = i.get(&key).expect("stored");
    assert!(Arc::ptr_eq(changes[0].object(), &stored));
}

/// A bounded subscriber that does not keep up holds the informer back instead of queueing
/// every change; an unbounded one next to it sees everything too.
#[tokio::test]
async fn bounded_subscribers_apply_backpressure() {
    let i = informer();
    let mut bounded = i.subscribe_bounded(2);
    let mut unbounded = i.subscribe();
    let shared = i.shared().clone();
    let sender = tokio::spawn(async move {
        for n in 0..5 {
            shared.broadcast(Change::Applied(Arc::new(format!("c{n}")))).await;
        }
    });
    // The test runtime has one thread: the sender runs only while this task yields.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(!sender.is_finished(), "blocked on the full bounded channel");
    assert_eq!(bounded.pending(), 2);
    assert_eq!(
        unbounded.pending(),
        2,
        "the third change waits for the bounded subscriber"
    );
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(bounded.recv().await.expect("change").object().to_string());
    }
    tokio::time::timeout(std::time::Duration::from_secs(5), sender)
        .await
        .expect("sender finishes once drained")
        .expect("sender task");
    assert_eq!(got, ["c0", "c1", "c2", "c3", "c4"]);
    assert_eq!(unbounded.pending(), 5);
    // A dropped subscriber is forgotten rather than waited for; closing ends the rest.
    drop(bounded);
    i.shared().broadcast(Change::Applied(Arc::new("c5".into()))).await;
    assert_eq!(i.shared().subscribers.lock().as_ref().map(Vec::len), Some(1));
    i.shared().close();
    for _ in 0..6 {
        assert!(unbounded.recv().await.is_some());
    }
    assert!(unbounded.recv().await.is_none());
}
