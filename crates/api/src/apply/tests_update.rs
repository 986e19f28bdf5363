//! Update operations: managedFields for create, update and non-apply patches.

use std::time::Instant;

use serde_json::{Value, json};

use super::tests_apply::{T0, T1, T2, deploy_schema, deployment, entry, fields_of};
use super::*;

fn p(dotted: &str) -> Vec<PathElement> {
    dotted.split('.').map(PathElement::field).collect()
}

#[test]
fn create_records_every_field_for_the_creator() {
    let schema = deploy_schema();
    let mut obj = deployment(2, "nginx");
    record_update(None, &mut obj, "kubectl-create", T0, "apps/v1", &schema);
    let e = entry(&obj, "kubectl-create", "Update").unwrap();
    assert_eq!(e["time"], T0);
    assert_eq!(e["apiVersion"], "apps/v1");
    assert_eq!(
        e["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}
                }
            }
        })
    );
}

#[test]
fn updates_move_changed_fields_to_the_writer() {
    let schema = deploy_schema();
    let mut live = deployment(2, "nginx");
    record_update(None, &mut live, "kubectl-create", T0, "apps/v1", &schema);

    let mut labelled = live.clone();
    labelled["metadata"]["labels"]["tier"] = json!("fe");
    record_update(
        Some(&live),
        &mut labelled,
        "kubectl-label",
        T1,
        "apps/v1",
        &schema,
    );
    let label = fields_of(&labelled, "kubectl-label", "Update");
    assert_eq!(
        label.to_fields_v1(),
        json!({"f:metadata": {"f:labels": {"f:tier": {}}}})
    );

    let mut scaled = labelled.clone();
    scaled["spec"]["replicas"] = json!(5);
    record_update(Some(&labelled), &mut scaled, "kubectl", T2, "apps/v1", &schema);
    assert!(fields_of(&scaled, "kubectl", "Update").contains(&p("spec.replicas")));
    assert!(!fields_of(&scaled, "kubectl-create", "Update").contains(&p("spec.replicas")));

    // A write that changes nothing leaves the entries (and their times) alone.
    let mut same = scaled.clone();
    record_update(Some(&scaled), &mut same, "kubectl-edit", T2, "apps/v1", &schema);
    assert_eq!(same, scaled);

    // The same manager writing again accumulates its fields.
    let mut more = scaled.clone();
    more["metadata"]["labels"]["zone"] = json!("a");
    record_update(Some(&scaled), &mut more, "kubectl-label", T2, "apps/v1", &schema);
    let label = fields_of(&more, "kubectl-label", "Update");
    assert_eq!(
        label.to_fields_v1(),
        json!({"f:metadata": {"f:labels": {"f:tier": {}, "f:zone": {}}}})
    );
    assert_eq!(entry(&more, "kubectl-label", "Update").unwrap()["time"], T2);

    // Removing a field takes it from its owner; an owner left with nothing disappears.
    let mut unlabelled = more.clone();
    let labels = unlabelled["metadata"]["labels"].as_object_mut().unwrap();
    labels.remove("tier");
    labels.remove("zone");
    record_update(
        Some(&more),
        &mut unlabelled,
        "kubectl-label",
        T2,
        "apps/v1",
        &schema,
    );
    assert!(entry(&unlabelled, "kubectl-label", "Update").is_none());
}

#[test]
fn server_metadata_is_never_owned() {
    let schema = deploy_schema();
    let mut obj = deployment(1, "nginx");
    obj["metadata"]["uid"] = json!("u");
    obj["metadata"]["resourceVersion"] = json!("7");
    obj["metadata"]["generation"] = json!(1);
    obj["metadata"]["creationTimestamp"] = json!(T0);
    record_update(None, &mut obj, "kubectl-create", T0, "apps/v1", &schema);
    let set = fields_of(&obj, "kubectl-create", "Update");
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
    ] {
        assert!(
            !set.contains(&[PathElement::field("metadata"), PathElement::field(f)]),
            "{f}"
        );
    }
    assert!(!set.contains(&p("apiVersion")) && !set.contains(&p("kind")));
}

