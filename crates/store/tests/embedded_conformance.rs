//! The conformance suite against the embedded backend, plus what only it promises: reopening
//! keeps every write and the revision counter, log rewrites keep the store identical, and
//! automatic compaction follows the retention rules.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use rudder_store::conformance::Fixture;
use rudder_store::embedded::{EmbeddedOptions, EmbeddedStore, OpenError};
use rudder_store::{ListOptions, Store, StoreError, WatchEvent};

struct Embedded {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl Fixture for Embedded {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
}

async fn fresh() -> Embedded {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open");
    Embedded {
        store: Arc::new(store),
        _dir: dir,
    }
}

rudder_store::conformance_tests!(fresh);

fn val(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test]
async fn reopen_keeps_data_history_and_revision() {
    let dir = tempfile::tempdir().unwrap();
    let (last, deleted_at) = {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let a = store.create("/r/a", val("1")).await.unwrap();
        store.update("/r/a", val("2"), a.mod_revision).await.unwrap();
        store.create("/r/b", val("b")).await.unwrap();
        let (_, deleted_at) = store.delete("/r/b", None).await.unwrap();
        (store.get("/r/a", None).await.unwrap().unwrap(), deleted_at)
    };
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    assert_eq!(
        store.current_revision().await.unwrap(),
        deleted_at,
        "the revision counter survives"
    );
    assert_eq!(store.get("/r/a", None).await.unwrap(), Some(last.clone()));
    assert!(store.get("/r/b", None).await.unwrap().is_none());
    let mut watch = store.watch("/r/", 0).await.unwrap();
    let mut revisions = Vec::new();
    for _ in 0..4 {
        revisions.push(watch.next().await.unwrap().unwrap().revision());
    }
    assert_eq!(revisions, vec![1, 2, 3, 4], "history survives a reopen");
    let next = store.create("/r/c", val("c")).await.unwrap();
    assert_eq!(
        next.mod_revision,
        deleted_at + 1,
        "revisions continue where they stopped"
    );
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    match EmbeddedStore::open(dir.path(), EmbeddedOptions::default()) {
        Err(OpenError::Locked(_)) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
}

fn log_size(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join("rudder.log")).unwrap().len()
}

#[tokio::test]
async fn compaction_rewrites_the_log_and_bounds_disk_use() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        rewrite_min_bytes: 64 << 10,
        ..Default::default()
    };
    let store = EmbeddedStore::open(dir.path(), options.clone()).unwrap();
    let payload = "x".repeat(500);
    let mut sizes = Vec::new();
    for round in 0..6 {
        // A steady update load over a fixed set of 20 keys.
        for i in 0..400 {
            let key = format!("/u/{}", i % 20);
            match store.get(&key, None).await.unwrap() {
                Some(kv) => store.update(&key, val(&payload), kv.mod_revision).await.unwrap(),
                None => store.create(&key, val(&payload)).await.unwrap(),
            };
        }
        let current = store.current_revision().await.unwrap();
        store.compact(current - 10).await.unwrap();
        sizes.push(log_size(dir.path()));
        assert!(
            sizes[round] < 200 << 10,
            "log grew to {} bytes in round {round}",
            sizes[round]
        );
    }
    // A deleted key whose delete is still in the retained history keeps its previous value.
    let doomed = store.get("/u/0", None).await.unwrap().unwrap();
    let (_, deleted_at) = store.delete("/u/0", None).await.unwrap();
    let current = store.current_revision().await.unwrap();
    store.compact(current).await.unwrap();
    let before: Vec<_> = store.list("/u/", ListOptions::default()).await.unwrap().items;
    drop(store);
    let store = EmbeddedStore::open(dir.path(), options).unwrap();
    assert_eq!(
        store.list("/u/", ListOptions::default()).await.unwrap().items,
        before
    );
    assert_eq!(store.current_revision().await.unwrap(), deleted_at);
    let mut watch = store.watch("/u/", deleted_at - 1).await.unwrap();
    match watch.next().await.unwrap().unwrap() {
        WatchEvent::Delete { prev, .. } => assert_eq!(prev, Some(doomed)),
        other => panic!("expected the delete, got {other:?}"),
    }
    assert!(matches!(
        store.get("/u/1", Some(deleted_at - 1)).await,
        Err(StoreError::Compacted { .. })
    ));
}

#[tokio::test]
async fn automatic_compaction_keeps_the_retention_window() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        retention_revisions: 50,
        retention_time: Duration::from_millis(200),
        compaction_interval: Duration::from_millis(50),
        ..Default::default()
    };
    let store = EmbeddedStore::open(dir.path(), options).unwrap();
    let mut kv = store.create("/a/k", val("0")).await.unwrap();
    for i in 1..200 {
        kv = store
            .update("/a/k", val(&i.to_string()), kv.mod_revision)
            .await
            .unwrap();
    }
    // Fresh history is kept however many revisions it spans.
    assert!(store.get("/a/k", Some(1)).await.unwrap().is_some());
    // Once old enough, history older than the count window goes; the window stays.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let old = store.get("/a/k", Some(100)).await;
        if matches!(old, Err(StoreError::Compacted { .. })) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "history was never compacted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        store.get("/a/k", Some(150)).await.unwrap().is_some(),
        "the last 50 revisions stay"
    );
}
