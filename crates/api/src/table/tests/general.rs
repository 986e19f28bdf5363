use serde_json::{Value, json};

use super::{NOW, ago};
use crate::table::quantity::canonicalize;
use crate::table::time::{Time, format_rfc3339, parse_rfc3339};
use crate::table::{
    IncludeObject, TableOptions, columns, human_duration, human_duration_nanos, row,
    short_human_duration_nanos, table, table_with_options,
};

const S: i64 = 1_000_000_000;

#[test]
fn human_duration_thresholds() {
    let cases = [
        (-3, "<invalid>"),
        (-2, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (123, "2m3s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (7 * 3600 + 59 * 60, "7h59m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (50 * 3600, "2d2h"),
        (7 * 86400 + 23 * 3600, "7d23h"),
        (8 * 86400, "8d"),
        (45 * 86400, "45d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (731 * 86400, "2y1d"),
        (8 * 365 * 86400 - 86400, "7y364d"),
        (8 * 365 * 86400, "8y"),
        (100 * 365 * 86400, "100y"),
    ];
    for (secs, want) in cases {
        assert_eq!(human_duration(secs), want, "{secs}s");
    }
    // Sub-second precision: Go truncates toward zero.
    assert_eq!(human_duration_nanos(-S - S / 2), "0s");
    assert_eq!(human_duration_nanos(-2 * S), "<invalid>");
    assert_eq!(human_duration_nanos(119 * S + S - 1), "119s");
    assert_eq!(human_duration_nanos(i64::MAX), "292y");
}

#[test]
fn short_human_duration_thresholds() {
    let cases = [
        (-2, "<invalid>"),
        (-1, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3600, "1h"),
        (86399, "23h"),
        (86400, "1d"),
        (364 * 86400, "364d"),
        (365 * 86400, "1y"),
    ];
    for (secs, want) in cases {
        assert_eq!(short_human_duration_nanos(secs * S), want, "{secs}s");
    }
}

#[test]
fn rfc3339_parse_and_format() {
    assert_eq!(
        parse_rfc3339("1970-01-01T00:00:00Z"),
        Some(Time { secs: 0, nanos: 0 })
    );
    assert_eq!(parse_rfc3339("2024-01-01T00:00:00Z"), Some(Time::from_unix(NOW)));
    assert_eq!(
        parse_rfc3339("2024-02-29T12:00:00.5+02:00"),
        Some(Time {
            secs: 1_709_200_800,
            nanos: 500_000_000
        })
    );
    assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Some(Time::ZERO));
    for bad in [
        "",
        "2024-01-01",
        "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00.Z",
        "2024-01-01 00:00:00Z",
        "２０２４-01-01T00:00:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
    assert_eq!(format_rfc3339(Time::from_unix(NOW)), "2024-01-01T00:00:00Z");
    assert_eq!(format_rfc3339(Time::ZERO), "0001-01-01T00:00:00Z");
    assert_eq!(
        format_rfc3339(Time {
            secs: 951_782_400 + 86399,
            nanos: 9
        }),
        "2000-02-29T23:59:59Z"
    );
    assert_eq!(ago(59), "2023-12-31T23:59:01Z");
}

#[test]
fn age_cells() {
    let obj = |ts: Value| json!({"metadata": {"name": "n", "creationTimestamp": ts}});
    let age = |o: &Value| row("", "Namespace", o, NOW)[2].clone();
    assert_eq!(age(&obj(json!(ago(0)))), "0s");
    assert_eq!(age(&obj(json!("2024-01-01T00:00:01Z"))), "0s");
    assert_eq!(age(&obj(json!("2024-01-01T00:00:02Z"))), "<invalid>");
    assert_eq!(age(&obj(Value::Null)), "<unknown>");
    assert_eq!(age(&obj(json!("not a time"))), "<unknown>");
    assert_eq!(age(&obj(json!("0001-01-01T00:00:00Z"))), "<unknown>");
    assert_eq!(age(&obj(json!("1000-01-01T00:00:00Z"))), "292y");
}

#[test]
fn quantities_are_canonical() {
    let cases = [
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1000Mi", "1000Mi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("512Ki", "512Ki"),
        ("1536", "1536"),
        ("2000", "2k"),
        ("1500", "1500"),
        ("1.5", "1500m"),
        ("0.5", "500m"),
        ("100m", "100m"),
        ("1000m", "1"),
        ("0", "0"),
        ("0Gi", "0"),
        ("1e3", "1e3"),
        ("1E6", "1e6"),
        ("1.5e3", "1500"),
        ("10G", "10G"),
        ("1000000k", "1G"),
        ("0.1n", "1n"),
        ("-1500m", "-1500m"),
        ("+5", "5"),
        ("5Mi", "5Mi"),
        ("1.001Gi", "1074815565824m"),
        ("0.3Ki", "307200m"),
        ("12Ti", "12Ti"),
        ("bogus", "bogus"),
        ("5Zi", "5Zi"),
        ("", "0"),
    ];
    for (input, want) in cases {
        assert_eq!(canonicalize(input), want, "{input}");
    }
}

#[test]
fn include_object_parsing() {
    assert_eq!(IncludeObject::parse(None), Ok(IncludeObject::Metadata));
    assert_eq!(IncludeObject::parse(Some("")), Ok(IncludeObject::Metadata));
    assert_eq!(
        IncludeObject::parse(Some("Metadata")),
        Ok(IncludeObject::Metadata)
    );
    assert_eq!(IncludeObject::parse(Some("None")), Ok(IncludeObject::None));
    assert_eq!(IncludeObject::parse(Some("Object")), Ok(IncludeObject::Object));
    assert_eq!(
        IncludeObject::parse(Some("all")),
        Err("unrecognized includeObject value: \"all\"".to_string())
    );
}

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "kube-system",
        "labels": {"a": "b"}, "resourceVersion": "12", "creationTimestamp": ago(30)}, "data": {"k": "v"}})
}

