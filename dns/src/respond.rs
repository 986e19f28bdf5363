//! Turning a lookup [`Outcome`] into a DNS message, and fitting it into a UDP datagram.

use hickory_proto::ProtoError;
use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV};
use hickory_proto::rr::{Name, RData as WireData, Record, RecordType};

use crate::lookup::{Outcome, QType, RData, Rr};

/// The largest UDP payload we advertise and send (the DNS flag day 2020 figure).
pub const EDNS_PAYLOAD: u16 = 1232;

/// Zone-wide answer settings.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Lower-case, no trailing dot.
    pub name: String,
    pub ttl: u32,
    /// SOA serial: the index generation time, so it changes when the data does.
    pub serial: u32,
}

/// The lookup's view of a wire record type.
pub fn qtype(rt: RecordType) -> QType {
    match rt {
        RecordType::A => QType::A,
        RecordType::AAAA => QType::Aaaa,
        RecordType::CNAME => QType::Cname,
        RecordType::SRV => QType::Srv,
        RecordType::PTR => QType::Ptr,
        RecordType::SOA => QType::Soa,
        RecordType::NS => QType::Ns,
        _ => QType::Other,
    }
}

/// A response skeleton for `request`: id, opcode, RD copied, RA set, the question echoed and
/// EDNS answered when the request had it.
pub fn response_to(request: &Message, code: ResponseCode) -> Message {
    let mut msg = Message::response(request.metadata.id, request.metadata.op_code);
    msg.metadata.recursion_desired = request.metadata.recursion_desired;
    msg.metadata.recursion_available = true;
    msg.metadata.response_code = code;
    msg.add_queries(request.queries.iter().cloned());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        msg.set_edns(edns);
    }
    msg
}

/// The authoritative answer for an outcome other than `Forward`.
pub fn authoritative(request: &Message, outcome: &Outcome, zone: &Zone) -> Result<Message, ProtoError> {
    let code = match outcome {
        Outcome::NxDomain => ResponseCode::NXDomain,
        _ => ResponseCode::NoError,
    };
    let mut msg = response_to(request, code);
    msg.metadata.authoritative = true;
    match outcome {
        Outcome::Answer { answers, additionals } => {
            for rr in answers {
                msg.add_answer(record(rr, zone)?);
            }
            for rr in additionals {
                msg.add_additional(record(rr, zone)?);
            }
        }
        Outcome::NoData | Outcome::NxDomain => {
            msg.add_authority(soa_record(zone)?);
        }
        Outcome::Forward => {}
    }
    Ok(msg)
}

fn name(s: &str) -> Result<Name, ProtoError> {
    Name::from_ascii(format!("{s}."))
}

/// The zone's SOA record (CoreDNS's shape: `ns.dns.<zone>`, `hostmaster.<zone>`).
pub fn soa_record(zone: &Zone) -> Result<Record, ProtoError> {
    let soa = SOA::new(
        name(&format!("ns.dns.{}", zone.name))?,
        name(&format!("hostmaster.{}", zone.name))?,
        zone.serial,
        7200,
        1800,
        86400,
        zone.ttl,
    );
    Ok(Record::from_rdata(
        name(&zone.name)?,
        zone.ttl,
        WireData::SOA(soa),
    ))
}

/// One lookup record on the wire.
pub fn record(rr: &Rr, zone: &Zone) -> Result<Record, ProtoError> {
    if rr.data == RData::Soa {
        return soa_record(zone);
    }
    let data = match &rr.data {
        RData::A(ip) => WireData::A(A(*ip)),
        RData::Aaaa(ip) => WireData::AAAA(AAAA(*ip)),
        RData::Cname(target) => WireData::CNAME(CNAME(name(target)?)),
        RData::Ptr(target) => WireData::PTR(PTR(name(target)?)),
        RData::Ns(target) => WireData::NS(NS(name(target)?)),
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => WireData::SRV(SRV::new(*priority, *weight, *port, name(target)?)),
        RData::Soa => return soa_record(zone),
    };
    Ok(Record::from_rdata(name(&rr.name)?, zone.ttl, data))
}

/// The UDP payload limit the client accepts: 512, or its EDNS size (capped at ours).
pub fn udp_limit(request: &Message) -> usize {
    request
        .edns
        .as_ref()
        .map_or(512, |e| e.max_payload().clamp(512, EDNS_PAYLOAD)) as usize
}

/// Encode `msg`; if it does not fit `limit` bytes, send the header and question with TC set so
/// that the client retries over TCP.
pub fn encode_limited(msg: &Message, limit: usize) -> Result<Vec<u8>, ProtoError> {
    let bytes = msg.to_vec()?;
    if bytes.len() <= limit {
        return Ok(bytes);
    }
    msg.truncate().to_vec()
}
