use serde_json::json;

use super::{ago, cells, cv, names};

#[test]
fn events_k8s_io_event() {
    assert_eq!(names("events.k8s.io", "Event"), names("", "Event"));
    let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "web.1"},
        "eventTime": "2023-12-31T23:50:00.000000Z", "reportingController": "default-scheduler",
        "reportingInstance": "sched-1", "action": "Binding", "reason": "Scheduled", "type": "Normal",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "web"}, "note": "Successfully assigned default/web to node1"});
    assert_eq!(
        cells("events.k8s.io", "Event", &ev),
        json!([
            "10m",
            "Normal",
            "Scheduled",
            "pod/web",
            "",
            "default-scheduler, sched-1",
            "Successfully assigned default/web to node1",
            "10m",
            1,
            "web.1"
        ])
    );
    let legacy = json!({"metadata": {"name": "x"}, "regarding": {"kind": "Node", "name": "n1"},
        "deprecatedSource": {"component": "kubelet"}, "deprecatedFirstTimestamp": ago(300),
        "deprecatedLastTimestamp": ago(60), "deprecatedCount": 3, "note": "m"});
    assert_eq!(
        cells("events.k8s.io", "Event", &legacy),
        json!(["60s", "", "", "node/n1", "", "kubelet", "m", "5m", 3, "x"])
    );
}

