//! Test builders for Services and EndpointSlices (unit tests and golden tests).

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

/// A Service `ns/name` with the given spec (JSON) and optional status.
pub(crate) fn service(ns: &str, name: &str, spec: Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": name},
        "spec": spec,
    }))
    .expect("valid service")
}

/// A Service with a status (load-balancer ingress).
pub(crate) fn service_with_status(ns: &str, name: &str, spec: Value, status: Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": name},
        "spec": spec,
        "status": status,
    }))
    .expect("valid service")
}

/// One endpoint for [`slice`]: (ip, node, ready, serving, terminating).
pub(crate) type Ep<'a> = (&'a str, &'a str, bool, bool, bool);

/// A ready endpoint on `node`.
pub(crate) fn ready<'a>(ip: &'a str, node: &'a str) -> Ep<'a> {
    (ip, node, true, true, false)
}

/// An EndpointSlice of service `ns/svc` with ports (name, number, protocol).
pub(crate) fn slice(
    ns: &str,
    svc: &str,
    slice_name: &str,
    ports: &[(&str, i32, &str)],
    eps: &[Ep<'_>],
) -> EndpointSlice {
    let ports: Vec<Value> = ports
        .iter()
        .map(|(n, p, proto)| json!({"name": n, "port": p, "protocol": proto}))
        .collect();
    let endpoints: Vec<Value> = eps
        .iter()
        .map(|(ip, node, r, s, t)| {
            json!({"addresses": [ip], "nodeName": node,
                   "conditions": {"ready": r, "serving": s, "terminating": t}})
        })
        .collect();
    serde_json::from_value(json!({
        "metadata": {"namespace": ns, "name": slice_name,
                     "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": endpoints,
    }))
    .expect("valid slice")
}

/// A few services covering NodePort, no endpoints (UDP), etp Local with health check, external
/// IP and affinity: the input of the golden tests.
pub(crate) fn sample_state() -> crate::model::ProxyState {
    let node = crate::model::NodeContext {
        node_name: "n1".into(),
    };
    let svcs = [
        service(
            "default",
            "web",
            json!({"clusterIP": "10.96.0.10", "type": "NodePort",
            "ports": [{"name": "http", "port": 80, "targetPort": "web", "nodePort": 30080}]}),
        ),
        service(
            "default",
            "empty",
            json!({"clusterIP": "10.96.0.12", "ports": [{"port": 53, "protocol": "UDP"}]}),
        ),
        service(
            "ns2",
            "local",
            json!({"clusterIP": "10.96.0.13", "type": "NodePort", "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 31313, "externalIPs": ["192.0.2.5"], "sessionAffinity": "ClientIP",
            "ports": [{"name": "p", "port": 8080, "nodePort": 30081}]}),
        ),
    ];
    let slices = [
        slice(
            "default",
            "web",
            "web-a",
            &[("http", 8080, "TCP")],
            &[
                ready("10.244.1.4", "n1"),
                ready("10.244.2.5", "n2"),
                ready("10.244.2.6", "n2"),
            ],
        ),
        slice(
            "ns2",
            "local",
            "local-a",
            &[("p", 9000, "TCP")],
            &[ready("10.244.1.7", "n1"), ready("10.244.2.8", "n2")],
        ),
    ];
    crate::model::build_state(&svcs, &slices, &node)
}

pub(crate) fn sample_opts() -> crate::iptables::RenderOptions {
    crate::iptables::RenderOptions {
        cluster_cidr: Some("10.244.0.0/16".parse().unwrap()),
        masquerade_all: false,
    }
}
