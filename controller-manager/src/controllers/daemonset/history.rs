//! DaemonSet history (upstream `daemon/update.go` `constructHistory` and `cleanupHistory`):
//! one ControllerRevision `<ds>-<hash>` per distinct template, the live one renumbered to the
//! highest revision, old ones trimmed to `revisionHistoryLimit`.

use std::collections::HashSet;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

use super::plan::HASH_LABEL;
use crate::controllers::statefulset::revision::{hash, patch_of};
use crate::controllers::util::owner;

/// What to write to make the history current.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// The hash of the present template (the pods' `controller-revision-hash`).
    pub hash: String,
    pub create: Option<ControllerRevision>,
    /// Raise the matching revision to this number.
    pub renumber: Option<(String, i64)>,
    /// Old revisions to delete.
    pub delete: Vec<String>,
}

/// Plans the history for `ds` given the revisions it owns and its pods.
pub fn plan(ds: &DaemonSet, existing: &[&ControllerRevision], pods: &[&Pod]) -> History {
    let spec = ds.spec.clone().unwrap_or_default();
    let data = patch_of(&spec.template);
    let collision = ds.status.as_ref().and_then(|s| s.collision_count);
    let h = hash(
        &serde_json::to_value(&spec.template).unwrap_or_default(),
        collision,
    );
    let name = format!("{}-{h}", ds.metadata.name.as_deref().unwrap_or_default());
    let max = existing.iter().map(|r| r.revision).max().unwrap_or(0);
    let mut out = History {
        hash: h.clone(),
        ..History::default()
    };
    match existing
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(name.as_str()))
    {
        Some(r) if r.revision < max => out.renumber = Some((name.clone(), max + 1)),
        Some(_) => {}
        None => {
            let mut labels = spec
                .template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            labels.insert(HASH_LABEL.into(), h.clone());
            out.create = Some(ControllerRevision {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: ds.metadata.namespace.clone(),
                    labels: Some(labels),
                    owner_references: Some(vec![owner::new_controller_ref(ds)]),
                    ..ObjectMeta::default()
                },
                data: Some(RawExtension(data)),
                revision: max + 1,
            });
        }
    }
    let live: HashSet<&str> = pods
        .iter()
        .filter_map(|p| p.metadata.labels.as_ref()?.get(HASH_LABEL).map(String::as_str))
        .chain([h.as_str()])
        .collect();
    let mut old: Vec<&ControllerRevision> = existing
        .iter()
        .copied()
        .filter(|r| {
            let rh = r
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(HASH_LABEL))
                .map(String::as_str);
            !rh.is_some_and(|rh| live.contains(rh)) && r.metadata.name.as_deref() != Some(name.as_str())
        })
        .collect();
    old.sort_by_key(|r| r.revision);
    let limit = usize::try_from(spec.revision_history_limit.unwrap_or(10)).unwrap_or(0);
    let excess = old.len().saturating_sub(limit);
    out.delete = old
        .into_iter()
        .take(excess)
        .filter_map(|r| r.metadata.name.clone())
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::daemonset::testing::ds;

    #[test]
    fn creates_then_reuses_and_renumbers() {
        let d = ds();
        let first = plan(&d, &[], &[]);
        let r1 = first.create.clone().expect("first revision");
        assert_eq!(r1.revision, 1);
        assert_eq!(r1.metadata.name, Some(format!("agent-{}", first.hash)));
        assert!(plan(&d, &[&r1], &[]).create.is_none());

        let mut d2 = ds();
        if let Some(c) = d2.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
            c.containers[0].image = Some("agent:v2".into());
        }
        let second = plan(&d2, &[&r1], &[]);
        let r2 = second.create.clone().expect("second revision");
        assert_ne!(second.hash, first.hash);
        assert_eq!(r2.revision, 2);
        // Rolling back to v1 renumbers r1.
        let back = plan(&d, &[&r1, &r2], &[]);
        assert_eq!(
            back.renumber,
            Some((r1.metadata.name.clone().unwrap_or_default(), 3))
        );
    }

    #[test]
    fn trims_old_unused_revisions() {
        let mut d = ds();
        if let Some(s) = d.spec.as_mut() {
            s.revision_history_limit = Some(1);
        }
        let revs: Vec<ControllerRevision> = (1..=3)
            .map(|i| {
                let mut v = ds();
                if let Some(c) = v.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
                    c.containers[0].image = Some(format!("agent:old{i}"));
                }
                let mut r = plan(&v, &[], &[]).create.expect("revision");
                r.revision = i;
                r
            })
            .collect();
        let refs: Vec<&ControllerRevision> = revs.iter().collect();
        let h = plan(&d, &refs, &[]);
        assert_eq!(
            h.delete,
            vec![
                revs[0].metadata.name.clone().unwrap_or_default(),
                revs[1].metadata.name.clone().unwrap_or_default()
            ]
        );
    }
}
