//! Dead-container and sandbox garbage collection, planned (upstream
//! `pkg/kubelet/kuberuntime/kuberuntime_gc.go`). Pure: the runtime's sandboxes and containers
//! and which pods are gone come in, what to remove goes out; table-tested without a runtime.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::cri::{api, labels};

/// Upstream's `ContainerGCPolicy`; the defaults are the kubelet's (the flags that set them
/// were removed upstream, so they are constants there too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A dead container younger than this (since creation) is kept.
    pub min_age: Duration,
    /// Dead instances kept per (pod, container name); negative: no limit.
    pub max_per_pod_container: i32,
    /// Dead containers kept on the node; negative: no limit.
    pub max_containers: i32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_age: Duration::ZERO,
            max_per_pod_container: 1,
            max_containers: -1,
        }
    }
}

/// A container as the collector sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub sandbox_id: String,
    pub pod_uid: String,
    pub name: String,
    pub state: api::ContainerState,
    /// Unix nanoseconds.
    pub created_at: i64,
}

/// A sandbox as the collector sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInfo {
    pub id: String,
    pub pod_uid: String,
    pub ready: bool,
    pub created_at: i64,
}

impl ContainerInfo {
    pub fn from_cri(c: &api::Container) -> ContainerInfo {
        ContainerInfo {
            id: c.id.clone(),
            sandbox_id: c.pod_sandbox_id.clone(),
            pod_uid: c.labels.get(labels::POD_UID).cloned().unwrap_or_default(),
            name: c
                .labels
                .get(labels::CONTAINER_NAME)
                .cloned()
                .or_else(|| c.metadata.as_ref().map(|m| m.name.clone()))
                .unwrap_or_default(),
            state: api::ContainerState::try_from(c.state).unwrap_or(api::ContainerState::ContainerUnknown),
            created_at: c.created_at,
        }
    }
}

impl SandboxInfo {
    pub fn from_cri(s: &api::PodSandbox) -> SandboxInfo {
        SandboxInfo {
            id: s.id.clone(),
            pod_uid: s.labels.get(labels::POD_UID).cloned().unwrap_or_default(),
            ready: s.state == api::PodSandboxState::SandboxReady as i32,
            created_at: s.created_at,
        }
    }
}

/// What one collection removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removals {
    /// Dead containers, oldest first.
    pub containers: Vec<String>,
    /// Sandboxes to stop and remove (their remaining containers go with them).
    pub sandboxes: Vec<String>,
    /// Entries of the pod logs directory (`<namespace>_<name>_<uid>`) to remove.
    pub log_dirs: Vec<String>,
    /// Uids of pods that are gone and had something removed (their cgroups go too).
    pub gone_pods: Vec<String>,
}

/// The pod uid of a pod logs directory name (`<namespace>_<name>_<uid>`; names and namespaces
/// never contain `_`, a uid never does either).
pub fn uid_of_log_dir(name: &str) -> Option<&str> {
    let mut parts = name.splitn(3, '_');
    let (_, _, uid) = (parts.next()?, parts.next()?, parts.next()?);
    (!uid.is_empty()).then_some(uid)
}

