//! The conformance suite against a real etcd (one fresh process per case, so one case's compaction
//! cannot break another), plus etcd-specific checks.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use rudder_store::conformance::Fixture;
use rudder_store::etcd::{EtcdOptions, EtcdStore};
use rudder_store::etcd_process::EtcdProcess;
use rudder_store::{ListOptions, Store, StoreError, WatchEvent};

struct EtcdFixture {
    store: Arc<EtcdStore>,
    // Declared after the store: the client goes away before the process is killed.
    etcd: EtcdProcess,
}

impl Fixture for EtcdFixture {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
}

async fn start_etcd() -> EtcdProcess {
    tokio::task::spawn_blocking(EtcdProcess::start)
        .await
        .expect("etcd start task")
}

fn options(etcd: &EtcdProcess) -> EtcdOptions {
    EtcdOptions {
        endpoints: vec![etcd.client_url().to_string()],
        ..EtcdOptions::default()
    }
}

async fn fixture() -> EtcdFixture {
    let etcd = start_etcd().await;
    let store = EtcdStore::connect(options(&etcd)).await.expect("connect to etcd");
    EtcdFixture {
        store: Arc::new(store),
        etcd,
    }
}

rudder_store::conformance_tests!(fixture);

fn val(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn raw_client(etcd: &EtcdProcess) -> etcd_client::Client {
    etcd_client::Client::connect([etcd.client_url()], None)
        .await
        .expect("raw etcd client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_live_under_the_registry_prefix() {
    let fx = fixture().await;
    let created = fx
        .store
        .create("/pods/default/web-0", val("pod"))
        .await
        .expect("create");
    assert_eq!(
        created.key, "/pods/default/web-0",
        "returned keys carry no prefix"
    );

    let mut raw = raw_client(&fx.etcd).await;
    let got = raw
        .get("/registry/pods/default/web-0", None)
        .await
        .expect("raw get");
    let kv = got.kvs().first().expect("the key is stored under /registry");
    assert_eq!(kv.value(), b"pod");
    assert_eq!(kv.mod_revision(), created.mod_revision);
    let bare = raw.get("/pods/default/web-0", None).await.expect("raw get bare");
    assert!(bare.kvs().is_empty(), "nothing is stored without the prefix");

    // A key written behind the store's back shows up unprefixed, and neighbours of the prefix
    // (`/registryX`) stay out.
    raw.put("/registry/pods/default/web-1", "raw", None)
        .await
        .expect("raw put");
    raw.put("/registryX/pods/default/web-2", "outside", None)
        .await
        .expect("raw put outside");
    let page = fx
        .store
        .list("/pods/", ListOptions::default())
        .await
        .expect("list");
    let keys: Vec<&str> = page.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/pods/default/web-0", "/pods/default/web-1"]);
    let all = fx
        .store
        .list("", ListOptions::default())
        .await
        .expect("list everything");
    assert_eq!(
        all.items.len(),
        2,
        "an empty prefix lists only keys under /registry"
    );

    let mut watch = fx
        .store
        .watch("/pods/", created.mod_revision - 1)
        .await
        .expect("watch");
    match watch.next().await {
        Some(Ok(WatchEvent::Put { kv, prev: None })) => assert_eq!(kv, created),
        other => panic!("expected the creation, got {other:?}"),
    }
    match watch.next().await {
        Some(Ok(WatchEvent::Put { kv, .. })) => assert_eq!(kv.key, "/pods/default/web-1"),
        other => panic!("expected the raw put, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_from_an_old_revision_etcd_still_holds() {
    let fx = fixture().await;
    let mut kv = fx.store.create("/r/k", val("0")).await.expect("create");
    let mut revisions = vec![kv.mod_revision];
    for i in 1..20 {
        kv = fx
            .store
            .update("/r/k", val(&i.to_string()), kv.mod_revision)
            .await
            .expect("update");
        revisions.push(kv.mod_revision);
    }
    // History older than the 5th write goes; a watcher that saw the 10th resumes after it.
    fx.store.compact(revisions[5]).await.expect("compact");
    fx.store
        .compact(revisions[3])
        .await
        .expect("compacting below the compacted revision is fine");
    let mut watch = fx.store.watch("/r/", revisions[10]).await.expect("resume watch");
    for (i, &rev) in revisions.iter().enumerate().skip(11) {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("event in time")
            .expect("stream open")
            .expect("event");
        match event {
            WatchEvent::Put { kv, prev: Some(prev) } => {
                assert_eq!(kv.mod_revision, rev);
                assert_eq!(kv.value, val(&i.to_string()));
                assert_eq!(prev.value, val(&(i - 1).to_string()));
            }
            other => panic!("expected an update with its previous value, got {other:?}"),
        }
    }
    // Resuming below the compacted revision is refused, naming both revisions.
    match fx.store.watch("/r/", revisions[2]).await {
        Err(StoreError::Compacted { requested, compacted }) => {
            assert_eq!((requested, compacted), (revisions[2], revisions[5]));
        }
        Ok(mut stream) => match stream.next().await {
            Some(Err(StoreError::Compacted { requested, compacted })) => {
                assert_eq!((requested, compacted), (revisions[2], revisions[5]));
            }
            other => panic!("expected Compacted, got {other:?}"),
        },
        Err(other) => panic!("expected Compacted, got {other}"),
    }
    match fx.store.get("/r/k", Some(revisions[1])).await {
        Err(StoreError::Compacted { requested, compacted }) => {
            assert_eq!((requested, compacted), (revisions[1], revisions[5]));
        }
        other => panic!("expected Compacted, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_revisions_are_refused() {
    let fx = fixture().await;
    let kv = fx.store.create("/f/a", val("a")).await.expect("create");
    let future = kv.mod_revision + 100;
    match fx
        .store
        .list(
            "/f/",
            ListOptions {
                at: Some(future),
                ..Default::default()
            },
        )
        .await
    {
        Err(StoreError::FutureRevision { requested, current }) => {
            assert_eq!((requested, current), (future, kv.mod_revision));
        }
        other => panic!("expected FutureRevision, got {other:?}"),
    }
    match fx.store.compact(future).await {
        Err(StoreError::FutureRevision { requested, .. }) => assert_eq!(requested, future),
        other => panic!("expected FutureRevision, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_etcd_is_unavailable() {
    let mut etcd = start_etcd().await;
    let store = EtcdStore::connect(EtcdOptions {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(2),
        keep_alive: Some((Duration::from_secs(5), Duration::from_secs(1))),
        ..options(&etcd)
    })
    .await
    .expect("connect");
    let kv = store.create("/s/a", val("a")).await.expect("create");
    let mut watch = store.watch("/s/", kv.mod_revision).await.expect("watch");

    etcd.stop();
    assert!(!etcd.is_running());

    // Generous outer deadline: the store must answer by itself well before it.
    let deadline = Duration::from_secs(15);
    let unavailable = |what: &str, result: Result<(), StoreError>| match result {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("{what} against a stopped etcd must be Unavailable, got {other:?}"),
    };
    let get = tokio::time::timeout(deadline, store.get("/s/a", None))
        .await
        .expect("get does not hang");
    unavailable("get", get.map(drop));
    let create = tokio::time::timeout(deadline, store.create("/s/b", val("b")))
        .await
        .expect("create does not hang");
    unavailable("create", create.map(drop));
    let list = tokio::time::timeout(deadline, store.list("/s/", ListOptions::default()))
        .await
        .expect("no hang");
    unavailable("list", list.map(drop));
    let rev = tokio::time::timeout(deadline, store.current_revision())
        .await
        .expect("no hang");
    unavailable("current_revision", rev.map(drop));
    let new_watch = tokio::time::timeout(deadline, store.watch("/s/", 0))
        .await
        .expect("watch does not hang");
    unavailable("watch", new_watch.map(drop));
    match tokio::time::timeout(deadline, watch.next())
        .await
        .expect("open watch ends")
    {
        Some(Err(StoreError::Unavailable(_))) => {}
        other => panic!("an open watch must end with Unavailable, got {other:?}"),
    }

    // Connecting to a stopped etcd fails too, rather than hanging.
    let connect = tokio::time::timeout(
        deadline,
        EtcdStore::connect(EtcdOptions {
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_secs(1),
            ..options(&etcd)
        }),
    )
    .await
    .expect("connect does not hang");
    unavailable("connect", connect.map(drop));
}

/// Sends `signal` to the etcd this test started, by its PID.
fn signal(etcd: &EtcdProcess, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(etcd.pid().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {} failed", etcd.pid());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_etcd_times_out_as_unavailable() {
    let etcd = start_etcd().await;
    let request_timeout = Duration::from_secs(1);
    let store = EtcdStore::connect(EtcdOptions {
        request_timeout,
        ..options(&etcd)
    })
    .await
    .expect("connect");
    store.create("/h/a", val("a")).await.expect("create");

    // A frozen etcd accepts connections but never answers: only the request deadline helps.
    signal(&etcd, "STOP");
    let started = std::time::Instant::now();
    let get = tokio::time::timeout(Duration::from_secs(15), store.get("/h/a", None)).await;
    let watch = tokio::time::timeout(Duration::from_secs(15), store.watch("/h/", 0)).await;
    signal(&etcd, "CONT");
    match get.expect("get does not hang") {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("a read from a hung etcd must be Unavailable, got {other:?}"),
    }
    match watch.expect("watch does not hang") {
        Err(StoreError::Unavailable(_)) => {}
        Err(other) => panic!("a watch on a hung etcd must be Unavailable, got {other}"),
        Ok(_) => panic!("a watch on a hung etcd must be Unavailable, got a stream"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "both gave up after about the request timeout"
    );

    // Once etcd runs again, so does the store.
    let kv = store
        .get("/h/a", None)
        .await
        .expect("get after resume")
        .expect("exists");
    assert_eq!(kv.value, val("a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_listings_are_not_cut_by_grpc_message_limits() {
    let fx = fixture().await;
    // Five values of 1 MiB each (etcd takes requests up to 1.5 MiB): a 5 MiB listing, beyond
    // gRPC's default 4 MiB response limit.
    let big = Bytes::from(vec![b'x'; 1 << 20]);
    let start = fx.store.current_revision().await.expect("revision");
    for i in 0..5 {
        fx.store
            .create(&format!("/big/{i}"), big.clone())
            .await
            .expect("create 1 MiB value");
    }
    let page = fx
        .store
        .list("/big/", ListOptions::default())
        .await
        .expect("list 5 MiB");
    assert_eq!(page.items.len(), 5);
    assert!(page.items.iter().all(|kv| kv.value == big));
    let mut watch = fx.store.watch("/big/", start).await.expect("watch");
    for _ in 0..5 {
        match watch.next().await {
            Some(Ok(WatchEvent::Put { kv, .. })) => assert_eq!(kv.value.len(), big.len()),
            other => panic!("expected a 1 MiB put, got {other:?}"),
        }
    }
}
