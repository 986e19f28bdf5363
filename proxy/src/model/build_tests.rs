use std::net::Ipv4Addr;

use serde_json::json;

use super::*;
use crate::fixtures::{ready, service, service_with_status, slice};

fn node() -> NodeContext {
    NodeContext {
        node_name: "n1".into(),
    }
}

fn ips(eps: &[Endpoint]) -> Vec<String> {
    eps.iter().map(|e| e.to_string()).collect()
}

#[test]
fn cluster_ip_service_with_named_target_port() {
    let svc = service(
        "default",
        "web",
        json!({"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}),
    );
    // The slice already carries the resolved container port (8080) under the service port name.
    let s = slice(
        "default",
        "web",
        "web-1",
        &[("http", 8080, "TCP")],
        &[ready("10.244.1.4", "n2"), ready("10.244.1.5", "n1")],
    );
    let state = build_state(&[svc], &[s], &node());
    assert_eq!(state.services.len(), 1);
    let sp = &state.services[0];
    assert_eq!(sp.port.name.to_string(), "default/web:http");
    assert_eq!(sp.port.cluster_ip, Ipv4Addr::new(10, 96, 0, 10));
    assert_eq!(ips(&sp.cluster_endpoints), ["10.244.1.4:8080", "10.244.1.5:8080"]);
    assert!(
        sp.local_endpoints.is_empty(),
        "Cluster policy needs no local list"
    );
    assert!(sp.has_any_endpoints);
}

#[test]
fn ignored_services() {
    let cases = [
        ("headless", json!({"clusterIP": "None", "ports": [{"port": 80}]})),
        (
            "external name",
            json!({"type": "ExternalName", "externalName": "x.example", "ports": [{"port": 80}]}),
        ),
        ("no cluster IP yet", json!({"ports": [{"port": 80}]})),
        (
            "IPv6 only",
            json!({"clusterIP": "fd00::10", "ports": [{"port": 80}]}),
        ),
    ];
    for (what, spec) in cases {
        let state = build_state(&[service("ns", "s", spec)], &[], &node());
        assert!(state.services.is_empty(), "{what}");
    }
}

#[test]
fn ready_terminating_and_local_selection() {
    // (case, endpoints, itp local, etp local w/ nodeport, want cluster, want local)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str, bool, bool, bool)>,
        bool,
        bool,
        Vec<&'a str>,
        Vec<&'a str>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "ready ones win over serving-terminating",
            vec![
                ("10.0.0.1", "n1", true, true, false),
                ("10.0.0.2", "n2", false, true, true),
            ],
            false,
            false,
            vec!["10.0.0.1:80"],
            vec![],
        ),
        (
            "no ready: serving terminating ones are used",
            vec![
                ("10.0.0.1", "n1", false, true, true),
                ("10.0.0.2", "n2", false, false, true),
                ("10.0.0.3", "n2", false, false, false),
            ],
            false,
            false,
            vec!["10.0.0.1:80"],
            vec![],
        ),
        (
            "internalTrafficPolicy Local: only this node's endpoints",
            vec![
                ("10.0.0.1", "n1", true, true, false),
                ("10.0.0.2", "n2", true, true, false),
            ],
            true,
            false,
            vec![],
            vec!["10.0.0.1:80"],
        ),
        (
            "externalTrafficPolicy Local: cluster list for internal, local list for external",
            vec![
                ("10.0.0.1", "n1", true, true, false),
                ("10.0.0.2", "n2", true, true, false),
            ],
            false,
            true,
            vec!["10.0.0.1:80", "10.0.0.2:80"],
            vec!["10.0.0.1:80"],
        ),
        (
            "etp Local falls back to local terminating while remote ready exists",
            vec![
                ("10.0.0.1", "n1", false, true, true),
                ("10.0.0.2", "n2", true, true, false),
            ],
            false,
            true,
            vec!["10.0.0.2:80"],
            vec!["10.0.0.1:80"],
        ),
        (
            "itp Local with no local endpoint",
            vec![("10.0.0.2", "n2", true, true, false)],
            true,
            false,
            vec![],
            vec![],
        ),
    ];
    for (what, eps, itp_local, etp_local, want_cluster, want_local) in cases {
        let mut spec = json!({"clusterIP": "10.96.0.1", "ports": [{"port": 80, "nodePort": 30080}],
                              "internalTrafficPolicy": if itp_local {"Local"} else {"Cluster"}});
        if etp_local {
            spec["type"] = json!("NodePort");
            spec["externalTrafficPolicy"] = json!("Local");
            spec["healthCheckNodePort"] = json!(31000);
        }
        let s = slice("ns", "s", "s-1", &[("", 80, "TCP")], &eps);
        let state = build_state(&[service("ns", "s", spec)], &[s], &node());
        let sp = &state.services[0];
        assert_eq!(ips(&sp.cluster_endpoints), want_cluster, "{what}: cluster");
        assert_eq!(ips(&sp.local_endpoints), want_local, "{what}: local");
        if etp_local {
            assert_eq!(sp.port.health_check_node_port, Some(31000), "{what}");
            assert_eq!(sp.local_endpoint_count(), want_local.len(), "{what}");
        }
    }
}

