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
    config.lease_duration = Duration::from_secs(2);
    config.renew_deadline = Duration::from_secs(1);
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
async fn one_leader_then_handover_on_release_and_on_expiry() {
    let server = TestApiServer::start().await;
    let leaders: Leaders = Arc::default();
    let name = "handover";

    let a = candidate(&server.client, config(name, "a"), &leaders);
    wait_leader(&leaders, "a").await;
    let b = candidate(&server.client, config(name, "b"), &leaders);
    // Longer than the lease duration: a keeps renewing, so b never gets in.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(*leaders.lock(), ["a"]);
    let spec = lease(&server.client, name).await.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_duration_seconds, Some(2));
    assert_eq!(spec.lease_transitions, Some(0));
    assert!(spec.acquire_time.is_some() && spec.renew_time.is_some());
    assert!(metrics_text().contains("leader_election_master_status{name=\"handover\"} 1"));

    // a stops cleanly: it releases the lease, b takes over well before a lease duration.
    a.trigger.trigger();
    let released_at = Instant::now();
    tokio::time::timeout(WAIT, a.task)
        .await
        .expect("a returns")
        .expect("join")
        .expect("clean stop is Ok");
    wait_leader(&leaders, "b").await;
    assert!(
        released_at.elapsed() < Duration::from_secs(2),
        "b took over after a release, not after expiry ({:?})",
        released_at.elapsed()
    );
    let spec = lease(&server.client, name).await.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));

    // b vanishes without releasing: c takes over only once the lease expired.
    let c = candidate(&server.client, config(name, "c"), &leaders);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*leaders.lock(), ["b"]);
    b.task.abort();
    let _ = b.task.await;
    leaders.lock().clear(); // b's `lead` was dropped mid-way
    let dropped_at = Instant::now();
    wait_leader(&leaders, "c").await;
    assert!(
        dropped_at.elapsed() >= Duration::from_millis(1500),
        "c waited for the lease to expire ({:?})",
        dropped_at.elapsed()
    );
    let spec = lease(&server.client, name).await.spec.expect("spec");
    assert_eq!(spec.holder_identity.as_deref(), Some("c"));
    assert_eq!(spec.lease_transitions, Some(2));

    c.trigger.trigger();
    tokio::time::timeout(WAIT, c.task)
        .await
        .expect("c returns")
        .expect("join")
        .expect("clean stop is Ok");
    let spec = lease(&server.client, name).await.spec.expect("spec");
    assert_eq!(spec.holder_identity, None, "released on clean shutdown");
    assert!(metrics_text().contains("leader_election_master_status{name=\"handover\"} 0"));
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
