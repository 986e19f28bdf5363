use serde_json::{Value, json};

use super::{ago, cells, cv, names};

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "nginx", "image": "nginx:1.25"}, {"name": "sidecar", "image": "envoy:1.30"}]}})
}

#[test]
fn deployment() {
    assert_eq!(
        names("apps", "Deployment"),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers*",
            "Images*",
            "Selector*"
        ]
    );
    let d = json!({"metadata": {"name": "web", "creationTimestamp": ago(3 * 60 + 5)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]}, {"key": "canary", "operator": "DoesNotExist"}]},
            "template": template()},
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
    assert_eq!(
        cells("apps", "Deployment", &d),
        json!([
            "web",
            "2/3",
            3,
            2,
            "3m5s",
            "nginx,sidecar",
            "nginx:1.25,envoy:1.30",
            "app=web,!canary,tier in (be,fe)"
        ])
    );
    let fresh = json!({"metadata": {"name": "new"}, "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}});
    assert_eq!(
        cells("apps", "Deployment", &fresh),
        json!(["new", "0/1", 0, 0, "<unknown>", "", "", "<invalid>"])
    );
}

#[test]
fn replica_set() {
    assert_eq!(
        names("apps", "ReplicaSet"),
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
    let rs = json!({"metadata": {"name": "web-5d4f", "creationTimestamp": ago(9 * 3600)},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f"}}, "template": template()},
        "status": {"replicas": 2, "readyReplicas": 1}});
    assert_eq!(
        cells("apps", "ReplicaSet", &rs),
        json!([
            "web-5d4f",
            2,
            2,
            1,
            "9h",
            "nginx,sidecar",
            "nginx:1.25,envoy:1.30",
            "app=web,pod-template-hash=5d4f"
        ])
    );
    let empty_sel = json!({"metadata": {"name": "x"}, "spec": {"replicas": 0, "selector": {}}});
    assert_eq!(
        cv("apps", "ReplicaSet", &empty_sel)[1..],
        [
            json!(0),
            json!(0),
            json!(0),
            json!("<unknown>"),
            json!(""),
            json!(""),
            json!("<none>")
        ]
    );
}

#[test]
fn stateful_set() {
    assert_eq!(
        names("apps", "StatefulSet"),
        ["Name", "Ready", "Age", "Containers*", "Images*"]
    );
    let ss = json!({"metadata": {"name": "db", "creationTimestamp": ago(7 * 3600 + 30 * 60)},
        "spec": {"replicas": 3, "template": template()}, "status": {"readyReplicas": 1}});
    assert_eq!(
        cells("apps", "StatefulSet", &ss),
        json!(["db", "1/3", "7h30m", "nginx,sidecar", "nginx:1.25,envoy:1.30"])
    );
}

#[test]
fn daemon_set() {
    assert_eq!(
        names("apps", "DaemonSet"),
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Up-to-date",
            "Available",
            "Node Selector",
            "Age",
            "Containers*",
            "Images*",
            "Selector*"
        ]
    );
    let ds = json!({"metadata": {"name": "kube-proxy", "creationTimestamp": ago(50 * 3600)},
        "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "kube-proxy", "image": "kp:v1.33"}]}}},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 3, "updatedNumberScheduled": 2, "numberAvailable": 3}});
    assert_eq!(
        cells("apps", "DaemonSet", &ds),
        json!([
            "kube-proxy",
            3,
            3,
            3,
            2,
            3,
            "kubernetes.io/os=linux",
            "2d2h",
            "kube-proxy",
            "kp:v1.33",
            "k8s-app=kube-proxy"
        ])
    );
}

#[test]
fn controller_revision() {
    assert_eq!(
        names("apps", "ControllerRevision"),
        ["Name", "Controller", "Revision", "Age"]
    );
    let cr = json!({"metadata": {"name": "db-7b9", "creationTimestamp": ago(60),
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true}]}, "revision": 2});
    assert_eq!(
        cells("apps", "ControllerRevision", &cr),
        json!(["db-7b9", "statefulset.apps/db", 2, "60s"])
    );
    let orphan = json!({"metadata": {"name": "o"}, "revision": 1});
    assert_eq!(cells("apps", "ControllerRevision", &orphan)[1], "<none>");
    let core_owner = json!({"metadata": {"name": "o", "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true}]}});
    assert_eq!(cells("apps", "ControllerRevision", &core_owner)[1], "pod/p");
}

#[test]
fn job() {
    assert_eq!(
        names("batch", "Job"),
        [
            "Name",
            "Status",
            "Completions",
            "Duration",
            "Age",
            "Containers*",
            "Images*",
            "Selector*"
        ]
    );
    let done = json!({"metadata": {"name": "pi", "creationTimestamp": ago(400)},
        "spec": {"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}}},
        "status": {"succeeded": 1, "startTime": ago(400), "completionTime": ago(340),
            "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}});
    assert_eq!(
        cells("batch", "Job", &done),
        json!([
            "pi",
            "Complete",
            "1/1",
            "60s",
            "6m40s",
            "pi",
            "perl:5.34",
            "batch.kubernetes.io/controller-uid=u1"
        ])
    );
    let running = json!({"metadata": {"name": "r", "creationTimestamp": ago(30)},
        "spec": {"parallelism": 3}, "status": {"active": 3, "startTime": ago(25)}});
    assert_eq!(
        cv("batch", "Job", &running)[1..5],
        [json!("Running"), json!("0/1 of 3"), json!("25s"), json!("30s")]
    );
    let failed = json!({"metadata": {"name": "f"}, "spec": {"completions": 5},
        "status": {"failed": 6, "conditions": [{"type": "Failed", "status": "True"}]}});
    assert_eq!(
        cv("batch", "Job", &failed)[1..4],
        [json!("Failed"), json!("0/5"), json!("")]
    );
    let suspended = json!({"metadata": {"name": "s"}, "status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
    assert_eq!(
        cv("batch", "Job", &suspended)[1..3],
        [json!("Suspended"), json!("0/1")]
    );
    let mut deleting = suspended.clone();
    deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(cells("batch", "Job", &deleting)[1], "Terminating");
    let ft = json!({"metadata": {"name": "t"}, "status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}});
    assert_eq!(cells("batch", "Job", &ft)[1], "FailureTarget");
}

#[test]
fn cron_job() {
    assert_eq!(
        names("batch", "CronJob"),
        [
            "Name",
            "Schedule",
            "Timezone",
            "Suspend",
            "Active",
            "Last Schedule",
            "Age",
            "Containers*",
            "Images*",
            "Selector*"
        ]
    );
    let cj = json!({"metadata": {"name": "hello", "creationTimestamp": ago(3600)},
        "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "suspend": false,
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}}},
        "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": ago(100)}});
    assert_eq!(
        cells("batch", "CronJob", &cj),
        json!([
            "hello",
            "*/5 * * * *",
            "Etc/UTC",
            "False",
            1,
            "100s",
            "60m",
            "hello",
            "busybox",
            "<none>"
        ])
    );
    let bare = json!({"metadata": {"name": "b"}, "spec": {"schedule": "@daily"}});
    assert_eq!(
        cv("batch", "CronJob", &bare)[2..6],
        [json!("<none>"), json!("<unset>"), json!(0), json!("<none>")]
    );
}
