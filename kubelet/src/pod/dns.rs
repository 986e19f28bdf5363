//! A pod's DNS: dnsPolicy and dnsConfig → the CRI sandbox's DNSConfig (which the runtime writes
//! as the pod's resolv.conf), as upstream's pkg/kubelet/network/dns/dns.go: ClusterFirst pods
//! get the cluster DNS servers, the search path `<ns>.svc.<domain> svc.<domain> <domain>` plus
//! the host's, and ndots:5; Default pods get the host's resolv.conf; None pods only their own
//! dnsConfig. Limits on nameservers and the search line are applied with upstream's events.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, PodDNSConfigOption};

use crate::cri::api;

/// Upstream's validation.MaxDNSNameservers: the resolver reads no more.
pub const MAX_NAMESERVERS: usize = 3;
/// Upstream's validation.MaxDNSSearchPaths.
pub const MAX_SEARCH_PATHS: usize = 32;
/// Upstream's validation.MaxDNSSearchListChars.
pub const MAX_SEARCH_LINE_CHARS: usize = 2048;
/// A search domain longer than a DNS-1123 subdomain makes some resolvers (glibc 2.28) abort.
const MAX_SEARCH_DOMAIN_CHARS: usize = 253;

/// The node's resolver settings (from `--resolv-conf`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostDns {
    pub servers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

/// Parses resolv.conf text as upstream does: nameserver lines accumulate, the last search line
/// wins (trailing dots trimmed, "." dropped), options accumulate with later ones overriding.
pub fn parse_resolv_conf(text: &str) -> HostDns {
    let mut host = HostDns::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some((&key, rest)) = fields.split_first() else {
            continue;
        };
        match key {
            "nameserver" => {
                if let Some(s) = rest.first() {
                    host.servers.push((*s).to_string());
                }
            }
            "search" => {
                host.searches = rest
                    .iter()
                    .filter(|s| **s != ".")
                    .map(|s| s.trim_end_matches('.').to_string())
                    .collect();
            }
            "options" => {
                for o in rest {
                    let name = o.split(':').next().unwrap_or(o);
                    host.options.retain(|x| x.split(':').next() != Some(name));
                    host.options.push((*o).to_string());
                }
            }
            _ => {}
        }
    }
    host
}

/// What the kubelet knows about DNS for pods.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// `--cluster-dns`.
    pub cluster_dns: &'a [IpAddr],
    /// `--cluster-domain` ("" for none).
    pub cluster_domain: &'a str,
    /// The host's resolver; None when `--resolv-conf=""` (upstream then points Default pods
    /// at the node itself and disables search).
    pub host: Option<&'a HostDns>,
    /// The node's IPs, for the `--resolv-conf=""` case.
    pub node_ips: &'a [IpAddr],
}

/// An event to record about the DNS configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsEvent {
    /// Also recorded on the Node (upstream records MissingClusterDNS on both).
    pub on_node: bool,
    pub reason: &'static str,
    pub message: String,
}

/// The pod's DNS config, or the error upstream returns for an unknown dnsPolicy.
#[derive(Debug, Clone, PartialEq)]
pub struct PodDns {
    pub config: api::DnsConfig,
    pub events: Vec<DnsEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cluster,
    Host,
    None,
}

fn kind(pod: &Pod) -> Result<Kind, String> {
    let spec = pod.spec.as_ref();
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    match policy {
        "None" => Ok(Kind::None),
        "ClusterFirstWithHostNet" => Ok(Kind::Cluster),
        // A host-network pod with ClusterFirst uses the host's DNS (upstream falls through).
        "ClusterFirst" if !host_network => Ok(Kind::Cluster),
        "ClusterFirst" | "Default" => Ok(Kind::Host),
        other => Err(format!("invalid DNSPolicy={other}")),
    }
}

fn push_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for i in items {
        if !list.contains(&i) {
            list.push(i);
        }
    }
}

