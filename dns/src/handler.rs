//! One DNS request in, one response out: parse, look up in the current index or forward, and
//! encode for the transport. Shared by the UDP and TCP listeners.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use parking_lot::RwLock;

use crate::forward::forward;
use crate::index::Index;
use crate::lookup::{Outcome, RData, lookup};
use crate::metrics::Metrics;
use crate::respond::{self, Zone, authoritative, encode_limited, response_to, udp_limit};

/// The index a lookup reads, swapped whole on every rebuild.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub index: Index,
    /// SOA serial of this generation.
    pub serial: u32,
}

/// The current snapshot, shared between the index builder and the listeners.
pub type SharedIndex = Arc<RwLock<Arc<Snapshot>>>;

/// How many CNAMEs inside the zone are followed for one answer.
const MAX_CHASE: usize = 8;

#[derive(Debug)]
pub struct Handler {
    pub index: SharedIndex,
    pub zone: String,
    pub ttl: u32,
    pub upstreams: Vec<SocketAddr>,
    pub metrics: Metrics,
    /// `server` label: `dns://<listen>`.
    pub server: String,
}

impl Handler {
    /// The response bytes for a request, or `None` to stay silent (not a query; garbage).
    pub async fn handle(&self, bytes: &[u8], tcp: bool, peer: SocketAddr) -> Option<Vec<u8>> {
        let started = Instant::now();
        let request = match Message::from_vec(bytes) {
            Ok(m) => m,
            Err(error) => {
                tracing::debug!(%peer, %error, "undecodable DNS message");
                return format_error(bytes);
            }
        };
        if request.metadata.message_type != MessageType::Query {
            return None;
        }
        let proto = if tcp { "tcp" } else { "udp" };
        let family = if peer.is_ipv4() { "1" } else { "2" };
        let qtype = request.queries.first().map(|q| q.query_type());
        let type_label = qtype.map_or_else(|| "other".to_string(), |t| t.to_string());
        let simple = request.queries.len() == 1 && request.metadata.op_code == OpCode::Query;
        let in_zone = request.queries.first().is_some_and(|q| self.is_ours(q.name()));
        let zone_label = if in_zone {
            format!("{}.", self.zone)
        } else {
            ".".to_string()
        };
        self.metrics
            .requests
            .with_label_values(&[self.server.as_str(), &zone_label, proto, family, &type_label])
            .inc();

        let (response, plugin) = if !simple {
            let code = if request.metadata.op_code == OpCode::Query {
                ResponseCode::FormErr
            } else {
                ResponseCode::NotImp
            };
            (encode(&response_to(&request, code), tcp, &request), "")
        } else {
            self.answer(&request, bytes, tcp).await
        };
        let rcode = response
            .as_ref()
            .and_then(|r| Message::from_vec(r).ok())
            .map_or_else(
                || "SERVFAIL".to_string(),
                |m| m.metadata.response_code.to_string(),
            );
        self.metrics
            .responses
            .with_label_values(&[self.server.as_str(), &zone_label, &rcode, plugin])
            .inc();
        self.metrics
            .duration
            .with_label_values(&[self.server.as_str(), &zone_label, &type_label])
            .observe(started.elapsed().as_secs_f64());
        response
    }

    fn is_ours(&self, name: &Name) -> bool {
        let lower = name.to_ascii().to_ascii_lowercase();
        let lower = lower.trim_end_matches('.');
        lower == self.zone || lower.ends_with(&format!(".{}", self.zone))
    }

    async fn answer(&self, request: &Message, bytes: &[u8], tcp: bool) -> (Option<Vec<u8>>, &'static str) {
        let Some(query) = request.queries.first() else {
            return (None, "");
        };
        let snapshot = self.index.read().clone();
        let qname = query.name().to_ascii();
        let outcome = if query.query_class() == DNSClass::IN {
            lookup(
                &snapshot.index,
                &self.zone,
                &qname,
                respond::qtype(query.query_type()),
            )
        } else {
            Outcome::Forward
        };
        if outcome == Outcome::Forward {
            return (self.forward(request, bytes, tcp).await, "forward");
        }
        let zone = Zone {
            name: self.zone.clone(),
            ttl: self.ttl,
            serial: snapshot.serial,
        };
        let outcome = self.chase(&snapshot.index, query.query_type(), outcome).await;
        match authoritative(request, &outcome, &zone) {
            Ok(msg) => (encode(&msg, tcp, request), "kubernetes"),
            Err(error) => {
                tracing::warn!(%error, name = %qname, "cannot encode answer");
                (
                    encode(&response_to(request, ResponseCode::ServFail), tcp, request),
                    "kubernetes",
                )
            }
        }
    }

