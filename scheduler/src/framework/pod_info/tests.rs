use serde_json::json;

use super::*;

fn full_pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "7",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web"}, "annotations": {"a": "b"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
        },
        "spec": {
            "schedulerName": "other", "priority": 5, "preemptionPolicy": "Never",
            "nodeSelector": {"disk": "ssd"},
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}},
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}
            },
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}],
            "schedulingGates": [{"name": "wait"}],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "c"}},
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                {"name": "cfg", "configMap": {"name": "x"}}
            ],
            "initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Always",
                                "command": ["sh"], "resources": {"requests": {"cpu": "50m"}}}],
            "containers": [{
                "name": "c", "image": "nginx",
                "command": ["nginx"], "env": [{"name": "X", "value": "1"}],
                "ports": [{"containerPort": 80, "hostPort": 8080}],
                "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}
            }, {"name": "noimage"}],
            "overhead": {"cpu": "10m"}
        },
        "status": {
            "phase": "Pending", "nominatedNodeName": "n1", "startTime": "2026-01-01T00:00:05Z",
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "m"}
            ]
        }
    }))
    .expect("pod")
}

#[test]
fn conversion_keeps_what_scheduling_reads() {
    let info = PodInfo::new(full_pod(), 5);
    assert_eq!((info.key.as_str(), info.uid.as_str()), ("u", "u"));
    assert_eq!((info.namespace(), info.name()), ("ns", "p"));
    assert_eq!(info.resource_version, "7");
    assert_eq!(&*info.scheduler_name, "other");
    assert_eq!(info.priority, 5);
    assert!(info.preemption_never);
    assert_eq!(
        info.labels().and_then(|l| l.get("app")).map(String::as_str),
        Some("web")
    );
    // cpu: max(100m + 50m sidecar, init) + 10m overhead; memory from the app container.
    assert_eq!(info.requests.milli_cpu, 160);
    assert_eq!(info.requests.memory, 1 << 30);
    assert_eq!(
        info.host_ports,
        [HostPort {
            ip: String::new(),
            protocol: "TCP".into(),
            port: 8080
        }]
    );
    assert_eq!(info.node_selector.as_ref().map(|s| s.len()), Some(1));
    assert!(info.node_affinity.is_some());
    assert_eq!(info.required_anti_affinity.len(), 1);
    assert_eq!(info.required_anti_affinity[0].namespaces, ["ns"]);
    assert!(info.has_affinity() && info.has_required_anti_affinity());
    assert_eq!(info.tolerations.len(), 1);
    assert_eq!(info.topology_spread_constraints.len(), 1);
    assert_eq!(info.claims, ["c", "p-scratch"]);
    assert_eq!(
        info.images[..],
        [Some("busybox".to_string()), Some("nginx".to_string()), None]
    );
    assert!(info.gated);
    assert_eq!(info.nominated_node_name.as_deref(), Some("n1"));
    assert_eq!(info.node_name(), None);
    assert!(!info.is_terminating() && !info.is_terminal());
    assert_eq!(
        info.start_time.map(|t| t.to_string()).as_deref(),
        Some("2026-01-01T00:00:05Z")
    );
    let cond = info.scheduled_condition.as_deref().expect("PodScheduled kept");
    assert_eq!(cond.message.as_deref(), Some("m"));
}

#[test]
fn missing_uid_and_empty_fields() {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z",
                     "deletionTimestamp": "2026-01-02T00:00:00Z"},
        "spec": {"nodeName": "", "containers": []},
        "status": {"phase": "Failed", "nominatedNodeName": ""}
    }))
    .expect("pod");
    let info = PodInfo::new(pod, 0);
    assert_eq!(info.key, "ns/p");
    assert_eq!(info.node_name(), None, "an empty nodeName is unassigned");
    assert_eq!(info.nominated_node_name, None);
    assert!(info.is_terminating() && info.is_terminal());
    assert_eq!(
        info.start_time.map(|t| t.to_string()).as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    assert!(info.scheduled_condition.is_none() && !info.gated);
}

#[test]
fn scheduling_differs_ignores_status_and_bookkeeping() {
    let base = PodInfo::new(full_pod(), 5);
    let mut status_only = full_pod();
    status_only.metadata.resource_version = Some("8".into());
    if let Some(s) = status_only.status.as_mut() {
        s.conditions = None;
        s.nominated_node_name = None;
    }
    assert!(!base.scheduling_differs(&PodInfo::new(status_only, 5)));

    let mut relabelled = full_pod();
    relabelled.metadata.labels = None;
    assert!(base.scheduling_differs(&PodInfo::new(relabelled, 5)));
    let mut tolerating = full_pod();
    if let Some(s) = tolerating.spec.as_mut() {
        s.tolerations = None;
    }
    assert!(base.scheduling_differs(&PodInfo::new(tolerating, 5)));
    let mut ungated = full_pod();
    if let Some(s) = ungated.spec.as_mut() {
        s.scheduling_gates = None;
    }
    assert!(base.scheduling_differs(&PodInfo::new(ungated, 5)));
}

/// Records of pods from one template share their common values.
#[test]
fn records_share_common_values() {
    let mut interner = Interner::new();
    let a = PodInfo::new_shared(full_pod(), 5, &mut interner);
    let mut other = full_pod();
    other.metadata.name = Some("q".into());
    other.metadata.uid = Some("v".into());
    let b = PodInfo::new_shared(other, 5, &mut interner);
    assert!(Arc::ptr_eq(&a.namespace, &b.namespace));
    assert!(Arc::ptr_eq(&a.scheduler_name, &b.scheduler_name));
    assert!(Arc::ptr_eq(
        a.labels.as_ref().expect("labels"),
        b.labels.as_ref().expect("labels")
    ));
    assert!(Arc::ptr_eq(&a.tolerations, &b.tolerations));
    assert!(Arc::ptr_eq(&a.images, &b.images));
    assert_ne!((a.key.as_str(), a.name()), (b.key.as_str(), b.name()));
}
