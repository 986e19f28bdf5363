//! ClientIP session affinity in the real kernel (nftables mode): the per-endpoint affinity sets
//! keep their clients when a later sync is about something else, as upstream's proxier does.

use std::sync::Arc;

use rudder_proxy::backend::Backend;
use rudder_proxy::exec::CommandExecutor;
use rudder_proxy::iptables::RenderOptions;
use rudder_proxy::model::{NodeContext, ProxyState, build_state};
use rudder_proxy::nftables::NftablesBackend;
use serde_json::json;

use crate::lab::{Lab, service, sh, slice};

/// `default/web` with ClientIP affinity over `eps`; with `other`, an unrelated service too.
fn state(eps: &[&str], timeout: u32, other: bool) -> ProxyState {
    let mut svcs = vec![service(
        "default",
        "web",
        json!({"clusterIP": "10.96.0.10", "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": timeout}},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
    )];
    let mut slices = vec![slice("default", "web", "http", 8080, eps)];
    if other {
        svcs.push(service(
            "default",
            "other",
            json!({"clusterIP": "10.96.0.11", "ports": [{"name": "http", "port": 81, "targetPort": 8080}]}),
        ));
        slices.push(slice("default", "other", "http", 8080, &eps[..1]));
    }
    let node = NodeContext {
        node_name: "n1".into(),
    };
    build_state(&svcs, &slices, &node)
}

/// Each affinity set in the listed table: its name and the block listing it.
fn affinity_sets(table: &str) -> Vec<(String, String)> {
    let mut sets = Vec::new();
    let mut lines = table.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix("set affinity-") else {
            continue;
        };
        let name = format!("affinity-{}", name.trim_end_matches(" {").trim());
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "}").collect();
        sets.push((name, body.join("\n")));
    }
    sets
}

fn nft(lab: &Lab, args: &[&str]) {
    let mut cmd = vec!["ip", "netns", "exec", &lab.node, "nft"];
    cmd.extend_from_slice(args);
    sh(&cmd).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn affinity_sets_keep_their_clients_across_unrelated_syncs() {
    let mut lab = Lab::new();
    let a = lab.add_pod(10, "pod-a", 8080);
    let b = lab.add_pod(11, "pod-b", 8080);
    let mut backend = NftablesBackend::new(
        Arc::new(CommandExecutor::in_netns(&lab.node)),
        RenderOptions {
            cluster_cidr: Some("10.200.0.0/24".parse().unwrap()),
            masquerade_all: false,
        },
    );
    backend.sync(&state(&[&a, &b], 600, false)).unwrap();

    // A real connection puts the client (the node's bridge address) in its endpoint's set.
    let first = lab.connect("10.96.0.10", 80).expect("service answers");
    let table = lab.nft_table().unwrap();
    let sets = affinity_sets(&table);
    assert_eq!(sets.len(), 2, "one set per endpoint:\n{table}");
    let remembered: Vec<&String> = sets
        .iter()
        .filter(|(_, body)| body.contains("10.200.0.1 "))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(remembered.len(), 1, "the client is in one set:\n{table}");
    // And one element added by hand, as a client seen earlier.
    nft(
        &lab,
        &[
            "add",
            "element",
            "ip",
            "kube-proxy",
            &sets[0].0,
            "{ 10.200.0.77 }",
        ],
    );

    // Another service appears: both elements survive and the client keeps its endpoint.
    backend.sync(&state(&[&a, &b], 600, true)).unwrap();
    let table = lab.nft_table().unwrap();
    let after = affinity_sets(&table);
    assert!(
        table.contains("10.96.0.11"),
        "the other service is there:\n{table}"
    );
    let find = |name: &str| after.iter().find(|(n, _)| n == name).map(|(_, b)| b.clone());
    let remembered_body = find(remembered[0]).expect("set still there");
    assert!(remembered_body.contains("10.200.0.1 "), "client kept:\n{table}");
    let hand = find(&sets[0].0).expect("set still there");
    assert!(hand.contains("10.200.0.77"), "element kept:\n{table}");
    for _ in 0..6 {
        assert_eq!(lab.connect("10.96.0.10", 80).as_deref(), Some(first.as_str()));
    }

    // The other service goes: its chains are deleted in place, the sets stay.
    backend.sync(&state(&[&a, &b], 600, false)).unwrap();
    let table = lab.nft_table().unwrap();
    assert!(!table.contains("10.96.0.11"), "stale service left:\n{table}");
    assert!(!table.contains("/other/"), "stale chains left:\n{table}");
    let hand = affinity_sets(&table).into_iter().find(|(n, _)| *n == sets[0].0);
    assert!(hand.is_some_and(|(_, b)| b.contains("10.200.0.77")), "{table}");

    // A new timeout recreates the sets (the kernel cannot change it in place).
    backend.sync(&state(&[&a, &b], 60, false)).unwrap();
    let table = lab.nft_table().unwrap();
    let sets = affinity_sets(&table);
    assert_eq!(sets.len(), 2, "{table}");
    assert!(sets.iter().all(|(_, b)| b.contains("timeout 1m")), "{table}");
    assert!(lab.connect("10.96.0.10", 80).is_some(), "still answers");
}
