//! Renders a [`ProxyState`] as one `iptables-restore --noflush` input, with upstream's chains
//! and rule shapes (pkg/proxy/iptables/proxier.go).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::hash;
use crate::model::{Cidr, Endpoint, ProxyState, ServicePortState};

pub(crate) const MASQ_MARK: &str = "0x4000";
/// Chain-name prefixes that belong to per-service chains (stale ones are deleted).
pub(crate) const SERVICE_CHAIN_PREFIXES: [&str; 5] =
    ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"];

/// Options that shape the rules but are not in the model.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// `--cluster-cidr`: traffic from outside it to a cluster IP is masqueraded.
    pub cluster_cidr: Option<Cidr>,
    /// `--masquerade-all`: masquerade all traffic to cluster IPs.
    pub masquerade_all: bool,
}

/// The rendered transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Per-service nat chains this rule set defines (to find stale ones next time).
    pub service_chains: BTreeSet<String>,
    pub filter_rules: usize,
    pub nat_rules: usize,
}

#[derive(Default)]
struct Table {
    chains: Vec<String>,
    rules: Vec<String>,
}

impl Table {
    fn chain(&mut self, name: &str) {
        self.chains.push(name.to_string());
    }
    fn rule(&mut self, parts: &[&str]) {
        self.rules.push(parts.join(" "));
    }
}

/// `-m comment --comment X`, quoted when it has spaces (as iptables-save prints it).
fn comment(text: &str) -> String {
    if text.contains(' ') {
        format!("-m comment --comment \"{text}\"")
    } else {
        format!("-m comment --comment {text}")
    }
}

/// `-m tcp -p tcp` in upstream's order.
fn proto(sp: &ServicePortState) -> String {
    let p = sp.port.name.protocol.lower();
    format!("-m {p} -p {p}")
}

/// Upstream's `computeProbability`: 1/n with 10 decimals.
fn probability(n: usize) -> String {
    format!("{:.10}", 1.0 / n as f64)
}

/// The whole rule set. `previous_chains` are per-service chains that exist now (from the last
/// sync or the kernel): those no longer wanted are flushed and deleted in the same transaction.
pub fn render(state: &ProxyState, opts: &RenderOptions, previous_chains: &BTreeSet<String>) -> Rendered {
    let mut filter = Table::default();
    let mut nat = Table::default();
    for c in [
        "KUBE-NODEPORTS",
        "KUBE-SERVICES",
        "KUBE-EXTERNAL-SERVICES",
        "KUBE-FORWARD",
        "KUBE-PROXY-FIREWALL",
    ] {
        filter.chain(c);
    }
    for c in [
        "KUBE-NODEPORTS",
        "KUBE-SERVICES",
        "KUBE-MARK-MASQ",
        "KUBE-POSTROUTING",
    ] {
        nat.chain(c);
    }
    filter.rule(&["-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"]);
    filter.rule(&[
        "-A KUBE-FORWARD",
        &comment("kubernetes forwarding rules"),
        "-m mark --mark",
        &format!("{MASQ_MARK}/{MASQ_MARK}"),
        "-j ACCEPT",
    ]);
    filter.rule(&[
        "-A KUBE-FORWARD",
        &comment("kubernetes forwarding conntrack rule"),
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]);
    nat.rule(&[
        "-A KUBE-POSTROUTING -m mark ! --mark",
        &format!("{MASQ_MARK}/{MASQ_MARK}"),
        "-j RETURN",
    ]);
    nat.rule(&["-A KUBE-POSTROUTING -j MARK --xor-mark", MASQ_MARK]);
    nat.rule(&[
        "-A KUBE-POSTROUTING",
        &comment("kubernetes service traffic requiring SNAT"),
        "-j MASQUERADE --random-fully",
    ]);
    nat.rule(&["-A KUBE-MARK-MASQ -j MARK --or-mark", MASQ_MARK]);

    let mut service_chains = BTreeSet::new();
    for sp in &state.services {
        service_port(sp, opts, &mut filter, &mut nat, &mut service_chains);
    }
    // Must stay last: NodePorts match any local destination address.
    nat.rule(&[
        "-A KUBE-SERVICES",
        &comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain"),
        "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS",
    ]);

    let stale: Vec<&String> = previous_chains.difference(&service_chains).collect();
    let mut text = String::new();
    let _ = writeln!(text, "*filter");
    for c in &filter.chains {
        let _ = writeln!(text, ":{c} - [0:0]");
    }
    for r in &filter.rules {
        let _ = writeln!(text, "{r}");
    }
    let _ = writeln!(text, "COMMIT");
    let _ = writeln!(text, "*nat");
    for c in nat.chains.iter().chain(stale.iter().copied()) {
        let _ = writeln!(text, ":{c} - [0:0]");
    }
    for r in &nat.rules {
        let _ = writeln!(text, "{r}");
    }
    for c in &stale {
        let _ = writeln!(text, "-X {c}");
    }
    let _ = writeln!(text, "COMMIT");
    Rendered {
        text,
        service_chains,
        filter_rules: filter.rules.len(),
        nat_rules: nat.rules.len(),
    }
}

