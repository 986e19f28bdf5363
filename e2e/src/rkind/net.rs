//! The cluster's network on the host: a bridge carrying the host's control-plane address, one
//! network namespace per node with a veth onto the bridge, routes between the nodes' pod CIDRs
//! (what kindnet does), and host routes to every pod CIDR. Each step is recorded in the state
//! before the next, so a failed creation can be undone.

use std::net::Ipv4Addr;

use super::plan::{NetworkPlan, SERVICE_CIDR, address_uses_index};
use super::state::State;
use super::sys::{SysError, cmd, cmd_quiet};

/// Indices whose addresses are already on this host (bridges of clusters whose state is gone,
/// or anything else using 10.250.X.0/24 or 10.(128+X).0.0/16).
pub fn indices_in_use() -> Vec<u8> {
    let mut used = Vec::new();
    let addrs = cmd("ip", ["-4", "-o", "addr", "show"]).unwrap_or_default();
    let routes = cmd("ip", ["-4", "route", "show"]).unwrap_or_default();
    let ips: Vec<Ipv4Addr> = addrs
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .chain(routes.lines().filter_map(|l| l.split_whitespace().next()))
        .filter_map(|cidr| cidr.split('/').next()?.parse().ok())
        .collect();
    for x in 0..super::plan::MAX_CLUSTERS {
        if ips.iter().any(|ip| address_uses_index(*ip, x)) {
            used.push(x);
        }
    }
    used
}

fn ip(args: &[&str]) -> Result<(), SysError> {
    cmd("ip", args).map(|_| ())
}

/// Creates the bridge and every node namespace, with routes. Records each object in `state`.
pub fn create(plan: &NetworkPlan, state: &mut State) -> Result<(), SysError> {
    let host = format!("{}/{}", plan.host_ip, plan.prefix_len);
    ip(&["link", "add", &plan.bridge, "type", "bridge"])?;
    state.links.push(plan.bridge.clone());
    state.save()?;
    ip(&["addr", "add", &host, "dev", &plan.bridge])?;
    ip(&["link", "set", &plan.bridge, "up"])?;
    for node in &plan.nodes {
        ip(&["netns", "add", &node.netns])?;
        state.netns.push(node.netns.clone());
        ip(&[
            "link",
            "add",
            &node.veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &node.netns,
        ])?;
        state.links.push(node.veth.clone());
        state.save()?;
        ip(&["link", "set", &node.veth, "master", &plan.bridge, "up"])?;
        let ns = node.netns.as_str();
        let addr = format!("{}/{}", node.ip, plan.prefix_len);
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        ip(&["-n", ns, "addr", "add", &addr, "dev", "eth0"])?;
        ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        // No default route, so nothing leaves the machine. The service range needs a route of
        // its own: connect() picks a route before kube-proxy's DNAT in OUTPUT runs.
        ip(&["-n", ns, "route", "add", SERVICE_CIDR, "dev", "eth0"])?;
        for other in plan.nodes.iter().filter(|o| o.name != node.name) {
            ip(&[
                "-n",
                ns,
                "route",
                "add",
                &other.pod_cidr,
                "via",
                &other.ip.to_string(),
            ])?;
        }
        // Pods reach other nodes and the host through the node.
        cmd(
            "nsenter",
            [
                &format!("--net=/run/netns/{ns}"),
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ],
        )?;
    }
    for node in &plan.nodes {
        let route = format!("{} via {}", node.pod_cidr, node.ip);
        ip(&["route", "add", &node.pod_cidr, "via", &node.ip.to_string()])?;
        state.routes.push(route);
    }
    state.save()
}

/// Undoes whatever of `create` the state records (missing objects are fine).
pub fn delete(state: &State) {
    for route in &state.routes {
        let args: Vec<&str> = ["route", "del"]
            .into_iter()
            .chain(route.split_whitespace())
            .collect();
        cmd_quiet("ip", args);
    }
    for ns in &state.netns {
        cmd_quiet("ip", ["netns", "del", ns]);
    }
    // veth ends go with their namespace; the bridge last.
    for link in state.links.iter().rev() {
        cmd_quiet("ip", ["link", "del", link]);
    }
}
