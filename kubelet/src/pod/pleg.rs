//! A pod lifecycle event generator like upstream's generic PLEG: one relist of all sandboxes
//! and containers (two CRI calls for the whole node) tells which pods' runtime state changed,
//! so only those workers look closer. Without it every worker would query the runtime for its
//! own pod on every resync, which on a busy node costs the runtime more than the pods starting.

use std::collections::HashMap;

use crate::cri::{CriError, RuntimeService, api, labels};

/// A pod's runtime state as far as a relist sees it: (id, state) of its sandboxes and
/// containers, sorted.
pub type Fingerprint = Vec<(String, i32)>;

/// Fingerprints by pod uid from one relist.
pub fn fingerprints(
    sandboxes: &[api::PodSandbox],
    containers: &[api::Container],
) -> HashMap<String, Fingerprint> {
    let mut out: HashMap<String, Fingerprint> = HashMap::new();
    let sandbox_items = sandboxes.iter().map(|s| (&s.labels, &s.id, s.state));
    let container_items = containers.iter().map(|c| (&c.labels, &c.id, c.state));
    for (l, id, state) in sandbox_items.chain(container_items) {
        if let Some(uid) = l.get(labels::POD_UID).filter(|u| !u.is_empty()) {
            out.entry(uid.clone()).or_default().push((id.clone(), state));
        }
    }
    for f in out.values_mut() {
        f.sort();
    }
    out
}

/// The uids whose fingerprint differs between two relists (appeared, changed or gone).
pub fn changed(old: &HashMap<String, Fingerprint>, new: &HashMap<String, Fingerprint>) -> Vec<String> {
    let mut uids: Vec<String> = new
        .iter()
        .filter(|(uid, f)| old.get(*uid) != Some(*f))
        .map(|(uid, _)| uid.clone())
        .chain(old.keys().filter(|uid| !new.contains_key(*uid)).cloned())
        .collect();
    uids.sort();
    uids
}

/// Relists the runtime.
pub async fn relist(rt: &dyn RuntimeService) -> Result<HashMap<String, Fingerprint>, CriError> {
    let sandboxes = rt.list_pod_sandbox(HashMap::new()).await?;
    let containers = rt.list_containers(None).await?;
    Ok(fingerprints(&sandboxes, &containers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(id: &str, uid: &str, state: i32) -> api::PodSandbox {
        api::PodSandbox {
            id: id.into(),
            state,
            labels: HashMap::from([(labels::POD_UID.to_string(), uid.to_string())]),
            ..Default::default()
        }
    }

    fn ctr(id: &str, uid: &str, state: i32) -> api::Container {
        api::Container {
            id: id.into(),
            state,
            labels: HashMap::from([(labels::POD_UID.to_string(), uid.to_string())]),
            ..Default::default()
        }
    }

    #[test]
    fn changes_are_per_pod() {
        let running = api::ContainerState::ContainerRunning as i32;
        let exited = api::ContainerState::ContainerExited as i32;
        let before = fingerprints(
            &[sb("s1", "a", 0), sb("s2", "b", 0), sb("s3", "gone", 0)],
            &[ctr("c1", "a", running), ctr("c2", "b", running)],
        );
        let after = fingerprints(
            &[sb("s1", "a", 0), sb("s2", "b", 0), sb("s4", "new", 0)],
            &[
                ctr("c2", "b", running),
                ctr("c1", "a", exited),
                ctr("x", "", running),
            ],
        );
        assert_eq!(changed(&before, &after), vec!["a", "gone", "new"]);
        assert!(changed(&after, &after).is_empty());
        assert_eq!(
            after["a"],
            vec![("c1".to_string(), exited), ("s1".to_string(), 0)]
        );
    }
}