#[test]
fn itp_local_without_local_endpoint_still_knows_cluster_has_some() {
    let spec = json!({"clusterIP": "10.96.0.1", "ports": [{"port": 80}], "internalTrafficPolicy": "Local"});
    let s = slice("ns", "s", "s-1", &[("", 80, "TCP")], &[ready("10.0.0.2", "n2")]);
    let state = build_state(&[service("ns", "s", spec)], &[s], &node());
    let sp = &state.services[0];
    assert!(sp.has_any_endpoints);
    assert!(sp.internal_endpoints().is_empty());
}

#[test]
fn external_ips_lb_affinity_and_protocols() {
    let spec = json!({
        "type": "LoadBalancer", "clusterIP": "10.96.0.5",
        "externalIPs": ["192.0.2.7", "bogus"],
        "sessionAffinity": "ClientIP",
        "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "nodePort": 30054},
            {"name": "sig", "port": 9000, "protocol": "SCTP", "nodePort": 30055},
        ],
    });
    let svc = service_with_status(
        "kube-system",
        "dns",
        spec,
        json!({"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}, {"hostname": "lb.example"}]}}),
    );
    let s = slice(
        "kube-system",
        "dns",
        "dns-1",
        &[("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("sig", 9000, "SCTP")],
        &[ready("10.0.0.9", "n1")],
    );
    let state = build_state(&[svc], &[s], &node());
    let names: Vec<String> = state
        .services
        .iter()
        .map(|s| format!("{}/{}", s.port.name, s.port.name.protocol.lower()))
        .collect();
    assert_eq!(
        names,
        [
            "kube-system/dns:dns/udp",
            "kube-system/dns:dns-tcp/tcp",
            "kube-system/dns:sig/sctp"
        ]
    );
    for sp in &state.services {
        assert_eq!(sp.port.external_ips, [Ipv4Addr::new(192, 0, 2, 7)]);
        assert_eq!(sp.port.load_balancer_ips, [Ipv4Addr::new(198, 51, 100, 1)]);
        assert_eq!(sp.port.affinity_timeout, Some(DEFAULT_AFFINITY_TIMEOUT));
        assert_eq!(sp.cluster_endpoints.len(), 1);
        assert!(sp.port.node_port.is_some());
    }
}

#[test]
fn slices_merge_and_dedupe_preferring_ready() {
    let svc = service(
        "ns",
        "s",
        json!({"clusterIP": "10.96.0.1", "ports": [{"name": "p", "port": 80}]}),
    );
    let a = slice(
        "ns",
        "s",
        "s-a",
        &[("p", 8080, "TCP")],
        &[("10.0.0.1", "n2", false, false, false)],
    );
    let b = slice(
        "ns",
        "s",
        "s-b",
        &[("p", 8080, "TCP")],
        &[ready("10.0.0.1", "n2"), ready("10.0.0.2", "n2")],
    );
    // A slice of another service and one for another port name never leak in.
    let other = slice(
        "ns",
        "t",
        "t-a",
        &[("p", 8080, "TCP")],
        &[ready("10.0.0.3", "n2")],
    );
    let other_port = slice(
        "ns",
        "s",
        "s-c",
        &[("q", 9090, "TCP")],
        &[ready("10.0.0.4", "n2")],
    );
    let state = build_state(&[svc], &[a, b, other, other_port], &node());
    assert_eq!(
        ips(&state.services[0].cluster_endpoints),
        ["10.0.0.1:8080", "10.0.0.2:8080"]
    );
}

#[test]
fn nodeport_only_for_nodeport_types_and_affinity_timeout() {
    let spec = json!({"clusterIP": "10.96.0.1", "ports": [{"port": 80, "nodePort": 30001}],
        "externalTrafficPolicy": "Local", "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}});
    let state = build_state(&[service("ns", "s", spec)], &[], &node());
    let sp = &state.services[0].port;
    assert_eq!(sp.node_port, None, "ClusterIP type has no node port");
    assert!(
        !sp.external_policy_local,
        "etp only matters when externally accessible"
    );
    assert_eq!(sp.affinity_timeout, Some(60));
    assert!(!state.services[0].has_any_endpoints);
}
