//! The iptables backend: one `iptables-restore --noflush` per sync, plus the jumps from the
//! built-in chains (checked with `-C`, inserted with `-I` when missing, as upstream does).

mod render;

use std::collections::BTreeSet;
use std::sync::Arc;

pub use render::{RenderOptions, Rendered, render};

use crate::backend::{Backend, BackendError, ProxyMode, SyncStats};
use crate::exec::Executor;
use crate::model::ProxyState;

/// (table, built-in chain, match args, comment, target): upstream's `iptablesJumpChains`.
const JUMPS: &[(&str, &str, &[&str], &str, &str)] = &[
    (
        "filter",
        "INPUT",
        &["-m", "conntrack", "--ctstate", "NEW"],
        "kubernetes externally-visible service portals",
        "KUBE-EXTERNAL-SERVICES",
    ),
    (
        "filter",
        "FORWARD",
        &["-m", "conntrack", "--ctstate", "NEW"],
        "kubernetes externally-visible service portals",
        "KUBE-EXTERNAL-SERVICES",
    ),
    (
        "filter",
        "INPUT",
        &[],
        "kubernetes health check service ports",
        "KUBE-NODEPORTS",
    ),
    (
        "filter",
        "FORWARD",
        &["-m", "conntrack", "--ctstate", "NEW"],
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    (
        "filter",
        "OUTPUT",
        &["-m", "conntrack", "--ctstate", "NEW"],
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    (
        "filter",
        "FORWARD",
        &[],
        "kubernetes forwarding rules",
        "KUBE-FORWARD",
    ),
    (
        "nat",
        "OUTPUT",
        &[],
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    (
        "nat",
        "PREROUTING",
        &[],
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    (
        "nat",
        "POSTROUTING",
        &[],
        "kubernetes postrouting rules",
        "KUBE-POSTROUTING",
    ),
];

#[derive(Debug)]
pub struct IptablesBackend {
    exec: Arc<dyn Executor>,
    opts: RenderOptions,
    /// Per-service chains known to exist (last applied sync, or found at start).
    chains: Option<BTreeSet<String>>,
}

impl IptablesBackend {
    pub fn new(exec: Arc<dyn Executor>, opts: RenderOptions) -> Self {
        Self {
            exec,
            opts,
            chains: None,
        }
    }

    /// Per-service chains already in the kernel (left by an earlier run): deleted if unwanted.
    fn existing_chains(&self) -> Result<BTreeSet<String>, BackendError> {
        let out = self
            .exec
            .run("iptables-save", &["-t", "nat"], None)
            .map_err(|source| BackendError::Exec {
                step: "iptables-save",
                source,
            })?;
        Ok(out
            .lines()
            .filter_map(|l| l.strip_prefix(':'))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| render::SERVICE_CHAIN_PREFIXES.iter().any(|p| c.starts_with(p)))
            .map(str::to_string)
            .collect())
    }

    fn ensure_jumps(&self) -> Result<(), BackendError> {
        for (table, chain, matches, comment, target) in JUMPS {
            let mut rule: Vec<&str> = matches.to_vec();
            rule.extend(["-m", "comment", "--comment", comment, "-j", target]);
            let mut check = vec!["-w", "-t", table, "-C", chain];
            check.extend(&rule);
            if self.exec.run("iptables", &check, None).is_ok() {
                continue;
            }
            let mut insert = vec!["-w", "-t", table, "-I", chain];
            insert.extend(&rule);
            self.exec
                .run("iptables", &insert, None)
                .map_err(|source| BackendError::Exec {
                    step: "iptables -I (jump to kube-proxy chain)",
                    source,
                })?;
        }
        Ok(())
    }
}

impl Backend for IptablesBackend {
    fn mode(&self) -> ProxyMode {
        ProxyMode::Iptables
    }

    fn sync(&mut self, state: &ProxyState) -> Result<SyncStats, BackendError> {
        let previous = match &self.chains {
            Some(c) => c.clone(),
            None => self.existing_chains()?,
        };
        let rendered = render(state, &self.opts, &previous);
        self.exec
            .run(
                "iptables-restore",
                &["-w", "--noflush", "--counters"],
                Some(&rendered.text),
            )
            .map_err(|source| {
                // Nothing applied: remember what is really there for the retry.
                self.chains = Some(previous.clone());
                BackendError::Exec {
                    step: "iptables-restore",
                    source,
                }
            })?;
        self.chains = Some(rendered.service_chains.clone());
        // The kube-proxy chains exist now, so the jumps to them can be ensured.
        self.ensure_jumps()?;
        Ok(SyncStats {
            rules: vec![("filter", rendered.filter_rules), ("nat", rendered.nat_rules)],
        })
    }

    fn executor(&self) -> Arc<dyn Executor> {
        self.exec.clone()
    }
}
