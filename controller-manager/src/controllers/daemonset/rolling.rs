//! DaemonSet rolling update (upstream `update.go` `rollingUpdate`). Without surge, old pods
//! are deleted while at most maxUnavailable nodes lack an available pod; the manage loop then
//! creates the new ones. With surge, a new pod is created beside an old one on up to maxSurge
//! nodes, and the old pod goes once the new one is available.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::eligibility::should_run;
use super::plan::{Observed, Plan, is_updated};
use crate::controllers::util::pod as podutil;

/// An int-or-percent against `total`, rounding up (upstream `GetScaledValueFromIntOrPercent`
/// with roundUp=true).
pub fn scaled(value: Option<&IntOrString>, total: i32, default: i32) -> i32 {
    match value {
        None => default,
        Some(IntOrString::Int(n)) => *n,
        Some(IntOrString::String(s)) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            let v = (pct * i64::from(total) + 99) / 100;
            i32::try_from(v).unwrap_or(i32::MAX)
        }
    }
}

/// The node's one new and one old non-deleted pod; None when there are more (the manage loop
/// prunes those first).
fn updated_pods_on_node<'a>(
    o: &Observed<'_>,
    pods: &[&'a Pod],
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for p in pods
        .iter()
        .copied()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let slot = if is_updated(p, o.hash, o.ds) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p);
    }
    Some((new, old))
}

/// Adds the rolling update's deletions and creations to `out`.
pub fn rolling_update(o: &Observed<'_>, by_node: &HashMap<String, Vec<&Pod>>, out: &mut Plan) {
    let spec = o.ds.spec.clone().unwrap_or_default();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let ru = spec
        .update_strategy
        .and_then(|u| u.rolling_update)
        .unwrap_or_default();
    let desired = o.nodes.iter().filter(|n| should_run(n, o.ds).0).count() as i32;
    let max_surge = scaled(ru.max_surge.as_ref(), desired, 0);
    let mut max_unavailable = scaled(ru.max_unavailable.as_ref(), desired, 1);
    if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    let available = |p: &Pod| podutil::is_available(p, min_ready, o.now);
    // Deterministic order (upstream iterates a map; any order is allowed).
    let mut nodes: Vec<&String> = by_node.keys().collect();
    nodes.sort();

    if max_surge == 0 {
        let mut unavailable = 0;
        let mut replace = Vec::new();
        let mut candidates = Vec::new();
        for node in nodes {
            let Some((new, old)) = updated_pods_on_node(o, &by_node[node]) else {
                unavailable += 1;
                continue;
            };
            match (new, old) {
                (None, None) | (Some(_), Some(_)) => unavailable += 1,
                (Some(n), None) => {
                    if !available(n) {
                        unavailable += 1;
                    }
                }
                (None, Some(old)) => {
                    if !available(old) {
                        replace.extend(old.metadata.name.clone());
                        unavailable += 1;
                    } else if unavailable < max_unavailable {
                        candidates.extend(old.metadata.name.clone());
                    }
                }
            }
        }
        let room = usize::try_from((max_unavailable - unavailable).max(0))
            .unwrap_or(0)
            .min(candidates.len());
        out.delete.extend(replace);
        out.delete.extend(candidates.into_iter().take(room));
        return;
    }

    let mut surge = 0;
    let mut available_count = 0;
    let mut allowed_new = Vec::new();
    let mut candidate_new = Vec::new();
    let mut should_not_run = Vec::new();
    for node in nodes {
        let Some((new, old)) = updated_pods_on_node(o, &by_node[node]) else {
            surge += 1;
            continue;
        };
        if old.is_some_and(available) || new.is_some_and(available) {
            available_count += 1;
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                if !available(old) {
                    let runs = o
                        .nodes
                        .iter()
                        .find(|n| n.metadata.name.as_deref() == Some(node.as_str()))
                        .is_some_and(|n| should_run(n, o.ds).0);
                    if runs {
                        allowed_new.push(node.clone());
                    } else {
                        should_not_run.extend(old.metadata.name.clone());
                    }
                } else if surge < max_surge {
                    candidate_new.push(node.clone());
                }
            }
            (Some(new), Some(old)) => {
                if available(new) {
                    out.delete.extend(old.metadata.name.clone());
                } else {
                    surge += 1;
                }
            }
        }
    }
    // Keep 100% availability while moving off nodes the set no longer runs on.
    let deletable = usize::try_from((available_count - desired).max(0))
        .unwrap_or(0)
        .min(should_not_run.len());
    out.delete.extend(should_not_run.into_iter().take(deletable));
    let room = usize::try_from((max_surge - surge).max(0))
        .unwrap_or(0)
        .min(candidate_new.len());
    out.create_on.extend(allowed_new);
    out.create_on.extend(candidate_new.into_iter().take(room));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_values_round_up() {
        let cases = [
            (None, 10, 1, 1),
            (Some(IntOrString::Int(3)), 10, 1, 3),
            (Some(IntOrString::String("25%".into())), 10, 1, 3),
            (Some(IntOrString::String("10%".into())), 10, 1, 1),
            (Some(IntOrString::String("0%".into())), 10, 1, 0),
        ];
        for (v, total, default, want) in cases {
            assert_eq!(scaled(v.as_ref(), total, default), want, "{v:?}");
        }
    }
}