#[test]
fn table_metadata_mode() {
    let t = table(
        "",
        "ConfigMap",
        &[config_map()],
        IncludeObject::Metadata,
        &json!({"resourceVersion": "1008", "continue": "tok", "remainingItemCount": 3}),
        NOW,
    );
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(
        t["metadata"],
        json!({"resourceVersion": "1008", "continue": "tok", "remainingItemCount": 3})
    );
    assert_eq!(
        t["columnDefinitions"][0],
        json!({"name": "Name", "type": "string", "format": "name",
        "description": crate::table::util::NAME_DESC, "priority": 0})
    );
    assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 3);
    assert_eq!(t["rows"][0]["cells"], json!(["cfg", 1, "30s"]));
    assert_eq!(
        t["rows"][0]["object"],
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
        "metadata": config_map()["metadata"]})
    );
    assert!(t["rows"][0].get("conditions").is_none());
}

#[test]
fn table_object_none_and_no_headers() {
    let obj = config_map();
    let t = table(
        "",
        "ConfigMap",
        std::slice::from_ref(&obj),
        IncludeObject::Object,
        &json!({}),
        NOW,
    );
    assert_eq!(t["rows"][0]["object"], obj);
    assert_eq!(t["metadata"], json!({}));
    let t = table(
        "",
        "ConfigMap",
        std::slice::from_ref(&obj),
        IncludeObject::None,
        &json!({"resourceVersion": ""}),
        NOW,
    );
    assert!(t["rows"][0].get("object").is_none());
    assert_eq!(t["metadata"], json!({}));
    let opts = TableOptions {
        include_object: IncludeObject::Metadata,
        no_headers: true,
    };
    let t = table_with_options("", "ConfigMap", &[obj], opts, &json!({}), NOW);
    assert_eq!(t["columnDefinitions"], Value::Null);
    let empty = table(
        "apps",
        "Deployment",
        &[],
        IncludeObject::Metadata,
        &json!({"resourceVersion": "5"}),
        NOW,
    );
    assert_eq!(empty["rows"], json!([]));
}

#[test]
fn finished_pod_row_has_completed_condition() {
    let pod = json!({"metadata": {"name": "p"}, "status": {"phase": "Failed"}});
    let t = table("", "Pod", &[pod], IncludeObject::Metadata, &json!({}), NOW);
    assert_eq!(t["rows"][0]["conditions"][0]["type"], "Completed");
    assert_eq!(t["rows"][0]["object"]["metadata"], json!({"name": "p"}));
}

