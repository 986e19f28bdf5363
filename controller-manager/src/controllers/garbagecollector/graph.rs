//! The ownership graph (upstream `garbagecollector/graph.go` and `graph_builder.go`), pure:
//! observing an object or its deletion updates the graph and says which objects the collector
//! must look at.

use std::collections::{HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

pub const FOREGROUND: &str = "foregroundDeletion";
pub const ORPHAN: &str = "orphan";

/// Which resource an object is, as the collector addresses it through the API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    /// `group/version`, or `version` for the core group (an ownerReference's apiVersion).
    pub api_version: String,
    pub kind: String,
}

/// One object's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub resource: ResourceKey,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.resource.kind, self.name)?;
        if !self.namespace.is_empty() {
            write!(f, " in {}", self.namespace)?;
        }
        write!(f, " ({})", self.uid)
    }
}

/// What the collector observed of an object (its metadata).
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub id: Identity,
    pub owners: Vec<OwnerReference>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

impl Observed {
    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }
    /// Deleting in the foreground: waits for its blocking dependents.
    pub fn deleting_dependents(&self) -> bool {
        self.deleting && self.has(FOREGROUND)
    }
    /// Deleting with orphan propagation.
    pub fn orphaning(&self) -> bool {
        self.deleting && self.has(ORPHAN)
    }
}

/// Work for the collector.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Work {
    /// Check whether the object should be deleted (owners gone) or, when it is deleting its
    /// dependents, whether it is done (upstream `attemptToDelete`).
    Delete(Identity),
    /// Remove the object's dependents' references to it, then its `orphan` finalizer.
    Orphan(Identity),
}

impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Work::Delete(id) => write!(f, "delete? {id}"),
            Work::Orphan(id) => write!(f, "orphan dependents of {id}"),
        }
    }
}

