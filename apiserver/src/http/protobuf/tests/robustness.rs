//! Hostile and real-world bodies: random bytes, nesting, kubectl's captured bodies.

use super::*;

/// No input may panic: random bytes, random bytes inside a valid envelope for every kind, and
/// valid bodies with random bytes flipped or cut.
#[test]
fn random_bodies_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x6b38_7300);
    fn random(rng: &mut StdRng, max: usize) -> Vec<u8> {
        let len = rng.random_range(0..max);
        (0..len).map(|_| rng.random()).collect()
    }
    for _ in 0..20_000 {
        let mut b = random(&mut rng, 64);
        let _ = decode(&b);
        b.splice(0..0, *b"k8s\0");
        let _ = decode(&b);
    }
    let kinds: Vec<(String, &str)> = RESOURCES.iter().map(|r| (r.api_version(), r.kind)).collect();
    for i in 0..50_000 {
        let (api_version, kind) = &kinds[i % kinds.len()];
        let raw = random(&mut rng, 256);
        let _ = decode(&envelope(api_version, kind, raw));
    }
    // Valid bodies, mutated.
    let mut d = apps::Deployment {
        metadata: Some(gogo_meta("d", "x")),
        ..Default::default()
    };
    let mut c = container("c", "busybox");
    c.resources = Some(core::ResourceRequirements {
        limits: quantities(&[("cpu", "1")]),
        ..Default::default()
    });
    d.spec = Some(apps::DeploymentSpec {
        replicas: Some(1),
        template: Some(core::PodTemplateSpec {
            metadata: Some(gogo_meta("", "")),
            spec: Some(pod_spec(vec![c])),
        }),
        strategy: Some(apps::DeploymentStrategy {
            r#type: s("RollingUpdate"),
            rolling_update: Some(apps::RollingUpdateDeployment {
                max_surge: Some(int_or_string_str("25%")),
                max_unavailable: Some(int_or_string_int(1)),
            }),
        }),
        ..Default::default()
    });
    let valid = body("apps/v1", "Deployment", &d);
    assert!(decode(&valid).is_ok());
    for _ in 0..50_000 {
        let mut b = valid.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(4..b.len());
            b[i] = rng.random();
        }
        if rng.random_bool(0.3) {
            b.truncate(rng.random_range(4..b.len()));
        }
        if let Ok(obj) = decode(&b) {
            // Whatever decodes also encodes.
            let _ = encode(&obj);
        }
    }
}

/// Bodies kubectl 1.33 sent (captured with `-v=9`), and the JSON bodies kubectl 1.31 sends for
/// the same commands.
#[test]
fn real_kubectl_bodies() {
    let cases: &[(&[u8], Value)] = &[
        (
            // kubectl create namespace z
            include_bytes!("../testdata/namespace.bin"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "z", "creationTimestamp": null},
                   "spec": {}, "status": {}}),
        ),
        (
            // kubectl create secret generic sbin2 --from-file=bin2.dat (bytes ff fe 00 01)
            include_bytes!("../testdata/secret.bin"),
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "sbin2", "namespace": "x", "creationTimestamp": null},
                   "data": {"bin2.dat": "//4AAQ=="}}),
        ),
        (
            // kubectl create deployment dd --image=busybox --replicas=0 --port=80
            include_bytes!("../testdata/deployment.bin"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "dd", "namespace": "x", "labels": {"app": "dd"}, "creationTimestamp": null},
                   "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "dd"}},
                            "template": {"metadata": {"labels": {"app": "dd"}, "creationTimestamp": null},
                                         "spec": {"containers": [{"name": "busybox", "image": "busybox",
                                                                  "ports": [{"containerPort": 80}], "resources": {}}]}},
                            "strategy": {}},
                   "status": {}}),
        ),
        (
            // kubectl create job j3 --image=busybox
            include_bytes!("../testdata/job.bin"),
            json!({"apiVersion": "batch/v1", "kind": "Job",
                   "metadata": {"name": "j3", "namespace": "x", "creationTimestamp": null},
                   "spec": {"template": {"metadata": {"creationTimestamp": null},
                                         "spec": {"containers": [{"name": "j3", "image": "busybox", "resources": {}}],
                                                  "restartPolicy": "Never"}}},
                   "status": {}}),
        ),
        (
            // kubectl create cronjob cj2 --image=busybox --schedule='*/1 * * * *'
            include_bytes!("../testdata/cronjob.bin"),
            json!({"apiVersion": "batch/v1", "kind": "CronJob",
                   "metadata": {"name": "cj2", "namespace": "x", "creationTimestamp": null},
                   "spec": {"schedule": "*/1 * * * *",
                            "jobTemplate": {"metadata": {"name": "cj2", "creationTimestamp": null},
                                            "spec": {"template": {"metadata": {"creationTimestamp": null},
                                                                  "spec": {"containers": [{"name": "cj2", "image": "busybox",
                                                                                           "resources": {}}],
                                                                           "restartPolicy": "OnFailure"}}}}},
                   "status": {}}),
        ),
        (
            // kubectl create service clusterip svc2 --tcp=80:8080 --tcp=443:https
            include_bytes!("../testdata/service.bin"),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "svc2", "namespace": "x", "labels": {"app": "svc2"}, "creationTimestamp": null},
                   "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                                      {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"}],
                            "selector": {"app": "svc2"}, "type": "ClusterIP"},
                   "status": {"loadBalancer": {}}}),
        ),
        (
            // kubectl create token sa --duration=1h --audience=a
            include_bytes!("../testdata/token.bin"),
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "metadata": {"creationTimestamp": null},
                   "spec": {"audiences": ["a"], "expirationSeconds": 3600},
                   "status": {"token": "", "expirationTimestamp": null}}),
        ),
        (
            // kubectl auth can-i get pods -n x
            include_bytes!("../testdata/can-i.bin"),
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                   "metadata": {"creationTimestamp": null},
                   "spec": {"resourceAttributes": {"namespace": "x", "verb": "get", "resource": "pods"}},
                   "status": {"allowed": false}}),
        ),
        (
            // kubectl auth can-i --list -n x
            include_bytes!("../testdata/can-i-list.bin"),
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                   "metadata": {"creationTimestamp": null},
                   "spec": {"namespace": "x"}, "status": {"incomplete": false}}),
        ),
        (
            // kubectl auth whoami
            include_bytes!("../testdata/whoami.bin"),
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
                   "metadata": {"creationTimestamp": null}, "status": {"userInfo": {}}}),
        ),
    ];
    for (body, expected) in cases {
        assert_decodes(body, expected.clone());
    }
    // whoami's fallback to a version Rudder does not serve.
    assert_eq!(error(include_bytes!("../testdata/whoami-v1beta1.bin")).0, 415);
}
