//! Taking one node of a running cluster away, as a machine that lost power would be: its
//! kubelet and kube-proxy stop (no more heartbeats, no more rule updates), its pods' processes
//! are killed and its containerd and shims stop. Every process is found through what the
//! cluster's state recorded (PIDs, the node's cgroup root, the node's dir), never by name.
//! The node's network namespace stays (a dead machine keeps its address on the wire), and
//! `delete` still removes everything afterwards.

use std::time::Duration;

use super::RkindError;
use super::layout::Layout;
use super::state::State;
use super::sys;

/// What `stop` stopped, for the caller's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Recorded node agents (kubelet, kube-proxy, containerd) that were alive.
    pub agents: Vec<u32>,
    /// Pod processes and shims killed.
    pub others: Vec<u32>,
}

/// The recorded PIDs of `node`'s processes with the given roles (pure).
pub fn node_pids(st: &State, node: &str, roles: &[&str]) -> Vec<u32> {
    st.processes
        .iter()
        .filter(|p| p.node.as_deref() == Some(node) && roles.contains(&p.role.as_str()))
        .map(|p| p.pid)
        .collect()
}

/// Stops every process of `node`: agents first (so nothing restarts the pods), then the pods,
/// then the runtime and its shims.
pub fn stop(st: &State, node: &str) -> Result<Stopped, RkindError> {
    let index = st
        .nodes
        .iter()
        .position(|n| n == node)
        .ok_or_else(|| RkindError::NotFound(format!("{}/{node}", st.name)))?;
    let marker = st.dir().display().to_string();
    let grace = Duration::from_secs(5);
    let alive = |pids: Vec<u32>| -> Vec<u32> {
        pids.into_iter()
            .filter(|p| sys::owned_and_alive(*p, &marker))
            .collect()
    };
    let mut out = Stopped::default();

    let agents = alive(node_pids(st, node, &["kubelet", "kube-proxy"]));
    sys::stop_all(&agents, &marker, grace);
    out.agents.extend(agents);

    if let Some(root) = st.cgroup_roots.get(index) {
        let pods = sys::pids_in_cgroups(root);
        sys::kill_now(&pods);
        out.others.extend(pods);
    }

    let runtime = alive(node_pids(st, node, &["containerd"]));
    sys::stop_all(&runtime, &marker, grace);
    out.agents.extend(runtime);

    // Shims outlive containerd and name the node's socket, under the node's own dir.
    let node_dir = Layout::new(&st.dir()).node(index).dir;
    let shims = sys::pids_mentioning(&format!("{}/", node_dir.display()));
    sys::kill_now(&shims);
    out.others.extend(shims);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rkind::state::Proc;

    fn proc(role: &str, node: Option<&str>, pid: u32) -> Proc {
        Proc {
            role: role.into(),
            node: node.map(String::from),
            pid,
            log: "/dev/null".into(),
        }
    }

    #[test]
    fn only_the_named_nodes_processes_of_those_roles() {
        let st = State {
            name: "c".into(),
            nodes: vec!["c-control-plane".into(), "c-worker".into()],
            processes: vec![
                proc("kube-apiserver", None, 1),
                proc("containerd", Some("c-control-plane"), 2),
                proc("containerd", Some("c-worker"), 3),
                proc("kubelet", Some("c-control-plane"), 4),
                proc("kubelet", Some("c-worker"), 5),
                proc("kube-proxy", Some("c-worker"), 6),
            ],
            ..Default::default()
        };
        assert_eq!(node_pids(&st, "c-worker", &["kubelet", "kube-proxy"]), [5, 6]);
        assert_eq!(node_pids(&st, "c-worker", &["containerd"]), [3]);
        assert_eq!(
            node_pids(&st, "c-control-plane", &["kube-proxy"]),
            Vec::<u32>::new()
        );
        assert!(node_pids(&st, "other", &["kubelet"]).is_empty());
    }

    #[test]
    fn an_unknown_node_is_refused() {
        let st = State {
            name: "c".into(),
            nodes: vec!["c-worker".into()],
            ..Default::default()
        };
        assert!(matches!(stop(&st, "c-worker2"), Err(RkindError::NotFound(_))));
    }
}
