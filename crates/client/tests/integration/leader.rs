//! Lease leader election against a real in-process apiserver.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::PostParams;
use parking_lot::Mutex;
use rudder_client::ClientError;
use rudder_client::leader::{LeaderElection, LeaderElectionConfig};
use rudder_component::{Shutdown, ShutdownTrigger};
use rudder_testkit::{TestApiServer, eventually};
use tokio::task::JoinHandle;
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(15);

fn config(name: &str, identity: &str) -> LeaderElectionConfig {
    let mut config = LeaderElectionConfig::new("kube-system", name);
    config.identity = identity.to_string();
    config.lease_duration = Duration::from_secs(3);
    config.renew_deadline = Duration::from_secs(2);
    config.retry_period = Duration::from_millis(100);
    config
}

/// Who is inside `lead` right now (in order of entry).
type Leaders = Arc<Mutex<Vec<String>>>;

struct Candidate {
    trigger: ShutdownTrigger,
    task: JoinHandle<Result<(), ClientError>>,
}

fn candidate(client: &kube::Client, config: LeaderElectionConfig, leaders: &Leaders) -> Candidate {
    let (trigger, shutdown) = Shutdown::new();
    let election = LeaderElection::new(client.clone(), config.clone());
    let leaders = leaders.clone();
    let task = tokio::spawn(election.run(shutdown, move |lost| async move {
        leaders.lock().push(config.identity.clone());
        lost.wait().await;
        leaders.lock().retain(|l| *l != config.identity);
    }));
    Candidate { trigger, task }
}

async fn wait_leader(leaders: &Leaders, who: &str) {
    eventually(&format!("{who} leads"), WAIT, || {
        let got = leaders.lock().clone();
        async move { (got == [who.to_string()]).then_some(()) }
    })
    .await;
}

async fn lease(client: &kube::Client, name: &str) -> Lease {
    Api::<Lease>::namespaced(client.clone(), "kube-system")
        .get(name)
        .await
        .expect("get lease")
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
async fn a_clean_stop_releases_the_lease_to_the_standby() {
    let server = TestApiServer::start().await;
    let leaders: Leaders = Arc::default();
    let name = "release";
    // A lease far longer than the test waits: b can only get it through a's release.
    let long = |identity: &str| {
        let mut config = config(name, identity);
        config.lease_duration = Duration::from_secs(60);
        config.renew_deadline = Duration::from_secs(30);
        config
    };
    let a = candidate(&server.client, long("a"), &leaders);
    wait_leader(&leaders, "a").await;
    let b = candidate(&server.client, long("b"), &leaders);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(*leaders.lock(), ["a"]);
    let spec = lease(&server.client, name).await.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_duration_seconds, Some(60));
    assert_eq!(spec.lease_transitions, Some(0));
    assert!(spec.acquire_time.is_some() && spec.renew_time.is_some());
    assert!(metrics_text().contains("leader_election_master_status{name=\"release\"} 1"));

    a.trigger.trigger();
    tokio::time::timeout(WAIT, a.task)
        .await
        .expect("a returns")
        .expect("join")
        .expect("clean stop is Ok");
    wait_leader(&leaders, "b").await;
    let spec = lease(&server.client, name).await.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));

    b.trigger.trigger();
    tokio::time::timeout(WAIT, b.task)
        .await
        .expect("b returns")
        .expect("join")
        .expect("clean stop is Ok");
    let spec = lease(&server.client, name).await.spec.expect("spec");
    assert_eq!(spec.holder_identity, None, "released on clean shutdown");
    assert_eq!(spec.lease_duration_seconds, Some(1));
    assert_eq!(spec.lease_transitions, Some(1));
    assert!(metrics_text().contains("leader_election_master_status{name=\"release\"} 0"));
}

#[tokio::test]
async fn a_vanished_leader_is_replaced_after_the_lease_expires() {
    let server = TestApiServer::start().await;
    let leaders: Leaders = Arc::default();
    let name = "expiry";
    let a = candidate(&server.client, config(name, "a"), &leaders);
    wait_leader(&leaders, "a").await;
    let b = candidate(&server.client, config(name, "b"), &leaders);
    // Longer than the lease duration: a keeps renewing, so b never gets in.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(*leaders.lock(), ["a"]);

    // a vanishes without releasing: b takes over only once the lease expired.
    a.task.abort();
    let _ = a.task.await;
    leaders.lock().clear(); // a's `lead` was dropped mid-way
    let dropped_at = Instant::now();
    assert_eq!(
        lease(&server.client, name)
            .await
            .spec
            .and_then(|s| s.holder_identity)
            .as_deref(),
        Some("a"),
        "not released"
    );
    wait_leader(&leaders, "b").await;
    assert!(
        dropped_at.elapsed() >= Duration::from_secs(1),
        "b waited for the lease to expire ({:?})",
        dropped_at.elapsed()
    );
    let spec = lease(&server.client, name).await.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
    b.trigger.trigger();
    let _ = b.task.await;
    drop(a.trigger);
}

#[tokio::test]
async fn losing_the_lease_fires_lost_and_returns_an_error() {
    let server = TestApiServer::start().await;
    let leaders: Leaders = Arc::default();
    let name = "stolen";
    let a = candidate(&server.client, config(name, "a"), &leaders);
    wait_leader(&leaders, "a").await;

    // Someone else writes the lease as theirs: a cannot renew and must give up within the
    // renew deadline.
    let api = Api::<Lease>::namespaced(server.client.clone(), "kube-system");
    let mut stolen = api.get(name).await.expect("get");
    if let Some(spec) = stolen.spec.as_mut() {
        spec.holder_identity = Some("thief".into());
        spec.lease_duration_seconds = Some(3600);
    }
    api.replace(name, &PostParams::default(), &stolen)
        .await
        .expect("steal");

    let result = tokio::time::timeout(WAIT, a.task)
        .await
        .expect("a returns")
        .expect("join");
    assert!(
        matches!(result, Err(ClientError::LeaderElectionLost { .. })),
        "{result:?}"
    );
    assert!(leaders.lock().is_empty(), "lead saw `lost` and returned");
    let spec = lease(&server.client, name).await.spec.expect("spec");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some("thief"),
        "not released by the loser"
    );
    drop(a.trigger);
}

#[tokio::test]
async fn shutdown_before_acquiring_returns_without_leading() {
    let server = TestApiServer::start().await;
    let leaders: Leaders = Arc::default();
    let name = "busy";
    let a = candidate(&server.client, config(name, "a"), &leaders);
    wait_leader(&leaders, "a").await;
    let b = candidate(&server.client, config(name, "b"), &leaders);
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.trigger.trigger();
    tokio::time::timeout(WAIT, b.task)
        .await
        .expect("b returns")
        .expect("join")
        .expect("Ok");
    assert_eq!(*leaders.lock(), ["a"]);
    a.trigger.trigger();
    let _ = a.task.await;
}
