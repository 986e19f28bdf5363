//! The node: registration, the Lease heartbeat and node status.

pub mod build;
pub mod lease;
pub mod machine;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{DaemonEndpoint, Node, NodeDaemonEndpoints, NodeSpec, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rudder_component::shutdown::Shutdown;
use tracing::{info, warn};

use crate::cni::{BridgeNetwork, write_conflist};
use crate::config::Config;
use crate::cri::RuntimeService;
use machine::Machine;

/// What the rest of the kubelet needs to know about its node.
#[derive(Debug, Clone)]
pub struct NodeFacts {
    pub name: String,
    pub ip: IpAddr,
    /// Allocatable cpu (millicores) and memory (bytes): the default for resourceFieldRef
    /// limits of containers that set none.
    pub allocatable_cpu_milli: i64,
    pub allocatable_memory: i64,
}

pub fn now() -> k8s_openapi::jiff::Timestamp {
    // Whole seconds: the API stores Time at second precision, and comparing with what was
    // written must not see phantom changes.
    let t = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// Registers and keeps the node up to date.
pub struct NodeAgent {
    config: Arc<Config>,
    client: kube::Client,
    runtime: Arc<dyn RuntimeService>,
    pub facts: NodeFacts,
}

impl std::fmt::Debug for NodeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAgent").field("facts", &self.facts).finish()
    }
}

impl NodeAgent {
    pub fn new(config: Arc<Config>, client: kube::Client, runtime: Arc<dyn RuntimeService>) -> Self {
        let machine = Machine::read(&config.root_dir);
        let cap = machine::capacity(&machine, config.max_pods);
        let alloc = machine::allocatable(
            &cap,
            &config.kube_reserved,
            &config.system_reserved,
            &config.eviction_hard,
        );
        let facts = NodeFacts {
            name: config.node_name.clone(),
            ip: config.node_ip.unwrap_or_else(build::detect_node_ip),
            allocatable_cpu_milli: alloc.get("cpu").copied().unwrap_or(0),
            allocatable_memory: alloc.get("memory").copied().unwrap_or(0),
        };
        NodeAgent {
            config,
            client,
            runtime,
            facts,
        }
    }

