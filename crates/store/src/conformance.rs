//! The conformance suite every backend must pass. Each case takes a fresh, empty store (or at least
//! a fresh key prefix of one) and panics with a message naming the broken rule.
//!
//! A backend's test file expands [`crate::conformance_tests!`] with a function that makes a fresh
//! [`Fixture`]; the macro generates one `#[tokio::test]` per case.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::{KeyValue, ListOptions, Revision, Store, StoreError, WatchEvent, WatchStream};

/// What a backend test hands to each case: a store, plus whatever must live as long as it (a
/// temporary directory, an etcd process).
pub trait Fixture: Send {
    fn store(&self) -> Arc<dyn Store>;
}

/// How long any single expected event may take to arrive before the case fails.
const EVENT_DEADLINE: Duration = Duration::from_secs(10);

fn val(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match tokio::time::timeout(EVENT_DEADLINE, stream.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended early"),
        Err(_) => panic!("no watch event within {EVENT_DEADLINE:?}"),
    }
}

/// Asserts that nothing more arrives on `stream` within a short grace period.
async fn assert_quiet(stream: &mut WatchStream) {
    if let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
        panic!("unexpected extra watch event: {event:?}");
    }
}

pub async fn create_then_get(store: Arc<dyn Store>) {
    let kv = store.create("/t/a", val("one")).await.expect("create");
    assert_eq!(
        kv.create_revision, kv.mod_revision,
        "a new key is created and modified at once"
    );
    assert_eq!(kv.value, val("one"));
    let got = store.get("/t/a", None).await.expect("get").expect("key exists");
    assert_eq!(got, kv, "get returns what create returned");
    assert!(store.get("/t/b", None).await.expect("get missing").is_none());
    match store.create("/t/a", val("two")).await {
        Err(StoreError::AlreadyExists { key }) => assert_eq!(key, "/t/a"),
        other => panic!("second create must fail with AlreadyExists, got {other:?}"),
    }
    assert!(store.current_revision().await.expect("revision") >= kv.mod_revision);
}

pub async fn update_is_compare_and_swap(store: Arc<dyn Store>) {
    let created = store.create("/t/k", val("v1")).await.expect("create");
    let updated = store
        .update("/t/k", val("v2"), created.mod_revision)
        .await
        .expect("update");
    assert!(
        updated.mod_revision > created.mod_revision,
        "update moves the revision forward"
    );
    assert_eq!(
        updated.create_revision, created.create_revision,
        "create revision is kept"
    );
    match store.update("/t/k", val("v3"), created.mod_revision).await {
        Err(StoreError::Conflict {
            current: Some(current),
            expected,
            ..
        }) => {
            assert_eq!(expected, created.mod_revision);
            assert_eq!(*current, updated, "a conflict carries the current value");
        }
        other => panic!("stale update must conflict, got {other:?}"),
    }
    match store.update("/t/missing", val("x"), updated.mod_revision).await {
        Err(StoreError::NotFound { key }) => assert_eq!(key, "/t/missing"),
        other => panic!("update of a missing key must be NotFound, got {other:?}"),
    }
    let now = store.get("/t/k", None).await.expect("get").expect("exists");
    assert_eq!(now.value, val("v2"), "a failed update leaves the value alone");
}

pub async fn delete_is_compare_and_swap(store: Arc<dyn Store>) {
    let kv = store.create("/t/d", val("v")).await.expect("create");
    match store.delete("/t/d", Some(kv.mod_revision - 1)).await {
        Err(StoreError::Conflict {
            current: Some(current),
            ..
        }) => assert_eq!(*current, kv),
        other => panic!("delete with a stale revision must conflict, got {other:?}"),
    }
    let (prev, rev) = store.delete("/t/d", Some(kv.mod_revision)).await.expect("delete");
    assert_eq!(prev, kv, "delete returns the deleted value");
    assert!(rev > kv.mod_revision, "a delete is a write with its own revision");
    assert!(store.get("/t/d", None).await.expect("get").is_none());
    match store.delete("/t/d", None).await {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("delete of a missing key must be NotFound, got {other:?}"),
    }
    let again = store.create("/t/d", val("w")).await.expect("re-create");
    assert!(
        again.create_revision > rev,
        "a re-created key has a new create revision"
    );
    store.delete("/t/d", None).await.expect("unconditional delete");
}

