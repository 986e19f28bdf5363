//! The nftables backend: `table ip kube-proxy`, replaced whole by one `nft -f -` per sync.

mod render;

use std::sync::Arc;

pub use render::{Rendered, TABLE, render};

use crate::backend::{Backend, BackendError, ProxyMode, SyncStats};
use crate::exec::Executor;
use crate::iptables::RenderOptions;
use crate::model::ProxyState;

#[derive(Debug)]
pub struct NftablesBackend {
    exec: Arc<dyn Executor>,
    opts: RenderOptions,
}

impl NftablesBackend {
    pub fn new(exec: Arc<dyn Executor>, opts: RenderOptions) -> Self {
        Self { exec, opts }
    }
}

impl Backend for NftablesBackend {
    fn mode(&self) -> ProxyMode {
        ProxyMode::Nftables
    }

    fn sync(&mut self, state: &ProxyState) -> Result<SyncStats, BackendError> {
        let rendered = render(state, &self.opts);
        self.exec
            .run("nft", &["-f", "-"], Some(&rendered.text))
            .map_err(|source| BackendError::Exec {
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
