//! The one trait both packet-filter backends implement.

use std::sync::Arc;

use crate::exec::{ExecError, Executor};
use crate::model::ProxyState;

/// `--proxy-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    Iptables,
    Nftables,
}

impl ProxyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyMode::Iptables => "iptables",
            ProxyMode::Nftables => "nftables",
        }
    }
}

impl std::str::FromStr for ProxyMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            // Upstream treats an empty mode as the platform default (iptables on Linux).
            "" | "iptables" => Ok(ProxyMode::Iptables),
            "nftables" => Ok(ProxyMode::Nftables),
            other => Err(format!("unsupported proxy mode {other:?} (iptables, nftables)")),
        }
    }
}

/// A sync step failed; the previous rule set is still in place.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{step}: {source}")]
    Exec {
        step: &'static str,
        #[source]
        source: ExecError,
    },
}

/// What one successful sync programmed: rule counts per table (for the metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub rules: Vec<(&'static str, usize)>,
}

/// Programs the packet filter from a [`ProxyState`], all or nothing per call.
pub trait Backend: Send + std::fmt::Debug {
    fn mode(&self) -> ProxyMode;

    /// Apply `state` in one transaction. On error nothing of it was applied, and the next call
    /// starts from the last state that was.
    fn sync(&mut self, state: &ProxyState) -> Result<SyncStats, BackendError>;

    /// The executor, for conntrack cleanup alongside the rules.
    fn executor(&self) -> Arc<dyn Executor>;
}