    /// Follow a CNAME answer (ExternalName Services) like CoreDNS: inside the zone from the
    /// index, outside it through the upstreams, appending what the target resolves to.
    async fn chase(&self, index: &Index, rtype: RecordType, mut outcome: Outcome) -> Outcome {
        if matches!(rtype, RecordType::CNAME | RecordType::ANY) {
            return outcome;
        }
        for _ in 0..MAX_CHASE {
            let Outcome::Answer { answers, additionals } = &mut outcome else {
                return outcome;
            };
            let Some(RData::Cname(target)) = answers.last().map(|rr| rr.data.clone()) else {
                return outcome;
            };
            let target_name = format!("{target}.");
            let next = lookup(index, &self.zone, &target_name, respond::qtype(rtype));
            match next {
                Outcome::Answer {
                    answers: more,
                    additionals: extra,
                } => {
                    answers.extend(more);
                    additionals.extend(extra);
                }
                Outcome::Forward => {
                    answers.extend(self.resolve_upstream(&target_name, rtype).await);
                    return outcome;
                }
                Outcome::NoData | Outcome::NxDomain => return outcome,
            }
        }
        outcome
    }

    async fn resolve_upstream(&self, target: &str, rtype: RecordType) -> Vec<crate::lookup::Rr> {
        let Ok(name) = Name::from_ascii(target) else {
            return Vec::new();
        };
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(hickory_proto::op::Query::query(name, rtype));
        let Ok(bytes) = query.to_vec() else {
            return Vec::new();
        };
        let Ok((_, answer)) = forward(&self.upstreams, &bytes, false).await else {
            return Vec::new();
        };
        let Ok(answer) = Message::from_vec(&answer) else {
            return Vec::new();
        };
        answer
            .answers
            .iter()
            .filter_map(|r| {
                let data = match &r.data {
                    hickory_proto::rr::RData::A(a) => RData::A(a.0),
                    hickory_proto::rr::RData::AAAA(a) => RData::Aaaa(a.0),
                    hickory_proto::rr::RData::CNAME(c) => {
                        RData::Cname(c.0.to_ascii().trim_end_matches('.').to_string())
                    }
                    _ => return None,
                };
                Some(crate::lookup::Rr {
                    name: r.name.to_ascii().trim_end_matches('.').to_string(),
                    data,
                })
            })
            .collect()
    }

    async fn forward(&self, request: &Message, bytes: &[u8], tcp: bool) -> Option<Vec<u8>> {
        match forward(&self.upstreams, bytes, tcp).await {
            Ok((upstream, answer)) => {
                let to = upstream.to_string();
                self.metrics
                    .forward_requests
                    .with_label_values(&[to.as_str()])
                    .inc();
                let rcode = Message::from_vec(&answer).map_or_else(
                    |_| "unknown".to_string(),
                    |m| m.metadata.response_code.to_string(),
                );
                self.metrics
                    .forward_responses
                    .with_label_values(&[to.as_str(), &rcode])
                    .inc();
                Some(answer)
            }
            Err(error) => {
                tracing::warn!(%error, "forwarding failed");
                encode(&response_to(request, ResponseCode::ServFail), tcp, request)
            }
        }
    }
}

fn encode(msg: &Message, tcp: bool, request: &Message) -> Option<Vec<u8>> {
    let limit = if tcp {
        usize::from(u16::MAX)
    } else {
        udp_limit(request)
    };
    match encode_limited(msg, limit) {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            tracing::warn!(%error, "cannot encode response");
            None
        }
    }
}

/// FORMERR for a message with a readable header but an unreadable body; silence otherwise.
fn format_error(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < 12 || bytes[2] & 0x80 != 0 {
        return None;
    }
    let mut out = vec![0u8; 12];
    out[..2].copy_from_slice(&bytes[..2]);
    // QR=1, opcode copied, RD copied; RA=1, RCODE=FORMERR.
    out[2] = 0x80 | (bytes[2] & 0x79);
    out[3] = 0x80 | 1;
    Some(out)
}
