//! Writes one sync's objects as an `nft -f` transaction.
//!
//! The first sync replaces `table ip kube-proxy` whole. Later syncs update it in place, as
//! upstream's nftables proxier does: maps and chains are flushed and refilled, objects the
//! previous sync wrote and this one does not are deleted, and the affinity sets are only
//! declared (a no-op when they exist), so the clients they remember keep their endpoint
//! across syncs. A set whose timeout changed is deleted and recreated: the kernel refuses to
//! redeclare a set with other properties.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::fixed;
use super::render::{Out, Rendered, TABLE};

/// The chains and affinity sets (name → timeout in seconds) a sync leaves in the table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub chains: BTreeSet<String>,
    pub sets: BTreeMap<String, u32>,
}

const COMMENT: &str = "comment \"rules for kube-proxy\"";

pub(super) fn write(out: Out, previous: Option<&Inventory>) -> Rendered {
    let maps: [(&str, &str, &[String]); 4] = [
        (
            "service-ips",
            "ipv4_addr . inet_proto . inet_service : verdict",
            &out.service_ips,
        ),
        (
            "service-nodeports",
            "inet_proto . inet_service : verdict",
            &out.nodeports,
        ),
        (
            "no-endpoint-services",
            "ipv4_addr . inet_proto . inet_service : verdict",
            &out.no_endpoints,
        ),
        (
            "no-endpoint-nodeports",
            "inet_proto . inet_service : verdict",
            &out.no_endpoint_nodeports,
        ),
    ];
    let chains: Vec<(String, Vec<String>)> = fixed::chains()
        .into_iter()
        .map(|(n, r)| (n.to_string(), r))
        .chain(out.chains)
        .collect();
    let inventory = Inventory {
        chains: chains.iter().map(|(n, _)| n.clone()).collect(),
        sets: out.sets.iter().cloned().collect(),
    };
    let mut objects = maps.iter().map(|(_, _, e)| e.len()).sum::<usize>();
    objects += chains.iter().map(|(_, r)| r.len()).sum::<usize>();

    let mut t = String::new();
    match previous {
        None => {
            // Creating then deleting makes the delete valid on the first run; the whole file
            // is one transaction, so the old table stays in place if anything below fails.
            let _ = writeln!(t, "add table ip {TABLE}");
            let _ = writeln!(t, "delete table ip {TABLE}");
            let _ = writeln!(t, "table ip {TABLE} {{");
            let _ = writeln!(t, "\t{COMMENT}");
            for (name, ty, elements) in &maps {
                map(&mut t, name, ty, elements);
            }
            sets(&mut t, &out.sets);
            for (name, lines) in &chains {
                chain(&mut t, name, lines, true);
            }
            let _ = writeln!(t, "}}");
        }
        Some(prev) => {
            // Declare (add semantics: existing objects are kept), then empty what is refilled.
            let _ = writeln!(t, "table ip {TABLE} {{");
            let _ = writeln!(t, "\t{COMMENT}");
            for (name, ty, _) in &maps {
                map(&mut t, name, ty, &[]);
            }
            for (name, lines) in &chains {
                chain(&mut t, name, lines, false);
            }
            let _ = writeln!(t, "}}");
            for (name, _, _) in &maps {
                let _ = writeln!(t, "flush map ip {TABLE} {name}");
            }
            let stale_chains: Vec<&String> = prev.chains.difference(&inventory.chains).collect();
            for name in inventory.chains.iter().chain(stale_chains.iter().copied()) {
                let _ = writeln!(t, "flush chain ip {TABLE} {name}");
            }
            // Only rules refer to chains and sets, and every rule is flushed above.
            for name in stale_chains {
                let _ = writeln!(t, "delete chain ip {TABLE} {name}");
            }
            for (name, timeout) in &prev.sets {
                if inventory.sets.get(name) != Some(timeout) {
                    let _ = writeln!(t, "delete set ip {TABLE} {name}");
                }
            }
            let _ = writeln!(t, "table ip {TABLE} {{");
            for (name, ty, elements) in &maps {
                if !elements.is_empty() {
                    map(&mut t, name, ty, elements);
                }
            }
            sets(&mut t, &out.sets);
            for (name, lines) in &chains {
                chain(&mut t, name, lines, true);
            }
            let _ = writeln!(t, "}}");
        }
    }
    Rendered {
        text: t,
        objects,
        inventory,
    }
}

fn map(t: &mut String, name: &str, ty: &str, elements: &[String]) {
    let _ = write!(t, "\tmap {name} {{ type {ty};");
    if !elements.is_empty() {
        let _ = write!(t, " elements = {{ {} }};", elements.join(", "));
    }
    let _ = writeln!(t, " }}");
}

fn sets(t: &mut String, sets: &[(String, u32)]) {
    for (set, timeout) in sets {
        let _ = writeln!(
            t,
            "\tset {set} {{ type ipv4_addr; flags dynamic,timeout; timeout {timeout}s; }}"
        );
    }
}

/// A chain block; without `rules` only a base chain's header is written (a declaration).
fn chain(t: &mut String, name: &str, lines: &[String], rules: bool) {
    let _ = writeln!(t, "\tchain {name} {{");
    for l in lines.iter().filter(|l| rules || fixed::is_header(l)) {
        let _ = writeln!(t, "\t\t{l}");
    }
    let _ = writeln!(t, "\t}}");
}