/// Objects by UID and who depends on whom.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Observed>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    pub fn get(&self, uid: &str) -> Option<&Observed> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The objects that name `uid` as an owner.
    pub fn dependents(&self, uid: &str) -> Vec<&Observed> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.nodes.get(d))
            .collect()
    }

    /// UIDs of the objects of `resource` in the graph (for reconciling after a relist).
    pub fn uids_of(&self, resource: &ResourceKey) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| &n.id.resource == resource)
            .map(|n| n.id.uid.clone())
            .collect()
    }

    /// An object was added or changed.
    pub fn observe(&mut self, obj: Observed) -> Vec<Work> {
        let uid = obj.id.uid.clone();
        let mut work = Vec::new();
        let old = self.nodes.get(&uid).cloned();
        let old_owners: HashSet<&str> = old
            .as_ref()
            .map(|o| o.owners.iter().map(|r| r.uid.as_str()).collect())
            .unwrap_or_default();
        let new_owners: HashSet<&str> = obj.owners.iter().map(|r| r.uid.as_str()).collect();
        for gone in old_owners.difference(&new_owners) {
            if let Some(set) = self.dependents.get_mut(*gone) {
                set.remove(&uid);
            }
            // An owner deleting in the foreground may have been waiting for this one.
            if let Some(owner) = self.nodes.get(*gone).filter(|o| o.deleting_dependents()) {
                work.push(Work::Delete(owner.id.clone()));
            }
        }
        for added in new_owners.difference(&old_owners) {
            self.dependents
                .entry((*added).to_string())
                .or_default()
                .insert(uid.clone());
        }
        // A dependent whose owner is not (or no longer) known: check whether it is dangling.
        if obj.owners.iter().any(|r| !self.nodes.contains_key(&r.uid)) {
            work.push(Work::Delete(obj.id.clone()));
        }
        // A dependent blocking an owner deleting in the foreground: it may have to go now.
        if obj
            .owners
            .iter()
            .filter_map(|r| self.nodes.get(&r.uid))
            .any(Observed::deleting_dependents)
        {
            work.push(Work::Delete(obj.id.clone()));
        }
        if obj.orphaning() {
            work.push(Work::Orphan(obj.id.clone()));
        }
        if obj.deleting_dependents() {
            work.push(Work::Delete(obj.id.clone()));
            for d in self.dependents(&uid) {
                work.push(Work::Delete(d.id.clone()));
            }
        }
        self.nodes.insert(uid, obj);
        work.sort();
        work.dedup();
        work
    }

    /// An object is gone.
    pub fn remove(&mut self, uid: &str) -> Vec<Work> {
        let Some(node) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        let mut work: Vec<Work> = self
            .dependents(uid)
            .into_iter()
            .map(|d| Work::Delete(d.id.clone()))
            .collect();
        for owner in &node.owners {
            if let Some(set) = self.dependents.get_mut(&owner.uid) {
                set.remove(uid);
                if set.is_empty() {
                    self.dependents.remove(&owner.uid);
                }
            }
            if let Some(o) = self.nodes.get(&owner.uid).filter(|o| o.deleting_dependents()) {
                work.push(Work::Delete(o.id.clone()));
            }
        }
        work.sort();
        work.dedup();
        work
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn id(kind: &str, name: &str) -> Identity {
        Identity {
            resource: ResourceKey {
                api_version: "apps/v1".into(),
                kind: kind.into(),
            },
            namespace: "default".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        }
    }

    pub(crate) fn owner_ref(owner: &Identity, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: owner.resource.api_version.clone(),
            kind: owner.resource.kind.clone(),
            name: owner.name.clone(),
            uid: owner.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    pub(crate) fn obj(id: &Identity, owners: &[&Identity], deleting: bool, finalizers: &[&str]) -> Observed {
        Observed {
            id: id.clone(),
            owners: owners.iter().map(|o| owner_ref(o, true)).collect(),
            deleting,
            finalizers: finalizers.iter().map(|f| (*f).to_string()).collect(),
        }
    }

    #[test]
    fn dependents_of_missing_owners_are_checked() {
        let mut g = Graph::default();
        let rs = id("ReplicaSet", "rs");
        let pod = id("Pod", "p");
        assert_eq!(
            g.observe(obj(&pod, &[&rs], false, &[])),
            vec![Work::Delete(pod.clone())]
        );
        assert_eq!(g.observe(obj(&rs, &[], false, &[])), vec![]);
        assert_eq!(
            g.observe(obj(&pod, &[&rs], false, &[])),
            vec![],
            "owner known now"
        );
        assert_eq!(g.dependents(&rs.uid).len(), 1);
        assert_eq!(g.remove(&rs.uid), vec![Work::Delete(pod.clone())]);
        assert_eq!(g.remove(&pod.uid), vec![]);
        assert!(g.is_empty());
    }

    #[test]
    fn foreground_deletion_revisits_owner_and_dependents() {
        let mut g = Graph::default();
        let d = id("Deployment", "d");
        let rs = id("ReplicaSet", "rs");
        g.observe(obj(&d, &[], false, &[]));
        g.observe(obj(&rs, &[&d], false, &[]));
        let work = g.observe(obj(&d, &[], true, &[FOREGROUND]));
        assert_eq!(work, vec![Work::Delete(d.clone()), Work::Delete(rs.clone())]);
        // The dependent going away wakes the waiting owner.
        assert_eq!(g.remove(&rs.uid), vec![Work::Delete(d.clone())]);
    }

    #[test]
    fn orphan_finalizer_queues_orphaning_and_released_dependents_wake_owner() {
        let mut g = Graph::default();
        let d = id("Deployment", "d");
        let rs = id("ReplicaSet", "rs");
        g.observe(obj(&d, &[], false, &[]));
        g.observe(obj(&rs, &[&d], false, &[]));
        assert_eq!(
            g.observe(obj(&d, &[], true, &[ORPHAN])),
            vec![Work::Orphan(d.clone())]
        );
        g.observe(obj(&d, &[], true, &[FOREGROUND]));
        assert_eq!(
            g.observe(obj(&rs, &[], false, &[])),
            vec![Work::Delete(d.clone())]
        );
        assert!(g.dependents(&d.uid).is_empty());
    }
}
