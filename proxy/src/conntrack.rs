//! conntrack cleanup after a sync: UDP has no connection teardown, so entries DNATed to a removed
//! endpoint would keep blackholing a client's flow; upstream deletes them (`conntrack -D`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::exec::Executor;
use crate::model::{Protocol, ProxyState};

/// One entry family to delete: flows to `service_ip` NATed to `endpoint_ip`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StaleFlow {
    pub service_ip: Ipv4Addr,
    pub endpoint_ip: Ipv4Addr,
}

fn udp_flows(state: &ProxyState) -> BTreeSet<StaleFlow> {
    let mut out = BTreeSet::new();
    for sp in state
        .services
        .iter()
        .filter(|s| s.port.name.protocol == Protocol::Udp)
    {
        let ips = std::iter::once(sp.port.cluster_ip)
            .chain(sp.port.external_ips.iter().copied())
            .chain(sp.port.load_balancer_ips.iter().copied());
        for ip in ips {
            for ep in &sp.reachable_endpoints {
                out.insert(StaleFlow {
                    service_ip: ip,
                    endpoint_ip: ep.ip,
                });
            }
        }
    }
    out
}

/// UDP (service IP → endpoint IP) pairs programmed before and gone now.
pub fn stale_udp_flows(previous: &ProxyState, current: &ProxyState) -> Vec<StaleFlow> {
    let now = udp_flows(current);
    udp_flows(previous).difference(&now).cloned().collect()
}

/// `conntrack -D -p udp --orig-dst SVC --dst-nat EP` for each; "no entries" is not an error.
pub fn clear(exec: &dyn Executor, flows: &[StaleFlow]) {
    for f in flows {
        let (svc, ep) = (f.service_ip.to_string(), f.endpoint_ip.to_string());
        let args = [
            "-D",
            "-p",
            "udp",
            "--orig-dst",
            svc.as_str(),
            "--dst-nat",
            ep.as_str(),
        ];
        match exec.run("conntrack", &args, None) {
            Ok(_) => {
                tracing::debug!(service_ip = %svc, endpoint_ip = %ep, "cleared stale UDP conntrack entries")
            }
            // conntrack exits 1 when nothing matched.
            Err(e) if e.code() == Some(1) => {}
            Err(e) => {
                tracing::warn!(service_ip = %svc, endpoint_ip = %ep, error = %e, "conntrack cleanup failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::exec::FakeExecutor;
    use crate::fixtures::{ready, service, slice};
    use crate::model::{NodeContext, build_state};

    #[test]
    fn removed_udp_endpoints_are_cleared_tcp_ones_not() {
        let node = NodeContext {
            node_name: "n1".into(),
        };
        let svcs = [
            service(
                "ns",
                "dns",
                json!({"clusterIP": "10.96.0.10", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}),
            ),
            service(
                "ns",
                "web",
                json!({"clusterIP": "10.96.0.11", "ports": [{"name": "http", "port": 80}]}),
            ),
        ];
        let before = build_state(
            &svcs,
            &[
                slice(
                    "ns",
                    "dns",
                    "d",
                    &[("dns", 53, "UDP")],
                    &[ready("10.0.0.1", "n1"), ready("10.0.0.2", "n2")],
                ),
                slice(
                    "ns",
                    "web",
                    "w",
                    &[("http", 80, "TCP")],
                    &[ready("10.0.0.3", "n1")],
                ),
            ],
            &node,
        );
        let after = build_state(
            &svcs,
            &[slice(
                "ns",
                "dns",
                "d",
                &[("dns", 53, "UDP")],
                &[ready("10.0.0.2", "n2")],
            )],
            &node,
        );
        let stale = stale_udp_flows(&before, &after);
        assert_eq!(
            stale,
            [StaleFlow {
                service_ip: "10.96.0.10".parse().unwrap(),
                endpoint_ip: "10.0.0.1".parse().unwrap()
            }]
        );

        let exec = FakeExecutor::new();
        exec.respond(|_| {
            Err(crate::exec::ExecError::Failed {
                program: "conntrack".into(),
                args: String::new(),
                code: Some(1),
                stderr: "0 flow entries".into(),
            })
        });
        clear(&exec, &stale);
        let calls = exec.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            calls[0].args,
            [
                "-D",
                "-p",
                "udp",
                "--orig-dst",
                "10.96.0.10",
                "--dst-nat",
                "10.0.0.1"
            ]
        );
    }
}
