//! Renders a [`ProxyState`] as one `nft -f` transaction (atomic in the kernel), shaped like
//! upstream's nftables proxier: verdict maps `service-ips` / `service-nodeports` / `no-endpoint-services`, one chain per
//! service, external destination and endpoint, `numgen random` spreading and affinity sets.

use crate::hash;
use crate::iptables::RenderOptions;
use crate::model::{Endpoint, ProxyState, ServicePortState};

use super::transaction::{self, Inventory};

pub const TABLE: &str = "kube-proxy";

/// The rendered transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Rules, map elements and chains written (for the metrics).
    pub objects: usize,
    /// The chains and sets the table holds once the transaction is applied.
    pub inventory: Inventory,
}

/// The per-service objects of one sync, before they are written out.
#[derive(Default)]
pub(super) struct Out {
    pub(super) chains: Vec<(String, Vec<String>)>,
    pub(super) service_ips: Vec<String>,
    pub(super) nodeports: Vec<String>,
    pub(super) no_endpoints: Vec<String>,
    pub(super) no_endpoint_nodeports: Vec<String>,
    /// Affinity sets and their timeouts in seconds.
    pub(super) sets: Vec<(String, u32)>,
}

impl Out {
    fn chain(&mut self, name: String, rules: Vec<String>) {
        self.chains.push((name, rules));
    }
}

/// Renders `state`. With `previous` (what the last successful sync left in the kernel) the
/// transaction updates the table in place, so the affinity sets keep their elements; without it
/// the table is replaced whole (first sync, or after a failed one).
pub fn render(state: &ProxyState, opts: &RenderOptions, previous: Option<&Inventory>) -> Rendered {
    let mut out = Out::default();
    for sp in &state.services {
        service_port(sp, opts, &mut out);
    }
    transaction::write(out, previous)
}

/// Chain names as written; nft's identifiers allow the `/`, `.` and `_` that upstream's names use.
fn quote(name: &str) -> String {
    name.to_string()
}

fn service_port(sp: &ServicePortState, opts: &RenderOptions, out: &mut Out) {
    let name = &sp.port.name;
    let base = hash::nft_base(name);
    let svc_chain = format!("service-{base}");
    let local_chain = format!("local-{base}");
    let ext_chain = format!("external-{base}");
    let proto = name.protocol.lower();
    let port = sp.port.port;

    let has_endpoints = sp.has_any_endpoints;
    let has_internal = !sp.internal_endpoints().is_empty();
    let has_external = !sp.external_endpoints().is_empty();
    let internal_chain = if sp.port.internal_policy_local {
        &local_chain
    } else {
        &svc_chain
    };
    let external_policy_chain = if sp.port.external_policy_local {
        &local_chain
    } else {
        &svc_chain
    };
    let uses_cluster_chain = !sp.cluster_endpoints.is_empty() && sp.port.uses_cluster_endpoints();
    let uses_local_chain = !sp.local_endpoints.is_empty() && sp.port.uses_local_endpoints();
    let uses_ext_chain = has_endpoints && sp.port.externally_accessible();
    let no_ep = if has_endpoints {
        "drop"
    } else {
        "goto reject-chain"
    };

    let cip = sp.port.cluster_ip;
    if has_internal {
        out.service_ips.push(format!(
            "{cip} . {proto} . {port} : goto {}",
            quote(internal_chain)
        ));
    } else {
        out.no_endpoints
            .push(format!("{cip} . {proto} . {port} : {no_ep}"));
    }
    for ip in sp.port.external_ips.iter().chain(&sp.port.load_balancer_ips) {
        if has_endpoints {
            out.service_ips
                .push(format!("{ip} . {proto} . {port} : goto {}", quote(&ext_chain)));
        }
        if !has_external {
            out.no_endpoints
                .push(format!("{ip} . {proto} . {port} : {no_ep}"));
        }
    }
    if let Some(np) = sp.port.node_port {
        if has_endpoints {
            out.nodeports
                .push(format!("{proto} . {np} : goto {}", quote(&ext_chain)));
        }
        if !has_external {
            out.no_endpoint_nodeports
                .push(format!("{proto} . {np} : {no_ep}"));
        }
    }

    if uses_ext_chain {
        let mut rules = Vec::new();
        if !sp.port.external_policy_local {
            rules.push("jump mark-for-masquerade".to_string());
        } else {
            if let Some(cidr) = opts.cluster_cidr {
                rules.push(format!("ip saddr {cidr} goto {}", quote(&svc_chain)));
            }
            rules.push("fib saddr type local jump mark-for-masquerade".to_string());
            rules.push(format!("fib saddr type local goto {}", quote(&svc_chain)));
        }
        if has_external {
            rules.push(format!("goto {}", quote(external_policy_chain)));
        }
        out.chain(ext_chain.clone(), rules);
    }

    let masq = if opts.masquerade_all {
        Some(format!(
            "ip daddr {cip} {proto} dport {port} jump mark-for-masquerade"
        ))
    } else {
        opts.cluster_cidr
            .map(|c| format!("ip daddr {cip} {proto} dport {port} ip saddr != {c} jump mark-for-masquerade"))
    };
    for (uses, chain_name, eps) in [
        (uses_cluster_chain, &svc_chain, &sp.cluster_endpoints),
        (uses_local_chain, &local_chain, &sp.local_endpoints),
    ] {
        if !uses {
            continue;
        }
        let mut rules = Vec::new();
        if chain_name == internal_chain && has_internal {
            rules.extend(masq.clone());
        }
        rules.extend(to_endpoints(sp, eps));
        out.chain(chain_name.clone(), rules);
    }
    for ep in &sp.reachable_endpoints {
        let mut rules = vec![format!("ip saddr {} jump mark-for-masquerade", ep.ip)];
        if let Some(timeout) = sp.port.affinity_timeout {
            let set = affinity_set(sp, ep);
            rules.push(format!("update @{set} {{ ip saddr }}"));
            out.sets.push((set, timeout));
        }
        rules.push(format!("meta l4proto {proto} dnat to {ep}"));
        out.chain(endpoint_chain(sp, ep), rules);
    }
}

fn endpoint_chain(sp: &ServicePortState, ep: &Endpoint) -> String {
    format!("endpoint-{}", hash::nft_endpoint_base(&sp.port.name, ep))
}

/// Upstream's per-endpoint affinity set: clients seen recently stick to that endpoint.
fn affinity_set(sp: &ServicePortState, ep: &Endpoint) -> String {
    let base = hash::nft_endpoint_base(&sp.port.name, ep);
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("affinity-{clean}")
}

fn to_endpoints(sp: &ServicePortState, eps: &[Endpoint]) -> Vec<String> {
    let mut rules = Vec::new();
    if sp.port.affinity_timeout.is_some() {
        for ep in eps {
            rules.push(format!(
                "ip saddr @{} goto {}",
                affinity_set(sp, ep),
                quote(&endpoint_chain(sp, ep))
            ));
        }
    }
    if eps.is_empty() {
        return rules;
    }
    let targets: Vec<String> = eps
        .iter()
        .enumerate()
        .map(|(i, ep)| format!("{i} : goto {}", quote(&endpoint_chain(sp, ep))))
        .collect();
    rules.push(format!(
        "numgen random mod {} vmap {{ {} }}",
        eps.len(),
        targets.join(", ")
    ));
    rules
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
