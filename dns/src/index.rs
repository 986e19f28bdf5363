//! The lookup index: what the cluster's Services, EndpointSlices and Namespaces mean for DNS,
//! keyed the way queries arrive (lower-case names). Built in one pass from the informers'
//! stores; pure, so the record tables are tested without a runtime.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Everything a lookup needs, independent of the zone name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Index {
    /// Namespaces that exist (from the Namespace informer, plus every namespace holding a
    /// Service, so that `<ns>.svc.<zone>` answers NOERROR while namespaces are not watched).
    pub namespaces: BTreeSet<String>,
    /// Services by (namespace, name), lower-case.
    pub services: BTreeMap<(String, String), ServiceEntry>,
    /// Reverse lookups: IP → names relative to the zone (`svc.ns.svc`, `host.svc.ns.svc`).
    pub reverse: HashMap<IpAddr, Vec<String>>,
}

/// What kind of answer a Service gives for its own name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceKind {
    /// A virtual IP per family (`spec.clusterIPs`).
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: the endpoints' addresses.
    Headless,
    /// `type: ExternalName`: a CNAME to this name (lower-case, no trailing dot).
    ExternalName(String),
}

/// A port: of a Service (`port`) or of an EndpointSlice (the target port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortEntry {
    /// Lower-case port name; empty when unnamed.
    pub name: String,
    /// Lower-case protocol: `tcp`, `udp`, `sctp`.
    pub protocol: String,
    pub port: u16,
}

/// One endpoint address of a Service, already filtered for readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointEntry {
    pub ip: IpAddr,
    /// The endpoint's DNS label: `hostname` when set, else the dashed IP (CoreDNS's choice).
    pub hostname: String,
    /// The ports of the slice this address came from.
    pub ports: Vec<PortEntry>,
}

/// A Service as DNS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub kind: ServiceKind,
    pub ports: Vec<PortEntry>,
    /// Ready endpoints (and not-ready ones when `publishNotReadyAddresses`), one per address.
    pub endpoints: Vec<EndpointEntry>,
}

/// `10.0.0.1` → `10-0-0-1`, `fd00::1` → `fd00--1`: the label CoreDNS gives an endpoint without
/// a hostname, and the form of pod records.
pub fn dashed(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

impl Index {
    /// Build the index from the current objects. Objects being deleted are still served until
    /// they are gone, like upstream (endpoints drop out through their conditions).
    pub fn build<'a>(
        services: impl IntoIterator<Item = &'a Service>,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
        namespaces: impl IntoIterator<Item = &'a Namespace>,
    ) -> Index {
        let mut index = Index::default();
        for ns in namespaces {
            if let Some(name) = &ns.metadata.name {
                index.namespaces.insert(name.to_ascii_lowercase());
            }
        }
        let mut publish_not_ready = HashMap::new();
        for svc in services {
            let (Some(ns), Some(name)) = (&svc.metadata.namespace, &svc.metadata.name) else {
                continue;
            };
            let key = (ns.to_ascii_lowercase(), name.to_ascii_lowercase());
            let Some(entry) = service_entry(svc) else {
                continue;
            };
            let publish = svc
                .spec
                .as_ref()
                .and_then(|s| s.publish_not_ready_addresses)
                .unwrap_or(false);
            publish_not_ready.insert(key.clone(), publish);
            index.namespaces.insert(key.0.clone());
            index.services.insert(key, entry);
        }
        for slice in slices {
            let Some(ns) = &slice.metadata.namespace else {
                continue;
            };
            let Some(svc_name) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
            else {
                continue;
            };
            let key = (ns.to_ascii_lowercase(), svc_name.to_ascii_lowercase());
            let Some(entry) = index.services.get_mut(&key) else {
                continue;
            };
            let publish = publish_not_ready.get(&key).copied().unwrap_or(false);
            add_slice(entry, slice, publish);
        }
        for entry in index.services.values_mut() {
            entry.endpoints.sort_by_key(|e| e.ip);
        }
        index.build_reverse();
        index
    }

    fn build_reverse(&mut self) {
        let mut reverse: HashMap<IpAddr, Vec<String>> = HashMap::new();
        for ((ns, name), entry) in &self.services {
            match &entry.kind {
                ServiceKind::ClusterIp(ips) => {
                    for ip in ips {
                        reverse.entry(*ip).or_default().push(format!("{name}.{ns}.svc"));
                    }
                }
                ServiceKind::Headless => {
                    for ep in &entry.endpoints {
                        reverse
                            .entry(ep.ip)
                            .or_default()
                            .push(format!("{}.{name}.{ns}.svc", ep.hostname));
                    }
                }
                ServiceKind::ExternalName(_) => {}
            }
        }
        for names in reverse.values_mut() {
            names.sort();
            names.dedup();
        }
        self.reverse = reverse;
    }
}

fn service_entry(svc: &Service) -> Option<ServiceEntry> {
    let spec = svc.spec.as_ref()?;
    let kind = if spec.type_.as_deref() == Some("ExternalName") {
        let target = spec.external_name.as_deref()?.trim_end_matches('.');
        if target.is_empty() {
            return None;
        }
        ServiceKind::ExternalName(target.to_ascii_lowercase())
    } else {
        let mut ips: Vec<String> = spec.cluster_ips.clone().unwrap_or_default();
        if ips.is_empty() {
            ips.extend(spec.cluster_ip.clone());
        }
        if ips.iter().any(|ip| ip.eq_ignore_ascii_case("None")) {
            ServiceKind::Headless
        } else {
            let parsed: Vec<IpAddr> = ips.iter().filter_map(|ip| ip.parse().ok()).collect();
            if parsed.is_empty() {
                // Not allocated yet: no records, like a Service that does not exist.
                return None;
            }
            ServiceKind::ClusterIp(parsed)
        }
    };
    let ports = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(PortEntry {
                name: p.name.clone().unwrap_or_default().to_ascii_lowercase(),
                protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                port: u16::try_from(p.port).ok()?,
            })
        })
        .collect();
    Some(ServiceEntry {
        kind,
        ports,
        endpoints: Vec::new(),
    })
}

fn add_slice(entry: &mut ServiceEntry, slice: &EndpointSlice, publish_not_ready: bool) {
    if slice.address_type == "FQDN" {
        return;
    }
    let ports: Vec<PortEntry> = slice
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(PortEntry {
                name: p.name.clone().unwrap_or_default().to_ascii_lowercase(),
                protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                port: u16::try_from(p.port?).ok()?,
            })
        })
        .collect();
    for ep in &slice.endpoints {
        // A nil `ready` means ready (the API's documented default).
        let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
        if !ready && !publish_not_ready {
            continue;
        }
        for addr in &ep.addresses {
            let Ok(ip) = addr.parse::<IpAddr>() else {
                continue;
            };
            if entry.endpoints.iter().any(|e| e.ip == ip) {
                continue;
            }
            let hostname = ep
                .hostname
                .as_deref()
                .filter(|h| !h.is_empty())
                .map(str::to_ascii_lowercase)
                .unwrap_or_else(|| dashed(ip));
            entry.endpoints.push(EndpointEntry {
                ip,
                hostname,
                ports: ports.clone(),
            });
        }
    }
}
