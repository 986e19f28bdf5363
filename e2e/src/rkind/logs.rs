//! `rkind export logs DIR`: the control plane's logs, each node's containerd/kubelet/kube-proxy
//! logs and pod logs, and the state record, copied into DIR/<cluster>/.

use std::path::{Path, PathBuf};

use super::RkindError;
use super::layout::Layout;
use super::state::State;
use super::sys::{SysError, io_err};

fn copy_tree(from: &Path, to: &Path) -> Result<(), SysError> {
    std::fs::create_dir_all(to).map_err(io_err(to))?;
    for e in std::fs::read_dir(from).map_err(io_err(from))?.flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let Ok(ty) = e.file_type() else { continue };
        if ty.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ty.is_file() || ty.is_symlink() {
            // Pod log files can vanish while we copy; skip those.
            let _ = std::fs::copy(&src, &dst);
        }
    }
    Ok(())
}

/// Copies the logs; returns the directory written.
pub fn export(name: &str, out: &Path) -> Result<PathBuf, RkindError> {
    let st = State::load(name)?.ok_or_else(|| RkindError::NotFound(name.into()))?;
    let layout = Layout::new(&st.dir());
    let dest = out.join(name);
    copy_tree(&layout.logs(), &dest.join("control-plane"))?;
    for (i, node) in st.nodes.iter().enumerate() {
        let n = layout.node(i);
        let to = dest.join(node);
        std::fs::create_dir_all(&to).map_err(io_err(&to))?;
        for role in ["containerd", "kubelet", "kube-proxy"] {
            let _ = std::fs::copy(n.log(role), to.join(format!("{role}.log")));
        }
        if n.pod_logs().exists() {
            copy_tree(&n.pod_logs(), &to.join("pods"))?;
        }
    }
    let state = st.dir().join("state.json");
    std::fs::copy(&state, dest.join("state.json")).map_err(io_err(&state))?;
    Ok(dest)
}
