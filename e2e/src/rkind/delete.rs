//! `rkind delete cluster`: undoes what the cluster's state records, in an order that leaves
//! nothing behind: node agents first (so nothing restarts pods), then every pod through CRI
//! (which also removes their network namespaces and IPAM leases), then leftover pod processes,
//! containerd shims and the runtimes, the control plane, mounts, cgroups, the network, the dir.

use std::time::Duration;

use super::RkindError;
use super::state::{self, State};
use super::sys;

/// Deletes the named cluster.
pub async fn delete(name: &str) -> Result<(), RkindError> {
    super::preflight::require_root()?;
    let st = match State::load(name)? {
        Some(st) => st,
        None if state::cluster_dir(name).exists() => {
            // A dir without a record: nothing was started from it.
            let dir = state::cluster_dir(name);
            sys::unmount_under(&dir);
            std::fs::remove_dir_all(&dir).map_err(sys::io_err(&dir))?;
            return Ok(());
        }
        None => return Err(RkindError::NotFound(name.into())),
    };
    delete_state(&st).await
}

fn pids_of(st: &State, roles: &[&str]) -> Vec<u32> {
    st.processes
        .iter()
        .filter(|p| roles.contains(&p.role.as_str()))
        .map(|p| p.pid)
        .collect()
}

/// Undoes everything `st` records. Missing pieces are skipped, so it can run on a half-made
/// cluster and be re-run.
pub async fn delete_state(st: &State) -> Result<(), RkindError> {
    let dir = st.dir();
    let marker = dir.display().to_string();
    let grace = Duration::from_secs(5);
    sys::stop_all(&pids_of(st, &["kubelet", "kube-proxy"]), &marker, grace);
    let runtimes_up = st
        .processes
        .iter()
        .any(|p| p.role == "containerd" && sys::owned_and_alive(p.pid, &marker));
    if runtimes_up {
        let tasks: Vec<_> = st
            .cri_endpoints
            .iter()
            .map(|e| tokio::spawn(super::cri::remove_all_pods(e.clone(), Duration::from_secs(30))))
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    }
    for root in &st.cgroup_roots {
        sys::kill_now(&sys::pids_in_cgroups(root));
    }
    sys::stop_all(&pids_of(st, &["containerd"]), &marker, grace);
    // Shims outlive containerd; they name the node's socket, under the cluster dir.
    sys::kill_now(&sys::pids_mentioning(&marker));
    sys::stop_all(&st.pids(), &marker, grace);
    sys::unmount_under(&dir);
    for root in &st.cgroup_roots {
        sys::remove_cgroups(root);
    }
    super::net::delete(st);
    sys::unmount_under(&dir);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(sys::SysError::Io { path: dir, source }.into()),
    }
}