pub async fn reads_at_a_past_revision(store: Arc<dyn Store>) {
    let v1 = store.create("/t/h", val("v1")).await.expect("create");
    let v2 = store
        .update("/t/h", val("v2"), v1.mod_revision)
        .await
        .expect("update");
    let (_, deleted_at) = store.delete("/t/h", None).await.expect("delete");
    let at = |rev| store.get("/t/h", Some(rev));
    assert_eq!(at(v1.mod_revision).await.expect("get v1"), Some(v1.clone()));
    assert_eq!(at(v2.mod_revision).await.expect("get v2"), Some(v2.clone()));
    assert_eq!(at(deleted_at).await.expect("get after delete"), None);
    let page = store
        .list(
            "/t/",
            ListOptions {
                at: Some(v1.mod_revision),
                ..Default::default()
            },
        )
        .await
        .expect("list at v1");
    assert_eq!(page.items, vec![v1.clone()]);
    assert_eq!(
        page.revision, v1.mod_revision,
        "a page reports the revision it was read at"
    );
    let current = store.current_revision().await.expect("revision");
    match store.get("/t/h", Some(current + 1000)).await {
        Err(StoreError::FutureRevision { requested, .. }) => assert_eq!(requested, current + 1000),
        other => panic!("a read in the future must fail with FutureRevision, got {other:?}"),
    }
}

pub async fn list_pages_at_a_fixed_revision(store: Arc<dyn Store>) {
    for i in 0..25 {
        store
            .create(&format!("/p/items/{i:03}"), val(&i.to_string()))
            .await
            .expect("create");
    }
    // Neighbours that share a textual prefix must not leak in.
    store
        .create("/p/itemsX", val("x"))
        .await
        .expect("create neighbour");
    store.create("/p/item", val("x")).await.expect("create neighbour");

    let first = store
        .list(
            "/p/items/",
            ListOptions {
                limit: Some(10),
                ..Default::default()
            },
        )
        .await
        .expect("first page");
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.remaining, 15, "remaining counts the keys after this page");
    let snapshot = first.revision;

    // Writes between pages must not show in later pages of the same listing.
    store.delete("/p/items/015", None).await.expect("delete");
    store
        .create("/p/items/0205", val("late"))
        .await
        .expect("create late");

    let mut keys: Vec<String> = first.items.iter().map(|kv| kv.key.clone()).collect();
    let mut next = first.next_key.clone();
    let mut pages = 1;
    while let Some(start) = next {
        let page = store
            .list(
                "/p/items/",
                ListOptions {
                    limit: Some(10),
                    start_key: Some(start),
                    at: Some(snapshot),
                },
            )
            .await
            .expect("next page");
        assert_eq!(
            page.revision, snapshot,
            "later pages are read at the first page's revision"
        );
        keys.extend(page.items.iter().map(|kv| kv.key.clone()));
        next = page.next_key;
        pages += 1;
        assert!(pages < 10, "pagination does not terminate");
    }
    let expected: Vec<String> = (0..25).map(|i| format!("/p/items/{i:03}")).collect();
    assert_eq!(
        keys, expected,
        "pages cover the snapshot exactly once, in key order"
    );
    assert_eq!(pages, 3);

    let now = store
        .list("/p/items/", ListOptions::default())
        .await
        .expect("full list");
    assert_eq!(now.items.len(), 25, "one deleted, one added");
    assert!(now.next_key.is_none() && now.remaining == 0);
    assert!(now.items.iter().any(|kv| kv.key == "/p/items/0205"));
}