#[test]
fn managed_fields_sent_by_the_client_win_and_empty_resets() {
    let schema = deploy_schema();
    let mut live = deployment(1, "nginx");
    live["metadata"]["uid"] = json!("u");
    record_update(None, &mut live, "creator", T0, "apps/v1", &schema);

    // A JSON patch rewriting managedFields (kubectl's CSA upgrade) is stored as sent.
    let mut patched = live.clone();
    patched["metadata"]["managedFields"][0]["manager"] = json!("renamed");
    record_update(Some(&live), &mut patched, "kubectl", T1, "apps/v1", &schema);
    assert!(entry(&patched, "renamed", "Update").is_some());
    assert!(entry(&patched, "creator", "Update").is_none());

    // `managedFields: []` clears them, and the object stays untracked.
    let mut reset = live.clone();
    reset["metadata"]["managedFields"] = json!([]);
    reset["spec"]["replicas"] = json!(4);
    record_update(Some(&live), &mut reset, "kubectl", T1, "apps/v1", &schema);
    assert!(reset["metadata"].get("managedFields").is_none());

    // Garbage falls back to the live entries.
    let mut garbage = live.clone();
    garbage["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Bogus"}]);
    record_update(Some(&live), &mut garbage, "kubectl", T1, "apps/v1", &schema);
    assert_eq!(
        garbage["metadata"]["managedFields"],
        live["metadata"]["managedFields"]
    );

    // Subresource writes keep the live entries whatever the body says.
    let mut status = live.clone();
    status["metadata"]["managedFields"] = json!([]);
    status["status"] = json!({"replicas": 1});
    let opts = UpdateOptions {
        subresource: "status",
        ..UpdateOptions::new("kube-controller-manager", T2, "apps/v1")
    };
    record_update_with(Some(&live), &mut status, &schema, &opts);
    let e = entry(&status, "kube-controller-manager", "Update").unwrap();
    assert_eq!(e["subresource"], "status");
    assert_eq!(e["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
    assert!(entry(&status, "creator", "Update").is_some());
}

#[test]
fn untracked_objects_stay_untracked_until_applied() {
    let schema = deploy_schema();
    let mut live = deployment(1, "nginx");
    live["metadata"]["uid"] = json!("u");
    let mut new = live.clone();
    new["spec"]["replicas"] = json!(2);
    record_update(Some(&live), &mut new, "kubectl-edit", T1, "apps/v1", &schema);
    assert!(new["metadata"].get("managedFields").is_none());
}

#[test]
fn update_managers_are_capped_at_ten() {
    let schema = deploy_schema();
    let mut obj = deployment(1, "nginx");
    record_update(None, &mut obj, "creator", T0, "apps/v1", &schema);
    for i in 0..12 {
        let mut next = obj.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("v");
        let now = format!("2024-01-01T01:{i:02}:00Z");
        record_update(
            Some(&obj),
            &mut next,
            &format!("m{i:02}"),
            &now,
            "apps/v1",
            &schema,
        );
        obj = next;
    }
    let mf = obj["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(mf.len(), 10);
    let bucket = entry(&obj, "ancient-changes", "Update").unwrap();
    let set = FieldSet::from_fields_v1(&bucket["fieldsV1"]).unwrap();
    // The creator and the three oldest label writers were merged.
    assert!(set.contains(&p("spec.replicas")));
    assert!(set.contains(&p("metadata.labels.l2")));
    assert!(entry(&obj, "m03", "Update").is_some());
    assert!(entry(&obj, "creator", "Update").is_none());
}

#[test]
fn managed_fields_decode_errors() {
    let bad = json!({"metadata": {"managedFields": [{"manager": "m", "operation": "Apply", "fieldsType": "FieldsV1"}]}});
    assert_eq!(
        decode_managed_fields(&bad).unwrap_err().to_string(),
        "failed to decode managed fields: apiVersion must not be empty"
    );
    let bad =
        json!({"metadata": {"managedFields": [{"manager": "m", "operation": "Apply", "apiVersion": "v1"}]}});
    assert!(decode_managed_fields(&bad).is_err());
    let good = json!({"metadata": {"managedFields": [
        {"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}
    ]}});
    let entries = decode_managed_fields(&good).unwrap();
    assert_eq!(entries[0].operation, Operation::Update);
    assert_eq!(entries[0].fields.len(), 1);
    let mut entries = entries;
    assert_eq!(
        encode_managed_fields(&mut entries).unwrap(),
        good["metadata"]["managedFields"]
    );
}

/// A Deployment with about 50 set fields.
fn big_deployment(replicas: i64) -> Value {
    let env: Vec<Value> = (0..10)
        .map(|i| json!({"name": format!("E{i}"), "value": format!("v{i}")}))
        .collect();
    let mut d = deployment(replicas, "nginx:1.25");
    d["metadata"]["labels"] = json!({"app": "web", "tier": "fe", "team": "a", "env": "prod"});
    d["metadata"]["annotations"] = json!({"a": "1", "b": "2"});
    d["spec"]["minReadySeconds"] = json!(5);
    d["spec"]["revisionHistoryLimit"] = json!(10);
    d["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    d["spec"]["template"]["spec"]["containers"] = json!([{
        "name": "web", "image": "nginx:1.25", "args": ["-x"],
        "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
        "env": env,
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5}
    }]);
    d["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = json!(30);
    d
}

#[test]
fn big_deployment_round_trip() {
    let schema = deploy_schema();
    let cfg = big_deployment(3);
    let live = apply(None, &cfg, "kubectl", false, &schema, T0).unwrap();
    let set = fields_of(&live, "kubectl", "Apply");
    assert!(set.len() >= 50, "{}", set.len());
    let again = apply(Some(&live), &big_deployment(4), "kubectl", false, &schema, T1).unwrap();
    assert_eq!(again["spec"]["replicas"], 4);
    assert_eq!(fields_of(&again, "kubectl", "Apply"), set);
}

/// `cargo test -p rudder-api --release --lib apply_cost -- --ignored --nocapture`
#[test]
#[ignore = "timing; run by hand"]
fn apply_cost_vs_update() {
    let schema = deploy_schema();
    let live = apply(None, &big_deployment(3), "kubectl", false, &schema, T0).unwrap();
    let cfg = big_deployment(4);
    let mut updated = live.clone();
    updated["spec"]["replicas"] = json!(4);
    let n = 2000;
    // The updated objects exist before the write in both cases: build them outside the timing.
    let mut news: Vec<Value> = (0..n).map(|_| updated.clone()).collect();
    let start = Instant::now();
    for new in &mut news {
        record_update(Some(&live), new, "kubectl-edit", T1, "apps/v1", &schema);
    }
    let update = start.elapsed();
    std::hint::black_box(news);
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(apply(Some(&live), &cfg, "kubectl", false, &schema, T1).unwrap());
    }
    let applied = start.elapsed();
    println!(
        "update {:?}/op, apply {:?}/op, ratio {:.2}",
        update / n,
        applied / n,
        applied.as_secs_f64() / update.as_secs_f64()
    );
}

