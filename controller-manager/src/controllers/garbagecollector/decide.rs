//! What to do with one object (upstream `attemptToDeleteItem` and
//! `processDeletingDependentsItem`), pure.

use super::graph::{FOREGROUND, Identity, ORPHAN, Observed};

/// An owner as the collector found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// Absent, or present with another UID (the reference dangles).
    Gone,
    Present,
    /// Present and deleting in the foreground: waiting for its dependents.
    WaitingForDependents,
}

/// The deletion propagation the collector asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Nothing,
    /// A foreground-deleting object with no blocking dependents left: drop `foregroundDeletion`.
    RemoveForegroundFinalizer,
    /// A foreground-deleting object still blocked: these dependents must go first.
    DeleteDependents(Vec<Identity>),
    /// Still has a live owner: only drop the references to these (dangling or waiting) owners.
    RemoveOwnerRefs(Vec<String>),
    /// Every owner is gone (or waiting): delete the object.
    Delete(Propagation),
}

/// `item` is the object's latest state; `owners` pairs each ownerReference UID with its state;
/// `blocking` are the dependents that block it (blockOwnerDeletion) and `has_dependents` whether
/// anything names it as owner.
pub fn decide(
    item: &Observed,
    owners: &[(String, OwnerState)],
    blocking: &[&Observed],
    has_dependents: bool,
) -> Decision {
    if item.deleting_dependents() {
        if blocking.is_empty() {
            return Decision::RemoveForegroundFinalizer;
        }
        let pending: Vec<Identity> = blocking
            .iter()
            .filter(|d| !d.deleting)
            .map(|d| d.id.clone())
            .collect();
        return if pending.is_empty() {
            Decision::Nothing
        } else {
            Decision::DeleteDependents(pending)
        };
    }
    if item.deleting || owners.is_empty() {
        return Decision::Nothing;
    }
    let of = |state: OwnerState| -> Vec<String> {
        owners
            .iter()
            .filter(|(_, s)| *s == state)
            .map(|(u, _)| u.clone())
            .collect()
    };
    let solid = of(OwnerState::Present);
    let dangling = of(OwnerState::Gone);
    let waiting = of(OwnerState::WaitingForDependents);
    if !solid.is_empty() {
        let mut remove = dangling;
        remove.extend(waiting);
        return if remove.is_empty() {
            Decision::Nothing
        } else {
            Decision::RemoveOwnerRefs(remove)
        };
    }
    if !waiting.is_empty() && has_dependents {
        // Keep the foreground chain going down the tree.
        return Decision::Delete(Propagation::Foreground);
    }
    let has = |f: &str| item.finalizers.iter().any(|x| x == f);
    Decision::Delete(if has(ORPHAN) {
        Propagation::Orphan
    } else if has(FOREGROUND) {
        Propagation::Foreground
    } else {
        Propagation::Background
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::garbagecollector::graph::tests::{id, obj};

    #[test]
    fn decision_table() {
        let d = id("Deployment", "d");
        let rs = id("ReplicaSet", "rs");
        let other = id("Deployment", "other");
        let item = obj(&rs, &[&d], false, &[]);
        let owners = |states: &[(&Identity, OwnerState)]| -> Vec<(String, OwnerState)> {
            states.iter().map(|(i, s)| (i.uid.clone(), *s)).collect()
        };
        assert_eq!(
            decide(&item, &owners(&[(&d, OwnerState::Present)]), &[], false),
            Decision::Nothing
        );
        assert_eq!(
            decide(&item, &owners(&[(&d, OwnerState::Gone)]), &[], false),
            Decision::Delete(Propagation::Background)
        );
        assert_eq!(
            decide(
                &item,
                &owners(&[(&d, OwnerState::Gone), (&other, OwnerState::Present)]),
                &[],
                false
            ),
            Decision::RemoveOwnerRefs(vec![d.uid.clone()])
        );
        assert_eq!(
            decide(
                &item,
                &owners(&[(&d, OwnerState::WaitingForDependents)]),
                &[],
                true
            ),
            Decision::Delete(Propagation::Foreground)
        );
        assert_eq!(
            decide(
                &item,
                &owners(&[(&d, OwnerState::WaitingForDependents)]),
                &[],
                false
            ),
            Decision::Delete(Propagation::Background)
        );
        let orphaning = obj(&rs, &[&d], false, &["orphan"]);
        assert_eq!(
            decide(&orphaning, &owners(&[(&d, OwnerState::Gone)]), &[], false),
            Decision::Delete(Propagation::Orphan)
        );
        let already = obj(&rs, &[&d], true, &[]);
        assert_eq!(
            decide(&already, &owners(&[(&d, OwnerState::Gone)]), &[], false),
            Decision::Nothing
        );
        let root = obj(&d, &[], false, &[]);
        assert_eq!(decide(&root, &[], &[], true), Decision::Nothing);
    }

    #[test]
    fn foreground_owner_waits_for_blockers() {
        let d = id("Deployment", "d");
        let rs = id("ReplicaSet", "rs");
        let owner = obj(&d, &[], true, &[FOREGROUND]);
        let blocker = obj(&rs, &[&d], false, &[]);
        assert_eq!(
            decide(&owner, &[], &[&blocker], true),
            Decision::DeleteDependents(vec![rs.clone()])
        );
        let going = obj(&rs, &[&d], true, &[]);
        assert_eq!(decide(&owner, &[], &[&going], true), Decision::Nothing);
        assert_eq!(
            decide(&owner, &[], &[], false),
            Decision::RemoveForegroundFinalizer
        );
    }
}
