//! Tests of the core/v1 strategies: namespaces, pods, configmaps, secrets and the helpers.

use rudder_api::validation::FieldError;
use serde_json::{Value, json};

use super::config::{ConfigMaps, Secrets};
use super::namespaces::Namespaces;
use super::pods::{Pods, pod_grace_period};
use super::podspec::image_pull_policy;
use super::util::{go_base64_decode, selector_matches};
use crate::registry::strategy::{Strategy, WriteKind};

pub(super) fn messages(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}

fn create(s: &dyn Strategy, mut obj: Value) -> Value {
    s.default(&mut obj);
    s.prepare_for_create(&mut obj);
    obj
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
}

#[test]
fn namespace_create_and_two_step_delete() {
    let s = Namespaces;
    let ns = create(&s, json!({"metadata": {"name": "team-a"}}));
    assert_eq!(
        ns["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "team-a"})
    );
    assert_eq!(ns["spec"], json!({"finalizers": ["kubernetes"]}));
    assert_eq!(ns["status"], json!({"phase": "Active"}));
    assert!(!(s.name_validator())("a.b", false).is_empty());
    assert!((s.name_validator())("team-a", false).is_empty());

    let mut marked = ns.clone();
    assert!(s.begin_delete(&mut marked));
    assert_eq!(marked["status"]["phase"], "Terminating");
    assert!(!s.can_remove(&marked));
    marked["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    assert!(s.begin_delete(&mut marked.clone()), "finalizers left: kept");
    marked["spec"]["finalizers"] = json!([]);
    assert!(s.can_remove(&marked));
    assert!(!s.begin_delete(&mut marked), "finalized and marked: deleted");

    // A plain update may not change spec.finalizers.
    let mut update =
        json!({"metadata": {"name": "team-a", "labels": {"x": "y"}}, "spec": {"finalizers": []}});
    s.default(&mut update);
    s.prepare_for_update(&mut update, &ns);
    assert_eq!(update["spec"], json!({"finalizers": ["kubernetes"]}));
    assert_eq!(
        update["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team-a"
    );

    let bad = json!({"metadata": {"name": "x"}, "spec": {"finalizers": ["custom"]}});
    assert_eq!(
        messages(&s.validate(&bad, None, WriteKind::Create)),
        [
            "spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"
        ]
    );
}

#[test]
fn pod_defaults_match_upstream() {
    let p = create(
        &Pods,
        pod(json!({"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]})),
    );
    assert_eq!(
        p["spec"],
        json!({
            "containers": [{
                "image": "nginx", "imagePullPolicy": "Always", "name": "c",
                "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            }],
            "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "securityContext": {}, "terminationGracePeriodSeconds": 30,
        })
    );
    assert_eq!(p["status"], json!({"phase": "Pending", "qosClass": "BestEffort"}));
    assert!(Pods.validate(&p, None, WriteKind::Create).is_empty());
}

#[test]
fn pod_volume_and_probe_defaults() {
    let p = create(
        &Pods,
        pod(json!({
            "volumes": [{"name": "a"}, {"name": "b", "secret": {"secretName": "s"}}, {"name": "h", "hostPath": {"path": "/x"}}],
            "containers": [{"name": "c", "image": "x:1",
                "readinessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
        })),
    );
    assert_eq!(p["spec"]["volumes"][0]["emptyDir"], json!({}));
    assert_eq!(p["spec"]["volumes"][1]["secret"]["defaultMode"], 420);
    assert_eq!(p["spec"]["volumes"][2]["hostPath"]["type"], "");
    let c = &p["spec"]["containers"][0];
    assert_eq!(
        c["readinessProbe"],
        json!({"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10,
               "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");

    let sa = create(
        &Pods,
        pod(json!({"serviceAccount": "robot", "containers": [{"name": "c", "image": "i"}]})),
    );
    assert_eq!(sa["spec"]["serviceAccountName"], "robot");
    assert_eq!(sa["spec"]["serviceAccount"], "robot");
}

#[test]
fn image_pull_policies() {
    for (image, policy) in [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("docker.io/library/nginx:1.25", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("registry:5000/app:v2", "IfNotPresent"),
        (
            "nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
            "IfNotPresent",
        ),
        (
            "nginx:latest@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
            "Always",
        ),
        ("Nginx", "IfNotPresent"),
        ("", "IfNotPresent"),
    ] {
        assert_eq!(image_pull_policy(image), policy, "{image}");
    }
}

#[test]
fn pod_qos_classes() {
    let qos = |resources: Value| {
        create(
            &Pods,
            pod(json!({"containers": [{"name": "c", "image": "i", "resources": resources}]})),
        )["status"]["qosClass"]
            .clone()
    };
    assert_eq!(qos(json!({})), "BestEffort");
    assert_eq!(qos(json!({"requests": {"cpu": "100m"}})), "Burstable");
    assert_eq!(
        qos(json!({"limits": {"cpu": "1", "memory": "1Gi"}})),
        "Guaranteed"
    );
    assert_eq!(
        qos(json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}})),
        "Guaranteed"
    );
    assert_eq!(
        qos(json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}})),
        "Burstable"
    );
    assert_eq!(qos(json!({"requests": {"cpu": "0"}})), "BestEffort");
}

#[test]
fn pod_validation_messages() {
    let v = |spec: Value| {
        let p = create(&Pods, pod(spec));
        messages(&Pods.validate(&p, None, WriteKind::Create))
    };
    assert_eq!(v(json!({})), ["spec.containers: Required value"]);
    assert_eq!(
        v(json!({"containers": "nope"})),
        ["spec.containers: Required value"]
    );
    assert_eq!(
        v(json!({"containers": [{"name": "c", "image": "i"}, {"name": "c"}]})),
        [
            "spec.containers[1].image: Required value",
            "spec.containers[1].name: Duplicate value: \"c\""
        ]
    );
    assert_eq!(
        v(
            json!({"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 70000, "protocol": "XTP"}]}]})
        ),
        [
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[0].protocol: Unsupported value: \"XTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        ]
    );
    assert_eq!(
        v(json!({"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "i"}]})),
        [
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        ]
    );
    let bad_name = v(json!({"containers": [{"name": "C_1", "image": "i"}]}));
    assert_eq!(bad_name.len(), 1);
    assert!(
        bad_name[0]
            .starts_with("spec.containers[0].name: Invalid value: \"C_1\": a lowercase RFC 1123 label")
    );
    assert_eq!(
        v(
            json!({"containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "v", "mountPath": "/d"}]}]})
        ),
        ["spec.containers[0].volumeMounts[0].name: Not found: \"v\""]
    );
}

#[test]
fn pod_updates_are_restricted() {
    let old = create(
        &Pods,
        pod(json!({"containers": [{"name": "c", "image": "nginx:1"}]})),
    );
    let mut new = old.clone();
    new["spec"]["containers"][0]["image"] = json!("nginx:2");
    new["metadata"]["labels"] = json!({"a": "b"});
    assert!(Pods.validate(&new, Some(&old), WriteKind::Update).is_empty());

    new["spec"]["restartPolicy"] = json!("Never");
    let errs = messages(&Pods.validate(&new, Some(&old), WriteKind::Update));
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"
    ));
    assert!(errs[0].contains("RestartPolicy"));

    let mut more = old.clone();
    more["spec"]["containers"] = json!([{"name": "c", "image": "i"}, {"name": "d", "image": "i"}]);
    Pods.default(&mut more);
    assert_eq!(
        messages(&Pods.validate(&more, Some(&old), WriteKind::Update)),
        ["spec.containers: Forbidden: pod updates may not add or remove containers"]
    );
}

#[test]
fn pod_graceful_deletion() {
    let mut p = create(&Pods, pod(json!({"containers": [{"name": "c", "image": "i"}]})));
    assert_eq!(pod_grace_period(&p, None), None, "unscheduled pods go at once");
    p["spec"]["nodeName"] = json!("node-1");
    assert_eq!(pod_grace_period(&p, None), Some(30));
    assert_eq!(pod_grace_period(&p, Some(5)), Some(5));
    assert_eq!(pod_grace_period(&p, Some(0)), None);
    assert_eq!(pod_grace_period(&p, Some(-3)), Some(1));
    p["status"]["phase"] = json!("Succeeded");
    assert_eq!(Pods.graceful_delete_seconds(&p, None), None);
}

#[test]
fn secrets() {
    let s = Secrets;
    let secret = create(
        &s,
        json!({"metadata": {"name": "s"}, "data": {"a": "YWJj\nZA=="}, "stringData": {"b": "hi", "a": "x"}}),
    );
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"], json!({"a": "eA==", "b": "aGk="}));
    assert!(secret.get("stringData").is_none());
    assert!(s.validate(&secret, None, WriteKind::Create).is_empty());

    assert_eq!(
        s.decode_error(&json!({"data": {"k": "abc"}})).as_deref(),
        Some("illegal base64 data at input byte 0")
    );
    assert_eq!(
        s.decode_error(&json!({"data": {"k": "ab!d"}})).as_deref(),
        Some("illegal base64 data at input byte 2")
    );
    assert_eq!(
        s.decode_error(&json!({"stringData": {"k": 1}})).as_deref(),
        Some("json: cannot unmarshal number into Go struct field Secret.stringData of type string")
    );
    assert_eq!(
        messages(&s.validate(
            &json!({"type": "kubernetes.io/tls", "data": {"bad key": ""}}),
            None,
            WriteKind::Create
        )),
        [
            "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "data[tls.crt]: Required value",
            "data[tls.key]: Required value",
        ]
    );
    let old = json!({"type": "Opaque", "immutable": true, "data": {"a": "eA=="}});
    let new = json!({"type": "other", "data": {"a": "eQ=="}});
    assert_eq!(
        messages(&s.validate(&new, Some(&old), WriteKind::Update)),
        [
            "type: Invalid value: \"other\": field is immutable",
            "immutable: Forbidden: field is immutable when `immutable` is set",
            "data: Forbidden: field is immutable when `immutable` is set",
        ]
    );
}

#[test]
fn configmaps() {
    let c = ConfigMaps;
    let cm = json!({"data": {"a": "1", "..x": "2"}, "binaryData": {"a": "AA=="}});
    let msgs = messages(&c.validate(&cm, None, WriteKind::Create));
    assert_eq!(
        msgs,
        [
            "data[..x]: Invalid value: \"..x\": must not start with '..'",
            "data[a]: Invalid value: \"a\": duplicate of key present in binaryData",
        ]
    );
    assert_eq!(
        c.decode_error(&json!({"binaryData": {"k": "A"}})).as_deref(),
        Some("illegal base64 data at input byte 0")
    );
    let old = json!({"immutable": true, "data": {"a": "1"}});
    assert!(
        c.validate(
            &json!({"immutable": true, "data": {"a": "1"}}),
            Some(&old),
            WriteKind::Update
        )
        .is_empty()
    );
}

#[test]
fn go_base64() {
    assert_eq!(go_base64_decode("").unwrap(), b"");
    assert_eq!(go_base64_decode("aGVsbG8=").unwrap(), b"hello");
    assert_eq!(go_base64_decode("aGVs\r\nbG8=\n").unwrap(), b"hello");
    assert_eq!(
        go_base64_decode("aGVsbG8").unwrap_err(),
        "illegal base64 data at input byte 4"
    );
    assert_eq!(
        go_base64_decode("aGVsbG8=x").unwrap_err(),
        "illegal base64 data at input byte 8"
    );
    assert_eq!(
        go_base64_decode("aG=").unwrap_err(),
        "illegal base64 data at input byte 3"
    );
    assert_eq!(
        go_base64_decode("a===").unwrap_err(),
        "illegal base64 data at input byte 1"
    );
}

#[test]
fn selectors_match_labels() {
    let labels = json!({"app": "web", "tier": "fe"});
    assert_eq!(
        selector_matches(&json!({"matchLabels": {"app": "web"}}), &labels),
        Some(true)
    );
    assert_eq!(selector_matches(&json!({}), &labels), Some(true));
    assert_eq!(selector_matches(&Value::Null, &labels), Some(false));
    let expr = json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}]});
    assert_eq!(selector_matches(&expr, &labels), Some(true));
    let bad = json!({"matchExpressions": [{"key": "tier", "operator": "Near"}]});
    assert_eq!(selector_matches(&bad, &labels), None);
}
