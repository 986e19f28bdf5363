//! Node IPAM controller against a real in-process apiserver: every node gets its own podCIDR
//! from --cluster-cidr, skipping the ones already handed out.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, PostParams};
use rudder_component::shutdown::Shutdown;
use rudder_controller_manager::options::Config;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;

#[tokio::test]
async fn nodes_get_distinct_pod_cidrs() {
    let server = TestApiServer::start().await;
    let client = server.client.clone();
    let nodes: Api<Node> = Api::all(client.clone());
    // A node that already has a podCIDR (from before a restart) keeps it.
    let old: Node = serde_json::from_value(json!({
        "metadata": {"name": "old"},
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]}
    }))
    .expect("node");
    nodes
        .create(&PostParams::default(), &old)
        .await
        .expect("create node");

    let mut config = Config::for_tests(&["nodeipam"]);
    config.kubeconfig = Some(server.kubeconfig.clone());
    config.controllers_config.allocate_node_cidrs = true;
    config.controllers_config.cluster_cidr = Some("10.244.0.0/16".into());
    config.controllers_config.node_cidr_mask_size = 24;
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(rudder_controller_manager::run(config, shutdown));

    for name in ["a", "b", "c"] {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).expect("node");
        nodes
            .create(&PostParams::default(), &node)
            .await
            .expect("create node");
    }
    let cidrs = eventually("every node has a podCIDR", Duration::from_secs(20), || {
        let nodes = nodes.clone();
        async move {
            let list = nodes.list(&Default::default()).await.ok()?;
            let cidrs: Vec<(String, String, Vec<String>)> = list
                .items
                .iter()
                .map(|n| {
                    let spec = n.spec.clone().unwrap_or_default();
                    (
                        n.metadata.name.clone().unwrap_or_default(),
                        spec.pod_cidr.unwrap_or_default(),
                        spec.pod_cidrs.unwrap_or_default(),
                    )
                })
                .collect();
            (cidrs.len() == 4 && cidrs.iter().all(|(_, c, _)| !c.is_empty())).then_some(cidrs)
        }
    })
    .await;
    let distinct: BTreeSet<&String> = cidrs.iter().map(|(_, c, _)| c).collect();
    assert_eq!(distinct.len(), 4, "no two nodes share a podCIDR: {cidrs:?}");
    for (name, cidr, list) in &cidrs {
        assert!(
            cidr.starts_with("10.244.") && cidr.ends_with("/24"),
            "{name}: {cidr}"
        );
        assert_eq!(list, &vec![cidr.clone()], "{name}: podCIDRs mirrors podCIDR");
    }
    assert!(cidrs.iter().any(|(n, c, _)| n == "old" && c == "10.244.0.0/24"));
    trigger.trigger();
}