/// Merges the pod's options into the existing ones: same name overrides, order kept.
fn merge_options(existing: &mut Vec<String>, pod_options: &[PodDNSConfigOption]) {
    for o in pod_options {
        let name = o.name.clone().unwrap_or_default();
        let op = match o.value.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{name}:{v}"),
            None => name.clone(),
        };
        match existing
            .iter_mut()
            .find(|x| x.split(':').next() == Some(name.as_str()))
        {
            Some(slot) => *slot = op,
            None => existing.push(op),
        }
    }
}

/// Trims the search list to upstream's limits; Some(event) when anything was dropped.
fn fit_searches(searches: &mut Vec<String>) -> Option<DnsEvent> {
    let mut exceeded = false;
    if searches.len() > MAX_SEARCH_PATHS {
        searches.truncate(MAX_SEARCH_PATHS);
        exceeded = true;
    }
    let before = searches.len();
    searches.retain(|s| s.len() <= MAX_SEARCH_DOMAIN_CHARS);
    exceeded |= searches.len() != before;
    let mut line = searches.join(" ").len();
    if line > MAX_SEARCH_LINE_CHARS {
        // Drop domains from the end until the line fits.
        while line > MAX_SEARCH_LINE_CHARS {
            let Some(last) = searches.pop() else { break };
            line = line.saturating_sub(last.len() + 1);
        }
        exceeded = true;
    }
    exceeded.then(|| DnsEvent {
        on_node: false,
        reason: "DNSConfigForming",
        message: format!(
            "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {}",
            searches.join(" ")
        ),
    })
}

/// The sandbox DNSConfig for `pod`, with the events upstream records while forming it.
pub fn pod_dns(pod: &Pod, s: &Settings<'_>) -> Result<PodDns, String> {
    let mut events = Vec::new();
    let host = s.host.cloned().unwrap_or_default();
    let mut dns = api::DnsConfig {
        servers: host.servers.clone(),
        searches: host.searches.clone(),
        options: host.options.clone(),
    };
    let mut kind = kind(pod)?;
    if kind == Kind::Cluster && s.cluster_dns.is_empty() {
        let msg = "kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" policy.";
        events.push(DnsEvent {
            on_node: true,
            reason: "MissingClusterDNS",
            message: format!(
                "pod: \"{}_{}({})\". {msg}",
                super::names::name(pod),
                super::names::namespace(pod),
                super::names::uid(pod)
            ),
        });
        kind = Kind::Host;
    }
    match kind {
        Kind::Cluster => {
            dns.servers = s.cluster_dns.iter().map(|ip| ip.to_string()).collect();
            if !s.cluster_domain.is_empty() {
                let d = s.cluster_domain;
                let ns = super::names::namespace(pod);
                let mut searches = vec![format!("{ns}.svc.{d}"), format!("svc.{d}"), d.to_string()];
                push_unique(&mut searches, host.searches);
                dns.searches = searches;
            }
            dns.options = vec!["ndots:5".into()];
        }
        Kind::Host if s.host.is_none() => {
            // No resolv.conf: the node's own resolver, and no search (upstream's behaviour for
            // --resolv-conf="").
            dns.servers = s
                .node_ips
                .iter()
                .map(|ip| if ip.is_ipv6() { "::1" } else { "127.0.0.1" }.to_string())
                .collect();
            if dns.servers.is_empty() {
                dns.servers.push("127.0.0.1".into());
            }
            dns.searches = vec![".".into()];
        }
        Kind::Host => {}
        Kind::None => dns = api::DnsConfig::default(),
    }
    if let Some(pc) = pod.spec.as_ref().and_then(|s| s.dns_config.as_ref()) {
        push_unique(&mut dns.servers, pc.nameservers.clone().unwrap_or_default());
        push_unique(&mut dns.searches, pc.searches.clone().unwrap_or_default());
        merge_options(&mut dns.options, pc.options.as_deref().unwrap_or_default());
    }
    if dns.servers.len() > MAX_NAMESERVERS {
        dns.servers.truncate(MAX_NAMESERVERS);
        events.push(DnsEvent {
            on_node: false,
            reason: "DNSConfigForming",
            message: format!(
                "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: {}",
                dns.servers.join(" ")
            ),
        });
    }
    events.extend(fit_searches(&mut dns.searches));
    Ok(PodDns { config: dns, events })
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
