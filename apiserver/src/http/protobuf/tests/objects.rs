//! Decoding real objects (built with k8s-pb as client-go writes them): everyday kinds.

use super::*;

#[test]
fn configmap() {
    let cm = core::ConfigMap {
        metadata: Some(gogo_meta("c", "x")),
        data: labels(&[("a", "b")]),
        binary_data: [("bin".to_string(), vec![0, 1, 255])].into(),
        immutable: None,
    };
    assert_decodes(
        &body("v1", "ConfigMap", &cm),
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "x", "creationTimestamp": null},
            "data": {"a": "b"},
            "binaryData": {"bin": "AAH/"},
        }),
    );
}

#[test]
fn secret_with_binary_data() {
    let secret = core::Secret {
        metadata: Some(gogo_meta("s", "x")),
        immutable: Some(false),
        data: [
            ("p".to_string(), b"q".to_vec()),
            ("raw".to_string(), vec![0xff, 0xfe, 0x00, 0x80]),
            ("empty".to_string(), Vec::new()),
        ]
        .into(),
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
    };
    assert_decodes(
        &body("v1", "Secret", &secret),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "x", "creationTimestamp": null},
            // A pointer: set to false is kept.
            "immutable": false,
            "data": {"p": "cQ==", "raw": "//4AgA==", "empty": ""},
            "type": "Opaque",
        }),
    );
}

#[test]
fn namespace() {
    let ns = core::Namespace {
        metadata: Some(gogo_meta("x", "")),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus {
            phase: s(""),
            ..Default::default()
        }),
    };
    assert_decodes(
        &body("v1", "Namespace", &ns),
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "x", "creationTimestamp": null},
            "spec": {},
            "status": {},
        }),
    );
}

#[test]
fn deployment() {
    let mut c = container("busybox", "busybox");
    c.resources = Some(core::ResourceRequirements {
        limits: quantities(&[("cpu", "500m"), ("memory", "128Mi")]),
        requests: quantities(&[("cpu", "250m"), ("memory", "64Mi")]),
        claims: Vec::new(),
    });
    c.ports = vec![core::ContainerPort {
        name: s("http"),
        host_port: Some(0),
        container_port: Some(8080),
        protocol: s("TCP"),
        host_ip: s(""),
    }];
    let d = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            labels: labels(&[("app", "d")]),
            ..gogo_meta("d", "x")
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(3),
            selector: Some(meta::LabelSelector {
                match_labels: labels(&[("app", "d")]),
                match_expressions: Vec::new(),
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: labels(&[("app", "d")]),
                    ..gogo_meta("", "")
                }),
                spec: Some(pod_spec(vec![c])),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: Some(int_or_string_int(1)),
                    max_surge: Some(int_or_string_str("25%")),
                }),
            }),
            min_ready_seconds: Some(0),
            // Pointers set to zero stay.
            revision_history_limit: Some(0),
            paused: Some(false),
            progress_deadline_seconds: None,
        }),
        status: Some(apps::DeploymentStatus {
            observed_generation: Some(0),
            replicas: Some(0),
            updated_replicas: Some(0),
            ready_replicas: Some(0),
            available_replicas: Some(0),
            unavailable_replicas: Some(0),
            collision_count: None,
            ..Default::default()
        }),
    };
    assert_decodes(
        &body("apps/v1", "Deployment", &d),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "x", "labels": {"app": "d"}, "creationTimestamp": null},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}, "creationTimestamp": null},
                    "spec": {"containers": [{
                        "name": "busybox",
                        "image": "busybox",
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "resources": {
                            "limits": {"cpu": "500m", "memory": "128Mi"},
                            "requests": {"cpu": "250m", "memory": "64Mi"},
                        },
                    }]},
                },
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
                "revisionHistoryLimit": 0,
            },
            "status": {},
        }),
    );
}

#[test]
fn job() {
    let mut spec = pod_spec(vec![container("j", "busybox")]);
    spec.restart_policy = s("Never");
    spec.termination_grace_period_seconds = Some(0);
    let job = batch::Job {
        metadata: Some(gogo_meta("j", "x")),
        spec: Some(batch::JobSpec {
            parallelism: Some(1),
            completions: Some(1),
            backoff_limit: Some(0),
            manual_selector: Some(false),
            suspend: Some(false),
            template: Some(core::PodTemplateSpec {
                metadata: Some(gogo_meta("", "")),
                spec: Some(spec),
            }),
            ..Default::default()
        }),
        status: Some(batch::JobStatus {
            active: Some(0),
            succeeded: Some(0),
            failed: Some(0),
            ..Default::default()
        }),
    };
    assert_decodes(
        &body("batch/v1", "Job", &job),
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j", "namespace": "x", "creationTimestamp": null},
            "spec": {
                "parallelism": 1,
                "completions": 1,
                "backoffLimit": 0,
                "manualSelector": false,
                "suspend": false,
                "template": {
                    "metadata": {"creationTimestamp": null},
                    "spec": {
                        "containers": [{"name": "j", "image": "busybox", "resources": {}}],
                        "restartPolicy": "Never",
                        "terminationGracePeriodSeconds": 0,
                    },
                },
            },
            "status": {},
        }),
    );
}

#[test]
fn service_ports_int_and_string_target() {
    let port = |name: &str, port: i32, target: IntOrString| core::ServicePort {
        name: s(name),
        protocol: s("TCP"),
        app_protocol: None,
        port: Some(port),
        target_port: Some(target),
        node_port: Some(0),
    };
    let svc = core::Service {
        metadata: Some(meta::ObjectMeta {
            labels: labels(&[("app", "svc")]),
            ..gogo_meta("svc", "x")
        }),
        spec: Some(core::ServiceSpec {
            ports: vec![
                port("80-8080", 80, int_or_string_int(8080)),
                port("https", 443, int_or_string_str("https")),
            ],
            selector: labels(&[("app", "svc")]),
            cluster_ip: s(""),
            r#type: s("ClusterIP"),
            session_affinity: s(""),
            load_balancer_ip: s(""),
            external_name: s(""),
            external_traffic_policy: s(""),
            health_check_node_port: Some(0),
            publish_not_ready_addresses: Some(false),
            ..Default::default()
        }),
        status: Some(core::ServiceStatus {
            load_balancer: Some(core::LoadBalancerStatus::default()),
            conditions: Vec::new(),
        }),
    };
    assert_decodes(
        &body("v1", "Service", &svc),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "svc", "namespace": "x", "labels": {"app": "svc"}, "creationTimestamp": null},
            "spec": {
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https"},
                ],
                "selector": {"app": "svc"},
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        }),
    );
}