#[test]
fn ingress_and_ingress_class() {
    assert_eq!(
        names("networking.k8s.io", "Ingress"),
        ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    );
    let ing = json!({"metadata": {"name": "web", "creationTimestamp": ago(86400 * 8)},
        "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
            "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c.example.com"}, {"host": "d.example.com"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}});
    assert_eq!(
        cells("networking.k8s.io", "Ingress", &ing),
        json!([
            "web",
            "nginx",
            "a.example.com,b.example.com,c.example.com + 2 more...",
            "203.0.113.10",
            "80, 443",
            "8d"
        ])
    );
    let bare = json!({"metadata": {"name": "b"}, "spec": {"rules": [{"http": {}}]}});
    assert_eq!(
        cells("networking.k8s.io", "Ingress", &bare),
        json!(["b", "<none>", "*", "", "80", "<unknown>"])
    );

    assert_eq!(
        names("networking.k8s.io", "IngressClass"),
        ["Name", "Controller", "Parameters", "Age"]
    );
    let ic = json!({"metadata": {"name": "nginx", "creationTimestamp": ago(5)}, "spec": {"controller": "k8s.io/ingress-nginx",
        "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
    assert_eq!(
        cells("networking.k8s.io", "IngressClass", &ic),
        json!([
            "nginx",
            "k8s.io/ingress-nginx",
            "IngressParameters.k8s.example.com/p",
            "5s"
        ])
    );
}

#[test]
fn network_policy_and_endpoint_slice() {
    assert_eq!(
        names("networking.k8s.io", "NetworkPolicy"),
        ["Name", "Pod-Selector", "Age"]
    );
    let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
    assert_eq!(
        cells("networking.k8s.io", "NetworkPolicy", &np),
        json!(["deny", "<none>", "<unknown>"])
    );
    let np = json!({"metadata": {"name": "db"}, "spec": {"podSelector": {"matchLabels": {"role": "db"}}}});
    assert_eq!(cells("networking.k8s.io", "NetworkPolicy", &np)[1], "role=db");

    assert_eq!(
        names("discovery.k8s.io", "EndpointSlice"),
        ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    );
    let es = json!({"metadata": {"name": "web-abc", "creationTimestamp": ago(20)}, "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80}, {"name": "named"}, {}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]});
    assert_eq!(
        cells("discovery.k8s.io", "EndpointSlice", &es),
        json!([
            "web-abc",
            "IPv4",
            "80,named,*",
            "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...",
            "20s"
        ])
    );
    let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv6"});
    assert_eq!(
        cv("discovery.k8s.io", "EndpointSlice", &empty)[2..4],
        [json!("<unset>"), json!("<unset>")]
    );
}

#[test]
fn pod_disruption_budget() {
    assert_eq!(
        names("policy", "PodDisruptionBudget"),
        [
            "Name",
            "Min Available",
            "Max Unavailable",
            "Allowed Disruptions",
            "Age"
        ]
    );
    let pdb = json!({"metadata": {"name": "web", "creationTimestamp": ago(3)}, "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
    assert_eq!(
        cells("policy", "PodDisruptionBudget", &pdb),
        json!(["web", "2", "N/A", 1, "3s"])
    );
    let pct = json!({"metadata": {"name": "p"}, "spec": {"maxUnavailable": "25%"}});
    assert_eq!(
        cv("policy", "PodDisruptionBudget", &pct)[1..4],
        [json!("N/A"), json!("25%"), json!(0)]
    );
}

#[test]
fn rbac() {
    assert_eq!(names("rbac.authorization.k8s.io", "Role"), ["Name", "Created At"]);
    assert_eq!(
        names("rbac.authorization.k8s.io", "ClusterRole"),
        ["Name", "Created At"]
    );
    let role = json!({"metadata": {"name": "admin", "creationTimestamp": "2024-01-01T00:00:00+01:00"}});
    assert_eq!(
        cells("rbac.authorization.k8s.io", "ClusterRole", &role),
        json!(["admin", "2023-12-31T23:00:00Z"])
    );
    let created = &crate::table::columns("rbac.authorization.k8s.io", "Role")[1];
    assert_eq!((created.type_.as_str(), created.format.as_str()), ("date", ""));

    for kind in ["RoleBinding", "ClusterRoleBinding"] {
        assert_eq!(
            names("rbac.authorization.k8s.io", kind),
            ["Name", "Role", "Age", "Users*", "Groups*", "ServiceAccounts*"]
        );
    }
    let rb = json!({"metadata": {"name": "rb", "creationTimestamp": ago(100)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"}, {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "namespace": "ci", "name": "builder"}]});
    assert_eq!(
        cells("rbac.authorization.k8s.io", "RoleBinding", &rb),
        json!([
            "rb",
            "ClusterRole/view",
            "100s",
            "alice, bob",
            "devs",
            "ci/builder"
        ])
    );
}

#[test]
fn storage() {
    assert_eq!(
        names("storage.k8s.io", "StorageClass"),
        [
            "Name",
            "Provisioner",
            "ReclaimPolicy",
            "VolumeBindingMode",
            "AllowVolumeExpansion",
            "Age"
        ]
    );
    let sc = json!({"metadata": {"name": "standard", "creationTimestamp": ago(600),
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true});
    assert_eq!(
        cells("storage.k8s.io", "StorageClass", &sc),
        json!([
            "standard (default)",
            "rancher.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            true,
            "10m"
        ])
    );

    assert_eq!(
        names("storage.k8s.io", "CSIDriver"),
        [
            "Name",
            "AttachRequired",
            "PodInfoOnMount",
            "StorageCapacity",
            "TokenRequests",
            "RequiresRepublish",
            "Modes",
            "Age"
        ]
    );
    let drv = json!({"metadata": {"name": "csi.example.com"}, "spec": {"podInfoOnMount": true,
        "volumeLifecycleModes": ["Persistent", "Ephemeral"], "tokenRequests": [{"audience": "a"}, {"audience": "b"}]}});
    assert_eq!(
        cells("storage.k8s.io", "CSIDriver", &drv),
        json!([
            "csi.example.com",
            true,
            true,
            false,
            "a,b",
            false,
            "Persistent,Ephemeral",
            "<unknown>"
        ])
    );
    let bare = json!({"metadata": {"name": "d"}, "spec": {"attachRequired": false}});
    assert_eq!(
        cv("storage.k8s.io", "CSIDriver", &bare)[1..7],
        [
            json!(false),
            json!(false),
            json!(false),
            json!("<unset>"),
            json!(false),
            json!("<none>")
        ]
    );

    assert_eq!(names("storage.k8s.io", "CSINode"), ["Name", "Drivers", "Age"]);
    let node = json!({"metadata": {"name": "n1", "creationTimestamp": ago(1)}, "spec": {"drivers": [{"name": "a"}, {"name": "b"}]}});
    assert_eq!(cells("storage.k8s.io", "CSINode", &node), json!(["n1", 2, "1s"]));

    assert_eq!(
        names("storage.k8s.io", "VolumeAttachment"),
        ["Name", "Attacher", "PV", "Node", "Attached", "Age"]
    );
    assert_eq!(
        crate::table::columns("storage.k8s.io", "VolumeAttachment")[1].format,
        "name"
    );
    let va = json!({"metadata": {"name": "csi-123"}, "spec": {"attacher": "csi.example.com", "nodeName": "n1",
        "source": {"persistentVolumeName": "pv1"}}, "status": {"attached": true}});
    assert_eq!(
        cells("storage.k8s.io", "VolumeAttachment", &va),
        json!(["csi-123", "csi.example.com", "pv1", "n1", true, "<unknown>"])
    );

    let cap = json!({"metadata": {"name": "c"}, "storageClassName": "fast", "capacity": "2048Mi"});
    assert_eq!(
        cells("storage.k8s.io", "CSIStorageCapacity", &cap),
        json!(["c", "fast", "2Gi"])
    );
}

#[test]
fn priority_and_runtime_class_and_lease() {
    assert_eq!(
        names("scheduling.k8s.io", "PriorityClass"),
        ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
    );
    let pc = json!({"metadata": {"name": "system-node-critical", "creationTimestamp": ago(86400)},
        "value": 2000001000, "globalDefault": false, "preemptionPolicy": "PreemptLowerPriority"});
    assert_eq!(
        cells("scheduling.k8s.io", "PriorityClass", &pc),
        json!([
            "system-node-critical",
            2000001000,
            false,
            "24h",
            "PreemptLowerPriority"
        ])
    );
    assert_eq!(names("node.k8s.io", "RuntimeClass"), ["Name", "Handler", "Age"]);
    let rc = json!({"metadata": {"name": "gvisor", "creationTimestamp": ago(10)}, "handler": "runsc"});
    assert_eq!(
        cells("node.k8s.io", "RuntimeClass", &rc),
        json!(["gvisor", "runsc", "10s"])
    );
    assert_eq!(names("coordination.k8s.io", "Lease"), ["Name", "Holder", "Age"]);
    let lease = json!({"metadata": {"name": "kube-scheduler", "creationTimestamp": ago(500)},
        "spec": {"holderIdentity": "cp-1_4f3c", "leaseDurationSeconds": 15}});
    assert_eq!(
        cells("coordination.k8s.io", "Lease", &lease),
        json!(["kube-scheduler", "cp-1_4f3c", "8m20s"])
    );
    assert_eq!(
        cells(
            "coordination.k8s.io",
            "Lease",
            &json!({"metadata": {"name": "l"}})
        )[1],
        ""
    );
}

#[test]
fn certificate_signing_request() {
    assert_eq!(
        names("certificates.k8s.io", "CertificateSigningRequest"),
        [
            "Name",
            "Age",
            "SignerName",
            "Requestor",
            "RequestedDuration",
            "Condition"
        ]
    );
    let csr = json!({"metadata": {"name": "csr-x", "creationTimestamp": ago(42)},
        "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice", "expirationSeconds": 86400},
        "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}});
    assert_eq!(
        cells("certificates.k8s.io", "CertificateSigningRequest", &csr),
        json!([
            "csr-x",
            "42s",
            "kubernetes.io/kube-apiserver-client",
            "alice",
            "24h",
            "Approved,Issued"
        ])
    );
    let denied = json!({"metadata": {"name": "d"}, "spec": {}, "status": {"conditions": [
        {"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}, {"type": "Failed", "status": "True"}]}});
    assert_eq!(
        cv("certificates.k8s.io", "CertificateSigningRequest", &denied)[2..6],
        [
            json!("<none>"),
            json!(""),
            json!("<none>"),
            json!("Denied,Failed")
        ]
    );
    let pending = json!({"metadata": {"name": "p"}});
    assert_eq!(
        cells("certificates.k8s.io", "CertificateSigningRequest", &pending)[5],
        "Pending"
    );
}

#[test]
fn webhooks_and_policies() {
    for kind in ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"] {
        assert_eq!(
            names("admissionregistration.k8s.io", kind),
            ["Name", "Webhooks", "Age"]
        );
        let wh = json!({"metadata": {"name": "w", "creationTimestamp": ago(119)}, "webhooks": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(
            cells("admissionregistration.k8s.io", kind, &wh),
            json!(["w", 2, "119s"])
        );
    }
    let vap = json!({"metadata": {"name": "v"}, "spec": {"validations": [{"expression": "true"}],
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}}});
    assert_eq!(
        cells("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", &vap),
        json!(["v", 1, "v1/ConfigMap", "<unknown>"])
    );
    let b = json!({"metadata": {"name": "b"}, "spec": {"policyName": "v", "paramRef": {"name": "cfg"}}});
    assert_eq!(
        cv(
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding",
            &b
        )[1..3],
        [json!("v"), json!("*/cfg")]
    );
    let s = json!({"metadata": {"name": "b"}, "spec": {"policyName": "v", "paramRef": {"selector": {"matchLabels": {"a": "b"}}}}});
    assert_eq!(
        cells(
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding",
            &s
        )[2],
        "&LabelSelector{MatchLabels:map[string]string{a: b,},MatchExpressions:[]LabelSelectorRequirement{},}"
    );
}

#[test]
fn horizontal_pod_autoscaler_v2_and_v1() {
    assert_eq!(
        names("autoscaling", "HorizontalPodAutoscaler"),
        [
            "Name",
            "Reference",
            "Targets",
            "MinPods",
            "MaxPods",
            "Replicas",
            "Age"
        ]
    );
    let v2 = json!({"apiVersion": "autoscaling/v2", "metadata": {"name": "web", "creationTimestamp": ago(3600 * 5)},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}]},
        "status": {"currentReplicas": 3, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45, "averageValue": "150m"}}}]}});
    assert_eq!(
        cells("autoscaling", "HorizontalPodAutoscaler", &v2),
        json!([
            "web",
            "Deployment/web",
            "cpu: 45%/80%, memory: <unknown>/512Mi + 1 more...",
            "2",
            10,
            3,
            "5h"
        ])
    );
    let v1 = json!({"apiVersion": "autoscaling/v1", "metadata": {"name": "old"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "old"}, "maxReplicas": 4, "targetCPUUtilizationPercentage": 50},
        "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 12}});
    assert_eq!(
        cells("autoscaling", "HorizontalPodAutoscaler", &v1),
        json!([
            "old",
            "Deployment/old",
            "cpu: 12%/50%",
            "<unset>",
            4,
            1,
            "<unknown>"
        ])
    );
    let none = json!({"apiVersion": "autoscaling/v1", "metadata": {"name": "n"}, "spec": {"maxReplicas": 1}});
    assert_eq!(
        cv("autoscaling", "HorizontalPodAutoscaler", &none)[1..3],
        [json!("/"), json!("<none>")]
    );
    let ext = json!({"metadata": {"name": "e"}, "spec": {"metrics": [
        {"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "100"}}},
        {"type": "Object", "object": {"target": {"type": "AverageValue", "averageValue": "2"}}}]},
        "status": {"currentMetrics": [{"type": "External", "external": {"current": {"value": "50"}}}]}});
    assert_eq!(
        cells("autoscaling", "HorizontalPodAutoscaler", &ext)[2],
        "50/100, <unknown>/2 (avg)"
    );
}

#[test]
fn flow_control_sorting_and_cells() {
    let fs = |name: &str, prec: i64| {
        json!({"metadata": {"name": name}, "spec": {"matchingPrecedence": prec,
        "priorityLevelConfiguration": {"name": "workload-low"}, "distinguisherMethod": {"type": "ByUser"}},
        "status": {"conditions": [{"type": "Dangling", "status": "False"}]}})
    };
    let t = crate::table::table(
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        &[fs("b", 100), fs("z", 10), fs("a", 100)],
        crate::table::IncludeObject::None,
        &json!({}),
        super::NOW,
    );
    let order: Vec<&str> = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cells"][0].as_str().unwrap())
        .collect();
    assert_eq!(order, ["z", "a", "b"]);
    assert_eq!(
        t["rows"][0]["cells"],
        json!(["z", "workload-low", 10, "ByUser", "<unknown>", "False"])
    );
    let plc = json!({"metadata": {"name": "exempt"}, "spec": {"type": "Exempt"}});
    assert_eq!(
        cells("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", &plc),
        json!([
            "exempt",
            "Exempt",
            "<none>",
            "<none>",
            "<none>",
            "<none>",
            "<unknown>"
        ])
    );
    let limited = json!({"metadata": {"name": "l"}, "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 30,
        "limitResponse": {"type": "Queue", "queuing": {"queues": 64, "handSize": 6, "queueLengthLimit": 50}}}}});
    assert_eq!(
        cv(
            "flowcontrol.apiserver.k8s.io",
            "PriorityLevelConfiguration",
            &limited
        )[2..6],
        [json!(30), json!(64), json!(6), json!(50)]
    );
}

#[test]
fn crd_object_uses_default_columns() {
    assert_eq!(
        names("apiextensions.k8s.io", "CustomResourceDefinition"),
        ["Name", "Created At"]
    );
    let crd = json!({"metadata": {"name": "widgets.example.com", "creationTimestamp": ago(10)}});
    assert_eq!(
        cells("apiextensions.k8s.io", "CustomResourceDefinition", &crd),
        json!(["widgets.example.com", "2023-12-31T23:59:50Z"])
    );
    assert_eq!(
        cells("example.com", "Unknown", &json!({}))[1],
        "0001-01-01T00:00:00Z"
    );
}
