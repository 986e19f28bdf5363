//! Table tests of every record type over an index built from objects (no runtime).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use crate::index::{Index, dashed};
use crate::lookup::{Outcome, QType, RData, Rr, lookup, parse_reverse};

const ZONE: &str = "cluster.local";

fn svc(v: serde_json::Value) -> Service {
    serde_json::from_value(v).unwrap()
}

fn fixture() -> Index {
    let services = vec![
        svc(json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20", "fd00::20"],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"},
                               {"name": "dns", "port": 53, "protocol": "UDP"},
                               {"port": 9000}]}})),
        svc(json!({"metadata": {"name": "db", "namespace": "data"},
            "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}})),
        svc(json!({"metadata": {"name": "lonely", "namespace": "data"},
            "spec": {"clusterIP": "None"}})),
        svc(json!({"metadata": {"name": "eager", "namespace": "data"},
            "spec": {"clusterIP": "None", "publishNotReadyAddresses": true}})),
        svc(json!({"metadata": {"name": "ext", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "Example.COM."}})),
        svc(json!({"metadata": {"name": "alias", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "web.default.svc.cluster.local"}})),
        svc(json!({"metadata": {"name": "v6only", "namespace": "default"},
            "spec": {"clusterIP": "fd00::30", "clusterIPs": ["fd00::30"]}})),
    ];
    let slices: Vec<EndpointSlice> = vec![
        serde_json::from_value(json!({
            "metadata": {"name": "db-abc", "namespace": "data", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "ports": [{"name": "pg", "port": 5433, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.244.1.5"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.244.1.6"], "conditions": {}},
                {"addresses": ["10.244.1.7"], "hostname": "db-2", "conditions": {"ready": false}}
            ]})).unwrap(),
        serde_json::from_value(json!({
            "metadata": {"name": "eager-x", "namespace": "data", "labels": {"kubernetes.io/service-name": "eager"}},
            "addressType": "IPv6",
            "endpoints": [{"addresses": ["fd00::9"], "conditions": {"ready": false}}]})).unwrap(),
        // A slice without its Service is ignored.
        serde_json::from_value(json!({
            "metadata": {"name": "orphan", "namespace": "data", "labels": {"kubernetes.io/service-name": "gone"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.9.9"]}]})).unwrap(),
    ];
    let namespaces: Vec<Namespace> =
        vec![serde_json::from_value(json!({"metadata": {"name": "empty-ns"}})).unwrap()];
    Index::build(&services, &slices, &namespaces)
}

fn a(name: &str, ip: &str) -> Rr {
    let data = match ip.parse::<IpAddr>().unwrap() {
        IpAddr::V4(v4) => RData::A(v4),
        IpAddr::V6(v6) => RData::Aaaa(v6),
    };
    Rr {
        name: name.to_string(),
        data,
    }
}

fn srv(name: &str, weight: u16, port: u16, target: &str) -> Rr {
    Rr {
        name: name.to_string(),
        data: RData::Srv {
            priority: 0,
            weight,
            port,
            target: target.to_string(),
        },
    }
}

fn answer(answers: Vec<Rr>, additionals: Vec<Rr>) -> Outcome {
    Outcome::Answer { answers, additionals }
}

fn only(answers: Vec<Rr>) -> Outcome {
    answer(answers, Vec::new())
}

#[test]
fn table() {
    let index = fixture();
    let web = "web.default.svc.cluster.local";
    let db = "db.data.svc.cluster.local";
    let cases: Vec<(&str, &str, QType, Outcome)> = vec![
        // ClusterIP: one address per family; other types are NODATA.
        (
            "clusterIP A",
            "web.default.svc.cluster.local.",
            QType::A,
            only(vec![a(web, "10.96.0.20")]),
        ),
        (
            "case-insensitive",
            "WEB.Default.SVC.cluster.LOCAL",
            QType::A,
            only(vec![a(web, "10.96.0.20")]),
        ),
        ("clusterIP AAAA", web, QType::Aaaa, only(vec![a(web, "fd00::20")])),
        ("clusterIP TXT", web, QType::Other, Outcome::NoData),
        (
            "v6-only A",
            "v6only.default.svc.cluster.local",
            QType::A,
            Outcome::NoData,
        ),
        (
            "v6-only AAAA",
            "v6only.default.svc.cluster.local",
            QType::Aaaa,
            only(vec![a("v6only.default.svc.cluster.local", "fd00::30")]),
        ),
        (
            "unknown service",
            "nope.default.svc.cluster.local",
            QType::A,
            Outcome::NxDomain,
        ),
        // SRV on named ports.
        (
            "named port SRV",
            "_http._tcp.web.default.svc.cluster.local",
            QType::Srv,
            answer(
                vec![srv("_http._tcp.web.default.svc.cluster.local", 100, 80, web)],
                vec![a(web, "10.96.0.20"), a(web, "fd00::20")],
            ),
        ),
        (
            "udp port SRV",
            "_dns._udp.web.default.svc.cluster.local",
            QType::Srv,
            answer(
                vec![srv("_dns._udp.web.default.svc.cluster.local", 100, 53, web)],
                vec![a(web, "10.96.0.20"), a(web, "fd00::20")],
            ),
        ),
        (
            "SRV wrong proto",
            "_http._udp.web.default.svc.cluster.local",
            QType::Srv,
            Outcome::NxDomain,
        ),
        (
            "SRV unknown port",
            "_nope._tcp.web.default.svc.cluster.local",
            QType::Srv,
            Outcome::NxDomain,
        ),
        (
            "SRV name, A query",
            "_http._tcp.web.default.svc.cluster.local",
            QType::A,
            Outcome::NoData,
        ),
        (
            "SRV without underscores",
            "http.tcp.web.default.svc.cluster.local",
            QType::Srv,
            Outcome::NxDomain,
        ),
        (
            "SRV of the service name: every port",
            web,
            QType::Srv,
            answer(
                vec![
                    srv(web, 100, 80, web),
                    srv(web, 100, 53, web),
                    srv(web, 100, 9000, web),
                ],
                vec![a(web, "10.96.0.20"), a(web, "fd00::20")],
            ),
        ),
        // Headless: ready endpoints (nil ready counts as ready), not the not-ready one.
        (
            "headless A",
            db,
            QType::A,
            only(vec![a(db, "10.244.1.5"), a(db, "10.244.1.6")]),
        ),
        ("headless AAAA", db, QType::Aaaa, Outcome::NoData),
        (
            "headless endpoint hostname",
            "db-0.db.data.svc.cluster.local",
            QType::A,
            only(vec![a("db-0.db.data.svc.cluster.local", "10.244.1.5")]),
        ),
        (
            "headless endpoint without hostname: dashed IP",
            "10-244-1-6.db.data.svc.cluster.local",
            QType::A,
            only(vec![a("10-244-1-6.db.data.svc.cluster.local", "10.244.1.6")]),
        ),
        (
            "not-ready endpoint has no name",
            "db-2.db.data.svc.cluster.local",
            QType::A,
            Outcome::NxDomain,
        ),
        (
            "headless named port SRV",
            "_pg._tcp.db.data.svc.cluster.local",
            QType::Srv,
            answer(
                vec![
                    srv(
                        "_pg._tcp.db.data.svc.cluster.local",
                        50,
                        5433,
                        "db-0.db.data.svc.cluster.local",
                    ),
                    srv(
                        "_pg._tcp.db.data.svc.cluster.local",
                        50,
                        5433,
                        "10-244-1-6.db.data.svc.cluster.local",
                    ),
                ],
                vec![
                    a("db-0.db.data.svc.cluster.local", "10.244.1.5"),
                    a("10-244-1-6.db.data.svc.cluster.local", "10.244.1.6"),
                ],
            ),
        ),
        (
            "headless without endpoints",
            "lonely.data.svc.cluster.local",
            QType::A,
            Outcome::NxDomain,
        ),
        (
            "publishNotReadyAddresses serves not-ready, IPv6",
            "eager.data.svc.cluster.local",
            QType::Aaaa,
            only(vec![a("eager.data.svc.cluster.local", "fd00::9")]),
        ),
        // ExternalName: a CNAME whatever the type.
        (
            "ExternalName A",
            "ext.default.svc.cluster.local",
            QType::A,
            only(vec![Rr {
                name: "ext.default.svc.cluster.local".into(),
                data: RData::Cname("example.com".into()),
            }]),
        ),
        (
            "ExternalName CNAME",
            "ext.default.svc.cluster.local",
            QType::Cname,
            only(vec![Rr {
                name: "ext.default.svc.cluster.local".into(),
                data: RData::Cname("example.com".into()),
            }]),
        ),
        (
            "ExternalName has no SRV ports",
            "_http._tcp.ext.default.svc.cluster.local",
            QType::Srv,
            Outcome::NxDomain,
        ),
        // Pods (`pods insecure`).
        (
            "pod A",
            "10-244-0-7.default.pod.cluster.local",
            QType::A,
            only(vec![a("10-244-0-7.default.pod.cluster.local", "10.244.0.7")]),
        ),
        (
            "pod AAAA",
            "fd00--7.default.pod.cluster.local",
            QType::Aaaa,
            only(vec![a("fd00--7.default.pod.cluster.local", "fd00::7")]),
        ),
        (
            "pod v4 name, AAAA",
            "10-244-0-7.default.pod.cluster.local",
            QType::Aaaa,
            Outcome::NoData,
        ),
        (
            "pod bad IP",
            "10-244-0-700.default.pod.cluster.local",
            QType::A,
            Outcome::NxDomain,
        ),
        (
            "pod unknown namespace",
            "10-244-0-7.nowhere.pod.cluster.local",
            QType::A,
            Outcome::NxDomain,
        ),
        // Structure of the zone: NOERROR for names that exist, NXDOMAIN for those that do not.
        (
            "apex SOA",
            "cluster.local",
            QType::Soa,
            only(vec![Rr {
                name: ZONE.into(),
                data: RData::Soa,
            }]),
        ),
        (
            "apex NS",
            "cluster.local",
            QType::Ns,
            only(vec![Rr {
                name: ZONE.into(),
                data: RData::Ns("ns.dns.cluster.local".into()),
            }]),
        ),
        ("apex A", "cluster.local", QType::A, Outcome::NoData),
        ("svc", "svc.cluster.local", QType::A, Outcome::NoData),
        (
            "namespace with services",
            "default.svc.cluster.local",
            QType::A,
            Outcome::NoData,
        ),
        (
            "namespace without services",
            "empty-ns.svc.cluster.local",
            QType::A,
            Outcome::NoData,
        ),
        (
            "unknown namespace",
            "nowhere.svc.cluster.local",
            QType::A,
            Outcome::NxDomain,
        ),
        (
            "unknown subtree",
            "foo.cluster.local",
            QType::A,
            Outcome::NxDomain,
        ),
        (
            "too deep",
            "a.b.c.d.e.f.svc.cluster.local",
            QType::A,
            Outcome::NxDomain,
        ),
        // PTR for service and endpoint IPs; unknown reverse names go upstream.
        (
            "PTR clusterIP",
            "20.0.96.10.in-addr.arpa.",
            QType::Ptr,
            only(vec![Rr {
                name: "20.0.96.10.in-addr.arpa".into(),
                data: RData::Ptr(web.into()),
            }]),
        ),
        (
            "PTR headless endpoint",
            "5.1.244.10.in-addr.arpa",
            QType::Ptr,
            only(vec![Rr {
                name: "5.1.244.10.in-addr.arpa".into(),
                data: RData::Ptr("db-0.db.data.svc.cluster.local".into()),
            }]),
        ),
        (
            "PTR clusterIP v6",
            "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
            QType::Ptr,
            only(vec![Rr {
                name: "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa".into(),
                data: RData::Ptr(web.into()),
            }]),
        ),
        (
            "PTR unknown IP",
            "1.1.168.192.in-addr.arpa",
            QType::Ptr,
            Outcome::Forward,
        ),
        // Everything else is forwarded.
        ("outside the zone", "example.com", QType::A, Outcome::Forward),
        (
            "suffix lookalike",
            "web.default.svc.mycluster.local",
            QType::A,
            Outcome::Forward,
        ),
    ];
    let mut failures = Vec::new();
    for (what, name, qtype, want) in cases {
        let got = lookup(&index, ZONE, name, qtype);
        if got != want {
            failures.push(format!(
                "{what}: {name} {qtype:?}\n  want {want:?}\n   got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn other_zone_names() {
    let index = fixture();
    assert_eq!(
        lookup(&index, "example.org", "web.default.svc.example.org", QType::A),
        only(vec![a("web.default.svc.example.org", "10.96.0.20")])
    );
    assert_eq!(
        lookup(&index, "example.org", "web.default.svc.cluster.local", QType::A),
        Outcome::Forward
    );
}

#[test]
fn unallocated_cluster_ip_has_no_records() {
    let services = vec![svc(
        json!({"metadata": {"name": "new", "namespace": "default"}, "spec": {}}),
    )];
    let index = Index::build(&services, &[], &[]);
    assert_eq!(
        lookup(&index, ZONE, "new.default.svc.cluster.local", QType::A),
        Outcome::NxDomain
    );
}

#[test]
fn reverse_names() {
    assert_eq!(
        parse_reverse("4.3.2.1.in-addr.arpa"),
        Some("1.2.3.4".parse().unwrap())
    );
    assert_eq!(parse_reverse("3.2.1.in-addr.arpa"), None);
    assert_eq!(parse_reverse("x.3.2.1.in-addr.arpa"), None);
    assert_eq!(
        parse_reverse("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"),
        Some("2001:db8::1".parse().unwrap())
    );
    assert_eq!(parse_reverse("1.0.ip6.arpa"), None);
    assert_eq!(dashed("10.1.2.3".parse().unwrap()), "10-1-2-3");
    assert_eq!(dashed("fd00::1".parse().unwrap()), "fd00--1");
}