/// Writes a mix of creates, updates and deletes under `prefix` and returns the expected events.
async fn write_mix(store: &dyn Store, prefix: &str, n: usize) -> Vec<(String, Revision, bool)> {
    let mut written = Vec::new();
    for i in 0..n {
        let key = format!("{prefix}{}", i % 7);
        let event = match store.get(&key, None).await.expect("get") {
            None => {
                let kv = store.create(&key, val(&format!("c{i}"))).await.expect("create");
                (key, kv.mod_revision, false)
            }
            Some(kv) if i % 3 == 0 => {
                let (_, rev) = store.delete(&key, Some(kv.mod_revision)).await.expect("delete");
                (key, rev, true)
            }
            Some(kv) => {
                let kv = store
                    .update(&key, val(&format!("u{i}")), kv.mod_revision)
                    .await
                    .expect("update");
                (key, kv.mod_revision, false)
            }
        };
        written.push(event);
    }
    written
}

fn summary(event: &WatchEvent) -> (String, Revision, bool) {
    (
        event.key().to_string(),
        event.revision(),
        matches!(event, WatchEvent::Delete { .. }),
    )
}

pub async fn watch_replays_history_then_follows(store: Arc<dyn Store>) {
    let start = store.current_revision().await.expect("revision");
    let history = write_mix(&*store, "/w/", 60).await;
    let mut stream = store.watch("/w/", start).await.expect("watch from the past");
    for expected in &history {
        assert_eq!(
            &summary(&next_event(&mut stream).await),
            expected,
            "replay in order, none lost"
        );
    }
    let live = write_mix(&*store, "/w/", 20).await;
    for expected in &live {
        assert_eq!(
            &summary(&next_event(&mut stream).await),
            expected,
            "live events follow replay"
        );
    }
    assert_quiet(&mut stream).await;

    // Events carry values and previous values.
    let mut stream = store
        .watch("/w/", live.last().expect("wrote").1)
        .await
        .expect("watch now");
    let created = store.create("/w/fresh", val("a")).await.expect("create");
    let updated = store
        .update("/w/fresh", val("b"), created.mod_revision)
        .await
        .expect("update");
    store.delete("/w/fresh", None).await.expect("delete");
    assert_eq!(
        next_event(&mut stream).await,
        WatchEvent::Put {
            kv: created.clone(),
            prev: None
        }
    );
    assert_eq!(
        next_event(&mut stream).await,
        WatchEvent::Put {
            kv: updated.clone(),
            prev: Some(created)
        }
    );
    match next_event(&mut stream).await {
        WatchEvent::Delete { key, revision, prev } => {
            assert_eq!(key, "/w/fresh");
            assert!(revision > updated.mod_revision);
            assert_eq!(prev, Some(updated));
        }
        other => panic!("expected a delete, got {other:?}"),
    }
}

pub async fn watches_are_scoped_to_their_prefix(store: Arc<dyn Store>) {
    let start = store.current_revision().await.expect("revision");
    let prefixes: Vec<String> = (0..8).map(|i| format!("/m/r{i}/")).collect();
    let mut streams = Vec::new();
    for prefix in &prefixes {
        streams.push(store.watch(prefix, start).await.expect("watch"));
    }
    let writers = prefixes.iter().map(|prefix| {
        let store = store.clone();
        let prefix = prefix.clone();
        tokio::spawn(async move { write_mix(&*store, &prefix, 30).await })
    });
    let written: Vec<_> = futures::future::join_all(writers).await;
    for (stream, expected) in streams.iter_mut().zip(written) {
        for event in expected.expect("writer task") {
            assert_eq!(
                summary(&next_event(stream).await),
                event,
                "each watch sees its own prefix"
            );
        }
        assert_quiet(stream).await;
    }
}

