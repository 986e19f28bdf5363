//! Deployment helpers with upstream semantics (`pkg/controller/deployment/util`): revisions,
//! pod-template-hash, fenceposts, and which ReplicaSet is new.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// Annotations never copied from a Deployment to its ReplicaSets (upstream `skipCopyAnnotation`).
const SKIP_COPY: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

/// The revision annotation of an object (0 when absent or invalid).
pub fn revision(annotations: Option<&BTreeMap<String, String>>) -> i64 {
    annotations
        .and_then(|a| a.get(REVISION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn rs_revision(rs: &ReplicaSet) -> i64 {
    revision(rs.metadata.annotations.as_ref())
}

/// Whether the strategy is Recreate (RollingUpdate is the default).
pub fn is_recreate(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate")
}

/// Upstream `intstr.GetScaledValueFromIntOrPercent`.
pub fn scaled(value: Option<&IntOrString>, total: i32, round_up: bool, default: i32) -> i32 {
    match value {
        None => default,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(pct) => {
                let v = i64::from(total) * pct;
                let v = if round_up {
                    (v + 99).div_euclid(100)
                } else {
                    v.div_euclid(100)
                };
                i32::try_from(v).unwrap_or(i32::MAX)
            }
            None => s.parse().unwrap_or(default),
        },
    }
}

/// Upstream `ResolveFenceposts`: (maxSurge, maxUnavailable) in pods; both zero means one
/// unavailable so a rollout can progress. Recreate has neither.
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    if is_recreate(d) {
        return (0, 0);
    }
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let n = replicas(d);
    let default = IntOrString::String("25%".into());
    let surge = scaled(
        Some(ru.and_then(|r| r.max_surge.as_ref()).unwrap_or(&default)),
        n,
        true,
        0,
    );
    let unavailable = scaled(
        Some(ru.and_then(|r| r.max_unavailable.as_ref()).unwrap_or(&default)),
        n,
        false,
        0,
    );
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// Upstream `MaxUnavailable` (capped at replicas; 0 for Recreate or 0 replicas).
pub fn max_unavailable(d: &Deployment) -> i32 {
    let n = replicas(d);
    if is_recreate(d) || n == 0 {
        return 0;
    }
    fenceposts(d).1.min(n)
}

/// A template without the pod-template-hash label, as JSON, for comparisons and hashing.
fn template_value(template: &PodTemplateSpec) -> serde_json::Value {
    let mut t = template.clone();
    if let Some(m) = t.metadata.as_mut()
        && let Some(labels) = m.labels.as_mut()
    {
        labels.remove(POD_TEMPLATE_HASH);
        if labels.is_empty() {
            m.labels = None;
        }
    }
    serde_json::to_value(&t).unwrap_or_default()
}

/// Upstream `EqualIgnoreHash`.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    template_value(a) == template_value(b)
}

/// Upstream `ComputeHash`: fnv-1a 32 of the template (and the collision count), encoded with
/// `rand.SafeEncodeString`'s alphabet so it is a valid label value without vowels.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    feed(template_value(template).to_string().as_bytes());
    if let Some(c) = collision_count {
        feed(&c.to_le_bytes());
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// Upstream `FindNewReplicaSet`: the oldest ReplicaSet whose template equals the Deployment's.
pub fn find_new(d: &Deployment, rss: &[Arc<ReplicaSet>]) -> Option<Arc<ReplicaSet>> {
    let template = d.spec.as_ref().map(|s| &s.template)?;
    let mut matching: Vec<&Arc<ReplicaSet>> = rss
        .iter()
        .filter(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| equal_ignore_hash(t, template))
        })
        .collect();
    matching.sort_by(|a, b| creation_order(a, b));
    matching.first().map(|rs| (*rs).clone())
}

/// Oldest first; name breaks ties (upstream `ReplicaSetsByCreationTimestamp`).
pub fn creation_order(a: &ReplicaSet, b: &ReplicaSet) -> std::cmp::Ordering {
    let ts = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    ts(a)
        .cmp(&ts(b))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Annotations a ReplicaSet gets from its Deployment (everything but the skipped ones).
pub fn copyable_annotations(d: &Deployment) -> BTreeMap<String, String> {
    d.metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| !SKIP_COPY.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i32, surge: serde_json::Value, unavailable: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "d"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
            }
        }))
        .expect("deployment")
    }

    #[test]
    fn fenceposts_table() {
        assert_eq!(fenceposts(&deployment(10, json!("25%"), json!("25%"))), (3, 2));
        assert_eq!(fenceposts(&deployment(3, json!(1), json!(0))), (1, 0));
        assert_eq!(fenceposts(&deployment(3, json!(0), json!(0))), (0, 1));
        assert_eq!(fenceposts(&deployment(1, json!("0%"), json!("10%"))), (0, 1));
        assert_eq!(max_unavailable(&deployment(2, json!(0), json!(5))), 2);
        let mut recreate = deployment(3, json!(1), json!(1));
        if let Some(s) = recreate.spec.as_mut() {
            s.strategy = serde_json::from_value(json!({"type": "Recreate"})).ok();
        }
        assert_eq!((fenceposts(&recreate), max_unavailable(&recreate)), ((0, 0), 0));
    }

    #[test]
    fn hash_ignores_its_own_label_and_changes_with_collisions() {
        let d = deployment(1, json!(1), json!(1));
        let t = d.spec.clone().expect("spec").template;
        let h = pod_template_hash(&t, None);
        assert!(!h.is_empty() && h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        let mut labelled = t.clone();
        if let Some(l) = labelled.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            l.insert(POD_TEMPLATE_HASH.into(), h.clone());
        }
        assert_eq!(pod_template_hash(&labelled, None), h);
        assert!(equal_ignore_hash(&labelled, &t));
        assert_ne!(pod_template_hash(&t, Some(1)), h);
    }

    #[test]
    fn revisions_and_annotations() {
        let mut d = deployment(1, json!(1), json!(1));
        d.metadata.annotations = Some(BTreeMap::from([
            (REVISION.into(), "4".into()),
            ("kubernetes.io/change-cause".into(), "kubectl set image".into()),
        ]));
        assert_eq!(revision(d.metadata.annotations.as_ref()), 4);
        assert_eq!(revision(None), 0);
        let copied = copyable_annotations(&d);
        assert_eq!(copied.len(), 1);
        assert!(copied.contains_key("kubernetes.io/change-cause"));
    }
}