fn service_port(
    sp: &ServicePortState,
    opts: &RenderOptions,
    filter: &mut Table,
    nat: &mut Table,
    chains: &mut BTreeSet<String>,
) {
    let name = &sp.port.name;
    let spn = name.to_string();
    let proto = proto(sp);
    let svc_chain = hash::svc_chain(name);
    let svl_chain = hash::svl_chain(name);
    let ext_chain = hash::ext_chain(name);
    let port = sp.port.port.to_string();
    let cluster_ip = sp.port.cluster_ip.to_string();

    let has_endpoints = sp.has_any_endpoints;
    let has_internal = !sp.internal_endpoints().is_empty();
    let has_external = !sp.external_endpoints().is_empty();
    let internal_chain = if sp.port.internal_policy_local {
        &svl_chain
    } else {
        &svc_chain
    };
    let external_policy_chain = if sp.port.external_policy_local {
        &svl_chain
    } else {
        &svc_chain
    };
    let uses_cluster_chain = !sp.cluster_endpoints.is_empty() && sp.port.uses_cluster_endpoints();
    let uses_local_chain = !sp.local_endpoints.is_empty() && sp.port.uses_local_endpoints();
    let uses_ext_chain = has_endpoints && sp.port.externally_accessible();

    // Traffic to a port with no endpoints is rejected; with endpoints elsewhere but none usable
    // here (Local policy), it is dropped.
    let no_ep_target = |has_any: bool| if has_any { "DROP" } else { "REJECT" };
    let no_ep_comment = |has_any: bool| {
        if has_any {
            format!("{spn} has no local endpoints")
        } else {
            format!("{spn} has no endpoints")
        }
    };

    // Cluster IP.
    if has_internal {
        nat.rule(&[
            "-A KUBE-SERVICES",
            &comment(&format!("{spn} cluster IP")),
            &proto,
            "-d",
            &cluster_ip,
            "--dport",
            &port,
            "-j",
            internal_chain,
        ]);
    } else {
        filter.rule(&[
            "-A KUBE-SERVICES",
            &comment(&no_ep_comment(has_endpoints)),
            &proto,
            "-d",
            &cluster_ip,
            "--dport",
            &port,
            "-j",
            no_ep_target(has_endpoints),
        ]);
    }
    // External IPs and load-balancer IPs.
    for (ips, what) in [
        (&sp.port.external_ips, "external IP"),
        (&sp.port.load_balancer_ips, "loadbalancer IP"),
    ] {
        for ip in ips {
            let ip = ip.to_string();
            if has_endpoints {
                nat.rule(&[
                    "-A KUBE-SERVICES",
                    &comment(&format!("{spn} {what}")),
                    &proto,
                    "-d",
                    &ip,
                    "--dport",
                    &port,
                    "-j",
                    &ext_chain,
                ]);
            }
            if !has_external {
                filter.rule(&[
                    "-A KUBE-EXTERNAL-SERVICES",
                    &comment(&no_ep_comment(has_endpoints)),
                    &proto,
                    "-d",
                    &ip,
                    "--dport",
                    &port,
                    "-j",
                    no_ep_target(has_endpoints),
                ]);
            }
        }
    }
    // NodePort.
    if let Some(np) = sp.port.node_port {
        let np = np.to_string();
        if has_endpoints {
            nat.rule(&[
                "-A KUBE-NODEPORTS",
                &comment(&spn),
                &proto,
                "--dport",
                &np,
                "-j",
                &ext_chain,
            ]);
        }
        if !has_external {
            filter.rule(&[
                "-A KUBE-EXTERNAL-SERVICES",
                &comment(&no_ep_comment(has_endpoints)),
                "-m addrtype --dst-type LOCAL",
                &proto,
                "--dport",
                &np,
                "-j",
                no_ep_target(has_endpoints),
            ]);
        }
    }
    // Health check node port: accept it (kube-proxy answers there).
    if let Some(hc) = sp.port.health_check_node_port {
        filter.rule(&[
            "-A KUBE-NODEPORTS",
            &comment(&format!(
                "{}/{} health check node port",
                name.namespace, name.name
            )),
            "-m tcp -p tcp --dport",
            &hc.to_string(),
            "-j ACCEPT",
        ]);
    }

    // The external chain: masquerade, then the policy chain.
    if uses_ext_chain {
        nat.chain(&ext_chain);
        chains.insert(ext_chain.clone());
        if !sp.port.external_policy_local {
            nat.rule(&[
                "-A",
                &ext_chain,
                &comment(&format!("masquerade traffic for {spn} external destinations")),
                "-j KUBE-MARK-MASQ",
            ]);
        } else {
            // Pods and the node itself short-circuit to the cluster-wide endpoints.
            if let Some(cidr) = opts.cluster_cidr {
                nat.rule(&[
                    "-A",
                    &ext_chain,
                    &comment(&format!("pod traffic for {spn} external destinations")),
                    "-s",
                    &cidr.to_string(),
                    "-j",
                    &svc_chain,
                ]);
            }
            nat.rule(&[
                "-A",
                &ext_chain,
                &comment(&format!(
                    "masquerade LOCAL traffic for {spn} external destinations"
                )),
                "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
            ]);
            nat.rule(&[
                "-A",
                &ext_chain,
                &comment(&format!("route LOCAL traffic for {spn} external destinations")),
                "-m addrtype --src-type LOCAL -j",
                &svc_chain,
            ]);
        }
        if has_external {
            nat.rule(&["-A", &ext_chain, "-j", external_policy_chain]);
        }
    }

    if uses_cluster_chain {
        nat.chain(&svc_chain);
        chains.insert(svc_chain.clone());
    }
    if uses_local_chain {
        nat.chain(&svl_chain);
        chains.insert(svl_chain.clone());
    }
    // Masquerade off-cluster traffic to the cluster IP (in the chain it enters first).
    if has_internal {
        let mut masq = vec!["-A", internal_chain];
        let c = comment(&format!("{spn} cluster IP"));
        let cidr;
        masq.extend([
            c.as_str(),
            proto.as_str(),
            "-d",
            cluster_ip.as_str(),
            "--dport",
            port.as_str(),
        ]);
        if opts.masquerade_all {
            masq.push("-j KUBE-MARK-MASQ");
            nat.rule(&masq);
        } else if let Some(c) = opts.cluster_cidr {
            cidr = c.to_string();
            masq.extend(["!", "-s", cidr.as_str(), "-j KUBE-MARK-MASQ"]);
            nat.rule(&masq);
        }
    }
    if uses_cluster_chain {
        to_endpoints(sp, &svc_chain, &sp.cluster_endpoints, nat);
    }
    if uses_local_chain {
        to_endpoints(sp, &svl_chain, &sp.local_endpoints, nat);
    }

    // One chain per reachable endpoint.
    for ep in &sp.reachable_endpoints {
        let sep = hash::sep_chain(name, ep);
        nat.chain(&sep);
        chains.insert(sep.clone());
        let c = comment(&spn);
        let ip = ep.ip.to_string();
        nat.rule(&["-A", &sep, &c, "-s", &ip, "-j KUBE-MARK-MASQ"]);
        let dest = ep.to_string();
        match sp.port.affinity_timeout {
            Some(_) => nat.rule(&[
                "-A",
                &sep,
                &c,
                &proto,
                "-m recent --name",
                &sep,
                "--set -j DNAT --to-destination",
                &dest,
            ]),
            None => nat.rule(&["-A", &sep, &c, &proto, "-j DNAT --to-destination", &dest]),
        }
    }
}

/// Upstream's `writeServiceToEndpointRules`: affinity first, then random spread.
fn to_endpoints(sp: &ServicePortState, chain: &str, endpoints: &[Endpoint], nat: &mut Table) {
    let name = &sp.port.name;
    let spn = name.to_string();
    if let Some(timeout) = sp.port.affinity_timeout {
        let timeout = timeout.to_string();
        for ep in endpoints {
            let sep = hash::sep_chain(name, ep);
            nat.rule(&[
                "-A",
                chain,
                &comment(&format!("{spn} -> {ep}")),
                "-m recent --name",
                &sep,
                "--rcheck --seconds",
                &timeout,
                "--reap -j",
                &sep,
            ]);
        }
    }
    let n = endpoints.len();
    for (i, ep) in endpoints.iter().enumerate() {
        let sep = hash::sep_chain(name, ep);
        let c = comment(&format!("{spn} -> {ep}"));
        if i + 1 < n {
            nat.rule(&[
                "-A",
                chain,
                &c,
                "-m statistic --mode random --probability",
                &probability(n - i),
                "-j",
                &sep,
            ]);
        } else {
            nat.rule(&["-A", chain, &c, "-j", &sep]);
        }
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
