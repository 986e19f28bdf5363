//! Renders a [`ProxyState`] as one `nft -f` transaction that replaces `table ip kube-proxy`
//! whole (add + delete + define: atomic in the kernel), shaped like upstream's nftables proxier:
//! verdict maps `service-ips` / `service-nodeports` / `no-endpoint-services`, one chain per
//! service, external destination and endpoint, `numgen random` spreading and affinity sets.

use std::fmt::Write;

use crate::hash;
use crate::iptables::RenderOptions;
use crate::model::{Endpoint, ProxyState, ServicePortState};

pub const TABLE: &str = "kube-proxy";
const MASQ_MARK: &str = "0x4000";

/// The rendered transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Rules, map elements and chains written (for the metrics).
    pub objects: usize,
}

#[derive(Default)]
struct Out {
    chains: Vec<(String, Vec<String>)>,
    service_ips: Vec<String>,
    nodeports: Vec<String>,
    no_endpoints: Vec<String>,
    no_endpoint_nodeports: Vec<String>,
    sets: Vec<(String, u32)>,
}

impl Out {
    fn chain(&mut self, name: String, rules: Vec<String>) {
        self.chains.push((name, rules));
    }
}

pub fn render(state: &ProxyState, opts: &RenderOptions) -> Rendered {
    let mut out = Out::default();
    for sp in &state.services {
        service_port(sp, opts, &mut out);
    }
    let mut t = String::new();
    // Creating then deleting makes the delete valid on the first run; the whole file is one
    // transaction, so the old table stays in place if anything below fails.
    let _ = writeln!(t, "add table ip {TABLE}");
    let _ = writeln!(t, "delete table ip {TABLE}");
    let _ = writeln!(t, "table ip {TABLE} {{");
    let _ = writeln!(t, "\tcomment \"rules for kube-proxy\"");
    map(
        &mut t,
        "service-ips",
        "ipv4_addr . inet_proto . inet_service : verdict",
        &out.service_ips,
    );
    map(
        &mut t,
        "service-nodeports",
        "inet_proto . inet_service : verdict",
        &out.nodeports,
    );
    map(
        &mut t,
        "no-endpoint-services",
        "ipv4_addr . inet_proto . inet_service : verdict",
        &out.no_endpoints,
    );
    map(
        &mut t,
        "no-endpoint-nodeports",
        "inet_proto . inet_service : verdict",
        &out.no_endpoint_nodeports,
    );
    for (set, timeout) in &out.sets {
        let _ = writeln!(
            t,
            "\tset {set} {{ type ipv4_addr; flags dynamic,timeout; timeout {timeout}s; }}"
        );
    }
    let fixed: [(&str, Vec<String>); 9] = [
        (
            "filter-input",
            vec![
                "type filter hook input priority -110; policy accept;".into(),
                "ct state new jump nodeport-endpoints-check".into(),
                "ct state new jump service-endpoints-check".into(),
            ],
        ),
        (
            "filter-forward",
            vec![
                "type filter hook forward priority -110; policy accept;".into(),
                "ct state new jump service-endpoints-check".into(),
            ],
        ),
        (
            "filter-output",
            vec![
                "type filter hook output priority -110; policy accept;".into(),
                "ct state new jump service-endpoints-check".into(),
            ],
        ),
        ("reject-chain", vec!["reject".into()]),
        (
            "nodeport-endpoints-check",
            vec!["fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports".into()],
        ),
        (
            "service-endpoints-check",
            vec!["ip daddr . meta l4proto . th dport vmap @no-endpoint-services".into()],
        ),
        // 'priority dstnat' is rejected for the output hook by nft 1.0.6: use the number.
        (
            "nat-prerouting",
            vec![
                "type nat hook prerouting priority -100; policy accept;".into(),
                "jump services".into(),
            ],
        ),
        (
            "nat-output",
            vec![
                "type nat hook output priority -100; policy accept;".into(),
                "jump services".into(),
            ],
        ),
        (
            "nat-postrouting",
            vec![
                "type nat hook postrouting priority 100; policy accept;".into(),
                "jump masquerading".into(),
            ],
        ),
    ];
    let fixed2: [(&str, Vec<String>); 4] = [
        (
            "mark-for-masquerade",
            vec![format!("meta mark set meta mark | {MASQ_MARK}")],
        ),
        (
            "masquerading",
            vec![
                format!("meta mark & {MASQ_MARK} == 0 return"),
                format!("meta mark set meta mark ^ {MASQ_MARK}"),
                "masquerade fully-random".into(),
            ],
        ),
        (
            "services",
            vec![
                "ip daddr . meta l4proto . th dport vmap @service-ips".into(),
                "fib daddr type local ip daddr != 127.0.0.0/8 jump nodeports".into(),
            ],
        ),
        (
            "nodeports",
            vec!["meta l4proto . th dport vmap @service-nodeports".into()],
        ),
    ];
    let mut objects = out.service_ips.len()
        + out.nodeports.len()
        + out.no_endpoints.len()
        + out.no_endpoint_nodeports.len();
    for (name, rules) in fixed.iter().chain(fixed2.iter()) {
        objects += rules.len();
        chain(&mut t, name, rules);
    }
    for (name, rules) in &out.chains {
        objects += rules.len();
        chain(&mut t, name, rules);
    }
    let _ = writeln!(t, "}}");
    Rendered { text: t, objects }
}

fn map(t: &mut String, name: &str, ty: &str, elements: &[String]) {
    let _ = write!(t, "\tmap {name} {{ type {ty};");
    if !elements.is_empty() {
        let _ = write!(t, " elements = {{ {} }};", elements.join(", "));
    }
    let _ = writeln!(t, " }}");
}

fn chain(t: &mut String, name: &str, rules: &[String]) {
    let _ = writeln!(t, "\tchain {} {{", quote(name));
    for r in rules {
        let _ = writeln!(t, "\t\t{r}");
    }
    let _ = writeln!(t, "\t}}");
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
