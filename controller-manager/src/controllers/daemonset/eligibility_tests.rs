use super::*;
use crate::controllers::daemonset::testing::*;
use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, NodeSelector};

fn with_affinity(mut d: DaemonSet, term: NodeSelectorTerm) -> DaemonSet {
    if let Some(spec) = d.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![term],
                }),
                ..NodeAffinity::default()
            }),
            ..Affinity::default()
        });
    }
    d
}

fn expr(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    }
}

#[test]
fn taints_table() {
    // (taint key, effect) -> (should_run, should_continue)
    let cases = [
        ("node.kubernetes.io/not-ready", "NoExecute", (true, true)),
        ("node.kubernetes.io/unreachable", "NoExecute", (true, true)),
        ("node.kubernetes.io/disk-pressure", "NoSchedule", (true, true)),
        ("node.kubernetes.io/memory-pressure", "NoSchedule", (true, true)),
        ("node.kubernetes.io/pid-pressure", "NoSchedule", (true, true)),
        ("node.kubernetes.io/unschedulable", "NoSchedule", (true, true)),
        (
            "node.kubernetes.io/network-unavailable",
            "NoSchedule",
            (false, true),
        ),
        ("dedicated", "NoSchedule", (false, true)),
        ("dedicated", "NoExecute", (false, false)),
        ("dedicated", "PreferNoSchedule", (true, true)),
    ];
    for (key, effect, want) in cases {
        assert_eq!(
            should_run(&tainted(node("n"), key, effect), &ds()),
            want,
            "{key}:{effect}"
        );
    }
    let mut host = ds();
    if let Some(spec) = host.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.host_network = Some(true);
    }
    assert_eq!(
        should_run(&tainted(node("n"), NETWORK_UNAVAILABLE, "NoSchedule"), &host),
        (true, true)
    );
}

#[test]
fn explicit_tolerations() {
    let mut d = ds();
    if let Some(spec) = d.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.tolerations = Some(vec![Toleration {
            key: Some("dedicated".into()),
            operator: Some("Equal".into()),
            value: Some("infra".into()),
            effect: None,
            toleration_seconds: None,
        }]);
    }
    let mut n = tainted(node("n"), "dedicated", "NoSchedule");
    assert_eq!(should_run(&n, &d), (false, true), "value differs");
    if let Some(t) = n.spec.as_mut().and_then(|s| s.taints.as_mut()) {
        t[0].value = Some("infra".into());
    }
    assert_eq!(should_run(&n, &d), (true, true));
}

#[test]
fn node_selector_affinity_and_node_name() {
    let mut d = ds();
    if let Some(spec) = d.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.node_selector = Some([("role".to_string(), "edge".to_string())].into());
    }
    assert_eq!(should_run(&node("a"), &d), (false, false));
    assert_eq!(should_run(&labelled(node("a"), "role", "edge"), &d), (true, true));

    let term = |e: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
        match_expressions: Some(e),
        match_fields: None,
    };
    let cases = [
        (
            expr("zone", "In", &["a", "b"]),
            labelled(node("n"), "zone", "b"),
            true,
        ),
        (expr("zone", "NotIn", &["a"]), node("n"), true),
        (expr("zone", "Exists", &[]), node("n"), false),
        (expr("zone", "DoesNotExist", &[]), node("n"), true),
        (expr("cpus", "Gt", &["4"]), labelled(node("n"), "cpus", "8"), true),
        (
            expr("cpus", "Lt", &["4"]),
            labelled(node("n"), "cpus", "8"),
            false,
        ),
    ];
    for (e, n, want) in cases {
        let d = with_affinity(ds(), term(vec![e.clone()]));
        assert_eq!(should_run(&n, &d).0, want, "{e:?}");
    }
    let by_name = with_affinity(
        ds(),
        NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![expr("metadata.name", "In", &["b"])]),
        },
    );
    assert!(!should_run(&node("a"), &by_name).0);
    assert!(should_run(&node("b"), &by_name).0);

    let mut pinned = ds();
    if let Some(spec) = pinned.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.node_name = Some("b".into());
    }
    assert_eq!(should_run(&node("a"), &pinned), (false, false));
}

#[test]
fn pinning_replaces_required_terms_and_is_read_back() {
    let mut spec = PodSpec::default();
    pin_to_node(&mut spec, "n1");
    let mut pod = k8s_openapi::api::core::v1::Pod {
        spec: Some(spec.clone()),
        ..Default::default()
    };
    assert_eq!(target_node(&pod).as_deref(), Some("n1"));
    pin_to_node(&mut spec, "n2");
    let terms = spec
        .affinity
        .and_then(|a| a.node_affinity)
        .and_then(|n| n.required_during_scheduling_ignored_during_execution)
        .map(|s| s.node_selector_terms.len());
    assert_eq!(terms, Some(1));
    if let Some(s) = pod.spec.as_mut() {
        s.node_name = Some("bound".into());
    }
    assert_eq!(target_node(&pod).as_deref(), Some("bound"));
}

#[test]
fn daemon_tolerations_are_added_once() {
    let mut spec = PodSpec::default();
    add_daemon_tolerations(&mut spec);
    add_daemon_tolerations(&mut spec);
    assert_eq!(spec.tolerations.map(|t| t.len()), Some(6));
}
