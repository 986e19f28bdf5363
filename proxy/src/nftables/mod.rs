//! The nftables backend: `table ip kube-proxy`, written by one `nft -f -` per sync; replaced
//! whole on the first sync, updated in place after (so affinity sets keep their clients).

mod fixed;
mod render;
mod transaction;

use std::sync::Arc;

pub use render::{Rendered, TABLE, render};
pub use transaction::Inventory;

use crate::backend::{Backend, BackendError, ProxyMode, SyncStats};
use crate::exec::Executor;
use crate::iptables::RenderOptions;
use crate::model::ProxyState;

#[derive(Debug)]
pub struct NftablesBackend {
    exec: Arc<dyn Executor>,
    opts: RenderOptions,
    /// What the last successful sync left in the kernel; `None` before the first sync and
    /// after a failed one, so the next sync starts from a clean table.
    applied: Option<Inventory>,
}

impl NftablesBackend {
    pub fn new(exec: Arc<dyn Executor>, opts: RenderOptions) -> Self {
        Self {
            exec,
            opts,
            applied: None,
        }
    }
}

impl Backend for NftablesBackend {
    fn mode(&self) -> ProxyMode {
        ProxyMode::Nftables
    }

    fn sync(&mut self, state: &ProxyState) -> Result<SyncStats, BackendError> {
        let rendered = render(state, &self.opts, self.applied.as_ref());
        let result = self.exec.run("nft", &["-f", "-"], Some(&rendered.text));
        self.applied = result.is_ok().then(|| rendered.inventory.clone());
        result.map_err(|source| BackendError::Exec {
            step: "nft -f",
            source,
        })?;
        Ok(SyncStats {
            rules: vec![(TABLE, rendered.objects)],
        })
    }

    fn executor(&self) -> Arc<dyn Executor> {
        self.exec.clone()
    }
}