/// Plans one collection.
///
/// `gone(uid)` says a pod is no longer known to the kubelet (deleted and its worker finished):
/// everything of it goes, ready sandboxes included, since no worker will stop them. When
/// `dead_containers` is false only that orphan cleanup runs (the frequent housekeeping pass);
/// when true the per-container policy applies as well (the periodic container GC).
///
/// Departures from upstream, on purpose: a container in state Created is the attempt in flight
/// (the worker starts it next, or kills it), so it is neither collected nor counted while its
/// pod exists; otherwise the dead instance `kubectl logs --previous` reads would go in the
/// moment between a container's creation and its start.
pub fn plan(
    sandboxes: &[SandboxInfo],
    containers: &[ContainerInfo],
    gone: &dyn Fn(&str) -> bool,
    log_dirs: &[String],
    policy: &Policy,
    dead_containers: bool,
    now_nanos: i64,
) -> Removals {
    let mut out = Removals::default();
    let mut gone_pods: HashSet<String> = HashSet::new();
    // Pods that are gone: every sandbox (its containers go with it).
    let mut removed_sandboxes: HashSet<&str> = HashSet::new();
    let mut by_created: Vec<&SandboxInfo> = sandboxes.iter().collect();
    by_created.sort_by_key(|s| (s.created_at, s.id.clone()));
    for s in &by_created {
        if gone(&s.pod_uid) {
            out.sandboxes.push(s.id.clone());
            removed_sandboxes.insert(&s.id);
            gone_pods.insert(s.pod_uid.clone());
        }
    }
    // Containers of gone pods whose sandbox is already gone (a sandbox removal takes its
    // containers; these have none left to take them).
    let known_sandboxes: HashSet<&str> = sandboxes.iter().map(|s| s.id.as_str()).collect();
    let mut removed_containers: HashSet<String> = HashSet::new();
    for c in containers {
        if gone(&c.pod_uid) && !known_sandboxes.contains(c.sandbox_id.as_str()) {
            out.containers.push(c.id.clone());
            removed_containers.insert(c.id.clone());
            gone_pods.insert(c.pod_uid.clone());
        }
    }
    if dead_containers {
        let newest_allowed = now_nanos.saturating_sub(policy.min_age.as_nanos() as i64);
        // Evict units: (pod uid, container name) → dead instances, newest first.
        let mut units: HashMap<(&str, &str), Vec<&ContainerInfo>> = HashMap::new();
        for c in containers {
            let dead = matches!(
                c.state,
                api::ContainerState::ContainerExited | api::ContainerState::ContainerUnknown
            );
            if !dead || c.created_at > newest_allowed || gone(&c.pod_uid) {
                continue;
            }
            units.entry((&c.pod_uid, &c.name)).or_default().push(c);
        }
        for v in units.values_mut() {
            v.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id.clone())));
        }
        let mut evict: Vec<&ContainerInfo> = Vec::new();
        if policy.max_per_pod_container >= 0 {
            let keep = policy.max_per_pod_container as usize;
            for v in units.values_mut() {
                if v.len() > keep {
                    evict.extend(v.drain(keep..));
                }
            }
        }
        let remaining: usize = units.values().map(Vec::len).sum();
        if policy.max_containers >= 0 && remaining > policy.max_containers as usize {
            // An equal share per unit (at least one), then the oldest across units.
            let max = policy.max_containers as usize;
            let share = (max / units.len().max(1)).max(1);
            for v in units.values_mut() {
                if v.len() > share {
                    evict.extend(v.drain(share..));
                }
            }
            let mut flat: Vec<&ContainerInfo> = units.values().flatten().copied().collect();
            if flat.len() > max {
                flat.sort_by_key(|c| (c.created_at, c.id.clone()));
                let extra = flat.len() - max;
                evict.extend(flat.into_iter().take(extra));
            }
        }
        evict.sort_by_key(|c| (c.created_at, c.id.clone()));
        for c in evict {
            if removed_containers.insert(c.id.clone()) {
                out.containers.push(c.id.clone());
            }
        }
        // Sandboxes of existing pods: not ready, no container left, not the newest.
        let mut holding: HashSet<&str> = HashSet::new();
        for c in containers.iter().filter(|c| !removed_containers.contains(&c.id)) {
            holding.insert(&c.sandbox_id);
        }
        let mut per_pod: HashMap<&str, Vec<&SandboxInfo>> = HashMap::new();
        for s in sandboxes
            .iter()
            .filter(|s| !removed_sandboxes.contains(s.id.as_str()))
        {
            per_pod.entry(&s.pod_uid).or_default().push(s);
        }
        let mut evict_sandboxes: Vec<&SandboxInfo> = Vec::new();
        for v in per_pod.values_mut() {
            v.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id.clone())));
            evict_sandboxes.extend(
                v.iter()
                    .skip(1)
                    .filter(|s| !s.ready && !holding.contains(s.id.as_str())),
            );
        }
        evict_sandboxes.sort_by_key(|s| (s.created_at, s.id.clone()));
        out.sandboxes
            .extend(evict_sandboxes.into_iter().map(|s| s.id.clone()));
    }
    for d in log_dirs {
        if let Some(uid) = uid_of_log_dir(d)
            && gone(uid)
        {
            out.log_dirs.push(d.clone());
            gone_pods.insert(uid.to_string());
        }
    }
    let mut gone_pods: Vec<String> = gone_pods.into_iter().collect();
    gone_pods.sort();
    out.gone_pods = gone_pods;
    out
}

#[cfg(test)]
#[path = "containers_tests.rs"]
mod tests;
