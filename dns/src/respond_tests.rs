//! Responses on the wire: rcodes, SOA in authority, TTLs, EDNS and UDP truncation.

use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData as WireData, RecordType};

use crate::lookup::{Outcome, RData, Rr};
use crate::respond::{Zone, authoritative, encode_limited, udp_limit};

fn zone() -> Zone {
    Zone {
        name: "cluster.local".into(),
        ttl: 30,
        serial: 42,
    }
}

fn request(name: &str, rtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

#[test]
fn nxdomain_and_nodata_carry_the_soa() {
    let req = request("x.default.svc.cluster.local.", RecordType::A, None);
    for (outcome, code) in [
        (Outcome::NxDomain, ResponseCode::NXDomain),
        (Outcome::NoData, ResponseCode::NoError),
    ] {
        let msg = authoritative(&req, &outcome, &zone()).unwrap();
        let msg = Message::from_vec(&msg.to_vec().unwrap()).unwrap();
        assert_eq!(msg.metadata.response_code, code);
        assert_eq!(msg.metadata.id, req.metadata.id);
        assert!(msg.metadata.authoritative && msg.metadata.recursion_desired);
        assert!(msg.answers.is_empty());
        assert_eq!(msg.authorities.len(), 1);
        let soa = &msg.authorities[0];
        assert_eq!(soa.name.to_ascii(), "cluster.local.");
        let WireData::SOA(soa_data) = &soa.data else {
            panic!("not an SOA: {soa:?}");
        };
        assert_eq!(soa_data.mname.to_ascii(), "ns.dns.cluster.local.");
        assert_eq!(soa_data.rname.to_ascii(), "hostmaster.cluster.local.");
        assert_eq!(soa_data.serial, 42);
        assert_eq!(soa.ttl, 30);
    }
}

fn many_a(n: u8) -> Outcome {
    Outcome::Answer {
        answers: (0..n)
            .map(|i| Rr {
                name: "big.default.svc.cluster.local".into(),
                data: RData::A(Ipv4Addr::new(10, 0, 0, i)),
            })
            .collect(),
        additionals: Vec::new(),
    }
}

#[test]
fn answers_carry_the_ttl() {
    let req = request("big.default.svc.cluster.local.", RecordType::A, None);
    let msg = authoritative(&req, &many_a(3), &zone()).unwrap();
    assert_eq!(msg.answers.len(), 3);
    assert!(
        msg.answers
            .iter()
            .all(|r| r.ttl == 30 && r.record_type() == RecordType::A)
    );
}

#[test]
fn large_udp_answers_are_truncated() {
    // 40 A records (~16 bytes each + name compression) exceed 512 bytes but fit 1232.
    let plain = request("big.default.svc.cluster.local.", RecordType::A, None);
    let msg = authoritative(&plain, &many_a(40), &zone()).unwrap();
    let full = msg.to_vec().unwrap();
    assert!(full.len() > 512, "fixture too small: {}", full.len());
    assert_eq!(udp_limit(&plain), 512);
    let cut = Message::from_vec(&encode_limited(&msg, udp_limit(&plain)).unwrap()).unwrap();
    assert!(cut.metadata.truncation);
    assert!(cut.answers.is_empty());
    assert_eq!(cut.queries.len(), 1);
    assert_eq!(cut.metadata.id, plain.metadata.id);

    let with_edns = request("big.default.svc.cluster.local.", RecordType::A, Some(4096));
    assert_eq!(udp_limit(&with_edns), 1232);
    let msg = authoritative(&with_edns, &many_a(40), &zone()).unwrap();
    assert!(msg.edns.is_some());
    let whole = Message::from_vec(&encode_limited(&msg, udp_limit(&with_edns)).unwrap()).unwrap();
    assert!(!whole.metadata.truncation);
    assert_eq!(whole.answers.len(), 40);
    // A tiny EDNS size still gets the classic 512.
    assert_eq!(udp_limit(&request("a.", RecordType::A, Some(100))), 512);
}