pub async fn concurrent_writers_get_unique_ordered_revisions(store: Arc<dyn Store>) {
    let start = store.current_revision().await.expect("revision");
    let mut stream = store.watch("/c/", start).await.expect("watch");
    let tasks = (0..16).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..40 {
                let key = format!("/c/{w}/{}", i % 4);
                let kv = match store.get(&key, None).await.expect("get") {
                    Some(kv) => store
                        .update(&key, val("u"), kv.mod_revision)
                        .await
                        .expect("update"),
                    None => store.create(&key, val("c")).await.expect("create"),
                };
                revs.push(kv.mod_revision);
            }
            revs
        })
    });
    let mut acknowledged = BTreeSet::new();
    for revs in futures::future::join_all(tasks).await {
        for rev in revs.expect("writer task") {
            assert!(acknowledged.insert(rev), "revision {rev} handed to two writes");
        }
    }
    assert_eq!(acknowledged.len(), 16 * 40);
    let mut last = start;
    for _ in 0..acknowledged.len() {
        let rev = next_event(&mut stream).await.revision();
        assert!(
            rev > last,
            "watch revisions strictly increase ({last} then {rev})"
        );
        assert!(
            acknowledged.contains(&rev),
            "watch saw revision {rev} that no write returned"
        );
        last = rev;
    }
    assert_quiet(&mut stream).await;
}

pub async fn compaction_drops_old_history(store: Arc<dyn Store>) {
    let first = store.create("/x/a", val("1")).await.expect("create");
    let second = store
        .update("/x/a", val("2"), first.mod_revision)
        .await
        .expect("update");
    let third = store.create("/x/b", val("3")).await.expect("create");
    store.compact(second.mod_revision).await.expect("compact");

    match store.get("/x/a", Some(first.mod_revision)).await {
        Err(StoreError::Compacted { requested, .. }) => assert_eq!(requested, first.mod_revision),
        other => panic!("a read below the compacted revision must fail, got {other:?}"),
    }
    match store
        .list(
            "/x/",
            ListOptions {
                at: Some(first.mod_revision),
                ..Default::default()
            },
        )
        .await
    {
        Err(StoreError::Compacted { .. }) => {}
        other => panic!("a list below the compacted revision must fail, got {other:?}"),
    }
    match store.watch("/x/", first.mod_revision - 1).await {
        Err(StoreError::Compacted { .. }) => {}
        Ok(mut stream) => match tokio::time::timeout(EVENT_DEADLINE, stream.next())
            .await
            .ok()
            .flatten()
        {
            Some(Err(StoreError::Compacted { .. })) => {}
            other => panic!("a watch needing compacted events must fail, got {other:?}"),
        },
        Err(other) => panic!("expected Compacted, got {other}"),
    }
    // The compacted revision itself and everything newer stay readable and watchable.
    assert_eq!(
        store
            .get("/x/a", Some(second.mod_revision))
            .await
            .expect("at compacted"),
        Some(second.clone())
    );
    let mut stream = store
        .watch("/x/", second.mod_revision)
        .await
        .expect("watch after compacted");
    assert_eq!(
        summary(&next_event(&mut stream).await),
        ("/x/b".to_string(), third.mod_revision, false)
    );
    let latest = store.list("/x/", ListOptions::default()).await.expect("list");
    assert_eq!(latest.items.len(), 2);
}

pub async fn guaranteed_update_retries_conflicts(store: Arc<dyn Store>) {
    let tasks = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..15 {
                crate::guaranteed_update::<_, StoreError>(&*store, "/g/counter", |kv: Option<&KeyValue>| {
                    let n: u64 = kv.map_or(0, |kv| String::from_utf8_lossy(&kv.value).parse().unwrap_or(0));
                    Ok(Some(val(&(n + 1).to_string())))
                })
                .await
                .expect("guaranteed update");
            }
        })
    });
    for task in futures::future::join_all(tasks).await {
        task.expect("task");
    }
    let kv = store.get("/g/counter", None).await.expect("get").expect("exists");
    assert_eq!(kv.value, val("120"), "no increment lost");
}

/// Generates one `#[tokio::test]` per conformance case, each with a fresh fixture from `$make`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@cases $make;
            create_then_get,
            update_is_compare_and_swap,
            delete_is_compare_and_swap,
            reads_at_a_past_revision,
            list_pages_at_a_fixed_revision,
            watch_replays_history_then_follows,
            watches_are_scoped_to_their_prefix,
            concurrent_writers_get_unique_ordered_revisions,
            compaction_drops_old_history,
            guaranteed_update_retries_conflicts
        );
    };
    (@cases $make:path; $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $make().await;
                $crate::conformance::$case($crate::conformance::Fixture::store(&fixture)).await;
            }
        )+
    };
}
