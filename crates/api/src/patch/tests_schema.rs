//! Built-in patch metadata, and strategic merge patches as kubectl sends them.

use serde_json::{Value, json};

use super::*;

fn meta(group: &str, kind: &str, path: &[&str]) -> FieldMeta {
    schema_for(group, kind)
        .at_path(path)
        .cloned()
        .unwrap_or_else(|| panic!("{group}/{kind} has no {path:?}"))
}

fn assert_merge(group: &str, kind: &str, path: &[&str], key: Option<&str>) {
    let m = meta(group, kind, path);
    assert_eq!(m.strategy, PatchStrategy::Merge, "{kind} {path:?}");
    assert_eq!(m.merge_key, key, "{kind} {path:?}");
}

fn assert_atomic(group: &str, kind: &str, path: &[&str]) {
    let m = meta(group, kind, path);
    assert_eq!(
        (m.strategy, m.merge_key),
        (PatchStrategy::Default, None),
        "{kind} {path:?}"
    );
}

#[test]
fn pod_spec_tags() {
    let spec = ["spec"];
    let at = |rest: &[&'static str]| [&spec[..], rest].concat();
    assert_merge("", "Pod", &at(&["containers"]), Some("name"));
    assert_merge("", "Pod", &at(&["initContainers"]), Some("name"));
    assert_merge("", "Pod", &at(&["ephemeralContainers"]), Some("name"));
    assert_merge("", "Pod", &at(&["containers", "ports"]), Some("containerPort"));
    assert_merge("", "Pod", &at(&["containers", "env"]), Some("name"));
    assert_merge(
        "",
        "Pod",
        &at(&["initContainers", "volumeMounts"]),
        Some("mountPath"),
    );
    assert_merge(
        "",
        "Pod",
        &at(&["ephemeralContainers", "volumeDevices"]),
        Some("devicePath"),
    );
    assert_merge("", "Pod", &at(&["volumes"]), Some("name"));
    assert!(meta("", "Pod", &at(&["volumes"])).retain_keys);
    assert!(meta("", "Pod", &at(&["resourceClaims"])).retain_keys);
    assert_merge("", "Pod", &at(&["imagePullSecrets"]), Some("name"));
    assert_merge("", "Pod", &at(&["hostAliases"]), Some("ip"));
    assert_merge(
        "",
        "Pod",
        &at(&["topologySpreadConstraints"]),
        Some("topologyKey"),
    );
    assert_atomic("", "Pod", &at(&["tolerations"]));
    assert_atomic("", "Pod", &at(&["readinessGates"]));
    assert_merge("", "Pod", &["status", "conditions"], Some("type"));
    assert_merge("", "Pod", &["status", "podIPs"], Some("ip"));
    assert_merge("", "Pod", &["metadata", "finalizers"], None);
    assert_merge("", "Pod", &["metadata", "ownerReferences"], Some("uid"));
}

#[test]
fn pod_templates_everywhere() {
    let template = ["template", "spec", "containers"];
    for (group, kind, prefix) in [
        ("apps", "Deployment", &["spec"][..]),
        ("apps", "ReplicaSet", &["spec"]),
        ("apps", "StatefulSet", &["spec"]),
        ("apps", "DaemonSet", &["spec"]),
        ("batch", "Job", &["spec"]),
        ("batch", "CronJob", &["spec", "jobTemplate", "spec"]),
        ("", "ReplicationController", &["spec"]),
        ("", "PodTemplate", &[]),
    ] {
        let path = [prefix, &template[..]].concat();
        assert_merge(group, kind, &path, Some("name"));
        let env = [&path[..], &["env"]].concat();
        assert_merge(group, kind, &env, Some("name"));
        let finalizers = [prefix, &["template", "metadata", "finalizers"]].concat();
        assert_merge(group, kind, &finalizers, None);
    }
    assert!(meta("apps", "Deployment", &["spec", "strategy"]).retain_keys);
    for (group, kind) in [("apps", "Deployment"), ("apps", "StatefulSet"), ("batch", "Job")] {
        assert_merge(group, kind, &["status", "conditions"], Some("type"));
    }
}

#[test]
fn other_kinds() {
    assert_merge("", "Service", &["spec", "ports"], Some("port"));
    assert_merge("", "Node", &["status", "addresses"], Some("type"));
    assert_merge("", "Node", &["status", "conditions"], Some("type"));
    assert_merge("", "Node", &["spec", "podCIDRs"], None);
    assert_atomic("", "Node", &["spec", "taints"]);
    assert_atomic("", "Endpoints", &["subsets"]);
    assert_atomic("rbac.authorization.k8s.io", "ClusterRole", &["rules"]);
    assert_merge("", "Namespace", &["status", "conditions"], Some("type"));
    assert_merge("", "ServiceAccount", &["secrets"], Some("name"));
    assert_eq!(
        meta("policy", "PodDisruptionBudget", &["spec", "selector"]).strategy,
        PatchStrategy::Replace
    );
    assert_merge(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        &["webhooks", "matchConditions"],
        Some("name"),
    );
    assert_merge("storage.k8s.io", "CSINode", &["spec", "drivers"], Some("name"));
    for (group, kind) in [("", "ConfigMap"), ("", "Secret"), ("", "Namespace")] {
        assert!(supports_strategic(group, kind));
        assert_merge(group, kind, &["metadata", "finalizers"], None);
    }
}

#[test]
fn custom_resources_are_untyped_and_not_strategic() {
    for (group, kind) in [
        ("stable.example.com", "CronTab"),
        ("gateway.networking.k8s.io", "Gateway"),
        ("apps", "Nope"),
    ] {
        assert!(!supports_strategic(group, kind));
        assert!(schema_for(group, kind).is_untyped());
        assert_eq!(
            supported_patch_types(group, kind),
            [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
        );
    }
    assert_eq!(
        supported_patch_types("apps", "Deployment"),
        [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]
    );
    // Without metadata a strategic patch behaves like a merge patch with directives.
    let out = apply_strategic_merge_patch(
        &json!({"spec": {"items": [1, 2], "m": {"a": 1}}}),
        &json!({"spec": {"items": [3], "m": {"b": 2}}}),
        &schema_for("stable.example.com", "CronTab"),
    )
    .unwrap();
    assert_eq!(out, json!({"spec": {"items": [3], "m": {"a": 1, "b": 2}}}));
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "finalizers": ["a"], "annotations": {"x": "1"}},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                        {"name": "sidecar", "image": "busybox"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                },
            },
        },
    })
}

