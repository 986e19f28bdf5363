//! Tests of the workload strategies (apps/v1, ReplicationController, batch/v1) and a check that
//! no strategy panics on oddly shaped input.

use serde_json::{Value, json};

use super::config::{ConfigMaps, Secrets};
use super::jobs::{CronJobs, Jobs};
use super::namespaces::Namespaces;
use super::pods::Pods;
use super::service_validation::validate_service;
use super::services::{InUse, default_service_spec, prepare_create, prepare_update};
use super::tests_core::messages;
use super::workloads::{Workload, Workloads};
use crate::registry::strategy::{Strategy, WriteKind};

fn create(s: &dyn Strategy, mut obj: Value) -> Value {
    s.default(&mut obj);
    s.prepare_for_create(&mut obj);
    obj
}

fn template(labels: Value) -> Value {
    json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

fn deployment(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"}, "spec": spec})
}

#[test]
fn deployment_defaults_and_status() {
    let s = Workloads(Workload::Deployment);
    let d = create(
        &s,
        deployment(
            json!({"selector": {"matchLabels": {"app": "d"}}, "template": template(json!({"app": "d"}))}),
        ),
    );
    let spec = &d["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["template"]["metadata"],
        json!({"creationTimestamp": null, "labels": {"app": "d"}})
    );
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
    assert!(
        spec["template"]["spec"].get("enableServiceLinks").is_none(),
        "a Pod-only default"
    );
    assert_eq!(d["status"], json!({}));
    assert!(s.tracks_generation());
    assert!(s.validate(&d, None, WriteKind::Create).is_empty());
}

#[test]
fn deployment_validation_messages() {
    let s = Workloads(Workload::Deployment);
    let v = |spec: Value| messages(&s.validate(&create(&s, deployment(spec)), None, WriteKind::Create));
    assert_eq!(
        v(json!({"template": template(json!({"app": "d"}))})),
        [
            "spec.selector: Required value",
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"d\"}: `selector` does not match template `labels`",
        ]
    );
    assert_eq!(
        v(
            json!({"replicas": -1, "selector": {"matchLabels": {"app": "x"}}, "template": template(json!({"app": "d"}))})
        ),
        [
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"d\"}: `selector` does not match template `labels`",
        ]
    );
    let mut never = template(json!({"app": "d"}));
    never["spec"]["restartPolicy"] = json!("Never");
    assert_eq!(
        v(json!({"selector": {"matchLabels": {"app": "d"}}, "template": never})),
        ["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""]
    );

    let old = create(
        &s,
        deployment(
            json!({"selector": {"matchLabels": {"app": "d"}}, "template": template(json!({"app": "d", "v": "1"}))}),
        ),
    );
    let mut new = old.clone();
    new["spec"]["selector"] = json!({"matchLabels": {"app": "d", "v": "1"}});
    assert_eq!(
        messages(&s.validate(&new, Some(&old), WriteKind::Update)),
        [
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"d\", \"v\":\"1\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        ]
    );
}

#[test]
fn statefulset_daemonset_replicaset_rc() {
    let sts = Workloads(Workload::StatefulSet);
    let obj = create(
        &sts,
        json!({"metadata": {"name": "db"}, "spec": {
        "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": template(json!({"app": "db"})),
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}}),
    );
    let spec = &obj["spec"];
    assert_eq!(spec["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        spec["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(
        spec["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    assert_eq!(spec["replicas"], 1);
    assert_eq!(
        spec["volumeClaimTemplates"][0],
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"creationTimestamp": null, "name": "data"},
               "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}, "status": {"phase": "Pending"}})
    );
    assert_eq!(obj["status"], json!({"availableReplicas": 0, "replicas": 0}));
    assert!(sts.validate(&obj, None, WriteKind::Create).is_empty());
    let mut changed = obj.clone();
    changed["spec"]["serviceName"] = json!("other");
    changed["spec"]["replicas"] = json!(3);
    assert_eq!(
        messages(&sts.validate(&changed, Some(&obj), WriteKind::Update)),
        [
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
        ]
    );

    let ds = Workloads(Workload::DaemonSet);
    let obj = create(
        &ds,
        json!({"metadata": {"name": "ds"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": template(json!({"a": "b"}))}}),
    );
    assert_eq!(
        obj["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    );
    assert_eq!(obj["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(obj["status"]["numberReady"], 0);
    assert!(ds.validate(&obj, None, WriteKind::Create).is_empty());

    let rs = Workloads(Workload::ReplicaSet);
    let obj = create(
        &rs,
        json!({"metadata": {"name": "rs"}, "spec": {"selector": {}, "template": template(json!({"a": "b"}))}}),
    );
    assert_eq!(obj["status"], json!({"replicas": 0}));
    assert_eq!(
        messages(&rs.validate(&obj, None, WriteKind::Create)),
        [
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
        ]
    );

    let rc = Workloads(Workload::ReplicationController);
    let obj = create(
        &rc,
        json!({"metadata": {"name": "rc"}, "spec": {"template": template(json!({"a": "b"}))}}),
    );
    assert_eq!(obj["spec"]["selector"], json!({"a": "b"}));
    assert_eq!(obj["metadata"]["labels"], json!({"a": "b"}));
    assert_eq!(obj["spec"]["replicas"], 1);
    assert!(rc.validate(&obj, None, WriteKind::Create).is_empty());
}

#[test]
fn jobs_and_cronjobs() {
    let j = Jobs;
    let mut job = json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"},
        "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"}}}});
    job = create(&j, job);
    let spec = &job["spec"];
    for (k, v) in [
        ("completions", json!(1)),
        ("parallelism", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
        ("manualSelector", json!(false)),
    ] {
        assert_eq!(spec[k], v, "{k}");
    }
    assert_eq!(
        spec["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
    );
    assert_eq!(
        spec["template"]["metadata"]["labels"],
        json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
               "controller-uid": "u-1", "job-name": "pi"})
    );
    assert_eq!(job["status"], json!({}));
    assert!(j.validate(&job, None, WriteKind::Create).is_empty());

    let mut always = job.clone();
    always["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    let msgs = messages(&j.validate(&always, None, WriteKind::Create));
    assert_eq!(
        msgs,
        ["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]
    );
    let mut more = job.clone();
    more["spec"]["completions"] = json!(3);
    assert_eq!(
        messages(&j.validate(&more, Some(&job), WriteKind::Update)),
        ["spec.completions: Invalid value: 3: field is immutable"]
    );

    let c = CronJobs;
    let cj = create(
        &c,
        json!({"metadata": {"name": "hello"}, "spec": {"schedule": "*/1 * * * *",
        "jobTemplate": {"metadata": {"name": "hello"}, "spec": {"template": {"spec": {"containers": [{"name": "h", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}}}),
    );
    let spec = &cj["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Allow");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["successfulJobsHistoryLimit"], 3);
    assert_eq!(spec["failedJobsHistoryLimit"], 1);
    assert_eq!(spec["jobTemplate"]["metadata"]["creationTimestamp"], Value::Null);
    assert!(
        spec["jobTemplate"]["spec"].get("backoffLimit").is_none(),
        "Job defaults do not apply to templates"
    );
    assert!(c.validate(&cj, None, WriteKind::Create).is_empty());
    let mut bad = cj.clone();
    bad["spec"]["schedule"] = json!("61 * * * *");
    assert_eq!(
        messages(&c.validate(&bad, None, WriteKind::Create)),
        ["spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"]
    );
}

/// Every strategy hook on odd JSON: nothing may panic.
#[test]
fn strategies_never_panic() {
    let strategies: Vec<Box<dyn Strategy>> = vec![
        Box::new(Namespaces),
        Box::new(Pods),
        Box::new(ConfigMaps),
        Box::new(Secrets),
        Box::new(Jobs),
        Box::new(CronJobs),
        Box::new(Workloads(Workload::Deployment)),
        Box::new(Workloads(Workload::ReplicaSet)),
        Box::new(Workloads(Workload::StatefulSet)),
        Box::new(Workloads(Workload::DaemonSet)),
        Box::new(Workloads(Workload::ReplicationController)),
        Box::new(Workloads(Workload::PodTemplate)),
    ];
    let odd = [
        json!(null),
        json!(1),
        json!("x"),
        json!([]),
        json!({}),
        json!({"spec": null}),
        json!({"spec": 5}),
        json!({"metadata": 3, "spec": []}),
        json!({"spec": {"template": 1, "selector": "x", "containers": {"a": 1}}}),
        json!({"spec": {"template": {"metadata": 1, "spec": {"containers": [1, null, {"ports": 7, "resources": 2}],
            "volumes": [null, {"secret": 1}], "initContainers": [{"resources": {"limits": 5}}]}},
            "selector": {"matchLabels": [1], "matchExpressions": [1, {"operator": 5}]},
            "strategy": {"type": 7, "rollingUpdate": 1}, "updateStrategy": [], "jobTemplate": "x", "finalizers": [1]}}),
        json!({"spec": {"containers": [{"name": 1, "image": [], "ports": [{"containerPort": "x"}], "env": [7],
            "volumeMounts": [null], "livenessProbe": 1, "lifecycle": {"preStop": 2}}], "schedulingGates": 1}}),
        json!({"data": {"k": 1, "j": "a=b=="}, "stringData": [1], "binaryData": 5, "type": 3, "immutable": "yes"}),
        json!({"spec": {"volumeClaimTemplates": [1, {"metadata": 2, "spec": 3, "status": 4}]}}),
    ];
    let settings = super::Settings {
        service_range: (std::net::Ipv4Addr::new(10, 0, 0, 0), 31),
        node_port_range: (5, 1),
    };
    for input in &odd {
        for s in &strategies {
            let mut obj = input.clone();
            let _ = s.decode_error(&obj);
            s.default(&mut obj);
            s.prepare_for_create(&mut obj);
            s.canonicalize(&mut obj);
            let _ = s.validate(&obj, None, WriteKind::Create);
            let _ = s.validate(&obj, Some(input), WriteKind::Update);
            let _ = s.validate(input, Some(&obj), WriteKind::Update);
            let mut upd = input.clone();
            s.prepare_for_update(&mut upd, &obj);
            let _ = s.begin_delete(&mut upd);
            let _ = s.can_remove(&upd);
            let _ = s.graceful_delete_seconds(&upd, Some(-5));
        }
        let mut obj = input.clone();
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            default_service_spec(spec);
        }
        let used = InUse::default();
        prepare_create(&mut obj, &settings, &used);
        let _ = validate_service(&settings, &used, &obj, None);
        let mut upd = input.clone();
        prepare_update(&mut upd, &obj, &settings, &used);
        let _ = validate_service(&settings, &used, &upd, Some(&obj));
        let _ = InUse::collect([input, &obj].into_iter(), ("", ""));
    }
}
