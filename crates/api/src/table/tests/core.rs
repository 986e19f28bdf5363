use serde_json::json;

use super::{ago, cells, cv, names};

#[test]
fn namespace() {
    assert_eq!(names("", "Namespace"), ["Name", "Status", "Age"]);
    let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": ago(3 * 86400)}, "status": {"phase": "Active"}});
    assert_eq!(
        cells("", "Namespace", &ns),
        json!(["kube-system", "Active", "3d"])
    );
}

#[test]
fn node() {
    assert_eq!(
        names("", "Node"),
        [
            "Name",
            "Status",
            "Roles",
            "Age",
            "Version",
            "Internal-IP*",
            "External-IP*",
            "OS-Image*",
            "Kernel-Version*",
            "Container-Runtime*"
        ]
    );
    let node = json!({
        "metadata": {"name": "cp-1", "creationTimestamp": ago(10 * 86400), "labels": {
            "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": "true",
            "kubernetes.io/role": "master", "kubernetes.io/hostname": "cp-1"}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "cp-1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Ubuntu 24.04 LTS", "kernelVersion": "6.8.0", "containerRuntimeVersion": "containerd://1.7.2"}
        }
    });
    assert_eq!(
        cells("", "Node", &node),
        json!([
            "cp-1",
            "Ready,SchedulingDisabled",
            "control-plane,etcd,master",
            "10d",
            "v1.33.1",
            "192.168.1.10",
            "<none>",
            "Ubuntu 24.04 LTS",
            "6.8.0",
            "containerd://1.7.2"
        ])
    );
    let bare = json!({"metadata": {"name": "w", "creationTimestamp": ago(61)},
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    assert_eq!(
        cells("", "Node", &bare),
        json!([
            "w",
            "NotReady",
            "<none>",
            "61s",
            "",
            "<none>",
            "<none>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ])
    );
    assert_eq!(cells("", "Node", &json!({}))[1], "Unknown");
}

#[test]
fn service() {
    assert_eq!(
        names("", "Service"),
        [
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector*"
        ]
    );
    let svc = json!({"metadata": {"name": "web", "creationTimestamp": ago(7200)},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            "selector": {"app": "web", "tier": "fe"}}});
    assert_eq!(
        cells("", "Service", &svc),
        json!([
            "web",
            "ClusterIP",
            "10.96.0.10",
            "<none>",
            "80/TCP,53/UDP",
            "120m",
            "app=web,tier=fe"
        ])
    );

    let np = json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort", "clusterIP": "None",
        "externalIPs": ["1.2.3.4"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
    assert_eq!(
        cells("", "Service", &np),
        json!([
            "np",
            "NodePort",
            "None",
            "1.2.3.4",
            "80:30080/TCP",
            "<unknown>",
            "<none>"
        ])
    );

    let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"},
        "status": {"loadBalancer": {"ingress": [{"hostname": "b.example.com"}, {"ip": "5.6.7.8"}, {"ip": "5.6.7.8"}]}}});
    assert_eq!(cells("", "Service", &lb)[3], "5.6.7.8,b.example.com");
    let pending = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer"}});
    assert_eq!(
        cv("", "Service", &pending)[2..5],
        [json!("<none>"), json!("<pending>"), json!("<none>")]
    );
    let en = json!({"metadata": {"name": "x"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}});
    assert_eq!(cells("", "Service", &en)[3], "db.example.com");
}

#[test]
fn endpoints() {
    assert_eq!(names("", "Endpoints"), ["Name", "Endpoints", "Age"]);
    let ep = json!({"metadata": {"name": "web", "creationTimestamp": ago(30)}, "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]});
    assert_eq!(
        cells("", "Endpoints", &ep),
        json!(["web", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...", "30s"])
    );
    let v6 = json!({"metadata": {"name": "v6"}, "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]}]});
    assert_eq!(cells("", "Endpoints", &v6)[1], "[fd00::1]:8080");
    let headless = json!({"metadata": {"name": "h"}, "subsets": [{"addresses": [{"ip": "10.0.0.9"}]}]});
    assert_eq!(cells("", "Endpoints", &headless)[1], "10.0.0.9");
    assert_eq!(
        cells("", "Endpoints", &json!({"metadata": {"name": "e"}}))[1],
        "<none>"
    );
}

#[test]
fn config_map_secret_service_account() {
    assert_eq!(names("", "ConfigMap"), ["Name", "Data", "Age"]);
    let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": ago(45 * 86400)},
        "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(cells("", "ConfigMap", &cm), json!(["cfg", 3, "45d"]));

    assert_eq!(names("", "Secret"), ["Name", "Type", "Data", "Age"]);
    let s = json!({"metadata": {"name": "tls", "creationTimestamp": ago(3 * 3600)}, "type": "kubernetes.io/tls",
        "data": {"tls.crt": "x", "tls.key": "y"}});
    assert_eq!(
        cells("", "Secret", &s),
        json!(["tls", "kubernetes.io/tls", 2, "3h"])
    );

    assert_eq!(names("", "ServiceAccount"), ["Name", "Secrets", "Age"]);
    let sa = json!({"metadata": {"name": "default", "creationTimestamp": ago(2 * 365 * 86400 + 86400)}});
    assert_eq!(cells("", "ServiceAccount", &sa), json!(["default", 0, "2y1d"]));
}

#[test]
fn event_core() {
    assert_eq!(
        names("", "Event"),
        [
            "Last Seen",
            "Type",
            "Reason",
            "Object",
            "Subobject*",
            "Source*",
            "Message",
            "First Seen*",
            "Count*",
            "Name*"
        ]
    );
    let cols = crate::table::columns("", "Event");
    assert_eq!(cols[9].format, "name");
    let ev = json!({"metadata": {"name": "web.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
        "reason": "Pulled", "message": "  Successfully pulled image\n", "type": "Normal",
        "source": {"component": "kubelet", "host": "node1"},
        "firstTimestamp": ago(600), "lastTimestamp": ago(90), "count": 4});
    assert_eq!(
        cells("", "Event", &ev),
        json!([
            "90s",
            "Normal",
            "Pulled",
            "pod/web",
            "spec.containers{app}",
            "kubelet, node1",
            "Successfully pulled image",
            "10m",
            4,
            "web.17a"
        ])
    );
    let new_style = json!({"metadata": {"name": "e2"}, "involvedObject": {"kind": "Node"},
        "eventTime": "2023-12-31T23:59:00.123456Z", "reportingComponent": "scheduler", "type": "Warning",
        "series": {"count": 7, "lastObservedTime": "2023-12-31T23:59:50.000000Z"}});
    assert_eq!(
        cells("", "Event", &new_style),
        json!(["10s", "Warning", "", "node", "", "scheduler", "", "59s", 7, "e2"])
    );
}

#[test]
fn persistent_volume() {
    assert_eq!(
        names("", "PersistentVolume"),
        [
            "Name",
            "Capacity",
            "Access Modes",
            "Reclaim Policy",
            "Status",
            "Claim",
            "StorageClass",
            "VolumeAttributesClass",
            "Reason",
            "Age",
            "VolumeMode*"
        ]
    );
    let pv = json!({"metadata": {"name": "pv1", "creationTimestamp": ago(86400)},
        "spec": {"capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard",
            "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
        "status": {"phase": "Bound"}});
    assert_eq!(
        cells("", "PersistentVolume", &pv),
        json!([
            "pv1",
            "1Gi",
            "RWO,RWX",
            "Delete",
            "Bound",
            "default/data",
            "standard",
            "<unset>",
            "",
            "24h",
            "Filesystem"
        ])
    );
    let mut deleting = pv.clone();
    deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
    deleting["metadata"]["annotations"] = json!({"volume.beta.kubernetes.io/storage-class": "old"});
    let c = cells("", "PersistentVolume", &deleting);
    assert_eq!((c[4].as_str(), c[6].as_str()), (Some("Terminating"), Some("old")));
}

#[test]
fn persistent_volume_claim() {
    assert_eq!(
        names("", "PersistentVolumeClaim"),
        [
            "Name",
            "Status",
            "Volume",
            "Capacity",
            "Access Modes",
            "StorageClass",
            "VolumeAttributesClass",
            "Age",
            "VolumeMode*"
        ]
    );
    let bound = json!({"metadata": {"name": "data", "creationTimestamp": ago(300)},
        "spec": {"volumeName": "pv1", "storageClassName": "standard", "resources": {"requests": {"storage": "1Gi"}},
            "volumeAttributesClassName": "gold", "volumeMode": "Block"},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}});
    assert_eq!(
        cells("", "PersistentVolumeClaim", &bound),
        json!([
            "data", "Bound", "pv1", "10Gi", "RWO", "standard", "gold", "5m", "Block"
        ])
    );
    let pending = json!({"metadata": {"name": "p"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}});
    assert_eq!(
        cells("", "PersistentVolumeClaim", &pending),
        json!(["p", "Pending", "", "", "", "", "<unset>", "<unknown>", "<unset>"])
    );
}

#[test]
fn resource_quota_and_limit_range() {
    assert_eq!(names("", "ResourceQuota"), ["Name", "Request", "Limit", "Age"]);
    let rq = json!({"metadata": {"name": "q", "creationTimestamp": ago(100)}, "status": {
        "hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "2Gi", "limits.cpu": "2000m"},
        "used": {"pods": "3", "requests.cpu": "500m", "limits.cpu": "1"}}});
    assert_eq!(
        cells("", "ResourceQuota", &rq),
        json!([
            "q",
            "pods: 3/10, requests.cpu: 500m/1",
            "limits.cpu: 1/2, limits.memory: 0/2Gi",
            "100s"
        ])
    );
    // LimitRange has no upstream printer: default columns.
    assert_eq!(names("", "LimitRange"), ["Name", "Created At"]);
    let lr = json!({"metadata": {"name": "lr", "creationTimestamp": "2023-05-06T07:08:09Z"}});
    assert_eq!(
        cells("", "LimitRange", &lr),
        json!(["lr", "2023-05-06T07:08:09Z"])
    );
}

#[test]
fn replication_controller_and_pod_template() {
    assert_eq!(
        names("", "ReplicationController"),
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Age",
            "Containers*",
            "Images*",
            "Selector*"
        ]
    );
    let rc = json!({"metadata": {"name": "rc", "creationTimestamp": ago(60)},
        "spec": {"replicas": 3, "selector": {"app": "x"}, "template": {"spec": {"containers": [
            {"name": "a", "image": "img:a"}, {"name": "b", "image": "img:b"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2}});
    assert_eq!(
        cells("", "ReplicationController", &rc),
        json!(["rc", 3, 3, 2, "60s", "a,b", "img:a,img:b", "app=x"])
    );

    assert_eq!(
        names("", "PodTemplate"),
        ["Name", "Containers", "Images", "Pod Labels"]
    );
    let pt = json!({"metadata": {"name": "pt"}, "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]}}});
    assert_eq!(cells("", "PodTemplate", &pt), json!(["pt", "c", "i", "a=1,b=2"]));
}

#[test]
fn status_and_component_status() {
    assert_eq!(names("", "Status"), ["Status", "Reason", "Message"]);
    let st = json!({"kind": "Status", "status": "Failure", "reason": "Expired", "message": "too old resource version"});
    assert_eq!(
        cells("", "Status", &st),
        json!(["Failure", "Expired", "too old resource version"])
    );
    let cs = json!({"metadata": {"name": "etcd-0"}, "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]});
    assert_eq!(
        cells("", "ComponentStatus", &cs),
        json!(["etcd-0", "Healthy", "ok", ""])
    );
}
