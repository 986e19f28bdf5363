use super::*;
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaimSpec, PodSpec, PodStatus, ResourceQuotaSpec, ResourceRequirements,
    ScopeSelector, ScopedResourceSelectorRequirement, ServicePort, ServiceSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn q(s: &str) -> Quantity {
    Quantity(s.into())
}

fn quota(hard: &[(&str, &str)]) -> ResourceQuota {
    ResourceQuota {
        metadata: ObjectMeta {
            name: Some("q".into()),
            namespace: Some("ns".into()),
            ..Default::default()
        },
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard.iter().map(|(k, v)| (k.to_string(), q(v))).collect()),
            ..Default::default()
        }),
        status: None,
    }
}

fn pod(phase: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Pod {
    let list =
        |l: &[(&str, &str)]| (!l.is_empty()).then(|| l.iter().map(|(k, v)| (k.to_string(), q(v))).collect());
    Pod {
        metadata: ObjectMeta::default(),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                resources: Some(ResourceRequirements {
                    requests: list(requests),
                    limits: list(limits),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        }),
    }
}

fn used(status: &ResourceQuotaStatus) -> Vec<(String, String)> {
    status
        .used
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn pods_cpu_and_memory() {
    let rq = quota(&[
        ("pods", "10"),
        ("requests.cpu", "4"),
        ("requests.memory", "4Gi"),
        ("limits.memory", "8Gi"),
        ("cpu", "4"),
    ]);
    let a = pod(
        "Running",
        &[("cpu", "250m"), ("memory", "64Mi")],
        &[("memory", "128Mi")],
    );
    let b = pod("Pending", &[("cpu", "1"), ("memory", "64Mi")], &[]);
    let done = pod("Succeeded", &[("cpu", "8")], &[]);
    let objects = NamespaceObjects {
        pods: vec![&a, &b, &done],
        ..Default::default()
    };
    let status = plan(&rq, &objects).expect("first status");
    assert_eq!(
        used(&status),
        pairs(&[
            ("cpu", "1250m"),
            ("limits.memory", "128Mi"),
            ("pods", "2"),
            ("requests.cpu", "1250m"),
            ("requests.memory", "128Mi")
        ])
    );
    assert_eq!(status.hard, rq.spec.as_ref().unwrap().hard);
    let mut current = rq.clone();
    current.status = Some(status);
    assert_eq!(plan(&current, &objects), None, "unchanged usage writes nothing");
}

#[test]
fn counts_of_other_objects_and_zeroes() {
    let rq = quota(&[
        ("services", "5"),
        ("services.nodeports", "5"),
        ("configmaps", "5"),
        ("count/secrets", "5"),
        ("persistentvolumeclaims", "5"),
        ("requests.storage", "10Gi"),
        ("gold.storageclass.storage.k8s.io/requests.storage", "5Gi"),
        ("count/widgets.example.com", "3"),
    ]);
    let svc = Service {
        spec: Some(ServiceSpec {
            type_: Some("NodePort".into()),
            ports: Some(vec![
                ServicePort {
                    port: 80,
                    ..Default::default()
                },
                ServicePort {
                    port: 81,
                    ..Default::default()
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pvc = PersistentVolumeClaim {
        spec: Some(PersistentVolumeClaimSpec {
            storage_class_name: Some("gold".into()),
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_string(), q("1Gi"))].into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let objects = NamespaceObjects {
        services: vec![&svc],
        pvcs: vec![&pvc],
        configmaps: 2,
        secrets: 0,
        ..Default::default()
    };
    let status = plan(&rq, &objects).unwrap();
    assert_eq!(
        used(&status),
        pairs(&[
            ("configmaps", "2"),
            ("count/secrets", "0"),
            ("gold.storageclass.storage.k8s.io/requests.storage", "1Gi"),
            ("persistentvolumeclaims", "1"),
            ("requests.storage", "1Gi"),
            ("services", "1"),
            ("services.nodeports", "2"),
        ]),
        "unknown resources get no usage entry"
    );
}

#[test]
fn scopes_select_pods() {
    let mut rq = quota(&[("pods", "10"), ("services", "3")]);
    rq.spec.as_mut().unwrap().scopes = Some(vec!["BestEffort".into()]);
    let best_effort = pod("Running", &[], &[]);
    let burstable = pod("Running", &[("cpu", "1")], &[]);
    let objects = NamespaceObjects {
        pods: vec![&best_effort, &burstable],
        services: vec![],
        ..Default::default()
    };
    assert_eq!(
        used(&plan(&rq, &objects).unwrap()),
        pairs(&[("pods", "1"), ("services", "0")])
    );

    let mut by_priority = quota(&[("pods", "10")]);
    by_priority.spec.as_mut().unwrap().scope_selector = Some(ScopeSelector {
        match_expressions: Some(vec![ScopedResourceSelectorRequirement {
            scope_name: "PriorityClass".into(),
            operator: "In".into(),
            values: Some(vec!["high".into()]),
        }]),
    });
    let mut high = pod("Running", &[], &[]);
    high.spec.as_mut().unwrap().priority_class_name = Some("high".into());
    let objects = NamespaceObjects {
        pods: vec![&high, &best_effort],
        ..Default::default()
    };
    assert_eq!(
        used(&plan(&by_priority, &objects).unwrap()),
        pairs(&[("pods", "1")])
    );
}

#[test]
fn init_containers_and_overhead() {
    let mut p = pod("Running", &[("cpu", "100m")], &[]);
    let spec = p.spec.as_mut().unwrap();
    spec.init_containers = Some(vec![Container {
        name: "init".into(),
        resources: Some(ResourceRequirements {
            requests: Some([("cpu".to_string(), q("500m"))].into()),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    spec.overhead = Some([("cpu".to_string(), q("10m"))].into());
    let rq = quota(&[("requests.cpu", "4")]);
    let objects = NamespaceObjects {
        pods: vec![&p],
        ..Default::default()
    };
    assert_eq!(
        used(&plan(&rq, &objects).unwrap()),
        pairs(&[("requests.cpu", "510m")])
    );
}
