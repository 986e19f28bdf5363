use serde_json::{Value, json};

use super::{NOW, ago, cells, cv, names};

fn pod(spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(300)},
        "spec": spec,
        "status": status,
    })
}

fn one_container() -> Value {
    json!({"containers": [{"name": "app", "image": "nginx:1.25"}], "nodeName": "node1"})
}

/// (Ready, Status, Restarts) cells of a pod.
fn summary(p: &Value) -> (String, String, String) {
    let c = cells("", "Pod", p);
    let s = |i: usize| c[i].as_str().unwrap().to_string();
    (s(1), s(2), s(3))
}

#[test]
fn columns_match_upstream() {
    assert_eq!(
        names("", "Pod"),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP*",
            "Node*",
            "Nominated Node*",
            "Readiness Gates*"
        ]
    );
    let cols = crate::table::columns("", "Pod");
    assert_eq!(cols[0].format, "name");
    assert!(
        cols[1..]
            .iter()
            .all(|c| c.format.is_empty() && c.type_ == "string")
    );
}

#[test]
fn running() {
    let p = pod(
        one_container(),
        json!({
            "phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                "state": {"running": {"startedAt": ago(290)}}}],
        }),
    );
    assert_eq!(
        cells("", "Pod", &p),
        json!([
            "web", "1/1", "Running", "0", "5m", "10.0.0.5", "node1", "<none>", "<none>"
        ])
    );
    assert!(crate::table::row_conditions("", "Pod", &p).is_empty());
}

#[test]
fn pending_container_creating() {
    let p = pod(
        one_container(),
        json!({"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
    );
    assert_eq!(
        cells("", "Pod", &p),
        json!([
            "web",
            "0/1",
            "ContainerCreating",
            "0",
            "5m",
            "<none>",
            "node1",
            "<none>",
            "<none>"
        ])
    );
}

#[test]
fn pending_unscheduled_has_no_node() {
    let p = pod(
        json!({"containers": [{"name": "app"}]}),
        json!({"phase": "Pending"}),
    );
    assert_eq!(
        cells("", "Pod", &p),
        json!([
            "web", "0/1", "Pending", "0", "5m", "<none>", "<none>", "<none>", "<none>"
        ])
    );
}

#[test]
fn crash_loop_back_off_with_restarts() {
    let p = pod(
        one_container(),
        json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(300)}}}]}),
    );
    assert_eq!(
        summary(&p),
        ("0/1".into(), "CrashLoopBackOff".into(), "3 (5m ago)".into())
    );
}

#[test]
fn restarts_without_termination_time_print_count_only() {
    let p = pod(
        one_container(),
        json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 2,
            "state": {"running": {}}}]}),
    );
    assert_eq!(summary(&p), ("1/1".into(), "Running".into(), "2".into()));
}

#[test]
fn init_waiting() {
    let p = pod(
        json!({"initContainers": [{"name": "init", "image": "busybox"}], "containers": [{"name": "app"}]}),
        json!({"phase": "Pending",
            "conditions": [{"type": "Initialized", "status": "False"}],
            "initContainerStatuses": [{"name": "init", "ready": false, "restartCount": 0,
                "state": {"running": {"startedAt": ago(10)}}}],
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "PodInitializing"}}}]}),
    );
    assert_eq!(summary(&p), ("0/1".into(), "Init:0/1".into(), "0".into()));
}