fn patch_deployment(patch: Value) -> Value {
    apply_strategic_merge_patch(&deployment(), &patch, &schema_for("apps", "Deployment")).unwrap()
}

#[test]
fn kubectl_apply_and_set_image() {
    // The body kubectl apply sends when only the image changed.
    let out = patch_deployment(json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"image": "nginx:1.26", "name": "nginx"}],
    }}}}));
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "nginx:1.26");
    assert_eq!(
        containers[0]["env"],
        deployment()["spec"]["template"]["spec"]["containers"][0]["env"]
    );
    assert_eq!(containers[1], json!({"name": "sidecar", "image": "busybox"}));
}

#[test]
fn nested_env_merge_and_delete() {
    // Patch items out of $setElementOrder's order are rejected, as upstream.
    let err = apply_strategic_merge_patch(
        &deployment(),
        &json!({"spec": {"template": {"spec": {"containers": [{
            "name": "nginx",
            "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
            "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "9"}],
        }]}}}}),
        &schema_for("apps", "Deployment"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("doesn't match $setElementOrder list"),
        "{err}"
    );

    let out = patch_deployment(json!({"spec": {"template": {"spec": {"containers": [{
        "name": "nginx",
        "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
        "env": [{"name": "A", "value": "9"}, {"name": "C", "value": "3"}, {"name": "B", "$patch": "delete"}],
    }]}}}}));
    let env = &out["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env,
        &json!([{"name": "A", "value": "9"}, {"name": "C", "value": "3"}])
    );
}

#[test]
fn rollout_restart_pause_and_strategy_switch() {
    let out = patch_deployment(
        json!({"spec": {"paused": true, "template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"
        }}}}}),
    );
    assert_eq!(out["spec"]["paused"], true);
    assert_eq!(
        out["spec"]["template"]["metadata"]["labels"],
        json!({"app": "web"})
    );
    assert_eq!(
        out["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2024-01-01T00:00:00Z"
    );
    // kubectl apply switching to Recreate sends $retainKeys for the retainKeys strategy.
    let out = patch_deployment(
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
    );
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn volume_source_switch_with_retain_keys() {
    let out = patch_deployment(json!({"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "data"}],
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}, "name": "data"}],
    }}}}));
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "data", "configMap": {"name": "cfg"}}])
    );
}

#[test]
fn finalizers_tolerations_and_ports() {
    let out = patch_deployment(json!({
        "metadata": {"finalizers": ["b"], "annotations": {"x": null}},
        "spec": {"template": {"spec": {
            "tolerations": [{"key": "b", "operator": "Exists"}],
            "containers": [{"name": "nginx", "ports": [{"containerPort": 443}]}],
        }}},
    }));
    assert_eq!(out["metadata"]["finalizers"], json!(["b", "a"]));
    assert_eq!(out["metadata"]["annotations"], json!({}));
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "b", "operator": "Exists"}])
    );
    let ports = &out["spec"]["template"]["spec"]["containers"][0]["ports"];
    assert_eq!(
        ports,
        &json!([{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}])
    );
    let out = patch_deployment(json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}));
    assert_eq!(out["metadata"]["finalizers"], json!([]));
}

#[test]
fn node_cordon_taint_and_status() {
    let node = json!({
        "metadata": {"name": "n1"},
        "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
        "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "MemoryPressure", "status": "False"}]},
    });
    let schema = schema_for("", "Node");
    let out = apply_strategic_merge_patch(&node, &json!({"spec": {"unschedulable": true}}), &schema).unwrap();
    assert_eq!(out["spec"]["unschedulable"], true);
    let out = apply_strategic_merge_patch(&out, &json!({"spec": {"unschedulable": null}}), &schema).unwrap();
    assert_eq!(out["spec"], node["spec"]);
    let out = apply_strategic_merge_patch(
        &node,
        &json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}}),
        &schema,
    )
    .unwrap();
    assert_eq!(
        out["spec"]["taints"],
        json!([{"key": "b", "effect": "NoExecute"}])
    );
    let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let out = apply_strategic_merge_patch(&node, &patch, &schema).unwrap();
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}])
    );
}

#[test]
fn service_ports_merge_by_port_and_owner_references_by_uid() {
    let svc = json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
    let patch = json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "b"}, {"uid": "2", "name": "c"}]},
        "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}});
    let out = apply_strategic_merge_patch(&svc, &patch, &schema_for("", "Service")).unwrap();
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 8080, "name": "http"}, {"port": 443}])
    );
    assert_eq!(
        out["metadata"]["ownerReferences"],
        json!([{"uid": "1", "name": "b"}, {"uid": "2", "name": "c"}])
    );
}
