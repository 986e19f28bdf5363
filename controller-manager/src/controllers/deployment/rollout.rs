//! Pure scaling decisions of a rollout (upstream `rolling.go`, `recreate.go`, `sync.go`'s
//! `scale`). Inputs are the Deployment and its ReplicaSets as cached; outputs are the new
//! `spec.replicas` per ReplicaSet name.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::util::{
    DESIRED_REPLICAS, creation_order, fenceposts, max_unavailable, replicas, rs_available, rs_replicas,
};

/// New `spec.replicas` per ReplicaSet name.
pub type Scales = BTreeMap<String, i32>;

fn name(rs: &ReplicaSet) -> String {
    rs.metadata.name.clone().unwrap_or_default()
}

fn total(rss: &[&ReplicaSet]) -> i32 {
    rss.iter().map(|rs| rs_replicas(rs)).sum()
}

/// Upstream `NewRSNewReplicas` for RollingUpdate: grow the new RS as far as maxSurge allows.
pub fn new_rs_replicas(d: &Deployment, all: &[&ReplicaSet], new: &ReplicaSet) -> i32 {
    let want = replicas(d);
    let (surge, _) = fenceposts(d);
    let current = total(all);
    let max_total = want + surge;
    if current >= max_total {
        return rs_replicas(new);
    }
    let up = (max_total - current).min(want - rs_replicas(new)).max(0);
    rs_replicas(new) + up
}

/// Upstream `reconcileNewReplicaSet`: the new RS's replicas if they should change.
pub fn reconcile_new(d: &Deployment, all: &[&ReplicaSet], new: &ReplicaSet) -> Option<i32> {
    let want = replicas(d);
    let have = rs_replicas(new);
    let next = if have > want {
        want
    } else {
        new_rs_replicas(d, all, new)
    };
    (next != have).then_some(next)
}

/// Upstream `reconcileOldReplicaSets`: first scale down unhealthy old pods, then healthy ones as
/// far as maxUnavailable allows. `old` are the active old ReplicaSets.
pub fn reconcile_old(d: &Deployment, old: &[&ReplicaSet], new: Option<&ReplicaSet>) -> Scales {
    let mut scales = Scales::new();
    let old_count = total(old);
    if old_count == 0 {
        return scales;
    }
    let all_count = old_count + new.map_or(0, rs_replicas);
    let min_available = replicas(d) - max_unavailable(d);
    let new_unavailable = new.map_or(0, |n| rs_replicas(n) - rs_available(n));
    let max_scaled_down = all_count - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return scales;
    }
    let mut sorted: Vec<&ReplicaSet> = old.to_vec();
    sorted.sort_by(|a, b| creation_order(a, b));
    // Current replicas as we decide, starting from the cache.
    let mut current: Vec<i32> = sorted.iter().map(|rs| rs_replicas(rs)).collect();

    // Unhealthy (unavailable) replicas go first: removing them costs no availability.
    let mut cleaned = 0;
    for (i, rs) in sorted.iter().enumerate() {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = current[i] - rs_available(rs);
        if current[i] == 0 || unhealthy <= 0 {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(unhealthy);
        current[i] -= down;
        cleaned += down;
        scales.insert(name(rs), current[i]);
    }

    // Then available ones, keeping minAvailable.
    let available: i32 = sorted.iter().map(|rs| rs_available(rs)).sum::<i32>() + new.map_or(0, rs_available);
    if available > min_available {
        let mut budget = available - min_available;
        for (i, rs) in sorted.iter().enumerate() {
            if budget <= 0 {
                break;
            }
            if current[i] == 0 {
                continue;
            }
            let down = current[i].min(budget);
            current[i] -= down;
            budget -= down;
            scales.insert(name(rs), current[i]);
        }
    }
    scales
}

/// Upstream `isScalingEvent`: some active ReplicaSet was sized for a different replica count.
pub fn is_scaling_event(d: &Deployment, active: &[&ReplicaSet]) -> bool {
    let want = replicas(d).to_string();
    active.iter().any(|rs| {
        rs.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DESIRED_REPLICAS))
            .is_some_and(|v| *v != want)
    })
}

