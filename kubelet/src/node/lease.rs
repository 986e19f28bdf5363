//! The node heartbeat: a coordination.k8s.io/v1 Lease in kube-node-lease, renewed every
//! quarter of its duration (10 s for upstream's 40 s).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};
use rudder_component::shutdown::Shutdown;
use tracing::warn;

pub const NAMESPACE: &str = "kube-node-lease";

#[derive(Debug)]
pub struct LeaseRenewer {
    api: Api<Lease>,
    node: String,
    duration_seconds: i32,
    node_uid: Option<String>,
}

impl LeaseRenewer {
    pub fn new(client: kube::Client, node: &str, duration_seconds: i32, node_uid: Option<String>) -> Self {
        LeaseRenewer {
            api: Api::namespaced(client, NAMESPACE),
            node: node.into(),
            duration_seconds,
            node_uid,
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.duration_seconds.max(1) as u64 * 250)
    }

    /// One renewal: creates the Lease, or updates its renewTime (optimistic concurrency).
    pub async fn renew(&self) -> Result<Lease, kube::Error> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        match self.api.get_opt(&self.node).await? {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.node.clone()),
                        namespace: Some(NAMESPACE.into()),
                        owner_references: self.node_uid.clone().map(|uid| {
                            vec![OwnerReference {
                                api_version: "v1".into(),
                                kind: "Node".into(),
                                name: self.node.clone(),
                                uid,
                                ..Default::default()
                            }]
                        }),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.node.clone()),
                        lease_duration_seconds: Some(self.duration_seconds),
                        renew_time: Some(now),
                        ..Default::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                let spec = lease.spec.get_or_insert_with(Default::default);
                spec.holder_identity = Some(self.node.clone());
                spec.lease_duration_seconds = Some(self.duration_seconds);
                spec.renew_time = Some(now);
                self.api.replace(&self.node, &PostParams::default(), &lease).await
            }
        }
    }

    pub async fn run(self, shutdown: Shutdown) {
        loop {
            // On failure retry sooner (upstream backs off from 200 ms up to 7 s).
            let wait = match self.renew().await {
                Ok(_) => self.interval(),
                Err(e) => {
                    warn!(node = %self.node, error = %e, "renew node lease");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
