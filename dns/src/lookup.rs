//! The record lookup: a pure function from (index, zone, name, type) to an outcome, following
//! the Kubernetes DNS specification and CoreDNS's `kubernetes` plugin (`pods insecure`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::index::{EndpointEntry, Index, PortEntry, ServiceEntry, ServiceKind};

/// The query types the lookup distinguishes; anything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QType {
    A,
    Aaaa,
    Cname,
    Srv,
    Ptr,
    Soa,
    Ns,
    Other,
}

/// Record data, with names as absolute names without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Ptr(String),
    Ns(String),
    /// The zone's SOA (built by the responder from the zone and serial).
    Soa,
}

/// One resource record (the TTL is the server's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr {
    pub name: String,
    pub data: RData,
}

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// NOERROR with records (authoritative).
    Answer { answers: Vec<Rr>, additionals: Vec<Rr> },
    /// NOERROR, no records of that type: the name exists (SOA in authority).
    NoData,
    /// The name does not exist in the zone (SOA in authority).
    NxDomain,
    /// Not ours: forward upstream.
    Forward,
}

/// Answer `qname` (any case, trailing dot optional) of type `qtype` for cluster zone `zone`.
pub fn lookup(index: &Index, zone: &str, qname: &str, qtype: QType) -> Outcome {
    let name = qname.trim_end_matches('.').to_ascii_lowercase();
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    if let Some(ip) = parse_reverse(&name) {
        return reverse(index, &zone, &name, ip, qtype);
    }
    let rel = if name == zone {
        ""
    } else if let Some(rel) = name.strip_suffix(&format!(".{zone}")) {
        rel
    } else {
        return Outcome::Forward;
    };
    let labels: Vec<&str> = if rel.is_empty() {
        Vec::new()
    } else {
        rel.split('.').collect()
    };
    let q = Query {
        index,
        zone: &zone,
        name: &name,
        qtype,
    };
    match labels.as_slice() {
        [] => q.apex(),
        ["svc"] | ["pod"] => Outcome::NoData,
        [ns, "svc"] | [ns, "pod"] => q.namespace(ns),
        [svc, ns, "svc"] => q.service(ns, svc),
        [host, svc, ns, "svc"] => q.endpoint(ns, svc, host),
        [port, proto, svc, ns, "svc"] => q.srv(ns, svc, port, proto),
        [ip, ns, "pod"] => q.pod(ip, ns),
        _ => Outcome::NxDomain,
    }
}

struct Query<'a> {
    index: &'a Index,
    zone: &'a str,
    name: &'a str,
    qtype: QType,
}

