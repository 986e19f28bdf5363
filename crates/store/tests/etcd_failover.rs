//! Failover between etcd members (`--etcd-servers` with several URLs): when the member a store
//! talks to goes away, reads, writes and new watches carry on with the next member, as upstream's
//! clientv3 does. A member is simulated by a TCP proxy to a real etcd that the test can kill,
//! closing every connection through it, as a stopped etcd would.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use parking_lot::Mutex;
use rudder_store::etcd::{EtcdOptions, EtcdStore};
use rudder_store::etcd_process::{EtcdProcess, EtcdProcessOptions};
use rudder_store::{Store, StoreError};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

async fn start_etcd() -> EtcdProcess {
    tokio::task::spawn_blocking(|| {
        EtcdProcess::start_with(EtcdProcessOptions {
            unsafe_no_fsync: true,
            ..Default::default()
        })
    })
    .await
    .unwrap()
}

fn options(endpoints: Vec<String>) -> EtcdOptions {
    EtcdOptions {
        endpoints,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

/// A URL nothing listens on: connections are refused.
async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A TCP proxy to etcd standing in for one member; `kill` stops it and drops its connections.
struct Member {
    url: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Member {
    async fn start(etcd_url: &str) -> Member {
        let target = etcd_url.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accepted = tasks.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                accepted.lock().push(relay);
            }
        });
        tasks.lock().push(acceptor);
        Member { url, tasks }
    }

    fn kill(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test]
async fn a_store_whose_first_endpoint_is_down_serves_from_the_next() {
    let etcd = start_etcd().await;
    let store = EtcdStore::connect(options(vec![dead_url().await, etcd.client_url().to_string()]))
        .await
        .expect("connect skips the unreachable member");

    let created = store.create("/a", Bytes::from_static(b"1")).await.unwrap();
    let read = store.get("/a", None).await.unwrap().expect("the key was created");
    assert_eq!(read.value, Bytes::from_static(b"1"));
    let mut watch = store.watch("/", created.mod_revision - 1).await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("the watch delivers the create")
        .unwrap()
        .unwrap();
    assert_eq!(event.revision(), created.mod_revision);
}

#[tokio::test]
async fn when_the_pinned_member_dies_requests_and_new_watches_move_to_the_next() {
    let etcd = start_etcd().await;
    let member = Member::start(etcd.client_url()).await;
    let store = EtcdStore::connect(options(vec![member.url.clone(), etcd.client_url().to_string()]))
        .await
        .unwrap();
    let first = store.create("/k/1", Bytes::from_static(b"1")).await.unwrap();
    let mut watch = store.watch("/k/", first.mod_revision).await.unwrap();

    member.kill();

    // The watch through the dead member ends with an error the caller can resume from.
    let ended = tokio::time::timeout(Duration::from_secs(30), watch.next())
        .await
        .expect("the watch on the dead member ends");
    match ended {
        Some(Ok(event)) => panic!("unexpected event {event:?}"),
        Some(Err(err)) => assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}"),
        None => {}
    }

    // Every request succeeds on the first try after the member died: none is lost to it.
    let second = store.create("/k/2", Bytes::from_static(b"2")).await.unwrap();
    let updated = store
        .update("/k/1", Bytes::from_static(b"1b"), first.mod_revision)
        .await
        .unwrap();
    assert_eq!(
        store.get("/k/2", None).await.unwrap().unwrap().value,
        Bytes::from_static(b"2")
    );
    let page = store.list("/k/", Default::default()).await.unwrap();
    assert_eq!(page.items.len(), 2);

    // A new watch from where the old one stopped sees what happened meanwhile.
    let mut resumed = store.watch("/k/", first.mod_revision).await.unwrap();
    for want in [second.mod_revision, updated.mod_revision] {
        let event = tokio::time::timeout(Duration::from_secs(10), resumed.next())
            .await
            .expect("the resumed watch delivers")
            .unwrap()
            .unwrap();
        assert_eq!(event.revision(), want);
    }
}

#[tokio::test]
async fn with_every_member_down_a_request_fails_as_unavailable() {
    let store = EtcdStore::connect(options(vec![dead_url().await, dead_url().await])).await;
    match store {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("want Unavailable, got {other:?}"),
    }
}
