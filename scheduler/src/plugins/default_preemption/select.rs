//! Victim ordering and candidate choice (upstream `MoreImportantPod` and
//! `pickOneNodeForPreemption`).

use std::cmp::Ordering;
use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;

use super::Candidate;
use crate::framework::PodInfo;

/// When the pod started (status.startTime, else its creation).
fn start_time(p: &PodInfo) -> Option<Timestamp> {
    p.start_time
}

/// Higher priority first; among equals, the one that started earlier.
fn more_important(a: &PodInfo, b: &PodInfo) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| match (start_time(a), start_time(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
}

pub(super) fn sort_most_important_first(pods: &mut [Arc<PodInfo>]) {
    pods.sort_by(|a, b| more_important(a, b));
}

/// Picks the candidate whose eviction hurts least: fewest PodDisruptionBudget violations, then
/// lowest highest-priority victim, then lowest priority sum, then fewest victims, then the
/// latest start among its top-priority victims, then the first.
pub(super) fn pick_one(candidates: &[Candidate]) -> Option<&Candidate> {
    if let Some(free) = candidates.iter().find(|c| c.victims.is_empty()) {
        return Some(free);
    }
    let highest = |c: &Candidate| c.victims.first().map_or(i32::MIN, |v| v.priority);
    // Offset so that negative priorities still add up to a larger sum the more pods there are.
    let sum = |c: &Candidate| -> i64 {
        c.victims
            .iter()
            .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
            .sum()
    };
    let earliest_top_start = |c: &Candidate| {
        let top = highest(c);
        c.victims
            .iter()
            .filter(|v| v.priority == top)
            .filter_map(|v| start_time(v))
            .min()
    };
    let mut best: Vec<&Candidate> = candidates.iter().collect();
    let keep_min = |best: &mut Vec<&Candidate>, key: &dyn Fn(&Candidate) -> i64| {
        let min = best.iter().map(|c| key(c)).min();
        best.retain(|c| Some(key(c)) == min);
    };
    keep_min(&mut best, &|c| c.num_pdb_violations as i64);
    keep_min(&mut best, &|c| i64::from(highest(c)));
    keep_min(&mut best, &sum);
    keep_min(&mut best, &|c| c.victims.len() as i64);
    if best.len() > 1 {
        let latest = best.iter().filter_map(|c| earliest_top_start(c)).max();
        if let Some(latest) = latest {
            best.retain(|c| earliest_top_start(c) == Some(latest));
        }
    }
    best.first().copied()
}
