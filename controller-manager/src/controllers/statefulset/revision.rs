//! StatefulSet revisions (upstream `pkg/controller/history` and the StatefulSet's
//! `getPatch`/`newRevision`): each distinct pod template is a ControllerRevision named
//! `<set>-<hash>` whose data is `{"spec":{"template":{...,"$patch":"replace"}}}`; pods carry
//! the revision name in the `controller-revision-hash` label.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use serde_json::{Value, json};

use crate::controllers::util::owner;

/// Label holding the revision a pod (and a ControllerRevision) belongs to.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// Upstream `rand.SafeEncodeString` alphabet (no vowels, no confusable characters).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a, 32 bits (Go's `hash/fnv.New32a`), which upstream's revision hash uses.
pub fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Upstream `HashControllerRevision`: FNV-1a of the revision data (and the collision
/// count), printed in decimal and mapped onto the safe alphabet.
pub fn hash(data: &Value, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(data).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(c.to_string().as_bytes());
    }
    fnv32a(&bytes)
        .to_string()
        .bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// The revision data for the set's current template.
pub fn patch_of(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut t {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// The pod template a revision recorded (None when its data is not ours).
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = revision.data.as_ref()?.0.get("spec")?.get("template")?.clone();
    if let Value::Object(map) = &mut t {
        map.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// A new ControllerRevision for the set's current template with number `number`.
pub fn new_revision(set: &StatefulSet, number: i64) -> ControllerRevision {
    let spec = set.spec.clone().unwrap_or_default();
    let data = patch_of(&spec.template);
    let collision = set.status.as_ref().and_then(|s| s.collision_count);
    let h = hash(&data, collision);
    let set_name = set.metadata.name.clone().unwrap_or_default();
    let mut labels: BTreeMap<String, String> = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), h.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{set_name}-{h}")),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![owner::new_controller_ref(set)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision: number,
    }
}

/// What the revision step decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Revisions {
    /// The revision pods at `status.currentRevision` run.
    pub current: ControllerRevision,
    /// The revision of the set's present template.
    pub update: ControllerRevision,
    /// Create this revision (the update revision, new).
    pub create: Option<ControllerRevision>,
    /// Bump an equivalent older revision to this number (rollback to an earlier template).
    pub renumber: Option<(String, i64)>,
}

/// Picks current and update revisions from the existing ones (upstream
/// `getStatefulSetRevisions`).
pub fn choose(set: &StatefulSet, existing: &[&ControllerRevision]) -> Revisions {
    let mut sorted: Vec<&ControllerRevision> = existing.to_vec();
    sorted.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    let next = sorted.last().map_or(1, |r| r.revision + 1);
    let mut candidate = new_revision(set, next);
    let equal: Vec<&&ControllerRevision> = sorted.iter().filter(|r| r.data == candidate.data).collect();
    let (update, create, renumber) = match equal.last() {
        Some(eq)
            if Some(eq.metadata.name.as_deref()) == sorted.last().map(|r| r.metadata.name.as_deref()) =>
        {
            ((**eq).clone(), None, None)
        }
        Some(eq) => {
            let mut bumped = (**eq).clone();
            bumped.revision = next;
            let name = bumped.metadata.name.clone().unwrap_or_default();
            (bumped, None, Some((name, next)))
        }
        None => {
            candidate.revision = next;
            (candidate.clone(), Some(candidate), None)
        }
    };
    let current_name = set.status.as_ref().and_then(|s| s.current_revision.clone());
    let current = sorted
        .iter()
        .find(|r| r.metadata.name.is_some() && r.metadata.name == current_name)
        .map_or_else(|| update.clone(), |r| (*r).clone());
    Revisions {
        current,
        update,
        create,
        renumber,
    }
}

/// Revisions to delete beyond `revisionHistoryLimit` (default 10): the oldest ones no pod
/// uses and that are neither current nor update (upstream `truncateHistory`).
pub fn to_truncate(
    set: &StatefulSet,
    existing: &[&ControllerRevision],
    pods: &[&Pod],
    current: &str,
    update: &str,
) -> Vec<String> {
    let limit = set
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    let live: HashSet<&str> = pods
        .iter()
        .filter_map(|p| {
            p.metadata
                .labels
                .as_ref()?
                .get(REVISION_LABEL)
                .map(String::as_str)
        })
        .chain([current, update])
        .collect();
    let mut history: Vec<&ControllerRevision> = existing
        .iter()
        .copied()
        .filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    history.sort_by_key(|r| r.revision);
    let excess = history.len().saturating_sub(usize::try_from(limit).unwrap_or(0));
    history
        .into_iter()
        .take(excess)
        .filter_map(|r| r.metadata.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::statefulset::testing::{set, with_image};

    #[test]
    fn fnv_matches_go() {
        // Reference values of Go's fnv.New32a.
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn hash_uses_the_safe_alphabet_and_changes_with_the_template() {
        let a = hash(&patch_of(&set(3).spec.unwrap_or_default().template), None);
        let b = hash(
            &patch_of(&with_image(set(3), "v2").spec.unwrap_or_default().template),
            None,
        );
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHANUMS.contains(&c)));
        assert_ne!(
            a,
            hash(&patch_of(&set(3).spec.unwrap_or_default().template), Some(1))
        );
    }

    #[test]
    fn template_round_trips_through_a_revision() {
        let s = set(3);
        let r = new_revision(&s, 1);
        assert_eq!(template_of(&r), s.spec.map(|s| s.template));
        assert!(r.metadata.name.as_deref().is_some_and(|n| n.starts_with("web-")));
        assert_eq!(
            r.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app"))
                .map(String::as_str),
            Some("web")
        );
    }

    #[test]
    fn choose_creates_reuses_and_renumbers() {
        let v1 = set(3);
        let first = choose(&v1, &[]);
        let r1 = first.create.clone().expect("first revision");
        assert_eq!(r1.revision, 1);
        assert_eq!(first.current, first.update);

        let again = choose(&v1, &[&r1]);
        assert!(again.create.is_none() && again.renumber.is_none());

        let mut v2 = with_image(v1.clone(), "v2");
        v2.status = Some(k8s_openapi::api::apps::v1::StatefulSetStatus {
            current_revision: r1.metadata.name.clone(),
            ..Default::default()
        });
        let second = choose(&v2, &[&r1]);
        let r2 = second.create.clone().expect("second revision");
        assert_eq!(r2.revision, 2);
        assert_eq!(second.current.metadata.name, r1.metadata.name);

        // Rolling back to v1's template reuses r1 with a new number.
        let mut back = v1.clone();
        back.status = v2.status.clone();
        let third = choose(&back, &[&r1, &r2]);
        assert_eq!(
            third.renumber,
            Some((r1.metadata.name.clone().unwrap_or_default(), 3))
        );
        assert!(third.create.is_none());
    }

    #[test]
    fn truncation_keeps_live_and_limit() {
        let mut s = set(1);
        if let Some(spec) = s.spec.as_mut() {
            spec.revision_history_limit = Some(1);
        }
        let revs: Vec<ControllerRevision> = (1..=4)
            .map(|i| {
                let mut r = new_revision(&with_image(set(1), &format!("v{i}")), i);
                r.metadata.name = Some(format!("web-r{i}"));
                r
            })
            .collect();
        let refs: Vec<&ControllerRevision> = revs.iter().collect();
        let gone = to_truncate(&s, &refs, &[], "web-r4", "web-r4");
        assert_eq!(gone, ["web-r1", "web-r2"]);
    }
}
