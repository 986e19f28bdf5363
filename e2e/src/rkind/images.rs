//! Images every node gets: the test images (images/build.sh: busybox and pause) and the DNS
//! add-on's (images/build-dns.sh from the rudder-dns binary), imported into each node's own
//! containerd as `kind load` does (each containerd has its own content store).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::binaries::{Binaries, workspace_dir};
use super::sys::{SysError, cmd, run};

pub const BUSYBOX: &str = "localhost/rudder/busybox:1";
pub const DNS_IMAGE: &str = "localhost/rudder/dns:dev";

/// Builds (or finds cached) image tarballs; returns their paths.
pub fn build(bins: &Binaries) -> Result<Vec<PathBuf>, SysError> {
    let images = workspace_dir().join("images");
    let out = run(Command::new("bash").arg(images.join("build.sh")))?;
    let cache = PathBuf::from(out.trim());
    run(Command::new("bash")
        .arg(images.join("build-dns.sh"))
        .arg(bins.path("rudder-dns"))
        .arg(&cache))?;
    Ok(["pause.tar", "busybox.tar", "dns.tar"]
        .iter()
        .map(|f| cache.join(f))
        .collect())
}

/// `ctr images import` of each archive into the containerd at `socket`.
pub fn import(socket: &Path, archives: &[PathBuf]) -> Result<(), SysError> {
    for a in archives {
        cmd(
            "ctr",
            [
                "--address".as_ref(),
                socket.as_os_str(),
                "-n".as_ref(),
                "k8s.io".as_ref(),
                "images".as_ref(),
                "import".as_ref(),
                a.as_os_str(),
            ],
        )?;
    }
    Ok(())
}

/// `rkind load image-archive FILE`: into every node of the cluster.
pub fn load_archive(st: &super::state::State, archive: &Path) -> Result<(), SysError> {
    let layout = super::layout::Layout::new(&st.dir());
    let archives = [archive.to_path_buf()];
    let handles: Vec<_> = (0..st.nodes.len())
        .map(|i| {
            let (socket, archives) = (layout.node(i).containerd_socket(), archives.clone());
            std::thread::spawn(move || import(&socket, &archives))
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| SysError::Failed {
            cmd: "ctr images import".into(),
            status: "panicked".into(),
            stderr: String::new(),
        })??;
    }
    Ok(())
}
