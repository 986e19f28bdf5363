use super::*;
use crate::controllers::daemonset::testing::*;
use k8s_openapi::api::apps::v1::{DaemonSetUpdateStrategy, RollingUpdateDaemonSet};

fn run(d: &DaemonSet, nodes: &[Node], pods: &[Pod], hash: &str) -> Plan {
    plan(&Observed {
        ds: d,
        nodes: nodes.iter().collect(),
        pods: pods.iter().collect(),
        hash,
        now: Timestamp::from_second(1000).expect("ts"),
        failed_backoff: &HashSet::new(),
    })
}

#[test]
fn one_pod_per_eligible_node() {
    let d = ds();
    let nodes = [
        node("a"),
        node("b"),
        tainted(node("c"), "dedicated", "NoSchedule"),
    ];
    let p = run(&d, &nodes, &[], "h1");
    assert_eq!(p.create_on, ["a", "b"]);
    assert_eq!(p.status.desired_number_scheduled, 2);
    assert_eq!(p.status.current_number_scheduled, 0);

    let pods = [daemon_pod(&d, "a", "h1", "agent-1", 1)];
    let p = run(&d, &nodes, &pods, "h1");
    assert_eq!(p.create_on, ["b"]);
    assert_eq!((p.status.current_number_scheduled, p.status.number_ready), (1, 1));
    assert_eq!(p.status.updated_number_scheduled, Some(1));
}

#[test]
fn new_pods_are_pinned_labelled_and_tolerant() {
    let mut d = ds();
    d.metadata.annotations = Some([(GENERATION_ANNOTATION.to_string(), "3".to_string())].into());
    let pod = new_pod(&d, "a", "h1");
    assert_eq!(target_node(&pod).as_deref(), Some("a"));
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(HASH_LABEL).map(String::as_str), Some("h1"));
    assert_eq!(labels.get(GENERATION_LABEL).map(String::as_str), Some("3"));
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("agent-"));
    let tolerations = pod.spec.and_then(|s| s.tolerations).unwrap_or_default();
    assert!(
        tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some("node.kubernetes.io/unreachable"))
    );
}

#[test]
fn misscheduled_duplicate_failed_and_orphaned_pods_are_deleted() {
    let d = ds();
    let nodes = [node("a"), tainted(node("b"), "dedicated", "NoExecute")];
    let mut failed = daemon_pod(&d, "a", "h1", "agent-failed", 5);
    if let Some(s) = failed.status.as_mut() {
        s.phase = Some("Failed".into());
    }
    let mut unscheduled = daemon_pod(&d, "gone", "h1", "agent-gone", 1);
    if let Some(s) = unscheduled.spec.as_mut() {
        s.node_name = None;
    }
    let pods = [
        daemon_pod(&d, "a", "h1", "agent-old", 1),
        daemon_pod(&d, "a", "h1", "agent-dup", 2),
        failed,
        daemon_pod(&d, "b", "h1", "agent-evicted", 1),
        unscheduled,
    ];
    let p = run(&d, &nodes, &pods, "h1");
    let mut deleted = p.delete.clone();
    deleted.sort();
    assert_eq!(
        deleted,
        ["agent-dup", "agent-evicted", "agent-failed", "agent-gone"]
    );
    assert_eq!(p.events[0].reason, "FailedDaemonPod");
    assert_eq!(p.failed_on, ["a"]);

    // In back-off the failed pod stays (and nothing else changes on that node).
    let backoff: HashSet<String> = ["a".to_string()].into();
    let o = Observed {
        ds: &d,
        nodes: nodes.iter().collect(),
        pods: pods.iter().collect(),
        hash: "h1",
        now: Timestamp::from_second(1000).expect("ts"),
        failed_backoff: &backoff,
    };
    let p = plan(&o);
    assert!(p.waiting_on_backoff);
    assert!(!p.delete.contains(&"agent-failed".to_string()));
    assert_eq!(p.status.number_misscheduled, 1);
}

#[test]
fn rolling_update_respects_max_unavailable() {
    let mut d = ds();
    if let Some(s) = d.spec.as_mut() {
        s.update_strategy = Some(DaemonSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDaemonSet {
                max_unavailable: Some(IntOrString::Int(2)),
                max_surge: None,
            }),
        });
    }
    let nodes = [node("a"), node("b"), node("c"), node("d")];
    let pods: Vec<Pod> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| daemon_pod(&d, n, "old", &format!("agent-{n}"), 1))
        .collect();
    let p = run(&d, &nodes, &pods, "new");
    assert_eq!(p.delete, ["agent-a", "agent-b"]);
    assert_eq!(p.status.updated_number_scheduled, Some(0));

    // One node already has an unavailable new pod: only one more old pod may go.
    let mut pods = pods;
    pods[0] = unready(daemon_pod(&d, "a", "new", "agent-a2", 2));
    let p = run(&d, &nodes, &pods, "new");
    assert_eq!(p.delete, ["agent-b"]);
}

#[test]
fn rolling_update_with_surge_creates_beside_old_pods() {
    let mut d = ds();
    if let Some(s) = d.spec.as_mut() {
        s.update_strategy = Some(DaemonSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDaemonSet {
                max_unavailable: Some(IntOrString::Int(0)),
                max_surge: Some(IntOrString::Int(1)),
            }),
        });
    }
    let nodes = [node("a"), node("b")];
    let pods: Vec<Pod> = ["a", "b"]
        .iter()
        .map(|n| daemon_pod(&d, n, "old", &format!("agent-{n}"), 1))
        .collect();
    let p = run(&d, &nodes, &pods, "new");
    assert_eq!(p.create_on, ["a"]);
    assert!(p.delete.is_empty());

    // New pod on a is available: its old pod goes (manage loop), and b may surge next.
    let mut with_new = pods.clone();
    with_new.push(daemon_pod(&d, "a", "new", "agent-a2", 2));
    let p = run(&d, &nodes, &with_new, "new");
    assert_eq!(p.delete, ["agent-a"]);
    assert!(p.create_on.is_empty());
}

#[test]
fn on_delete_does_not_roll() {
    let mut d = ds();
    if let Some(s) = d.spec.as_mut() {
        s.update_strategy = Some(DaemonSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        });
    }
    let nodes = [node("a")];
    let pods = [daemon_pod(&d, "a", "old", "agent-a", 1)];
    let p = run(&d, &nodes, &pods, "new");
    assert!(p.delete.is_empty() && p.create_on.is_empty());
}