#[test]
fn init_second_of_two_and_failures() {
    let spec = json!({"initContainers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "app"}]});
    let done = json!({"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
    let p = pod(
        spec.clone(),
        json!({"phase": "Pending", "initContainerStatuses": [done.clone(),
        {"name": "b", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]}),
    );
    assert_eq!(summary(&p).1, "Init:1/2");

    let p = pod(
        spec.clone(),
        json!({"phase": "Pending", "initContainerStatuses": [done.clone(),
        {"name": "b", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(30)}}}]}),
    );
    assert_eq!(
        summary(&p),
        ("0/1".into(), "Init:CrashLoopBackOff".into(), "4 (30s ago)".into())
    );

    let p = pod(
        spec.clone(),
        json!({"phase": "Failed", "initContainerStatuses": [
        {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}),
    );
    assert_eq!(summary(&p).1, "Init:Error");

    let p = pod(
        spec.clone(),
        json!({"phase": "Failed", "initContainerStatuses": [
        {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}]}),
    );
    assert_eq!(summary(&p).1, "Init:ExitCode:2");

    let p = pod(
        spec,
        json!({"phase": "Failed", "initContainerStatuses": [
        {"name": "a", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
    );
    assert_eq!(summary(&p).1, "Init:Signal:9");
}

#[test]
fn completed() {
    let p = pod(
        one_container(),
        json!({"phase": "Succeeded", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": ago(60)}}}]}),
    );
    assert_eq!(summary(&p), ("0/1".into(), "Completed".into(), "0".into()));
    assert_eq!(
        crate::table::row_conditions("", "Pod", &p),
        vec![
            json!({"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."})
        ]
    );
}

#[test]
fn error_and_exit_code() {
    let p = pod(
        one_container(),
        json!({"phase": "Failed", "containerStatuses": [{"name": "app", "restartCount": 0,
            "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
    );
    assert_eq!(summary(&p).1, "Error");
    assert_eq!(crate::table::row_conditions("", "Pod", &p)[0]["reason"], "Failed");
    let p = pod(
        one_container(),
        json!({"phase": "Failed", "containerStatuses": [{"name": "app", "restartCount": 0,
            "state": {"terminated": {"exitCode": 137}}}]}),
    );
    assert_eq!(summary(&p).1, "ExitCode:137");
}

#[test]
fn completed_container_with_running_sibling() {
    let spec = json!({"containers": [{"name": "a"}, {"name": "b"}]});
    let statuses = json!([
        {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
        {"name": "b", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
    ]);
    let p = pod(
        spec.clone(),
        json!({"phase": "Running", "containerStatuses": statuses,
        "conditions": [{"type": "Ready", "status": "False"}]}),
    );
    assert_eq!(summary(&p), ("1/2".into(), "NotReady".into(), "0".into()));
    let p = pod(
        spec,
        json!({"phase": "Running", "containerStatuses": statuses,
        "conditions": [{"type": "Ready", "status": "True"}]}),
    );
    assert_eq!(summary(&p).1, "Running");
}

#[test]
fn terminating_and_node_lost() {
    let mut p = pod(
        one_container(),
        json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
    );
    p["metadata"]["deletionTimestamp"] = json!(ago(5));
    assert_eq!(summary(&p).1, "Terminating");
    p["status"]["reason"] = json!("NodeLost");
    assert_eq!(summary(&p).1, "Unknown");
    // A terminal pod being deleted keeps its status.
    let mut done = pod(
        one_container(),
        json!({"phase": "Succeeded", "containerStatuses": [{"name": "app",
        "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
    );
    done["metadata"]["deletionTimestamp"] = json!(ago(5));
    assert_eq!(summary(&done).1, "Completed");
}

#[test]
fn sidecar_counts_in_ready_and_restarts() {
    let p = pod(
        json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]}),
        json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true, "restartCount": 1,
                "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(120)}}}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
    );
    assert_eq!(summary(&p), ("2/2".into(), "Running".into(), "1 (2m ago)".into()));
}

#[test]
fn scheduling_gated_and_status_reason() {
    let p = pod(
        json!({"containers": [{"name": "app"}], "schedulingGates": [{"name": "g"}]}),
        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
    );
    assert_eq!(summary(&p).1, "SchedulingGated");
    let p = pod(one_container(), json!({"phase": "Failed", "reason": "Evicted"}));
    assert_eq!(summary(&p).1, "Evicted");
}

#[test]
fn wide_columns() {
    let p = pod(
        json!({"containers": [{"name": "app"}], "nodeName": "n1",
            "readinessGates": [{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]}),
        json!({"phase": "Running", "podIPs": [{"ip": "fd00::5"}], "nominatedNodeName": "n2",
            "conditions": [{"type": "example.com/a", "status": "True"}, {"type": "example.com/b", "status": "False"}]}),
    );
    let c = cv("", "Pod", &p);
    assert_eq!(c[5..], [json!("fd00::5"), json!("n1"), json!("n2"), json!("1/2")]);
}

#[test]
fn empty_and_garbage_pods_do_not_panic() {
    assert_eq!(
        cells("", "Pod", &json!({})),
        json!([
            "",
            "0/0",
            "",
            "0",
            "<unknown>",
            "<none>",
            "<none>",
            "<none>",
            "<none>"
        ])
    );
    let garbage = json!({"metadata": 5, "spec": {"containers": "x", "initContainers": [1, null]},
        "status": {"initContainerStatuses": [null, {"state": {"terminated": 7}}], "containerStatuses": [[]],
        "conditions": "no"}});
    let _ = cells("", "Pod", &garbage);
    let _ = NOW;
}