const KINDS: &[(&str, &str)] = &[
    ("", "Pod"),
    ("", "PodTemplate"),
    ("", "ReplicationController"),
    ("", "Service"),
    ("", "Endpoints"),
    ("", "Node"),
    ("", "Namespace"),
    ("", "Secret"),
    ("", "ServiceAccount"),
    ("", "ConfigMap"),
    ("", "Event"),
    ("", "PersistentVolume"),
    ("", "PersistentVolumeClaim"),
    ("", "ResourceQuota"),
    ("", "LimitRange"),
    ("", "ComponentStatus"),
    ("", "Status"),
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ControllerRevision"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("coordination.k8s.io", "Lease"),
    ("coordination.k8s.io", "LeaseCandidate"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("events.k8s.io", "Event"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("policy", "PodDisruptionBudget"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "CSIStorageCapacity"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("autoscaling", "Scale"),
    ("node.k8s.io", "RuntimeClass"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("internal.apiserver.k8s.io", "StorageVersion"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "ResourceClaim"),
    ("resource.k8s.io", "ResourceClaimTemplate"),
    ("resource.k8s.io", "ResourceSlice"),
    ("storagemigration.k8s.io", "StorageVersionMigration"),
];

#[test]
fn every_row_matches_its_columns() {
    for (group, kind) in KINDS {
        let n = columns(group, kind).len();
        assert_eq!(row(group, kind, &json!({}), NOW).len(), n, "{group}/{kind}");
        assert_eq!(
            row(group, kind, &json!({"metadata": {"name": "x"}}), NOW).len(),
            n,
            "{group}/{kind}"
        );
    }
    // Upstream's IPAddress printer emits one cell more than its columns.
    assert_eq!(
        columns("networking.k8s.io", "IPAddress").len() + 1,
        row("networking.k8s.io", "IPAddress", &json!({}), NOW).len()
    );
}

/// Values of the wrong type everywhere: every printer must cope without panicking.
#[test]
fn hostile_objects_do_not_panic() {
    let weird = [
        json!(null),
        json!(42),
        json!("str"),
        json!([]),
        json!({"metadata": []}),
        json!({"metadata": {"name": 7, "creationTimestamp": 5, "deletionTimestamp": {}, "labels": [1],
            "annotations": "x", "ownerReferences": [{"controller": true, "apiVersion": "a/b/c"}]},
            "spec": {"replicas": "three", "selector": {"matchLabels": {"a": 1}, "matchExpressions": [{"operator": "In"}]},
                "ports": [{"port": "x", "nodePort": -1}], "type": 3, "metrics": [{"type": "Resource"}, {"type": "External"}, {}],
                "containers": [{"name": 1}], "capacity": {"storage": "1Zi"}, "completions": 1e300, "parallelism": -5},
            "status": {"conditions": [null, 3, {"type": "Ready"}], "hard": {"cpu": []}, "used": 4,
                "containerStatuses": [{"state": {"waiting": null, "terminated": {"signal": "x"}}}],
                "startTime": "2024-01-01T00:00:00Z", "completionTime": "1970-01-01T00:00:00Z"},
            "subsets": [{"addresses": [{}], "ports": [{}]}], "data": "x", "webhooks": {}, "subjects": [{}],
            "involvedObject": "pod", "series": {}, "count": -3, "value": 1.5e300}),
        json!({"status": {"initContainerStatuses": [{"restartCount": i64::MAX, "state": {"terminated": {"exitCode": 0}}}],
            "conditions": [{"type": "Initialized", "status": "True"}],
            "containerStatuses": [{"restartCount": i64::MAX}, {"restartCount": u64::MAX}, {"restartCount": -1e300}]}}),
        json!({"metadata": {"name": "y", "creationTimestamp": "9999-12-31T23:59:59Z"},
            "spec": {"replicas": u64::MAX, "minReplicas": i64::MIN}}),
    ];
    for (group, kind) in KINDS {
        for obj in &weird {
            let _ = row(group, kind, obj, NOW);
            let _ = row(group, kind, obj, i64::MIN);
            let _ = row(group, kind, obj, i64::MAX);
        }
        let _ = table(group, kind, &weird, IncludeObject::Object, &json!([]), NOW);
    }
}
