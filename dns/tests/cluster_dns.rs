//! The DNS server against a real in-process apiserver: Services and EndpointSlices created
//! through the API are answered over UDP and TCP, deletions are seen, and other names go to a
//! fake upstream on loopback.

mod support;

use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use rudder_component::shutdown::Shutdown;
use rudder_dns::Options;
use rudder_testkit::{TestApiServer, eventually};
use serde_json::json;
use support::{FakeUpstream, UPSTREAM_ANSWER, addresses, http_get, rcode, tcp, udp};

const WAIT: Duration = Duration::from_secs(10);

fn options(kubeconfig: &std::path::Path, upstream: std::net::SocketAddr) -> Options {
    use clap::Parser;
    Options::try_parse_from([
        "rudder-dns".to_string(),
        format!("--kubeconfig={}", kubeconfig.display()),
        "--listen=127.0.0.1:0".to_string(),
        format!("--upstream={upstream}"),
        "--health-port=0".to_string(),
        "--ready-port=0".to_string(),
        "--metrics-port=0".to_string(),
    ])
    .expect("flags")
}

async fn create_service(api: &Api<Service>, spec: serde_json::Value) -> Service {
    let svc: Service = serde_json::from_value(spec).expect("service");
    api.create(&PostParams::default(), &svc)
        .await
        .expect("create service")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_services_from_the_apiserver() {
    let server = TestApiServer::start().await;
    let upstream = FakeUpstream::start().await;
    let config = options(&server.kubeconfig, upstream.addr)
        .into_config(None)
        .expect("config");
    let (trigger, shutdown) = Shutdown::new();
    let running = rudder_dns::start(config, shutdown).await.expect("start");
    let dns = running.dns;

    assert_eq!(http_get(running.health, "/health").await, (200, "OK".to_string()));
    eventually("ready", WAIT, || async {
        (http_get(running.ready, "/ready").await.0 == 200).then_some(())
    })
    .await;

    let services: Api<Service> = Api::namespaced(server.client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(server.client.clone(), "default");

    // ClusterIP with named ports.
    let web = create_service(
        &services,
        json!({"metadata": {"name": "web"},
               "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"},
                                  {"name": "syslog", "port": 514, "protocol": "UDP"}]}}),
    )
    .await;
    let web_ip = web
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.clone())
        .expect("clusterIP allocated");
    let web_name = "web.default.svc.cluster.local.";
    eventually("web A over UDP", WAIT, || async {
        (addresses(&udp(dns, web_name, RecordType::A).await) == vec![web_ip.clone()]).then_some(())
    })
    .await;
    let over_tcp = tcp(dns, web_name, RecordType::A).await;
    assert_eq!(addresses(&over_tcp), vec![web_ip.clone()]);
    assert!(over_tcp.metadata.authoritative);
    assert_eq!(over_tcp.answers[0].ttl, 30);
    // No IPv6 family: NODATA with the SOA.
    let aaaa = udp(dns, web_name, RecordType::AAAA).await;
    assert_eq!(rcode(&aaaa), ResponseCode::NoError);
    assert!(aaaa.answers.is_empty());
    assert_eq!(aaaa.authorities[0].record_type(), RecordType::SOA);

    // SRV for named ports, with the address as additional data.
    let srv = udp(
        dns,
        "_syslog._udp.web.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .await;
    assert_eq!(srv.answers.len(), 1);
    let RData::SRV(record) = &srv.answers[0].data else {
        panic!("not SRV: {srv:?}");
    };
    assert_eq!(record.port, 514);
    assert_eq!(record.target.to_ascii(), web_name);
    let mut extra = srv.clone();
    extra.answers = srv.additionals.clone();
    assert_eq!(addresses(&extra), vec![web_ip.clone()]);

    // PTR for the cluster IP.
    let octets: Vec<&str> = web_ip.split('.').rev().collect();
    let ptr = udp(
        dns,
        &format!("{}.in-addr.arpa.", octets.join(".")),
        RecordType::PTR,
    )
    .await;
    let RData::PTR(target) = &ptr.answers[0].data else {
        panic!("not PTR: {ptr:?}");
    };
    assert_eq!(target.0.to_ascii(), web_name);

    // Headless with an EndpointSlice: ready endpoints only, hostnames, SRV per endpoint.
    create_service(
        &services,
        json!({"metadata": {"name": "db"},
               "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}}),
    )
    .await;
    let slice: EndpointSlice = serde_json::from_value(json!({
    "metadata": {"name": "db-1", "labels": {"kubernetes.io/service-name": "db"}},
    "addressType": "IPv4",
    "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
    "endpoints": [
        {"addresses": ["10.244.0.11"], "hostname": "db-0", "conditions": {"ready": true}},
        {"addresses": ["10.244.0.12"], "hostname": "db-1", "conditions": {"ready": true}},
        {"addresses": ["10.244.0.13"], "hostname": "db-2", "conditions": {"ready": false}}
    ]}))
    .expect("slice");
    slices
        .create(&PostParams::default(), &slice)
        .await
        .expect("create slice");
    let db = "db.default.svc.cluster.local.";
    eventually("headless A", WAIT, || async {
        (addresses(&udp(dns, db, RecordType::A).await) == ["10.244.0.11", "10.244.0.12"]).then_some(())
    })
    .await;
    assert_eq!(
        addresses(&tcp(dns, "db-1.db.default.svc.cluster.local.", RecordType::A).await),
        ["10.244.0.12"]
    );
    assert_eq!(
        rcode(&udp(dns, "db-2.db.default.svc.cluster.local.", RecordType::A).await),
        ResponseCode::NXDomain
    );
    let srv = udp(dns, "_pg._tcp.db.default.svc.cluster.local.", RecordType::SRV).await;
    let mut targets: Vec<String> = srv
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some(format!("{}:{}", s.target.to_ascii(), s.port)),
            _ => None,
        })
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "db-0.db.default.svc.cluster.local.:5432",
            "db-1.db.default.svc.cluster.local.:5432"
        ]
    );
    let ptr = udp(dns, "11.0.244.10.in-addr.arpa.", RecordType::PTR).await;
    assert!(
        matches!(&ptr.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "db-0.db.default.svc.cluster.local.")
    );

    // ExternalName: a CNAME, chased through the upstream for the address.
    create_service(
        &services,
        json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "db.example.net"}}),
    )
    .await;
    let ext = eventually("ExternalName CNAME", WAIT, || async {
        let m = udp(dns, "ext.default.svc.cluster.local.", RecordType::A).await;
        (!m.answers.is_empty()).then_some(m)
    })
    .await;
    assert!(matches!(&ext.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "db.example.net."));
    assert_eq!(addresses(&ext), [UPSTREAM_ANSWER.to_string()]);

    // Pods (`pods insecure`).
    assert_eq!(
        addresses(&udp(dns, "10-244-3-4.default.pod.cluster.local.", RecordType::A).await),
        ["10.244.3.4"]
    );

    // Names outside the zone go upstream, over the client's transport.
    let before = upstream.queries.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        addresses(&udp(dns, "www.example.org.", RecordType::A).await),
        [UPSTREAM_ANSWER.to_string()]
    );
    assert_eq!(
        addresses(&tcp(dns, "www.example.org.", RecordType::A).await),
        [UPSTREAM_ANSWER.to_string()]
    );
    assert_eq!(
        rcode(&udp(dns, "nxdomain.example.org.", RecordType::A).await),
        ResponseCode::NXDomain
    );
    assert_eq!(
        upstream.queries.load(std::sync::atomic::Ordering::SeqCst) - before,
        3
    );
    // Unknown names inside the zone never reach the upstream.
    assert_eq!(
        rcode(&udp(dns, "nope.default.svc.cluster.local.", RecordType::A).await),
        ResponseCode::NXDomain
    );
    assert_eq!(
        upstream.queries.load(std::sync::atomic::Ordering::SeqCst) - before,
        3
    );

    // Deleting the Service removes its records.
    services
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete web");
    eventually("web NXDOMAIN after delete", WAIT, || async {
        (rcode(&udp(dns, web_name, RecordType::A).await) == ResponseCode::NXDomain).then_some(())
    })
    .await;
    assert_eq!(
        rcode(&tcp(dns, web_name, RecordType::A).await),
        ResponseCode::NXDomain
    );

    let (status, metrics) = http_get(running.metrics, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("coredns_dns_requests_total{"), "{metrics}");
    assert!(metrics.contains("coredns_forward_requests_total{"), "{metrics}");

    trigger.trigger();
    tokio::time::timeout(WAIT, running.wait())
        .await
        .expect("stops on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_are_truncated_over_udp_and_whole_over_tcp() {
    let server = TestApiServer::start().await;
    let upstream = FakeUpstream::start().await;
    let config = options(&server.kubeconfig, upstream.addr)
        .into_config(None)
        .expect("config");
    let (trigger, shutdown) = Shutdown::new();
    let running = rudder_dns::start(config, shutdown).await.expect("start");
    let dns = running.dns;

    let services: Api<Service> = Api::namespaced(server.client.clone(), "default");
    create_service(
        &services,
        json!({"metadata": {"name": "many"}, "spec": {"clusterIP": "None"}}),
    )
    .await;
    let endpoints: Vec<serde_json::Value> = (1..=60)
        .map(|i| json!({"addresses": [format!("10.244.1.{i}")], "conditions": {"ready": true}}))
        .collect();
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": "many-1", "labels": {"kubernetes.io/service-name": "many"}},
        "addressType": "IPv4",
        "endpoints": endpoints}))
    .expect("slice");
    Api::<EndpointSlice>::namespaced(server.client.clone(), "default")
        .create(&PostParams::default(), &slice)
        .await
        .expect("create slice");

    let name = "many.default.svc.cluster.local.";
    let whole = eventually("60 endpoints over TCP", WAIT, || async {
        let m = tcp(dns, name, RecordType::A).await;
        (m.answers.len() == 60).then_some(m)
    })
    .await;
    assert!(!whole.metadata.truncation);
    let cut = udp(dns, name, RecordType::A).await;
    assert!(cut.metadata.truncation, "60 A records exceed 512 bytes");
    assert!(cut.answers.is_empty());
    // With EDNS (1232 bytes) they fit in one datagram.
    let edns = support::udp_message(dns, &support::query_message(name, RecordType::A, true)).await;
    assert!(!edns.metadata.truncation);
    assert_eq!(edns.answers.len(), 60);

    trigger.trigger();
    tokio::time::timeout(WAIT, running.wait())
        .await
        .expect("stops on shutdown");
}