    fn status(
        &self,
        machine: &Machine,
        prev: &[k8s_openapi::api::core::v1::NodeCondition],
        health: &build::Health,
        runtime_version: &str,
    ) -> NodeStatus {
        let cap = machine::capacity(machine, self.config.max_pods);
        let alloc = machine::allocatable(
            &cap,
            &self.config.kube_reserved,
            &self.config.system_reserved,
            &self.config.eviction_hard,
        );
        NodeStatus {
            addresses: Some(build::addresses(self.facts.ip, &self.config.node_name)),
            capacity: Some(machine::to_quantities(&cap)),
            allocatable: Some(machine::to_quantities(&alloc)),
            conditions: Some(build::conditions(health, &self.config.eviction_hard, prev, now())),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint {
                    port: i32::from(self.config.port),
                }),
            }),
            node_info: Some(build::node_info(machine, runtime_version)),
            ..Default::default()
        }
    }

    /// Creates the Node, or adopts the existing one (labels reconciled; taints and spec left
    /// to whoever changed them since, as upstream).
    pub async fn register(&self) -> Result<Node, kube::Error> {
        let api: Api<Node> = Api::all(self.client.clone());
        let labels = build::labels(&self.config.node_name, &self.config.node_labels);
        let node = Node {
            metadata: ObjectMeta {
                name: Some(self.config.node_name.clone()),
                labels: Some(labels.clone()),
                annotations: Some(
                    [(
                        "volumes.kubernetes.io/controller-managed-attach-detach".to_string(),
                        "true".to_string(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: self.config.pod_cidr.clone(),
                pod_cidrs: self.config.pod_cidr.clone().map(|c| vec![c]),
                taints: Some(self.config.register_with_taints.clone()).filter(|t| !t.is_empty()),
                ..Default::default()
            }),
            status: None,
        };
        match api.create(&PostParams::default(), &node).await {
            Ok(n) => {
                info!(node = %self.config.node_name, "registered node");
                Ok(n)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let patch = serde_json::json!({ "metadata": { "labels": labels } });
                api.patch(
                    &self.config.node_name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            }
            Err(e) => Err(e),
        }
    }

    async fn health(&self, machine: &Machine) -> (build::Health, String) {
        let (not_ready, version) = match self.runtime.status().await {
            Err(e) => (Some(format!("container runtime is down: {e}")), String::new()),
            Ok(conds) => {
                let bad: Vec<String> = conds
                    .iter()
                    .filter(|c| !c.status)
                    .map(|c| format!("{}=false reason:{} message:{}", c.r#type, c.reason, c.message))
                    .collect();
                let version = match self.runtime.version().await {
                    Ok(v) => format!("{}://{}", v.runtime_name, v.runtime_version),
                    Err(_) => String::new(),
                };
                let why = if bad.is_empty() {
                    None
                } else if bad.iter().any(|b| b.starts_with("NetworkReady")) {
                    Some(format!("container runtime network not ready: {}", bad.join(", ")))
                } else {
                    Some(format!("container runtime not ready: {}", bad.join(", ")))
                };
                (why, version)
            }
        };
        (build::Health::of(machine, not_ready), version)
    }

    /// Writes the CNI conflist once the pod CIDR is known (flag, or node.spec.podCIDR).
    fn ensure_network(&self, node: Option<&Node>) {
        let cidr = self.config.pod_cidr.clone().or_else(|| {
            node.and_then(|n| n.spec.as_ref())
                .and_then(|s| s.pod_cidr.clone())
        });
        let Some(subnet) = cidr else { return };
        let net = BridgeNetwork {
            name: "rudder".into(),
            bridge: self.config.cni.bridge.clone(),
            subnet,
            ipam_data_dir: self.config.cni.ipam_dir.clone(),
        };
        match write_conflist(&self.config.cni.conf_dir, &net) {
            Ok(true) => {
                info!(subnet = %net.subnet, dir = %self.config.cni.conf_dir.display(), "wrote CNI config")
            }
            Ok(false) => {}
            Err(e) => warn!(error = %e, "write CNI config"),
        }
    }

    /// Registers (retrying), then renews the Lease and reports status until shutdown.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let mut node = loop {
            match self.register().await {
                Ok(n) => break n,
                Err(e) => {
                    warn!(error = %e, "register node; retrying");
                    tokio::select! {
                        _ = shutdown.wait() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        self.ensure_network(Some(&node));
        let lease = lease::LeaseRenewer::new(
            self.client.clone(),
            &self.config.node_name,
            self.config.node_lease_duration_seconds,
            node.metadata.uid.clone(),
        );
        tokio::spawn(lease.run(shutdown.clone()));
        let api: Api<Node> = Api::all(self.client.clone());
        let mut last_written: Option<(NodeStatus, tokio::time::Instant)> = None;
        loop {
            let machine = Machine::read(&self.config.root_dir);
            let (health, version) = self.health(&machine).await;
            let prev = node
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            let status = self.status(&machine, &prev, &health, &version);
            let due = match &last_written {
                None => true,
                Some((old, at)) => {
                    at.elapsed() >= self.config.node_status_report_frequency
                        || !build::same_conditions(
                            old.conditions.as_deref().unwrap_or_default(),
                            status.conditions.as_deref().unwrap_or_default(),
                        )
                        || old.addresses != status.addresses
                        || old.node_info != status.node_info
                        || old.allocatable != status.allocatable
                        || old.capacity != status.capacity
                }
            };
            if due {
                let patch = serde_json::json!({ "status": status });
                match api
                    .patch_status(
                        &self.config.node_name,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                {
                    Ok(n) => {
                        node = n;
                        last_written = Some((status, tokio::time::Instant::now()));
                    }
                    Err(e) => warn!(error = %e, "update node status"),
                }
            } else if let Ok(n) = api.get(&self.config.node_name).await {
                // Keep spec (podCIDR) fresh without writing.
                node = n;
            }
            self.ensure_network(Some(&node));
            // Until the network is ready, look again soon (NetworkReady follows the conflist).
            let wait = if health.not_ready.is_some() {
                Duration::from_millis(500)
            } else {
                self.config.node_status_update_frequency
            };
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