impl Query<'_> {
    fn rr(&self, data: RData) -> Rr {
        Rr {
            name: self.name.to_string(),
            data,
        }
    }

    fn apex(&self) -> Outcome {
        match self.qtype {
            QType::Soa => answer(vec![self.rr(RData::Soa)], Vec::new()),
            QType::Ns => answer(
                vec![self.rr(RData::Ns(format!("ns.dns.{}", self.zone)))],
                Vec::new(),
            ),
            _ => Outcome::NoData,
        }
    }

    fn namespace(&self, ns: &str) -> Outcome {
        if self.index.namespaces.contains(ns) {
            Outcome::NoData
        } else {
            Outcome::NxDomain
        }
    }

    fn service_entry(&self, ns: &str, svc: &str) -> Option<&ServiceEntry> {
        self.index.services.get(&(ns.to_string(), svc.to_string()))
    }

    fn service(&self, ns: &str, svc: &str) -> Outcome {
        let Some(entry) = self.service_entry(ns, svc) else {
            return Outcome::NxDomain;
        };
        let fqdn = format!("{svc}.{ns}.svc.{}", self.zone);
        match &entry.kind {
            ServiceKind::ExternalName(target) => {
                answer(vec![self.rr(RData::Cname(target.clone()))], Vec::new())
            }
            ServiceKind::ClusterIp(ips) => match self.qtype {
                QType::Srv => {
                    let srvs: Vec<Rr> = entry
                        .ports
                        .iter()
                        .map(|p| self.rr(srv(100, p.port, &fqdn)))
                        .collect();
                    let extra = address_rrs(&fqdn, ips.iter().copied(), None);
                    answer(srvs, extra)
                }
                _ => self.addresses(ips.iter().copied()),
            },
            ServiceKind::Headless => {
                if entry.endpoints.is_empty() {
                    // CoreDNS: a headless Service without endpoints has no names at all.
                    return Outcome::NxDomain;
                }
                match self.qtype {
                    QType::Srv => {
                        let all: Vec<(&EndpointEntry, &PortEntry)> = entry
                            .endpoints
                            .iter()
                            .flat_map(|e| e.ports.iter().map(move |p| (e, p)))
                            .collect();
                        self.headless_srv(&fqdn, &all)
                    }
                    _ => self.addresses(entry.endpoints.iter().map(|e| e.ip)),
                }
            }
        }
    }

    fn endpoint(&self, ns: &str, svc: &str, host: &str) -> Outcome {
        let Some(entry) = self.service_entry(ns, svc) else {
            return Outcome::NxDomain;
        };
        let ips: Vec<IpAddr> = entry
            .endpoints
            .iter()
            .filter(|e| e.hostname == host)
            .map(|e| e.ip)
            .collect();
        if ips.is_empty() {
            return Outcome::NxDomain;
        }
        self.addresses(ips)
    }

    fn srv(&self, ns: &str, svc: &str, port: &str, proto: &str) -> Outcome {
        let (Some(port), Some(proto)) = (port.strip_prefix('_'), proto.strip_prefix('_')) else {
            return Outcome::NxDomain;
        };
        let Some(entry) = self.service_entry(ns, svc) else {
            return Outcome::NxDomain;
        };
        let matches = |p: &PortEntry| !p.name.is_empty() && p.name == port && p.protocol == proto;
        let fqdn = format!("{svc}.{ns}.svc.{}", self.zone);
        let outcome = match &entry.kind {
            ServiceKind::ExternalName(_) => return Outcome::NxDomain,
            ServiceKind::ClusterIp(ips) => {
                let srvs: Vec<Rr> = entry
                    .ports
                    .iter()
                    .filter(|p| matches(p))
                    .map(|p| self.rr(srv(100, p.port, &fqdn)))
                    .collect();
                if srvs.is_empty() {
                    return Outcome::NxDomain;
                }
                answer(srvs, address_rrs(&fqdn, ips.iter().copied(), None))
            }
            ServiceKind::Headless => {
                let all: Vec<(&EndpointEntry, &PortEntry)> = entry
                    .endpoints
                    .iter()
                    .flat_map(|e| e.ports.iter().filter(|p| matches(p)).map(move |p| (e, p)))
                    .collect();
                if all.is_empty() {
                    return Outcome::NxDomain;
                }
                self.headless_srv(&fqdn, &all)
            }
        };
        if self.qtype == QType::Srv {
            outcome
        } else {
            Outcome::NoData
        }
    }

    fn headless_srv(&self, fqdn: &str, all: &[(&EndpointEntry, &PortEntry)]) -> Outcome {
        if all.is_empty() {
            return Outcome::NoData;
        }
        // CoreDNS spreads a weight of 100 over the targets.
        let weight = u16::try_from(100 / all.len()).unwrap_or(1).max(1);
        let mut srvs = Vec::new();
        let mut extra = Vec::new();
        for (ep, port) in all {
            let target = format!("{}.{fqdn}", ep.hostname);
            srvs.push(self.rr(srv(weight, port.port, &target)));
            let rr = address_rrs(&target, [ep.ip], None);
            for r in rr {
                if !extra.contains(&r) {
                    extra.push(r);
                }
            }
        }
        answer(srvs, extra)
    }

    fn pod(&self, ip: &str, ns: &str) -> Outcome {
        // `pods insecure`: the answer is the IP in the name, whatever pods exist.
        let parsed = ip
            .replace('-', ".")
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .ok()
            .or_else(|| ip.replace('-', ":").parse::<Ipv6Addr>().map(IpAddr::V6).ok());
        let Some(ip) = parsed else {
            return Outcome::NxDomain;
        };
        if !self.index.namespaces.contains(ns) {
            return Outcome::NxDomain;
        }
        self.addresses([ip])
    }

    /// A or AAAA from a set of IPs: NODATA when the name has none of the asked family.
    fn addresses(&self, ips: impl IntoIterator<Item = IpAddr>) -> Outcome {
        let family = match self.qtype {
            QType::A => Some(false),
            QType::Aaaa => Some(true),
            _ => None,
        };
        let Some(v6) = family else {
            return Outcome::NoData;
        };
        let rrs = address_rrs(self.name, ips, Some(v6));
        if rrs.is_empty() {
            Outcome::NoData
        } else {
            answer(rrs, Vec::new())
        }
    }
}

fn answer(answers: Vec<Rr>, additionals: Vec<Rr>) -> Outcome {
    Outcome::Answer { answers, additionals }
}

fn srv(weight: u16, port: u16, target: &str) -> RData {
    RData::Srv {
        priority: 0,
        weight,
        port,
        target: target.to_string(),
    }
}

/// A/AAAA records for `name`; `only_v6` picks one family (`None`: both).
fn address_rrs(name: &str, ips: impl IntoIterator<Item = IpAddr>, only_v6: Option<bool>) -> Vec<Rr> {
    ips.into_iter()
        .filter(|ip| only_v6.is_none_or(|v6| ip.is_ipv6() == v6))
        .map(|ip| Rr {
            name: name.to_string(),
            data: match ip {
                IpAddr::V4(v4) => RData::A(v4),
                IpAddr::V6(v6) => RData::Aaaa(v6),
            },
        })
        .collect()
}

fn reverse(index: &Index, zone: &str, name: &str, ip: IpAddr, qtype: QType) -> Outcome {
    // Unknown addresses fall through to the upstream resolvers (CoreDNS's `fallthrough
    // in-addr.arpa ip6.arpa`); so do other types at known ones.
    match (index.reverse.get(&ip), qtype) {
        (Some(names), QType::Ptr) => answer(
            names
                .iter()
                .map(|n| Rr {
                    name: name.to_string(),
                    data: RData::Ptr(format!("{n}.{zone}")),
                })
                .collect(),
            Vec::new(),
        ),
        _ => Outcome::Forward,
    }
}

/// `4.3.2.1.in-addr.arpa` → 1.2.3.4; a full 32-nibble `ip6.arpa` name → the IPv6 address.
pub fn parse_reverse(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let mut octets: Vec<u8> = rest
            .split('.')
            .map(|l| l.parse::<u8>().ok())
            .collect::<Option<_>>()?;
        if octets.len() != 4 {
            return None;
        }
        octets.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(
            octets[0], octets[1], octets[2], octets[3],
        )));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|l| {
            if l.len() == 1 {
                u8::from_str_radix(l, 16).ok()
            } else {
                None
            }
        })
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        // Reversed order: the last nibble in the name is the most significant.
        bytes[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}