/// Upstream `scale`: resize when `spec.replicas` changed mid-rollout. With a single active (or
/// no active but a newest) ReplicaSet it takes everything; a saturated new RS means old ones go
/// to zero; otherwise surplus or deficit is spread proportionally to current sizes, the rest
/// going to the largest (newest on ties), as upstream does.
pub fn scale(d: &Deployment, new: Option<&ReplicaSet>, old: &[&ReplicaSet]) -> Scales {
    let want = replicas(d);
    let mut scales = Scales::new();
    let mut all: Vec<&ReplicaSet> = old.to_vec();
    if let Some(n) = new {
        all.push(n);
    }
    let active: Vec<&ReplicaSet> = all.iter().copied().filter(|rs| rs_replicas(rs) > 0).collect();
    let target = match active.as_slice() {
        [only] => Some(*only),
        [] => new.or_else(|| all.iter().copied().max_by(|a, b| creation_order(a, b))),
        _ => None,
    };
    if let Some(rs) = target {
        if rs_replicas(rs) != want {
            scales.insert(name(rs), want);
        }
        return scales;
    }
    if let Some(n) = new.filter(|n| rs_replicas(n) == want && rs_available(n) >= want) {
        let _ = n;
        for rs in old.iter().filter(|rs| rs_replicas(rs) > 0) {
            scales.insert(name(rs), 0);
        }
        return scales;
    }
    let (surge, _) = fenceposts(d);
    let allowed = want + surge;
    let current = total(&active);
    let to_add = allowed - current;
    if to_add == 0 || current == 0 {
        return scales;
    }
    // Largest first, newest first on ties (upstream ReplicaSetsBySizeNewer / BySizeOlder).
    let mut sorted = active.clone();
    sorted.sort_by(|a, b| {
        rs_replicas(b)
            .cmp(&rs_replicas(a))
            .then_with(|| creation_order(b, a))
    });
    let mut added = 0;
    let mut next: Vec<i32> = Vec::with_capacity(sorted.len());
    for rs in &sorted {
        let share = i64::from(rs_replicas(rs)) * i64::from(to_add) / i64::from(current);
        let share = i32::try_from(share).unwrap_or(0);
        let share = if to_add > 0 {
            share.min(to_add - added)
        } else {
            share.max(to_add - added)
        };
        added += share;
        next.push(rs_replicas(rs) + share);
    }
    if let Some(first) = next.first_mut() {
        *first += to_add - added;
    }
    for (rs, n) in sorted.iter().zip(next) {
        let n = n.max(0);
        if n != rs_replicas(rs) {
            scales.insert(name(rs), n);
        }
    }
    scales
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(replicas: i32, surge: i32, unavailable: i32) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "d"}},
                "strategy": {"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                "template": {"metadata": {"labels": {"app": "d"}}}
            }
        }))
        .expect("deployment")
    }

    fn rs(name: &str, created: i64, replicas: i32, available: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": format!("2026-01-01T00:00:{created:02}Z")},
            "spec": {"replicas": replicas, "selector": {}},
            "status": {"replicas": replicas, "availableReplicas": available}
        }))
        .expect("rs")
    }

    #[test]
    fn new_rs_grows_within_surge() {
        let dep = d(3, 1, 0);
        let old = rs("old", 1, 3, 3);
        let new = rs("new", 2, 0, 0);
        assert_eq!(reconcile_new(&dep, &[&old, &new], &new), Some(1));
        let new1 = rs("new", 2, 1, 0);
        assert_eq!(reconcile_new(&dep, &[&old, &new1], &new1), None, "surge used up");
        let too_big = rs("new", 2, 5, 0);
        assert_eq!(reconcile_new(&dep, &[&too_big], &too_big), Some(3));
    }

    #[test]
    fn old_scale_down_respects_max_unavailable() {
        // 3 replicas, maxUnavailable 1, maxSurge 0: old 3 available, new 0.
        let dep = d(3, 0, 1);
        let old = rs("old", 1, 3, 3);
        let new = rs("new", 2, 0, 0);
        assert_eq!(
            reconcile_old(&dep, &[&old], Some(&new)),
            Scales::from([("old".into(), 2)])
        );
        // New RS has 1 unavailable replica: no further scale-down.
        let old2 = rs("old", 1, 2, 2);
        let new1 = rs("new", 2, 1, 0);
        assert_eq!(reconcile_old(&dep, &[&old2], Some(&new1)), Scales::new());
        // Once it is available, one more old goes.
        let new1a = rs("new", 2, 1, 1);
        assert_eq!(
            reconcile_old(&dep, &[&old2], Some(&new1a)),
            Scales::from([("old".into(), 1)])
        );
    }

    #[test]
    fn unhealthy_old_replicas_go_first() {
        let dep = d(3, 0, 1);
        let older = rs("older", 1, 2, 0);
        let old = rs("old", 2, 3, 3);
        let scales = reconcile_old(&dep, &[&old, &older], None);
        assert_eq!(scales.get("older"), Some(&0));
        // 3 available, minAvailable 2: one healthy replica may go as well.
        assert_eq!(scales.get("old"), Some(&2));
    }

    #[test]
    fn scaling_events() {
        let dep = d(5, 1, 1);
        let mut only: ReplicaSet = rs("only", 1, 3, 3);
        only.metadata.annotations = Some(BTreeMap::from([(DESIRED_REPLICAS.into(), "3".into())]));
        assert!(is_scaling_event(&dep, &[&only]));
        assert_eq!(scale(&dep, Some(&only), &[]), Scales::from([("only".into(), 5)]));
        // Two active: proportional, total = replicas + surge.
        let a = rs("a", 1, 4, 4);
        let b = rs("b", 2, 2, 0);
        let dep10 = d(10, 2, 0);
        let scales = scale(&dep10, Some(&b), &[&a]);
        let total: i32 = scales.get("a").copied().unwrap_or(4) + scales.get("b").copied().unwrap_or(2);
        assert_eq!(total, 12);
        assert!(scales.get("a").copied().unwrap_or(4) > scales.get("b").copied().unwrap_or(2));
    }
}