#[test]
#[ignore = "timing; run by hand"]
fn cost_breakdown() {
    let schema = deploy_schema();
    let live = apply(None, &big_deployment(3), "kubectl", false, &schema, T0).unwrap();
    let mut updated = live.clone();
    updated["spec"]["replicas"] = json!(4);
    let n = 2000u32;
    let time = |name: &str, f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        println!("{name}: {:?}/op", start.elapsed() / n);
    };
    time("clone", &mut || {
        std::hint::black_box(updated.clone());
    });
    time("decode", &mut || {
        std::hint::black_box(decode_managed_fields(&live).unwrap());
    });
    let mut entries = decode_managed_fields(&live).unwrap();
    time("encode", &mut || {
        std::hint::black_box(encode_managed_fields(&mut entries));
    });
    time("compare", &mut || {
        std::hint::black_box(typed::compare_objects(&live, &updated, schema.root()));
    });
    time("field_set", &mut || {
        std::hint::black_box(field_set(&updated, &schema).unwrap());
    });
    let cfg = big_deployment(4);
    time("clone_without_mf", &mut || {
        std::hint::black_box(clone_without_managed_fields(&live));
    });
    let base = clone_without_managed_fields(&live);
    time("clone_without_mf+merge", &mut || {
        let mut m = clone_without_managed_fields(&live);
        typed::merge_into(&mut m, &cfg, schema.root()).unwrap();
        std::hint::black_box(m);
    });
    let last = field_set(&cfg, &schema).unwrap();
    time("prune", &mut || {
        let mut m = base.clone();
        typed::prune(&mut m, &last, &[&last], schema.root());
        std::hint::black_box(m);
    });
    time("intersection", &mut || {
        std::hint::black_box(last.intersection(&last));
    });
    time("schema", &mut || {
        std::hint::black_box(ApplySchema::for_kind("apps", "Deployment"));
    });
}
