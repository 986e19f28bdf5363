use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::framework::node_info::testing::pod;

fn prio(name: &str, p: i32) -> Arc<PodInfo> {
    pod(name, "0", json!({"spec": {"priority": p}}))
}

#[test]
fn backoff_durations() {
    let cases = [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)];
    for (attempts, secs) in cases {
        assert_eq!(
            backoff_duration(attempts),
            Duration::from_secs(secs),
            "{attempts}"
        );
    }
}

#[test]
fn active_queue_orders_by_priority_then_arrival() {
    let t0 = Instant::now();
    let mut q = SchedulingQueue::new();
    q.add(prio("low", 0), t0);
    q.add(prio("high", 100), t0 + Duration::from_millis(2));
    q.add(prio("low2", 0), t0 + Duration::from_millis(1));
    let order: Vec<String> =
        std::iter::from_fn(|| q.pop(t0).map(|(p, _)| p.info.name().to_string())).collect();
    assert_eq!(order, vec!["high", "low", "low2"]);
}

#[test]
fn unschedulable_pods_move_on_relevant_events_only() {
    let t0 = Instant::now();
    let mut q = SchedulingQueue::new();
    q.add(prio("p", 0), t0);
    let (mut p, cycle) = q.pop(t0).expect("pop");
    p.unschedulable_plugins = vec![crate::plugins::names::TAINT_TOLERATION];
    q.add_unschedulable(p, cycle, t0);
    assert_eq!(q.pending(), (0, 0, 1));

    // Another pod was bound: cannot fix a taint.
    q.move_on_event(ClusterEvent::AssignedPodAdd, t0);
    assert_eq!(q.pending(), (0, 0, 1));
    // A node changed: back off first (1s after its failure), then active.
    q.move_on_event(ClusterEvent::NodeUpdate, t0 + Duration::from_millis(100));
    assert_eq!(q.pending(), (0, 1, 0));
    q.flush(t0 + Duration::from_millis(500));
    assert_eq!(q.pending(), (0, 1, 0));
    q.flush(t0 + Duration::from_millis(1001));
    assert_eq!(q.pending(), (1, 0, 0));
}

#[test]
fn event_during_cycle_sends_failure_to_backoff() {
    let t0 = Instant::now();
    let mut q = SchedulingQueue::new();
    q.add(prio("p", 0), t0);
    let (p, cycle) = q.pop(t0).expect("pop");
    q.move_on_event(ClusterEvent::NodeAdd, t0);
    q.add_unschedulable(p, cycle, t0);
    assert_eq!(q.pending(), (0, 1, 0));
}

#[test]
fn unschedulable_flushed_after_five_minutes() {
    let t0 = Instant::now();
    let mut q = SchedulingQueue::new();
    q.add(prio("p", 0), t0);
    let (p, cycle) = q.pop(t0).expect("pop");
    q.add_unschedulable(p, cycle, t0);
    q.flush(t0 + Duration::from_secs(299));
    assert_eq!(q.pending(), (0, 0, 1));
    q.flush(t0 + Duration::from_secs(301));
    assert_eq!(q.pending(), (1, 0, 0));
}

#[test]
fn spec_updates_move_status_updates_do_not() {
    let t0 = Instant::now();
    let mut q = SchedulingQueue::new();
    q.add(prio("p", 0), t0);
    let (p, cycle) = q.pop(t0).expect("pop");
    q.add_unschedulable(p, cycle, t0);
    let status_only = pod(
        "p",
        "0",
        json!({"spec": {"priority": 0}, "status": {"conditions": [{"type": "PodScheduled", "status": "False"}]}}),
    );
    q.update(status_only, t0 + Duration::from_secs(5));
    assert_eq!(q.pending(), (0, 0, 1));
    let relabelled = pod(
        "p",
        "0",
        json!({"spec": {"priority": 0}, "metadata": {"labels": {"a": "b"}}}),
    );
    q.update(relabelled, t0 + Duration::from_secs(5));
    assert_eq!(q.pending(), (1, 0, 0));
    q.delete("uid-p");
    assert_eq!(q.pending(), (0, 0, 0));
}

#[test]
fn nominations_follow_pod_status() {
    let t0 = Instant::now();
    let mut q = SchedulingQueue::new();
    q.add(pod("p", "0", json!({"status": {"nominatedNodeName": "n1"}})), t0);
    assert_eq!(q.nominated().for_node("n1").len(), 1);
    q.delete("uid-p");
    assert!(q.nominated().is_empty());
}

#[test]
fn pods_deleted_during_their_cycle_are_not_requeued() {
    let t0 = Instant::now();
    let mut q = SchedulingQueue::new();
    q.add(prio("a", 0), t0);
    q.add(prio("b", 0), t0);
    let (a, cycle) = q.pop(t0).expect("pop a");
    let (b, _) = q.pop(t0).expect("pop b");
    q.delete(&a.info.key);
    q.delete(&b.info.key);
    q.add_unschedulable(a, cycle, t0);
    q.add_backoff(b, t0);
    assert_eq!(q.pending(), (0, 0, 0));
}
