//! Rendered rules in the real kernel (inside a lab netns): DNAT reaches the backend, endpoint
//! removal removes the rules, and a failing transaction leaves the previous rules in place.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rudder_proxy::backend::Backend;
use rudder_proxy::exec::{CommandExecutor, ExecError, Executor};
use rudder_proxy::iptables::{IptablesBackend, RenderOptions};
use rudder_proxy::model::{NodeContext, ProxyState, build_state};
use rudder_proxy::nftables::NftablesBackend;
use serde_json::json;

use crate::lab::{Lab, service, slice};

/// Runs in the lab netns; when `corrupt` is set, appends an invalid rule to the transaction.
#[derive(Debug)]
struct Corrupting {
    inner: CommandExecutor,
    corrupt: Arc<AtomicBool>,
}

impl Executor for Corrupting {
    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, ExecError> {
        if !self.corrupt.load(Ordering::SeqCst) {
            return self.inner.run(program, args, stdin);
        }
        let bad = stdin.map(|s| match program {
            // A jump to a chain that does not exist: the whole restore must fail.
            "iptables-restore" => {
                let cut = s.rfind("COMMIT").unwrap_or(s.len());
                format!(
                    "{}-A KUBE-SERVICES -j KUBE-NO-SUCH-CHAIN\n{}",
                    &s[..cut],
                    &s[cut..]
                )
            }
            _ => format!("{s}add rule ip kube-proxy no-such-chain drop\n"),
        });
        self.inner.run(program, args, bad.as_deref())
    }
}

fn state(endpoints: &[&str]) -> ProxyState {
    let svc = service(
        "default",
        "web",
        json!({"clusterIP": "10.96.0.10", "type": "NodePort",
        "ports": [{"name": "http", "port": 80, "targetPort": "web", "nodePort": 30080}]}),
    );
    let sl = slice("default", "web", "http", 8080, endpoints);
    build_state(
        &[svc],
        &[sl],
        &NodeContext {
            node_name: "n1".into(),
        },
    )
}

fn opts() -> RenderOptions {
    RenderOptions {
        cluster_cidr: Some("10.200.0.0/24".parse().unwrap()),
        masquerade_all: false,
    }
}

/// Connects several times and returns every distinct answer.
fn answers(lab: &Lab, ip: &str, port: u16) -> Vec<Option<String>> {
    let mut v: Vec<Option<String>> = (0..6).map(|_| lab.connect(ip, port)).collect();
    v.sort();
    v.dedup();
    v
}

fn backends(lab: &Lab) -> (Arc<AtomicBool>, Vec<Box<dyn Backend>>) {
    let corrupt = Arc::new(AtomicBool::new(false));
    let exec = || -> Arc<dyn Executor> {
        Arc::new(Corrupting {
            inner: CommandExecutor::in_netns(&lab.node),
            corrupt: corrupt.clone(),
        })
    };
    (
        corrupt.clone(),
        vec![
            Box::new(IptablesBackend::new(exec(), opts())),
            Box::new(NftablesBackend::new(exec(), opts())),
        ],
    )
}

#[test]
fn cluster_ip_and_node_port_dnat_to_a_real_backend_both_modes() {
    for mode in 0..2 {
        let mut lab = Lab::new();
        let a = lab.add_pod(10, "pod-a", 8080);
        let b = lab.add_pod(11, "pod-b", 8080);
        let (_, mut backends) = backends(&lab);
        let backend = &mut backends[mode];
        let what = backend.mode().as_str();

        assert_eq!(
            lab.connect("10.96.0.10", 80),
            None,
            "{what}: nothing before the first sync"
        );
        backend
            .sync(&state(&[&a]))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            answers(&lab, "10.96.0.10", 80),
            [Some("pod-a".to_string())],
            "{what}: cluster IP"
        );
        assert_eq!(
            answers(&lab, "10.200.0.1", 30080),
            [Some("pod-a".to_string())],
            "{what}: node port on the node IP"
        );

        // Both endpoints: the random spread sends connections to both in a few tries.
        backend.sync(&state(&[&a, &b])).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..40 {
            seen.insert(lab.connect("10.96.0.10", 80));
            if seen.len() == 2 {
                break;
            }
        }
        assert_eq!(seen.len(), 2, "{what}: both endpoints answer: {seen:?}");

        // Endpoint a removed: its rules are gone and it never answers.
        backend.sync(&state(&[&b])).unwrap();
        assert_eq!(
            answers(&lab, "10.96.0.10", 80),
            [Some("pod-b".to_string())],
            "{what}"
        );
        if what == "iptables" {
            let rules = lab.iptables_save();
            assert!(
                !rules.contains(&format!("{a}:8080")),
                "{what}: stale endpoint rules left:\n{rules}"
            );
            assert!(rules.contains(&format!("--to-destination {b}:8080")), "{rules}");
        } else {
            let table = lab.nft_table().unwrap();
            assert!(
                !table.contains(&format!("{a}:8080")),
                "{what}: stale endpoint left:\n{table}"
            );
            assert!(table.contains(&format!("dnat to {b}:8080")), "{table}");
        }

        // No endpoints: rejected at once (not a timeout), and the DNAT rules are gone.
        backend.sync(&state(&[])).unwrap();
        assert_eq!(lab.connect("10.96.0.10", 80), None, "{what}: no endpoints");
    }
}

#[test]
fn a_failing_transaction_leaves_the_previous_rules_both_modes() {
    for mode in 0..2 {
        let mut lab = Lab::new();
        let a = lab.add_pod(10, "pod-a", 8080);
        let b = lab.add_pod(11, "pod-b", 8080);
        let (corrupt, mut backends) = backends(&lab);
        let backend = &mut backends[mode];
        let what = backend.mode().as_str();
        backend.sync(&state(&[&a])).unwrap();
        let before = if what == "iptables" {
            lab.iptables_save()
        } else {
            lab.nft_table().unwrap()
        };

        corrupt.store(true, Ordering::SeqCst);
        let err = backend
            .sync(&state(&[&b]))
            .expect_err("a bad rule fails the transaction");
        eprintln!("{what}: expected failure: {err}");
        let after = if what == "iptables" {
            lab.iptables_save()
        } else {
            lab.nft_table().unwrap()
        };
        let strip = |s: &str| {
            s.lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| l.split(" [").next().unwrap_or(l).to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(&before),
            strip(&after),
            "{what}: rules changed by a failed transaction"
        );
        assert_eq!(
            answers(&lab, "10.96.0.10", 80),
            [Some("pod-a".to_string())],
            "{what}: old rules still work"
        );

        // The retry (without the bad rule) applies, and stale chains of the old state go.
        corrupt.store(false, Ordering::SeqCst);
        backend.sync(&state(&[&b])).unwrap();
        assert_eq!(
            answers(&lab, "10.96.0.10", 80),
            [Some("pod-b".to_string())],
            "{what}: retry applied"
        );
    }
}
