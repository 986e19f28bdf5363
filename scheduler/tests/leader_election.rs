//! Two schedulers with leader election: only the leader binds; the standby takes over when the
//! leader shuts down.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use rudder_client::events::EventType;
use rudder_client::leader::LeaderElectionConfig;
use rudder_scheduler::config::options::Config;
use rudder_scheduler::framework::PodInfo;
use rudder_scheduler::run::{ApiError, ClusterApi, KubeApi, Unschedulable};
use rudder_testkit::eventually;
use serde_json::json;

/// The real API, counting bindings.
#[derive(Debug)]
struct Counting {
    inner: Arc<KubeApi>,
    binds: AtomicUsize,
}

#[async_trait]
impl ClusterApi for Counting {
    async fn bind(&self, pod: &PodInfo, node: &str) -> Result<(), ApiError> {
        self.binds.fetch_add(1, Ordering::SeqCst);
        self.inner.bind(pod, node).await
    }
    async fn mark_unschedulable(&self, pod: &PodInfo, why: &Unschedulable) -> Result<(), ApiError> {
        self.inner.mark_unschedulable(pod, why).await
    }
    async fn set_nominated_node(&self, pod: &PodInfo, node: Option<&str>) -> Result<(), ApiError> {
        self.inner.set_nominated_node(pod, node).await
    }
    async fn preempt(&self, victim: &PodInfo, preemptor: &PodInfo, node: &str) -> Result<(), ApiError> {
        self.inner.preempt(victim, preemptor, node).await
    }
    fn event(&self, pod: &PodInfo, type_: EventType, reason: &str, action: &str, message: &str) {
        self.inner.event(pod, type_, reason, action, message);
    }
}

fn elected(client: &kube::Client, identity: &str, api: Arc<Counting>) -> Config {
    let mut le = LeaderElectionConfig::new("kube-system", "kube-scheduler");
    le.identity = identity.to_string();
    le.lease_duration = Duration::from_secs(3);
    le.renew_deadline = Duration::from_secs(2);
    le.retry_period = Duration::from_millis(500);
    Config {
        leader_election: Some(le),
        api: Some(api),
        ..Config::for_client(client.clone())
    }
}

async fn holder(client: &kube::Client) -> Option<String> {
    let lease =
        kube::Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(client.clone(), "kube-system")
            .get_opt("kube-scheduler")
            .await
            .ok()??;
    lease.spec?.holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_binds_and_the_standby_takes_over() {
    let server = rudder_testkit::TestApiServer::start().await;
    let c = &server.client;
    create_node(c, "n1", "4", json!({})).await;
    let a = Arc::new(Counting {
        inner: KubeApi::new(c.clone()),
        binds: AtomicUsize::new(0),
    });
    let b = Arc::new(Counting {
        inner: KubeApi::new(c.clone()),
        binds: AtomicUsize::new(0),
    });
    let mut sched_a = start_scheduler(elected(c, "sched-a", a.clone()));
    // Let A take the lease first, then start the standby.
    eventually("a leads", WAIT, || async {
        (holder(c).await.as_deref() == Some("sched-a")).then_some(())
    })
    .await;
    let _sched_b = start_scheduler(elected(c, "sched-b", b.clone()));

    for i in 0..3 {
        create_pod(c, &format!("first-{i}"), "100m", json!({})).await;
    }
    for i in 0..3 {
        wait_bound(c, &format!("first-{i}")).await;
    }
    assert_eq!(a.binds.load(Ordering::SeqCst), 3);
    assert_eq!(b.binds.load(Ordering::SeqCst), 0);

    // The leader stops and releases the lease (upstream ReleaseOnCancel): right after it
    // returned the lease no longer names it, well before its 3s duration would have run out.
    sched_a.trigger.trigger();
    (&mut sched_a.task).await.expect("scheduler a");
    assert_ne!(holder(c).await.as_deref(), Some("sched-a"));
    eventually("b leads", WAIT, || async {
        (holder(c).await.as_deref() == Some("sched-b")).then_some(())
    })
    .await;
    create_pod(c, "second", "100m", json!({})).await;
    wait_bound(c, "second").await;
    assert_eq!(b.binds.load(Ordering::SeqCst), 1);
    assert_eq!(a.binds.load(Ordering::SeqCst), 3);
}
